package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/genl"
	"github.com/wbarrier/wbarrier/tools/internal/drain"
)

var daemonCommand = &cli.Command{
	Name:      "daemon",
	Usage:     "drain a watch's records into a log file",
	ArgsUsage: "WATCH",
	Description: `Appends every change record of the watch to the log file, in order, and
seals each epoch in the log once a barrier has closed it and all its records
are on stable storage (the log is fsync-ed before the seal is written, and
the seal after). It wakes when the module announces new records, and every
--interval in any case. On SIGINT or SIGTERM it drains once more and exits.

A new log file is created with mode 0600. An existing one is resumed: its
torn tail, if any, is cut off and kept in FILE.broken, and draining goes on
after the last record it holds, so that nothing is lost or doubled.

Examples:
   wbctl daemon --log /var/lib/wbarrier/data.log /srv/data
   wbctl daemon --once --log data.log /srv/data`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "log", Usage: "the log `FILE`", Required: true},
		&cli.BoolFlag{Name: "once", Usage: "drain what is queued now, then exit"},
		&cli.DurationFlag{Name: "interval", Value: time.Second, Usage: "drain at least this often"},
	},
	Action: func(ctx *cli.Context) error {
		arg, err := watchArg(ctx)
		if err != nil {
			return err
		}
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		w, err := findWatch(c, arg)
		if err != nil {
			return err
		}
		d, log, err := openDrain(ctx, c, w, ctx.String("log"))
		if err != nil {
			return err
		}
		runErr := runDaemon(ctx, d, ctx.Bool("once"), ctx.Duration("interval"))
		if err := log.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("closing the log: %w", err)
		}
		return runErr
	},
}

// openDrain opens or creates the log of watch w and sets up a drainer that
// resumes after what the log holds.
func openDrain(ctx *cli.Context, c *genl.Client, w genl.Watch, path string) (*drain.Drainer, *changelog.Writer, error) {
	d := &drain.Drainer{Source: c, Watch: w.ID}
	log, err := changelog.Create(path, changelog.Header{FSType: w.FSType, Dev: w.Dev, Mount: w.Path})
	if err == nil {
		d.Log = log
		return d, log, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, nil, err
	}

	old, err := changelog.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if h := old.Header(); h.Dev != w.Dev || h.FSType != w.FSType {
		return nil, nil, fmt.Errorf("%s is the log of %s (%s), not of watch %d on %s (%s)",
			path, h.Mount, h.FSType, w.ID, w.Path, w.FSType)
	}
	if recs := old.Records(); len(recs) > 0 {
		d.Cursor = recs[len(recs)-1].Seq + 1
	}
	d.LastSealed, _ = old.LastSealed()
	if w.NextSeq < d.Cursor {
		return nil, nil, fmt.Errorf("%s holds records up to %d but watch %d has queued only up to %d: the watch was made anew and its earlier changes are unknown; start a new log and rescan",
			path, d.Cursor-1, w.ID, w.NextSeq-1)
	}
	log, rec, err := changelog.OpenWriter(path)
	if err != nil {
		return nil, nil, err
	}
	if rec != nil {
		fmt.Fprintf(ctx.App.ErrWriter, "wbctl: %s: %v\n", path, rec)
	}
	d.Log = log
	return d, log, nil
}

// runDaemon drains until stopped, or once.
func runDaemon(ctx *cli.Context, d *drain.Drainer, once bool, interval time.Duration) error {
	report := func() error {
		st, err := d.Once()
		for _, e := range st.Sealed {
			lossy := ""
			if contains(st.Lossy, e) {
				lossy = " (lossy: consumers must rescan)"
			}
			fmt.Fprintf(ctx.App.ErrWriter, "wbctl: sealed epoch %d%s\n", e, lossy)
		}
		return err
	}
	if once {
		return report()
	}

	events, err := dial()
	if err != nil {
		return err
	}
	defer events.Close()
	if err := events.Subscribe(); err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)
	stopped := make(chan struct{})
	go func() {
		<-stop
		close(stopped)
		events.SetReadDeadline(time.Now()) // wake the receive below
	}()

	for {
		if err := report(); err != nil {
			return err
		}
		select {
		case <-stopped:
			return report()
		default:
		}
		if err := events.SetReadDeadline(time.Now().Add(interval)); err != nil {
			return err
		}
		evs, err := events.ReceiveEvents()
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("waiting for records: %w", err)
		}
		for _, e := range evs {
			if e.WatchID == d.Watch && e.Kind == genl.EventUnwatch {
				report()
				return fmt.Errorf("watch %d was removed", d.Watch)
			}
		}
	}
}

func contains(s []uint64, v uint64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
