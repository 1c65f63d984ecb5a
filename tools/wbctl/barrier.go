package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"
)

// barrierOut is what "barrier --json" prints.
type barrierOut struct {
	Watch   uint32 `json:"watch"`
	Epoch   uint64 `json:"epoch"`
	Lossy   bool   `json:"lossy"`
	NextSeq uint64 `json:"next_seq"`
}

// The first "still waiting" line comes after barrierPatience, then one
// every barrierRemind.
const (
	barrierPatience = 2 * time.Second
	barrierRemind   = 10 * time.Second
)

var barrierCommand = &cli.Command{
	Name:      "barrier",
	Usage:     "close the open epoch of a watch",
	ArgsUsage: "WATCH",
	Description: `Opens the next epoch, then waits until every modifying operation that was
recorded in the closed one has finished. New operations are not blocked.
Prints the number of the closed epoch, and "lossy" if records of it were lost
(a consumer must then rescan).

The kernel waits in the background: nothing is held meanwhile, and a barrier
that waits long (a write stalled in a page fault, a frozen filesystem: thaw
it first) says so on stderr every few seconds. With --timeout it gives up
waiting (exit status 6); the epoch then closes by itself once its operations
finish. If another barrier of the watch is still closing an epoch, this one
waits for it, then closes the next.

Example:
   wbctl barrier /srv/data
   wbctl barrier --timeout 30s /srv/data`,
	Flags: []cli.Flag{
		jsonFlag,
		&cli.DurationFlag{Name: "timeout", Usage: "give up waiting after this long (0: wait as long as it takes)"},
	},
	Action: func(ctx *cli.Context) error {
		c, w, err := openWatch(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		bctx, cancel := timeoutContext(ctx)
		defer cancel()
		stop := remindWhileWaiting(ctx.App.ErrWriter, fmt.Sprintf("wbctl barrier: watch %d", w.ID),
			"for operations in flight in the closing epoch (a stalled write, or a frozen filesystem: thaw it)",
			barrierPatience, barrierRemind)
		b, err := c.BarrierContext(bctx, w.ID)
		stop()
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

// timeoutContext ends after the command's --timeout, or never if it is 0.
func timeoutContext(ctx *cli.Context) (context.Context, context.CancelFunc) {
	if d := ctx.Duration("timeout"); d > 0 {
		return context.WithTimeout(context.Background(), d)
	}
	return context.WithCancel(context.Background())
}

// remindWhileWaiting says on w, after patience and then every remind, that
// who still waits for what; the returned func stops it.
func remindWhileWaiting(w io.Writer, who, what string, patience, remind time.Duration) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTimer(patience)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(w, "%s: still waiting after %s %s\n", who, time.Since(start).Round(time.Second), what)
				t.Reset(remind)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
