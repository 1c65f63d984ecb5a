package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// eventOut is an event as printed by "events".
type eventOut struct {
	Kind    string `json:"kind"`
	Watch   uint32 `json:"watch"`
	NextSeq uint64 `json:"next_seq,omitempty"`
	Epoch   uint64 `json:"epoch,omitempty"`
	Lossy   bool   `json:"lossy,omitempty"`
}

func (e eventOut) String() string {
	s := fmt.Sprintf("%s watch=%d", e.Kind, e.Watch)
	if e.NextSeq != 0 {
		s += fmt.Sprintf(" next_seq=%d", e.NextSeq)
	}
	if e.Epoch != 0 {
		s += fmt.Sprintf(" epoch=%d", e.Epoch)
	}
	if e.Lossy {
		s += " lossy"
	}
	return s
}

var eventsCommand = &cli.Command{
	Name:      "events",
	Usage:     "print the module's notifications as they come",
	ArgsUsage: "[WATCH]",
	Description: `Prints one line per notification of the module's events group, for every
watch or only for WATCH (a watch id, or any path on the watched filesystem,
as for barrier), until interrupted or --count events were printed:
   records watch=ID next_seq=N   records are queued, up to N-1
   overflow watch=ID epoch=N     a record of epoch N was lost: N is lossy
   unmount watch=ID next_seq=N   the filesystem was unmounted; records below
                                 N are the watch's last
   unwatch watch=ID              the watch was removed
   epoch-closed watch=ID next_seq=N epoch=E [lossy]
                                 epoch E is closed (a barrier's, or the last
                                 one at unmount), its marker below N
The kernel announces records once per read at most, not per record: once
the module parameter notify_records (default 1) records were queued since
the last read began, or when an epoch closes. Notifications
may be lost when the reader is slow (the socket buffer overflows): they say
"look now", the facts stay in "wbctl status" and the records.

Examples:
   wbctl events --json --count 1 3
   wbctl events /srv/data`,
	Flags: []cli.Flag{
		jsonFlag,
		&cli.IntFlag{Name: "count", Usage: "exit after `N` events (0: never)"},
	},
	Action: func(ctx *cli.Context) error {
		var only uint32
		if ctx.NArg() > 1 {
			return usageError{"events: expected at most one WATCH"}
		}
		if ctx.NArg() == 1 {
			c, w, err := openWatch(ctx)
			if err != nil {
				return err
			}
			c.Close()
			only = w.ID
		}
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(stop)
		c, stopped, err := subscribe(stop)
		if err != nil {
			return err
		}
		defer c.Close()
		for n := 0; ctx.Int("count") == 0 || n < ctx.Int("count"); {
			evs, err := c.ReceiveEvents()
			if err != nil {
				select {
				case <-stopped:
					return nil
				default:
				}
				return err
			}
			for _, e := range evs {
				if only != 0 && e.WatchID != only {
					continue
				}
				out := eventOut{Kind: e.Kind.String(), Watch: e.WatchID, NextSeq: e.NextSeq, Epoch: e.Epoch, Lossy: e.Lossy}
				if ctx.Bool("json") {
					err = printJSON(ctx, out)
				} else {
					_, err = fmt.Fprintln(ctx.App.Writer, out)
				}
				if err != nil {
					return err
				}
				if n++; ctx.Int("count") != 0 && n >= ctx.Int("count") {
					break
				}
			}
		}
		return nil
	},
}
