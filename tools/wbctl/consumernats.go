package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v2"

	"github.com/wbarrier/wbarrier/consumer"
	wbjs "github.com/wbarrier/wbarrier/export/jetstream"
)

// streamFlags name a consumer kept by the NATS server (a durable
// JetStream consumer of what wbctl export published) instead of --log.
var streamFlags = []cli.Flag{natsFlag, streamFlag, hostFlag, fsFlag}

// logOrNatsFlag is --log for the consumer commands, which take --nats
// instead.
var logOrNatsFlag = &cli.StringFlag{Name: "log", Usage: "the log `FILE` (required, unless --nats)"}

// requireLogOrStream is the Before of the consumer commands: --log FILE,
// or --nats URL --stream NAME, with --host and --fs if hostFS.
func requireLogOrStream(hostFS bool) cli.BeforeFunc {
	return func(ctx *cli.Context) error {
		if ctx.String("nats") == "" {
			return requireLog(ctx)
		}
		name := "consumer " + ctx.Command.Name
		if ctx.IsSet("log") {
			return usageError{name + ": --log FILE and --nats URL exclude each other"}
		}
		need := []string{"stream"}
		if hostFS {
			need = append(need, "host", "fs")
		}
		for _, f := range need {
			if ctx.String(f) == "" {
				return usageError{fmt.Sprintf("%s --nats: --%s is required", name, f)}
			}
		}
		return checkHostFS(ctx, name)
	}
}

// checkHostFS returns a usage error unless --host and --fs, where given,
// are subject tokens.
func checkHostFS(ctx *cli.Context, name string) error {
	for _, f := range []string{"host", "fs"} {
		if v := ctx.String(f); v != "" {
			if err := wbjs.CheckToken(f, v); err != nil {
				return usageError{name + ": " + err.Error()}
			}
		}
	}
	return nil
}

// withStream connects to --nats and calls fn with a JetStream context.
func withStream(ctx *cli.Context, fn func(context.Context, jetstream.JetStream) error) error {
	name := "consumer " + ctx.Command.Name
	nc, js, err := dialJetStream(ctx, "wbctl "+name, 10*time.Second, false)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer nc.Close()
	return fn(context.Background(), js)
}

// openStreamConsumer opens the consumer NAME of --host's --fs in --stream.
func openStreamConsumer(c context.Context, ctx *cli.Context, js jetstream.JetStream, name string) (*consumer.StreamConsumer, error) {
	return consumer.OpenStreamConsumer(c, js, ctx.String("stream"), ctx.String("host"), ctx.String("fs"), name)
}

// streamConsumerAdd is consumer add --nats.
func streamConsumerAdd(ctx *cli.Context) error {
	name := ctx.Args().First()
	if err := wbjs.CheckToken("consumer name", name); err != nil {
		return usageError{"consumer add: " + err.Error()}
	}
	return withStream(ctx, func(c context.Context, js jetstream.JetStream) error {
		stream, host, fs := ctx.String("stream"), ctx.String("host"), ctx.String("fs")
		// The stream's last seal only: the cursor of the current log.
		st, err := consumer.ReadStreamSince(c, js, stream, host, fs, consumer.Cursor{Epoch: math.MaxUint64})
		if err != nil {
			return err
		}
		start := st.Cursor()
		if ctx.IsSet("epoch") {
			start.Epoch = ctx.Uint64("epoch")
		}
		if _, err := consumer.AddStreamConsumer(c, js, stream, host, fs, name, start, ctx.Duration("ack-wait")); err != nil {
			return err
		}
		fmt.Fprintf(ctx.App.ErrWriter, "wbctl: consumer %s of %s.%s in stream %s starts after %s\n", name, host, fs, stream, start)
		return nil
	})
}

// streamConsumerAck is consumer ack --nats.
func streamConsumerAck(ctx *cli.Context, name string, until consumer.Cursor) error {
	return withStream(ctx, func(c context.Context, js jetstream.JetStream) error {
		sc, err := openStreamConsumer(c, ctx, js, name)
		if err != nil {
			return err
		}
		_, err = sc.Ack(c, until, ctx.Duration("wait"))
		return err
	})
}

