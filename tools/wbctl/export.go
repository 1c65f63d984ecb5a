package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/consumer"
	"github.com/wbarrier/wbarrier/export"
	wbjs "github.com/wbarrier/wbarrier/export/jetstream"
)

var exportCommand = &cli.Command{
	Name:  "export",
	Usage: "publish a log's sealed epochs to a NATS JetStream stream",
	Flags: []cli.Flag{
		natsFlag, streamFlag, logFlag,
		&cli.StringFlag{Name: hostFlag.Name, Usage: hostFlag.Usage, DefaultText: "the host name up to its first dot"},
		&cli.StringFlag{Name: fsFlag.Name, Usage: fsFlag.Usage, DefaultText: "the log's filesystem UUID, else dev-MAJOR-MINOR"},
		&cli.BoolFlag{Name: "create", Usage: "create the stream if it does not exist"},
		&cli.BoolFlag{Name: "follow", Usage: "keep publishing epochs as they are sealed, until SIGINT or SIGTERM"},
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "with --follow, how often to read the log (and to retry after an error)"},
		&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "how long to wait for the server to acknowledge a message"},
		&cli.IntFlag{Name: "batch-records", Value: export.BatchRecords, Usage: "records per message at most (and at most 256 KiB)"},
		jsonFlag,
	},
	Description: `Publishes every epoch the log FILE has sealed to the stream NAME, for a
consumer on another machine: the epoch's records in batches on the subject
wbarrier.HOST.FS.records, then its seal on wbarrier.HOST.FS.seal, sent only
once the server acknowledged (stored) every batch of the epoch. Every
message has a Nats-Msg-Id (log id, generation, epoch, batch index), so the
stream stores none twice. Each run starts where the stream stands: after the
last seal of this log on the subject, and within the next epoch after the
batches already stored; nothing is skipped or doubled, so an export that was
stopped or failed is simply run again. Lossy epochs are published lossy;
an epoch the log never sealed, or one whose records were purged from the
log before they were exported, gets no seal: a reader rescans across it.

One stream can hold a fleet: each host publishes its logs under its own
HOST and FS. The stream must take the subjects "wbarrier.>"; --create makes
one on file storage that refuses new messages when full (discard new), with
a two-minute duplicate window.

Without --follow, it publishes what is sealed and exits. With --follow, it
reads the log again every --interval and publishes what was sealed since;
errors (the server down, the stream full) are printed and retried.

Prints a line per epoch published, and a summary; with --json, an object
per epoch ("epoch", "lossy", and the totals so far: "epochs", "records",
"batches", "skipped") and a last one with "done": true, "subject" and "log".

Every message is published on the condition that the last message on its
subject is the one this run read or stored: a copy never doubles a
message, even after the stream's duplicate window. If the stream moved on
meanwhile (another export of the same log running), nothing is published
and the run fails ("the stream moved on"); the next run goes on from where
the stream stands.

Exit status: 0 everything sealed was published (with --follow: stopped by
a signal); 1 an error (the server down or not answering within --timeout,
the stream missing or full, the stream ahead of the log, the stream moved
on); 2 bad command line; 4 the log is corrupt.

Examples:
   wbctl export --nats nats://nats.example:4222 --stream wbarrier --create \
       --log /var/lib/wbarrier/srv-data.log
   wbctl export --nats nats://nats.example:4222 --stream wbarrier --follow \
       --host web1 --fs data --log /var/lib/wbarrier/srv-data.log`,
	Before: func(c *cli.Context) error {
		for _, f := range []string{"nats", "stream"} {
			if c.String(f) == "" {
				return usageError{"export: --nats URL, --stream NAME and --log FILE are required"}
			}
		}
		return requireLog(c)
	},
	Action: runExport,
}

func runExport(c *cli.Context) error {
	if c.NArg() != 0 {
		return usageError{"export: takes no arguments (the log is --log FILE)"}
	}
	path := c.String("log")
	end, err := changelog.OpenSince(path, math.MaxUint64) // the last segment: the log's identity
	if err != nil {
		return err
	}
	src, err := exportSource(c, end.Header())
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	nc, js, err := dialJetStream(c, "wbctl export "+src.Host+"."+src.FS, c.Duration("timeout"), c.Bool("follow"))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer nc.Close()
	out := exportPrinter{w: c.App.Writer, json: c.Bool("json"), c: c}
	opt := export.Options{BatchRecords: c.Int("batch-records"), Progress: out.progress}
	for {
		p, err := exportOnce(ctx, c, js, path, src, opt)
		out.total.add(p)
		if !c.Bool("follow") || errors.Is(err, export.ErrAhead) || errors.Is(err, changelog.ErrCorrupt) || ctx.Err() != nil {
			if err != nil {
				return unlikeTimeout(err)
			}
			return out.done(src)
		}
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "wbctl: %v; retrying in %v\n", unlikeTimeout(err), c.Duration("interval"))
		}
		select {
		case <-ctx.Done():
			return out.done(src)
		case <-time.After(c.Duration("interval")):
		}
	}
}

