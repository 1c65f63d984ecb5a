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
	"github.com/wbarrier/wbarrier/tools/internal/blockdev"
	"github.com/wbarrier/wbarrier/tools/internal/drain"
	"github.com/wbarrier/wbarrier/tools/internal/epochs"
	"github.com/wbarrier/wbarrier/tools/internal/sdnotify"
	"golang.org/x/sys/unix"
)

var daemonCommand = &cli.Command{
	Name:      "daemon",
	Usage:     "drain a watch's records into a log file",
	ArgsUsage: "[WATCH]",
	Description: `Appends every change record of the watch to the log file, in order, and
seals each epoch in the log once a barrier has closed it and it is durable:
the watched filesystem is synced (unless --syncfs=false: the module syncs
it as syncfs(2) would, holding no mount of it), the log is fsync-ed, then
the seal is written and fsync-ed. It wakes when the
module announces new records (see the module parameter notify_records), and
every --interval in any case; but it drains at most once every
--min-interval, so that a steady stream of changes costs a wake-up per
--min-interval, not one per few records. Its own checkpoints and the final
one do not wait.

The daemon is the epoch manager: with --barrier-interval D it closes the open
epoch D after it opened, with --barrier-records N once N records of it were
drained (a checkpoint: barrier, drain, syncfs, seal); epochs closed by
"wbctl barrier" are sealed the same way and restart the schedule. On SIGINT
or SIGTERM it makes a final checkpoint, so that everything changed until then
is in a sealed epoch, and exits with status 0. Once it is set up, it prints
"wbctl: draining watch ID into FILE" on stderr.

Under systemd (Type=notify: $NOTIFY_SOCKET is set) it sends READY=1 once set
up, a STATUS= line (open and last sealed epoch) after each seal, and
STOPPING=1 when SIGTERM or SIGINT starts the final checkpoint. --once only drains what is
queued, sealing the epochs already closed.

Without WATCH, --once drains the watch the log follows (its generation, in
this load of the module). Run after the filesystem was unmounted (the unit
wbarrier-unmount@ does at shutdown, after the daemon's final checkpoint
and the unmount), it drains what was changed between the two, seals the
last epoch, removes the watch and records the clean unmount, so that a
watch from the next mount can continue the log.

Keep the log on another filesystem than the watched one: the daemon's own
writes would be changes of every epoch.

When the watched filesystem is unmounted, even in the middle of a
checkpoint, the module closes the watch's last epoch: the daemon drains and
seals it, removes the watch and exits with status 0. The daemon never keeps
the filesystem busy: it holds no file or mount of it, and an unmount racing
its sync waits for that sync (which the unmount does itself anyway), never
fails; an epoch sealed after the unmount was synced by the kernel then.

A new log file is created with mode 0600. An existing one is resumed: its
torn tail, if any, is cut off and kept in FILE.broken (or in the last
segment's name + .broken), and draining goes on after the last record or
sealed epoch-closed marker it holds, so that nothing is lost or doubled.
Records freed before the log had them (a log begun mid-epoch, or records
acknowledged by another reader while the daemon was stopped) are a gap in
the sequence numbers: the epochs they may belong to (that of the first
marker after the gap, and the next) are sealed lossy, never complete.

The log records which watch it follows (the module's load id and the watch
id). A watch made anew (after a reboot, a module reload, or an unwatch and
a new watch) numbers its epochs and records from 1 again: the daemon then
appends a generation break to the log and goes on. The earlier epochs stay
answered; the break epoch is unknown ("changes" across it exits 3); the new
watch's epoch E is the log's E plus the break epoch (see the generation
contract in docs/changes.md).

Continuity across a clean unmount (ext2, ext3, ext4, xfs and btrfs): when
the filesystem is unmounted and every epoch of the watch is sealed, the
daemon waits (up to 10 s) until the unmount is over, reads the superblock
(btrfs: of the device its mount named when the daemon started) and, if it
says clean, records the clean unmount in the log (its uuid, mount count
and KiB written; xfs: where its log ends; btrfs: its generation); it prints "wbctl: watch ID: recorded the clean
unmount ..." or "wbctl: watch ID: no clean unmount recorded ...: WHY". A
later daemon on a watch that began at the mount (the module parameter
watch_at_mount names the filesystem's uuid) continues the log without a
break if the filesystem is the same, was mounted once since (mount count
+1) and nothing wrote it in between (the KiB written before this mount,
from /sys/fs/ext4/DEV, are those recorded; on xfs, the log's tail in
/sys/fs/xfs/DEV/log/log_tail_lsn is right after the recorded unmount
record; on btrfs, no commit counted since the mount in
/sys/fs/btrfs/FSID/commit_stats and its generation the recorded one): it prints
"wbctl: FILE: continuous: ..." and the epoch between the watches is sealed and empty, so
"changes" across it needs no rescan. Otherwise the new watch is a break
as above, and "wbctl: FILE: break, not continuous: WHY" names the check
that failed (when the log ends with a clean unmount or the watch began at
the mount). tmpfs is always a break. A write to the
device that bypasses the filesystem is not seen.

What restarting cannot fix (the log of another filesystem type, a log that
is not a wbarrier log, a module too old to name its watches) exits with
status 5 and a message that says what to do; a corrupt log exits with 4.
The systemd unit does not restart the daemon after either.

The log is a set of segments: FILE, then FILE.000001, FILE.000002 ... At a
seal, once the current segment holds --segment-size bytes, the daemon starts
the next one. "wbctl consumer ack" removes the oldest segments once every
consumer has acknowledged their epochs; without consumers nothing is removed.

Examples:
   wbctl daemon --log /var/lib/wbarrier/data.log /srv/data
   wbctl daemon --barrier-interval 1m --log /var/lib/wbarrier/data.log /srv/data
   wbctl daemon --once --log data.log /srv/data`,
	Flags: []cli.Flag{
		logFlag,
		&cli.BoolFlag{Name: "once", Usage: "drain what is queued now, then exit"},
		&cli.DurationFlag{Name: "interval", Value: time.Second, Usage: "drain at least this often"},
		&cli.DurationFlag{Name: "min-interval", Value: 100 * time.Millisecond, Usage: "drain at most this often (at most every --interval if that is shorter)"},
		&cli.DurationFlag{Name: "barrier-interval", Usage: "close the open epoch this long after it opened (0: never)"},
		&cli.IntFlag{Name: "barrier-records", Usage: "close the open epoch once `N` records of it were drained (0: never)"},
		&cli.BoolFlag{Name: "syncfs", Value: true, Usage: "sync the watched filesystem (through the module, holding no mount) before sealing an epoch (--syncfs=false: don't)"},
		&cli.Int64Flag{Name: "segment-size", Value: defaultSegmentSize, Usage: "start a new log segment at a seal once the current one holds `BYTES` (0: never)"},
	},
	Before: requireLog,
	Action: func(ctx *cli.Context) error {
		if ctx.Int("barrier-records") < 0 || ctx.Duration("barrier-interval") < 0 || ctx.Duration("min-interval") < 0 || ctx.Int64("segment-size") < 0 {
			return usageError{"daemon: --barrier-records, --barrier-interval, --min-interval and --segment-size must not be negative"}
		}
		// Catch SIGTERM from the start: one that arrives while the log is
		// being opened (crypto/rand may block early in a boot) still ends
		// in the final checkpoint.
		var stop chan os.Signal
		if !ctx.Bool("once") {
			stop = make(chan os.Signal, 1)
			signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
			defer signal.Stop(stop)
		}
		var c *genl.Client
		var w genl.Watch
		var err error
		if ctx.NArg() == 0 && ctx.Bool("once") {
			c, w, err = logWatch(ctx.String("log"))
		} else {
			c, w, err = openWatch(ctx)
		}
		if err != nil {
			return err
		}
		defer c.Close()
		sys := new(blockdev.System)
		dev := findDevice(sys, w) // btrfs's, only while it is mounted
		d, log, err := openDrain(ctx, c, w, ctx.String("log"), sys)
		if err != nil {
			return err
		}
		log.SetSegmentSize(ctx.Int64("segment-size"))
		if ctx.Bool("syncfs") {
			sc, err := genl.Dial()
			if err != nil {
				log.Close()
				return err
			}
			defer sc.Close()
			d.Log = epochs.SyncLog{Log: log, Syncfs: func() error { return syncWatched(sc, w) }}
		}
		notify, err := sdnotify.FromEnv()
		if err != nil {
			return err
		}
		defer notify.Close()
		cfg := daemonConfig{
			notify:    notify,
			unmounted: w.Unmounted,
			unwatch:   func() error { return c.Unwatch(w.ID) },
			cleanUnmount: func(d *drain.Drainer, last genl.Watch, err error) string {
				return recordUnmount(log, sys, dev, d, w, last, err)
			},
			status:   func() (genl.Watch, error) { return c.Status(w.ID) },
			once:     ctx.Bool("once"),
			stop:     stop,
			logPath:  ctx.String("log"),
			interval: ctx.Duration("interval"),
			spacing:  min(ctx.Duration("min-interval"), ctx.Duration("interval")),
			policy:   epochs.Policy{Interval: ctx.Duration("barrier-interval"), Records: ctx.Int("barrier-records")},
			barrier: func() (uint64, bool, error) {
				b, err := c.Barrier(w.ID)
				return b.Epoch + d.Offset, b.Lossy, err
			},
		}
		runErr := runDaemon(ctx, d, cfg)
		if err := log.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("closing the log: %w", err)
		}
		return runErr
	},
}

