package main

import (
	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/consumer"
	"github.com/wbarrier/wbarrier/record"
)

var recordsCommand = &cli.Command{
	Name:      "records",
	Usage:     "print the change records a watch has queued",
	ArgsUsage: "WATCH",
	Description: `Prints the queued records from sequence number --cursor on, in order: change
records (ops, file handle of the object, parent handle and name for
namespace operations, byte range for writes) and the epoch-closed markers
that barriers queue. It frees nothing: the records stay queued for the
daemon. With --ack, the records below --cursor are acknowledged: the kernel
frees them. One reader at a time may acknowledge a watch's records (the
daemon, while it runs): --ack fails while another holds the watch. With
--paths, the handles of the object and of its parent are resolved to their
current paths (path= and dir=; absent if gone), against the watch's own
mount; --paths=MOUNT resolves them against MOUNT instead (the filesystem
mounted elsewhere too), as "changes --paths MOUNT" does.

Examples:
   wbctl records /srv/data
   wbctl records --cursor 120 --json --paths /srv/data
   wbctl records --paths=/mnt/data-bind /srv/data
   wbctl records --ack --cursor 120 /srv/data   # free the records below 120`,
	Flags: []cli.Flag{
		jsonFlag,
		&cli.Uint64Flag{Name: "cursor", Usage: "first sequence number wanted"},
		&cli.BoolFlag{Name: "ack", Usage: "acknowledge (free) the records below --cursor; only one reader may, the daemon if it runs"},
		recordsPaths,
	},
	Action: func(ctx *cli.Context) error {
		c, w, err := openWatch(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		read := c.PeekRecords
		if ctx.Bool("ack") {
			read = c.Records
		}
		recs, err := read(w.ID, ctx.Uint64("cursor"))
		if err != nil {
			return err
		}
		var m *consumer.Mount
		if mount, ok := recordsPaths.mount(ctx, w.Path); ok {
			if m, err = consumer.OpenMount(mount); err != nil {
				return err
			}
			defer m.Close()
		}
		for _, r := range recs {
			out := newRecordOut(r)
			if m != nil {
				if err := resolveRecord(m, r, &out); err != nil {
					return err
				}
			}
			if err := printOut(ctx, out); err != nil {
				return err
			}
		}
		return nil
	},
}

var recordsPaths = &pathsFlag{cli.GenericFlag{Name: "paths",
	Usage: "resolve file handles to paths: against the watch's mount, or with `[=MOUNT]` against MOUNT (needs CAP_DAC_READ_SEARCH)"}}

// resolveRecord fills in the paths of the record's object and parent, as
// the kernel gives them (Mount.Lookup): absolute, absent if gone.
func resolveRecord(m *consumer.Mount, r record.Record, out *recordOut) error {
	var err error
	if r.Handle != nil {
		if out.Path, err = m.Lookup(r.Handle); err != nil {
			return err
		}
	}
	if r.Parent != nil {
		if out.Dir, err = m.Lookup(r.Parent); err != nil {
			return err
		}
	}
	return nil
}
