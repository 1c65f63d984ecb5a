package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
)

var logCommand = &cli.Command{
	Name:  "log",
	Usage: "read a log file written by the daemon",
	Subcommands: []*cli.Command{
		logVerifyCommand,
		logSalvageCommand,
		{
			Name:      "dump",
			Usage:     "print a log file's header, records and seals",
			ArgsUsage: "FILE",
			Description: `Prints each frame once it has passed its checks, reading a frame at a
time: a torn tail (an interrupted write at the end) is reported after the
last frame and ignored; damage before the tail ends the output with an
error (status 4), and a file that is not a wbarrier log is an error. The records print as "wbctl records" prints
them; a seal prints as "epoch=N sealed records=K seq=S" (and "lossy"),
where S is the seq of the module's epoch-closed marker the seal was made of
(absent in logs written before wbctl kept it; "seq" in --json). The watch
the frames after it are of prints as "generation watch=W load=L
from-epoch=E" (and "break=B" for a watch made anew: epoch B is the unknown
gap; "break=B continuous" if the filesystem was found unchanged since the
clean unmount before it: epoch B is then sealed and empty; see the
generation contract in docs/changes.md). A clean unmount the daemon
recorded prints as "unmount fstype=T uuid=U mount-count=C
kbytes-written=K wtime=W".

Example:
   wbctl log dump --json data.log`,
			Flags: []cli.Flag{logArgFlag, jsonFlag},
			Action: func(ctx *cli.Context) error {
				path, err := logFileArg(ctx, "log dump")
				if err != nil {
					return err
				}
				l, err := changelog.Stream(path, dumpVisitor(ctx))
				if err != nil {
					return err
				}
				if rec := l.Recovery(); rec != nil {
					fmt.Fprintf(ctx.App.ErrWriter, "wbctl: %s: %v\n", path, rec)
				}
				return nil
			},
		},
	},
}

// logArgFlag is --log for the commands that also take the log as their
// argument, as the others take --log.
var logArgFlag = &cli.StringFlag{Name: "log", Usage: "the log `FILE` (or give it as the argument)"}

// logFileArg is the log FILE of a command that takes it as its argument or
// as --log, one of them.
func logFileArg(ctx *cli.Context, cmd string) (string, error) {
	switch {
	case ctx.NArg() == 1 && !ctx.IsSet("log"):
		return ctx.Args().First(), nil
	case ctx.NArg() == 0 && ctx.String("log") != "":
		return ctx.String("log"), nil
	}
	return "", usageError{cmd + ": expected one FILE, as the argument or as --log FILE"}
}

// dumpVisitor prints the frames of a log as they are read: the header of
// its first segment, then its records, seals and generations.
func dumpVisitor(ctx *cli.Context) changelog.Visitor {
	asJSON := ctx.Bool("json")
	printed := false
	header := func(h changelog.Header) error {
		if printed {
			return nil
		}
		printed = true
		return dumpHeader(ctx, h, asJSON)
	}
	record := func(r record.Record) error {
		return printOut(ctx, newRecordOut(r))
	}
	seal := func(s changelog.Seal) error {
		if asJSON {
			return printJSON(ctx, struct {
				Epoch   uint64 `json:"epoch"`
				Sealed  bool   `json:"sealed"`
				Records uint64 `json:"records"`
				Seq     uint64 `json:"seq,omitempty"`
				Lossy   bool   `json:"lossy,omitempty"`
			}{s.Epoch, true, s.Records, s.Seq, s.Lossy})
		}
		more := ""
		if s.Seq != 0 {
			more = fmt.Sprintf(" seq=%d", s.Seq)
		}
		if s.Lossy {
			more += " lossy"
		}
		_, err := fmt.Fprintf(ctx.App.Writer, "epoch=%d sealed records=%d%s\n", s.Epoch, s.Records, more)
		return err
	}
	gen := func(g changelog.Generation) error {
		if asJSON {
			return printJSON(ctx, struct {
				Generation uint64 `json:"generation_from"` // the log's first epoch of the watch
				Break      bool   `json:"break,omitempty"`
				Continuous bool   `json:"continuous,omitempty"`
				Watch      uint32 `json:"watch"`
				LoadID     string `json:"load_id"`
			}{g.Offset + 1, g.Break, g.Continuous, g.WatchID, fmt.Sprintf("%016x", g.LoadID)})
		}
		more := ""
		if g.Break {
			more = fmt.Sprintf(" break=%d", g.Offset)
		}
		if g.Continuous {
			more += " continuous"
		}
		_, err := fmt.Fprintf(ctx.App.Writer, "generation watch=%d load=%016x from-epoch=%d%s\n", g.WatchID, g.LoadID, g.Offset+1, more)
		return err
	}
	unmount := func(u changelog.Unmount) error {
		logEnd := "" // xfs: the log position after the unmount record
		if u.LogCycle != 0 {
			logEnd = fmt.Sprintf("%d:%d", u.LogCycle, u.LogBlock)
		}
		if asJSON {
			return printJSON(ctx, struct {
				Unmount       string `json:"unmount"` // the fs type
				UUID          string `json:"uuid"`
				MountCount    uint16 `json:"mount_count"`
				KBytesWritten uint64 `json:"kbytes_written"`
				WTime         uint32 `json:"wtime"`
				MTime         uint32 `json:"mtime"`
				LogEnd        string `json:"log_end,omitempty"`
				FSGeneration  uint64 `json:"fs_generation,omitempty"` // btrfs
			}{u.FSType, u.UUIDString(), u.MountCount, u.KBytesWritten, u.WTime, u.MTime, logEnd, u.FSGeneration})
		}
		more := ""
		if logEnd != "" {
			more = " log-end=" + logEnd
		}
		if u.FSGeneration != 0 {
			more += fmt.Sprintf(" fs-generation=%d", u.FSGeneration)
		}
		_, err := fmt.Fprintf(ctx.App.Writer, "unmount fstype=%s uuid=%s mount-count=%d kbytes-written=%d wtime=%d%s\n",
			u.FSType, u.UUIDString(), u.MountCount, u.KBytesWritten, u.WTime, more)
		return err
	}
	return changelog.Visitor{Segment: header, Record: record, Seal: seal, Generation: gen, Unmount: unmount}
}

// dumpHeader prints what the header of a log says of its watch.
func dumpHeader(ctx *cli.Context, h changelog.Header, asJSON bool) error {
	if asJSON {
		return printJSON(ctx, struct {
			FSType string `json:"fstype"`
			Mount  string `json:"mount"`
			UUID   string `json:"uuid,omitempty"`
		}{h.FSType, h.Mount, h.UUID})
	}
	_, err := fmt.Fprintf(ctx.App.Writer, "log of %s (%s)\n", h.Mount, h.FSType)
	return err
}