// openDrain opens or creates the log of watch w and sets up a drainer that
// resumes after what the log holds. A log that follows another watch (the
// module was reloaded, the machine rebooted, the filesystem watched anew)
// gets a generation break (changelog.Generation): the new watch's epochs
// are answered after it, or, if the log ends with the clean unmount of the
// filesystem and sys finds it unchanged since (checkContinuous), a
// continuous generation. What no restart can fix is a personError.
func openDrain(ctx *cli.Context, src drain.Source, w genl.Watch, path string, sys *blockdev.System) (*drain.Drainer, *changelog.Writer, error) {
	d := &drain.Drainer{Source: src, Watch: w.ID}
	if w.LoadID == 0 {
		return nil, nil, personError{fmt.Sprintf("watch %d: the module does not report its load id, so a log cannot tell its watches apart: load a wbarrier module as new as wbctl", w.ID)}
	}
	gen := changelog.Generation{LoadID: w.LoadID, WatchID: w.ID, Dev: w.Dev}
	log, err := changelog.Create(path, changelog.Header{FSType: w.FSType, Dev: w.Dev, Mount: w.Path})
	if err == nil {
		if _, err := log.StartGeneration(gen); err != nil {
			log.Close()
			return nil, nil, err
		}
		d.Log, d.Cursor = log, 1
		return d, log, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, nil, err
	}

	log, rec, held, err := drain.OpenLog(path)
	if errors.Is(err, changelog.ErrNotLog) || errors.Is(err, changelog.ErrVersion) {
		return nil, nil, personError{fmt.Sprintf("%v: move it away or give another --log", err)}
	}
	if err != nil {
		return nil, nil, err
	}
	ok := false
	defer func() {
		if !ok {
			log.Close()
		}
	}()
	if rec != nil {
		fmt.Fprintf(ctx.App.ErrWriter, "wbctl: %s: %v\n", path, rec)
	}
	if h := log.Header(); h.FSType != w.FSType {
		return nil, nil, personError{fmt.Sprintf("%s is the log of %s (%s), not of watch %d on %s (%s): give the daemon another --log, or move the log away (its consumers then rescan)",
			path, h.Mount, h.FSType, w.ID, w.Path, w.FSType)}
	}
	d.LastSealed, _ = log.LastSealed()
	if cur, found := log.Generation(); found && cur.Same(gen) {
		d.Offset = cur.Offset
		d.Cursor = max(log.NextSeq(), 1)
		d.ResumeAfter(held, cur)
		if w.NextSeq < d.Cursor {
			return nil, nil, personError{fmt.Sprintf("%s holds records of watch %d up to %d, but the watch has queued only up to %d: the log is not this watch's; give the daemon another --log, or move the log away (its consumers then rescan)",
				path, w.ID, d.Cursor-1, w.NextSeq-1)}
		}
	} else {
		u, ended := log.LastUnmount()
		notCont := checkContinuous(sys, u, ended, w)
		gen.Continuous = notCont == nil
		g, err := log.StartGeneration(gen)
		if err != nil {
			return nil, nil, err
		}
		d.Offset, d.Cursor = g.Offset, 1
		if g.Continuous {
			fmt.Fprintf(ctx.App.ErrWriter, "wbctl: %s: continuous: watch %d of module load %016x began at the mount of %s %s, unchanged since the clean unmount the log ends with (%s): epoch %d between the watches is sealed and empty, changes across it need no rescan; this watch's epoch E is the log's E+%d\n",
				path, w.ID, w.LoadID, u.FSType, u.UUIDString(), continuousSummary(u), g.Offset, g.Offset)
		} else if g.Break {
			was := "a log written before watches were told apart"
			if found {
				was = fmt.Sprintf("watch %d of module load %016x", cur.WatchID, cur.LoadID)
			}
			fmt.Fprintf(ctx.App.ErrWriter, "wbctl: %s followed %s; watch %d of module load %016x is another (a reboot, a module reload, or the filesystem watched anew): epoch %d is a break, changes across it are a rescan; this watch's epoch E is the log's E+%d\n",
				path, was, w.ID, w.LoadID, g.Offset, g.Offset)
			if ended || w.AtMount {
				fmt.Fprintf(ctx.App.ErrWriter, "wbctl: %s: break, not continuous: %v\n", path, notCont)
			}
		}
	}
	d.Log = log
	ok = true
	return d, log, nil
}

