package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/genl"
	"golang.org/x/sys/unix"
)

// watchOut is a watch as printed by "status" and "watch". The watch id is
// "watch" in every JSON output (barrier, events).
type watchOut struct {
	ID       uint32 `json:"watch"`
	Path     string `json:"path"`
	FSType   string `json:"fstype"`
	Dev      string `json:"dev"`
	Epoch    uint64 `json:"epoch"`
	Lossy    bool   `json:"lossy"`
	FirstSeq uint64 `json:"first_seq"`
	NextSeq  uint64 `json:"next_seq"`
	Queued   uint32 `json:"queued"`
	Emitted  uint64 `json:"emitted"`
	Lost     uint64 `json:"lost"`
	State    string `json:"state"`
	AtMount  bool   `json:"at_mount"`
}

// watchState is "watching", "unmounted" once the filesystem is gone, or
// "waiting" for a watch_at_mount filesystem not mounted yet.
func watchState(w genl.Watch) string {
	switch {
	case w.Unmounted:
		return "unmounted"
	case w.Waiting:
		return "waiting"
	}
	return "watching"
}

func watchJSON(w genl.Watch) watchOut {
	return watchOut{
		ID: w.ID, Path: w.Path, FSType: w.FSType,
		Dev:   fmt.Sprintf("%d:%d", unix.Major(uint64(w.Dev)), unix.Minor(uint64(w.Dev))),
		Epoch: w.Epoch, Lossy: w.Lossy, FirstSeq: w.FirstSeq, NextSeq: w.NextSeq,
		Queued: w.Queued, Emitted: w.Emitted, Lost: w.Lost, State: watchState(w),
		AtMount: w.AtMount,
	}
}

var statusCommand = &cli.Command{
	Name:      "status",
	Usage:     "show watches: open epoch, queued records, losses",
	ArgsUsage: "[WATCH]",
	Description: `Without an argument, lists every watch. EPOCH is the open epoch; LOSSY says
that it already lost records; QUEUED counts records not yet acknowledged by
a reader; LOST counts records that could not be queued since the watch began.
STATE is "watching", or "unmounted": the filesystem was unmounted, the watch
closed its last epoch and tracks nothing more; its last records can still be
read ("wbctl records", "wbctl daemon"), then "wbctl unwatch" removes it; or
"waiting": a filesystem named by the module parameter watch_at_mount (PATH
is UUID=...) that is not mounted yet. In JSON, at_mount says that the watch
began when its filesystem was mounted, before anything could change it.

Example:
   wbctl status --json`,
	Flags: []cli.Flag{jsonFlag},
	Action: func(ctx *cli.Context) error {
		if ctx.NArg() > 1 {
			return usageError{"status: expected at most one WATCH"}
		}
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		var watches []genl.Watch
		if ctx.NArg() == 1 {
			w, err := findWatch(c, ctx.Args().First())
			if err != nil {
				return err
			}
			watches = []genl.Watch{w}
		} else if watches, err = c.Watches(); err != nil {
			return err
		}
		if ctx.Bool("json") {
			for _, w := range watches {
				if err := printJSON(ctx, watchJSON(w)); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(ctx.App.Writer, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPATH\tFSTYPE\tSTATE\tEPOCH\tLOSSY\tQUEUED\tEMITTED\tLOST")
		for _, w := range watches {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%v\t%d\t%d\t%d\n",
				w.ID, w.Path, w.FSType, watchState(w), w.Epoch, w.Lossy, w.Queued, w.Emitted, w.Lost)
		}
		return tw.Flush()
	},
}
