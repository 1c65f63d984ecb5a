package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/consumer"
)

var logFlag = &cli.StringFlag{Name: "log", Usage: "the log `FILE` (required)"}

// requireLog is the Before of every command with --log: without it, a usage
// error (exit 2, on stderr), not the help on stdout that a script would
// pipe on.
func requireLog(ctx *cli.Context) error {
	if ctx.String("log") != "" {
		return nil
	}
	name := ctx.Command.Name
	if l := ctx.Lineage(); len(l) > 1 && l[1].Command != nil && l[1].Command.Name != "" && l[1].Command.Name != ctx.App.Name {
		name = l[1].Command.Name + " " + name // a subcommand
	}
	return usageError{name + ": --log FILE is required"}
}

// printPurged names on stderr the segments an ack or rm removed.
func printPurged(ctx *cli.Context, p consumer.Purge) {
	for _, f := range p.Files {
		fmt.Fprintf(ctx.App.ErrWriter, "wbctl: removed %s: every consumer has acknowledged its epochs (up to %d)\n", f, p.UpTo)
	}
}

var consumerCommand = &cli.Command{
	Name:  "consumer",
	Usage: "keep the cursors of a log's consumers",
	Description: `A consumer is a named reader of a log (a backup job, an indexer) whose
cursor, the last epoch it has processed, is kept durably beside the log in
FILE.consumers. The contract: read "wbctl changes --consumer NAME", process
the changes, then "wbctl consumer ack NAME EPOCH" with the --until epoch it
processed (by default the last sealed epoch when it read). If changes exits
with status 3, rescan, then ack the last sealed epoch.

Once the cursors are durable, "ack" and "rm" remove the log's oldest
segments whose epochs every consumer has acknowledged (the daemon starts a
segment every --segment-size bytes); with no consumer, nothing is removed.

With --nats URL --stream S (and --host H --fs F) instead of --log, the
consumer reads what "wbctl export" published of host H's filesystem F to
the JetStream stream S, from any machine, and its cursor is kept by the
NATS server: a durable JetStream consumer named NAME, acknowledged up to
the last epoch processed. The contract is the same: "wbctl changes --nats
... --consumer NAME" answers from its cursor (exit 3: rescan), "consumer
ack" moves it to the epoch processed (N, or the LOGID:N cursor changes
reported). Nothing is removed from the stream: its limits do that.

Examples:
   wbctl consumer add --log data.log backup
   wbctl changes --log data.log --consumer backup --until 42 --paths /srv/data --print0 | ...
   wbctl consumer ack --log data.log backup 42
   wbctl consumer list --log data.log

   nats="--nats nats://nats.example:4222 --stream wbarrier"
   wbctl consumer add $nats --host web1 --fs data backup-web1
   wbctl changes $nats --host web1 --fs data --consumer backup-web1 --json > changes.json
   wbctl consumer ack $nats --host web1 --fs data backup-web1 "$(tail -1 changes.json | jq -r .cursor)"
   wbctl consumer list $nats`,
	Subcommands: []*cli.Command{
		{
			Name:      "add",
			Usage:     "add a consumer",
			ArgsUsage: "NAME",
			Description: `Adds a consumer whose cursor is --epoch (default: the last sealed epoch,
which is right for a consumer that has just scanned everything).

With --nats, NAME takes letters, digits, '-' and '_'; the epoch is of the
log whose seal is the subject's last (default: that seal's epoch, or none
if the stream holds no seal yet: then every epoch is answered). --ack-wait
is how long the server waits before it hands an epoch that a reader took
and never acknowledged (it died) to the next reader.

Examples:
   wbctl consumer add --log /var/lib/wbarrier/data.log backup
   wbctl consumer add --nats nats://nats.example:4222 --stream wbarrier --host web1 --fs data backup-web1`,
			Flags: append([]cli.Flag{logOrNatsFlag, &cli.Uint64Flag{Name: "epoch", Usage: "the cursor to start at (`N`)", DefaultText: "the last sealed epoch"},
				&cli.DurationFlag{Name: "ack-wait", Value: 30 * time.Second, Usage: "with --nats: how long an epoch taken and not acknowledged stays with its reader"}},
				streamFlags...),
			Before: requireLogOrStream(true),
			Action: func(ctx *cli.Context) error {
				if ctx.NArg() != 1 {
					return usageError{"consumer add: expected one NAME"}
				}
				if ctx.String("nats") != "" {
					return streamConsumerAdd(ctx)
				}
				l, err := consumer.Open(ctx.String("log"))
				if err != nil {
					return err
				}
				epoch := l.Cursor().Epoch
				if ctx.IsSet("epoch") {
					epoch = ctx.Uint64("epoch")
				}
				return l.AddConsumer(ctx.Args().First(), epoch)
			},
		},
		{
			Name:      "ack",
			Usage:     "move a consumer's cursor: it has processed the epochs up to EPOCH",
			ArgsUsage: "NAME EPOCH",
			Description: `EPOCH must be sealed, and not before the consumer's cursor. Then the
segments whose epochs every consumer has acknowledged are removed (each is
named on stderr).

With --nats, EPOCH is N or the cursor LOGID:N that changes reported, and
must be sealed in the stream; the seals up to it are acknowledged, one by
one. A seal that another reader took and did not acknowledge yet stops it
after --wait (exit 1): the server hands it out again after its ack wait.

Examples:
   wbctl consumer ack --log /var/lib/wbarrier/data.log backup 42
   wbctl consumer ack --nats nats://nats.example:4222 --stream wbarrier --host web1 --fs data backup-web1 5e1d0c2a9b3f4e77:42`,
			Flags: append([]cli.Flag{logOrNatsFlag,
				&cli.DurationFlag{Name: "wait", Value: 5 * time.Second, Usage: "with --nats: how long to wait for the server to hand out each epoch's seal"}},
				streamFlags...),
			Before: requireLogOrStream(true),
			Action: func(ctx *cli.Context) error {
				if ctx.NArg() != 2 {
					return usageError{"consumer ack: expected NAME EPOCH"}
				}
				if ctx.String("nats") != "" {
					until, err := consumer.ParseCursor(ctx.Args().Get(1))
					if err != nil {
						return usageError{fmt.Sprintf("consumer ack: bad EPOCH %q: want N or LOGID:N", ctx.Args().Get(1))}
					}
					return streamConsumerAck(ctx, ctx.Args().First(), until)
				}
				epoch, err := strconv.ParseUint(ctx.Args().Get(1), 10, 64)
				if err != nil {
					return usageError{fmt.Sprintf("consumer ack: bad EPOCH %q", ctx.Args().Get(1))}
				}
				l, err := consumer.Open(ctx.String("log"))
				if err != nil {
					return err
				}
				p, err := l.Ack(ctx.Args().First(), epoch)
				printPurged(ctx, p)
				return err
			},
		},
		{
			Name:      "follow",
			Usage:     "with --nats: run COMMAND for each epoch the stream seals, acknowledging it once COMMAND exits 0",
			ArgsUsage: "NAME -- COMMAND [ARG...]",
			Description: `Follows host H's filesystem F in the stream as the consumer NAME (see
"consumer add --nats"): for each epoch sealed after the consumer's cursor,
in order, it runs COMMAND with what changed on its standard input, as
"changes --json" prints it (an object per changed object, then the cursor
object), and in its environment:

   WBARRIER_CONSUMER  NAME
   WBARRIER_SINCE     the range is the epochs after it ...
   WBARRIER_UNTIL     ... up to this one
   WBARRIER_CURSOR    LOGID:UNTIL, the consumer's cursor once acknowledged
   WBARRIER_RESCAN    if set, the stream cannot vouch for the range (lossy,
                      unsealed, purged, other log): the input is empty and
                      COMMAND must find the changes another way (a full
                      scan) from epoch WBARRIER_RESCAN_FROM

When COMMAND exits 0, the epoch is acknowledged on the server and the next
one is answered. When it fails, the epoch is handed back unacknowledged and
follow exits 1: the next run (of any machine) answers it again. A follow
that dies holding an epoch leaves it to the next reader after the
consumer's --ack-wait. Progress goes to stderr; COMMAND's output to
stdout and stderr.

Without --once, it follows until SIGINT or SIGTERM (exit 0); with --once,
it handles the epochs sealed now and exits.

Example:
   wbctl consumer follow --nats nats://nats.example:4222 --stream wbarrier \
       --host web1 --fs data backup-web1 -- /usr/local/bin/copy-changes`,
			Flags: append([]cli.Flag{&cli.BoolFlag{Name: "once", Usage: "handle the epochs sealed now, then exit"},
				&cli.DurationFlag{Name: "wait", Value: time.Second, Usage: "with --once: how long to wait for the next seal before exiting"}},
				streamFlags...),
			Before: func(ctx *cli.Context) error {
				if ctx.String("nats") == "" {
					return usageError{"consumer follow: --nats URL is required (a consumer of a log file reads wbctl changes --consumer)"}
				}
				return requireLogOrStream(true)(ctx)
			},
			Action: func(ctx *cli.Context) error {
				if _, command := followArgs(ctx); len(command) == 0 {
					return usageError{"consumer follow: expected NAME -- COMMAND [ARG...]"}
				}
				return streamConsumerFollow(ctx)
			},
		},
		{
			Name:  "list",
			Usage: "list the consumers: cursor and how many sealed epochs they are behind",
			Description: `BEHIND is the last sealed epoch minus the consumer's cursor.

With --nats, it lists the consumers of every host and filesystem in the
stream: CURSOR is LOGID:N, LAST the cursor of the subject's last seal
(where to go on from after a rescan, if read before it), BEHIND the seals
in the stream after CURSOR.

Examples:
   wbctl consumer list --json --log /var/lib/wbarrier/data.log
   wbctl consumer list --nats nats://nats.example:4222 --stream wbarrier`,
			Flags:  append([]cli.Flag{logOrNatsFlag, jsonFlag}, natsFlag, streamFlag),
			Before: requireLogOrStream(false),
			Action: func(ctx *cli.Context) error {
				if ctx.NArg() != 0 {
					return usageError{"consumer list: no arguments expected"}
				}
				if ctx.String("nats") != "" {
					return streamConsumerList(ctx)
				}
				l, err := consumer.Open(ctx.String("log"))
				if err != nil {
					return err
				}
				last := l.Cursor().Epoch // the last sealed epoch
				s, err := l.Consumers()
				if err != nil {
					return err
				}
				if ctx.Bool("json") {
					for _, c := range s.Consumers {
						err := printJSON(ctx, struct {
							Name    string    `json:"name"`
							Epoch   uint64    `json:"epoch"`
							Behind  uint64    `json:"behind"`
							Updated time.Time `json:"updated"`
						}{c.Name, c.Epoch, last - min(last, c.Epoch), c.Updated})
						if err != nil {
							return err
						}
					}
					return nil
				}
				tw := tabwriter.NewWriter(ctx.App.Writer, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tEPOCH\tBEHIND\tUPDATED")
				for _, c := range s.Consumers {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", c.Name, c.Epoch, last-min(last, c.Epoch), c.Updated.Format(time.RFC3339))
				}
				return tw.Flush()
			},
		},
		{
			Name:      "rm",
			Usage:     "remove a consumer",
			ArgsUsage: "NAME",
			Description: `Forgets the consumer and its cursor (with --nats, the durable JetStream
consumer NAME).

Examples:
   wbctl consumer rm --log /var/lib/wbarrier/data.log backup
   wbctl consumer rm --nats nats://nats.example:4222 --stream wbarrier backup-web1`,
			Flags:  append([]cli.Flag{logOrNatsFlag}, natsFlag, streamFlag),
			Before: requireLogOrStream(false),
			Action: func(ctx *cli.Context) error {
				if ctx.NArg() != 1 {
					return usageError{"consumer rm: expected one NAME"}
				}
				if ctx.String("nats") != "" {
					return streamConsumerRemove(ctx)
				}
				l, err := consumer.Open(ctx.String("log"))
				if err != nil {
					return err
				}
				p, err := l.RemoveConsumer(ctx.Args().First())
				printPurged(ctx, p)
				return err
			},
		},
	},
}