// streamConsumerList is consumer list --nats.
func streamConsumerList(ctx *cli.Context) error {
	return withStream(ctx, func(c context.Context, js jetstream.JetStream) error {
		infos, err := consumer.ListStreamConsumers(c, js, ctx.String("stream"))
		if err != nil {
			return err
		}
		if ctx.Bool("json") {
			for _, i := range infos {
				err := printJSON(ctx, struct {
					Name   string `json:"name"`
					Host   string `json:"host"`
					FS     string `json:"fs"`
					Cursor string `json:"cursor"`
					Log    string `json:"log"`
					Epoch  uint64 `json:"epoch"`
					Last   string `json:"last"`
					Behind uint64 `json:"behind"`
				}{i.Name, i.Host, i.FS, i.Cursor.String(), i.Cursor.Log, i.Cursor.Epoch, i.Last.String(), i.Behind})
				if err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(ctx.App.Writer, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tHOST\tFS\tCURSOR\tLAST\tBEHIND")
		for _, i := range infos {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", i.Name, i.Host, i.FS, i.Cursor, i.Last, i.Behind)
		}
		return tw.Flush()
	})
}

// streamConsumerRemove is consumer rm --nats.
func streamConsumerRemove(ctx *cli.Context) error {
	return withStream(ctx, func(c context.Context, js jetstream.JetStream) error {
		return consumer.RemoveStreamConsumer(c, js, ctx.String("stream"), ctx.Args().First())
	})
}

// streamConsumerChanges is changes --nats --consumer NAME.
func streamConsumerChanges(ctx *cli.Context, js jetstream.JetStream) (*consumer.Changes, error) {
	c := context.Background()
	sc, err := openStreamConsumer(c, ctx, js, ctx.String("consumer"))
	if err != nil {
		return nil, err
	}
	return sc.Changes(c)
}

// streamConsumerFollow is consumer follow: COMMAND run for each epoch the
// stream seals, the epoch acknowledged once it exits 0.
func streamConsumerFollow(ctx *cli.Context) error {
	name, command := followArgs(ctx)
	sig, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return withStream(ctx, func(c context.Context, js jetstream.JetStream) error {
		sc, err := openStreamConsumer(c, ctx, js, name)
		if err != nil {
			return err
		}
		h := runForEpoch(ctx, name, command)
		if !ctx.Bool("once") {
			return sc.Follow(sig, h)
		}
		for sig.Err() == nil {
			_, err := sc.Next(sig, ctx.Duration("wait"), h)
			if errors.Is(err, nats.ErrTimeout) {
				return nil // nothing left
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// followArgs splits consumer follow's arguments: NAME -- COMMAND [ARG...]
// (the "--" may be left out); command is empty if there is none.
func followArgs(ctx *cli.Context) (name string, command []string) {
	args := ctx.Args().Slice()
	if len(args) == 0 {
		return "", nil
	}
	command = args[1:]
	if len(command) > 0 && command[0] == "--" {
		command = command[1:]
	}
	return args[0], command
}

// runForEpoch returns a Handler that runs command with what changed on its
// standard input, as changes --json prints it, and the range in its
// environment; a rescan gets an empty input and WBARRIER_RESCAN.
func runForEpoch(ctx *cli.Context, name string, command []string) consumer.Handler {
	return func(c context.Context, ch *consumer.Changes, rescan *consumer.RescanError) error {
		var in bytes.Buffer
		env := append(os.Environ(), "WBARRIER_CONSUMER="+name, "WBARRIER_CURSOR="+ch.Cursor.String(),
			fmt.Sprintf("WBARRIER_SINCE=%d", ch.Since), fmt.Sprintf("WBARRIER_UNTIL=%d", ch.Until))
		what := "changes"
		if rescan != nil {
			env = append(env, "WBARRIER_RESCAN="+rescan.Reason.String(), fmt.Sprintf("WBARRIER_RESCAN_FROM=%d", rescan.From))
			what = "rescan (" + rescan.Reason.String() + ")"
		} else {
			enc := json.NewEncoder(&in)
			for _, o := range ch.Objects {
				out, err := newObjectOut(o, nil)
				if err != nil {
					return err
				}
				if err := enc.Encode(out); err != nil {
					return err
				}
			}
			if err := enc.Encode(cursorOut{Cursor: ch.Cursor.String(), Log: ch.Cursor.Log, Until: ch.Until}); err != nil {
				return err
			}
		}
		cmd := exec.CommandContext(c, command[0], command[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.Env = &in, ctx.App.Writer, ctx.App.ErrWriter, env
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("consumer follow: %s, for the %s of epochs %d-%d: %w; not acknowledged: the next run answers them again",
				command[0], what, ch.Since+1, ch.Until, err)
		}
		fmt.Fprintf(ctx.App.ErrWriter, "wbctl: %s: epochs %d-%d processed (%s), cursor %s\n", name, ch.Since+1, ch.Until, what, ch.Cursor)
		return nil
	}
}