// daemonConfig is what runDaemon needs besides the drainer.
type daemonConfig struct {
	unmounted bool         // the watch had ended when the daemon started
	unwatch   func() error // removes the watch
	// cleanUnmount records the clean unmount once the watch's last
	// epoch is sealed (recordUnmount), given the watch's state then, and
	// returns the line to print; nil: never.
	cleanUnmount func(d *drain.Drainer, last genl.Watch, statusErr error) string
	status       func() (genl.Watch, error)
	once         bool
	interval     time.Duration
	spacing      time.Duration // the least time between two drain passes
	policy       epochs.Policy
	barrier      func() (uint64, bool, error) // the watch's barrier
	stop         <-chan os.Signal             // SIGINT, SIGTERM
	logPath      string
	notify       *sdnotify.Notifier // systemd's, or nil
}

// tell sends state to systemd (if it listens), warning on stderr if that
// fails: the daemon goes on.
func tell(ctx *cli.Context, n *sdnotify.Notifier, assignments ...string) {
	if err := n.Send(assignments...); err != nil {
		fmt.Fprintf(ctx.App.ErrWriter, "wbctl: %v\n", err)
	}
}

// sdStatus is the daemon's STATUS= line for systemd: right after a seal of
// N, epoch N+1 is the open one; after a generation break B with no seal
// since, B+1 (the log's numbering).
func sdStatus(d *drain.Drainer) string {
	return fmt.Sprintf("STATUS=watch %d: epoch %d open, last sealed epoch %d", d.Watch, max(d.LastSealed, d.Offset)+1, d.LastSealed)
}