// exportOnce finds (or creates) the stream and publishes what the log at
// path sealed since the stream's last seal of it.
func exportOnce(ctx context.Context, c *cli.Context, js jetstream.JetStream, path string, src export.Source, opt export.Options) (export.Progress, error) {
	if c.Bool("create") {
		if err := wbjs.CreateStream(ctx, js, c.String("stream")); err != nil {
			return export.Progress{}, err
		}
	}
	sink, err := wbjs.New(ctx, js, c.String("stream"))
	if err != nil {
		return export.Progress{}, err
	}
	return export.ExportFile(ctx, path, src, sink, opt)
}

// unlikeTimeout keeps an acknowledgement that did not come in time from
// reading as barrier's exit status 6.
func unlikeTimeout(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%v (no acknowledgement from the server within --timeout)", err)
	}
	return err
}

// exportSource names the log in the subjects: --host or the host name,
// --fs or the log's filesystem.
func exportSource(c *cli.Context, h changelog.Header) (export.Source, error) {
	src := export.Source{Log: consumer.LogID(h), Host: c.String("host"), FS: c.String("fs")}
	if src.Host == "" {
		name, err := os.Hostname()
		if err != nil {
			return src, fmt.Errorf("export: the host name (pass --host): %w", err)
		}
		src.Host, _, _ = strings.Cut(name, ".")
	}
	if src.FS == "" {
		src.FS = h.UUID
		if src.FS == "" {
			src.FS = fmt.Sprintf("dev-%d-%d", unix.Major(uint64(h.Dev)), unix.Minor(uint64(h.Dev)))
		}
	}
	if err := wbjs.CheckToken("host", src.Host); err != nil {
		return src, usageError{err.Error() + " (pass --host)"}
	}
	if err := wbjs.CheckToken("filesystem id", src.FS); err != nil {
		return src, usageError{err.Error() + " (pass --fs)"}
	}
	return src, nil
}

// exportPrinter prints the export's progress.
type exportPrinter struct {
	w     io.Writer
	json  bool
	c     *cli.Context
	total exportTotal // of the runs before the current one
}

type exportTotal struct {
	Epochs  int    `json:"epochs"`
	Records uint64 `json:"records"`
	Batches int    `json:"batches"`
	Skipped int    `json:"skipped"`
}

func (t *exportTotal) add(p export.Progress) {
	t.Epochs += p.Epochs
	t.Records += p.Records
	t.Batches += p.Batches
	t.Skipped += p.Skipped
}

func (o *exportPrinter) progress(p export.Progress) {
	t := o.total
	t.add(p)
	if o.json {
		printJSON(o.c, struct {
			Epoch uint64 `json:"epoch"`
			Lossy bool   `json:"lossy"`
			exportTotal
		}{p.Epoch, p.Lossy, t})
		return
	}
	lossy := ""
	if p.Lossy {
		lossy = " (lossy)"
	}
	fmt.Fprintf(o.w, "epoch %d sealed in the stream%s; %d epochs, %d records, %d batches so far\n", p.Epoch, lossy, t.Epochs, t.Records, t.Batches)
}

func (o *exportPrinter) done(src export.Source) error {
	subj := wbjs.SubjectPrefix + "." + src.Host + "." + src.FS + ".*"
	if o.json {
		return printJSON(o.c, struct {
			Done    bool   `json:"done"`
			Subject string `json:"subject"`
			Log     string `json:"log"`
			exportTotal
		}{true, subj, src.Log, o.total})
	}
	_, err := fmt.Fprintf(o.w, "published %d epochs (%d records, %d batches) of log %s on %s; %d epochs skipped (purged from the log first)\n",
		o.total.Epochs, o.total.Records, o.total.Batches, src.Log, subj, o.total.Skipped)
	return err
}
