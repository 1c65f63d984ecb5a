package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// barrierOut is what "barrier --json" prints.
type barrierOut struct {
	Watch   uint32 `json:"watch"`
	Epoch   uint64 `json:"epoch"`
	Lossy   bool   `json:"lossy"`
	NextSeq uint64 `json:"next_seq"`
}

var barrierCommand = &cli.Command{
	Name:      "barrier",
	Usage:     "close the open epoch of a watch",
	ArgsUsage: "WATCH",
	Description: `Opens the next epoch, then waits until every modifying operation that was
recorded in the closed one has finished. New operations are not blocked.
Prints the number of the closed epoch, and "lossy" if records of it were lost
(a consumer must then rescan).

Example:
   wbctl barrier /srv/data`,
	Flags: []cli.Flag{jsonFlag},
	Action: func(ctx *cli.Context) error {
		c, w, err := openWatch(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		b, err := c.Barrier(w.ID)
		if err != nil {
			return err
		}
		if ctx.Bool("json") {
			return printJSON(ctx, barrierOut{b.WatchID, b.Epoch, b.Lossy, b.NextSeq})
		}
		if b.Lossy {
			_, err = fmt.Fprintf(ctx.App.Writer, "%d lossy\n", b.Epoch)
		} else {
			_, err = fmt.Fprintln(ctx.App.Writer, b.Epoch)
		}
		return err
	},
}