// reportStats tells about the epochs a drain pass sealed.
func reportStats(ctx *cli.Context, st drain.Stats) {
	for _, g := range st.Gaps {
		fmt.Fprintf(ctx.App.ErrWriter, "wbctl: records %d..%d were freed before the log had them (acknowledged by another reader, or before the log began): the epochs they may be of are sealed lossy\n",
			g.From, g.To-1)
	}
	for _, e := range st.Sealed {
		lossy := ""
		if contains(st.Lossy, e) {
			lossy = " (lossy: consumers must rescan)"
		}
		fmt.Fprintf(ctx.App.ErrWriter, "wbctl: sealed epoch %d%s\n", e, lossy)
	}
}

// runDaemon drains until stopped, or once. It closes epochs by the policy,
// and once more when stopped (the final checkpoint).
func runDaemon(ctx *cli.Context, d *drain.Drainer, cfg daemonConfig) error {
	report := func(st drain.Stats) {
		reportStats(ctx, st)
		if len(st.Sealed) > 0 {
			tell(ctx, cfg.notify, sdStatus(d))
		}
	}
	pass := func() (drain.Stats, error) {
		st, err := d.Once()
		report(st)
		return st, err
	}
	checkpoint := func() error {
		_, st, err := epochs.Checkpoint(epochs.Steps{Barrier: cfg.barrier, Drain: d.Once})
		report(st)
		return err
	}
	// The filesystem was unmounted: the watch's last records, with the
	// marker of its last epoch, are queued. Drain them, end the watch and
	// record the clean unmount, for the next watch to continue the log.
	unmounted := func() error {
		if _, err := pass(); err != nil {
			return err
		}
		var last genl.Watch
		var statusErr error
		if cfg.cleanUnmount != nil {
			last, statusErr = cfg.status()
		}
		if err := cfg.unwatch(); err != nil {
			return err
		}
		fmt.Fprintf(ctx.App.ErrWriter, "wbctl: watch %d: the filesystem was unmounted; last sealed epoch %d; watch removed\n",
			d.Watch, d.LastSealed)
		if cfg.cleanUnmount != nil {
			fmt.Fprint(ctx.App.ErrWriter, cfg.cleanUnmount(d, last, statusErr))
		}
		return nil
	}
	if cfg.unmounted {
		return unmounted()
	}
	if cfg.once {
		_, err := pass()
		return err
	}

	events, stopped, err := subscribe(cfg.stop)
	if err != nil {
		return err
	}
	defer events.Close()

	fmt.Fprintf(ctx.App.ErrWriter, "wbctl: draining watch %d into %s\n", d.Watch, cfg.logPath)
	tell(ctx, cfg.notify, "READY=1", sdStatus(d))
	sched := epochs.NewSchedule(cfg.policy, time.Now())
	var lastPass time.Time
	for {
		// A notification came sooner than cfg.spacing after the last
		// pass: let records gather, unless a signal asks to stop.
		if wait := cfg.spacing - time.Since(lastPass); !lastPass.IsZero() && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-stopped:
			case <-t.C:
			}
			t.Stop()
		}
		lastPass = time.Now()
		st, err := pass()
		if err != nil {
			return err
		}
		sched.Add(st.Records)
		if len(st.Sealed) > 0 { // someone else closed an epoch
			sched.Reset(time.Now())
		}
		if sched.Due(time.Now()) {
			if err := checkpoint(); errors.Is(err, unix.ENODEV) {
				return unmounted()
			} else if err != nil {
				return err
			}
			sched.Reset(time.Now())
		}
		select {
		case <-stopped:
			tell(ctx, cfg.notify, "STOPPING=1", "STATUS=final checkpoint")
			if err := checkpoint(); errors.Is(err, unix.ENODEV) {
				return unmounted()
			} else if err != nil {
				return fmt.Errorf("final checkpoint: %w", err)
			}
			return nil
		default:
		}
		wait := sched.Wait(time.Now(), cfg.interval)
		if err := events.SetReadDeadline(time.Now().Add(wait)); err != nil {
			return err
		}
		evs, err := events.ReceiveEvents()
		// Lost notifications (ENOBUFS, under load) mean: drain now, which
		// the next pass does; and the unmount may have been one of them.
		if errors.Is(err, unix.ENOBUFS) {
			if w, err := cfg.status(); err == nil && w.Unmounted {
				return unmounted()
			}
		} else if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("waiting for records: %w", err)
		}
		for _, e := range evs {
			if e.WatchID != d.Watch {
				continue
			}
			switch e.Kind {
			case genl.EventUnmount:
				return unmounted()
			case genl.EventUnwatch:
				pass()
				return fmt.Errorf("watch %d was removed", d.Watch)
			}
		}
	}
}

