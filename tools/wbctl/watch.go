package main

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"
)

var watchCommand = &cli.Command{
	Name:      "watch",
	Usage:     "start tracking changes on the filesystem that PATH is on",
	ArgsUsage: "PATH",
	Description: `Creates a watch on the superblock of PATH and prints its id. From now on
every modifying operation on that filesystem queues a change record. The
watch does not keep the filesystem mounted: its unmount ends the watch,
which closes its last epoch and stays listed as unmounted until unwatch,
so that its last records can still be read.

Example:
   wbctl watch /srv/data`,
	Flags: []cli.Flag{jsonFlag},
	Action: func(ctx *cli.Context) error {
		if ctx.NArg() != 1 {
			return usageError{"watch: expected one PATH"}
		}
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		// The kernel resolves a relative path against our working
		// directory but would report it relative: send it absolute.
		path, err := filepath.Abs(ctx.Args().First())
		if err != nil {
			return err
		}
		w, err := c.Watch(path)
		if err != nil {
			return err
		}
		if ctx.Bool("json") {
			return printJSON(ctx, watchJSON(w))
		}
		_, err = fmt.Fprintln(ctx.App.Writer, w.ID)
		return err
	},
}

var unwatchCommand = &cli.Command{
	Name:      "unwatch",
	Usage:     "stop tracking a filesystem",
	ArgsUsage: "WATCH",
	Description: `Drops the watch and the records it still queues, once the modifying
operations in flight on the filesystem have finished. The watch is gone at
once (the filesystem can be watched anew); the kernel waits in the
background, and a wait that lasts says so on stderr every few seconds. With
--timeout it gives up waiting (exit status 6); the watch is then dropped by
itself once its operations finish.

Example:
   wbctl unwatch /srv/data`,
	Flags: []cli.Flag{
		&cli.DurationFlag{Name: "timeout", Usage: "give up waiting after this long (0: wait as long as it takes)"},
	},
	Action: func(ctx *cli.Context) error {
		c, w, err := openWatch(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		uctx, cancel := timeoutContext(ctx)
		defer cancel()
		stop := remindWhileWaiting(ctx.App.ErrWriter, fmt.Sprintf("wbctl unwatch: watch %d", w.ID),
			"for operations in flight (a stalled write, or a frozen filesystem: thaw it)",
			barrierPatience, barrierRemind)
		defer stop()
		return c.UnwatchContext(uctx, w.ID)
	},
}