// defaultSegmentSize is the default of --segment-size.
const defaultSegmentSize = 64 << 20

func contains(s []uint64, v uint64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// logWatch finds the watch the log at path follows (its generation), in
// this load of the module: "daemon --once" without WATCH, run after the
// filesystem was unmounted, when no path leads to the watch any more.
func logWatch(path string) (*genl.Client, genl.Watch, error) {
	log, _, err := changelog.OpenWriter(path)
	if err != nil {
		return nil, genl.Watch{}, err
	}
	g, found := log.Generation()
	if err := log.Close(); err != nil {
		return nil, genl.Watch{}, err
	}
	if !found {
		return nil, genl.Watch{}, fmt.Errorf("%s names no watch (a log written before watches were told apart): give the WATCH", path)
	}
	c, err := dial()
	if err != nil {
		return nil, genl.Watch{}, err
	}
	w, err := c.Status(g.WatchID)
	if err == nil && w.LoadID != g.LoadID {
		err = fmt.Errorf("%s follows watch %d of module load %016x, the module was loaded anew since (%016x): nothing of that watch is left", path, g.WatchID, g.LoadID, w.LoadID)
	} else if err != nil {
		err = fmt.Errorf("%s follows watch %d: %w", path, g.WatchID, err)
	}
	if err != nil {
		c.Close()
		return nil, genl.Watch{}, err
	}
	return c, w, nil
}
