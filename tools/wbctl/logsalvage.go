package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/consumer"
)

var logSalvageCommand = &cli.Command{
	Name:      "salvage",
	Usage:     "copy what is intact of a damaged log into a new log",
	ArgsUsage: "FILE NEWFILE",
	Flags:     []cli.Flag{logArgFlag, jsonFlag},
	Description: `Reads the log FILE (every segment; it is not changed) and writes a new log,
NEWFILE, with every epoch that is provably intact: its seal and every record
of it passed their chained CRC checks. That is the valid prefix, and after
each damaged frame, every epoch sealed after the point where the chain of
valid frames starts again whose records are all there (as many as its seal
counts). The other epochs are not sealed in NEWFILE, so "wbctl changes"
across them is "rescan required" (status 3), its reason naming the damage
(NEWFILE.salvage keeps the report). NEWFILE takes the cursors of FILE.
Records of epochs it does not seal are not copied; a daemon should start a
new log rather than resume on NEWFILE. NEWFILE is one segment with a new
log id; it and NEWFILE.salvage must not exist.

Prints the damaged byte ranges, the epochs kept and lost, and the records
dropped; with --json, one object: "damage" (file, offset, bytes, reason),
"kept" and "lost" (epochs, "N" or "N..M"), "records", "seals",
"dropped_records", "unknown_after" (if FILE ends in damage: the epochs after
it may have been sealed there), "log" and "source_log" (the ids). On a long
log, progress goes to stderr every second.

Exit status: 0 NEWFILE was written (whether or not anything was lost: see
the report); 1 an error (FILE missing or unreadable, its first header
damaged, NEWFILE exists): nothing is left behind; 2 bad command line.

Examples:
   wbctl log salvage /var/lib/wbarrier/data.log /var/lib/wbarrier/data-salvaged.log
   wbctl log salvage --json --log data.log data-salvaged.log`,
	Action: func(ctx *cli.Context) error {
		args := ctx.Args().Slice()
		if ctx.IsSet("log") {
			args = append([]string{ctx.String("log")}, args...)
		}
		if len(args) != 2 {
			return usageError{"log salvage: expected FILE NEWFILE (or --log FILE NEWFILE)"}
		}
		r, err := consumer.Salvage(args[0], args[1], salvageProgress(ctx.App.ErrWriter, time.Now))
		if err != nil {
			return err
		}
		if ctx.Bool("json") {
			return printJSON(ctx, r)
		}
		return writeSalvage(ctx.App.Writer, r)
	},
}

// salvageProgress returns a progress function that prints to w at most
// once a second by the clock now, the first time a second after it starts.
func salvageProgress(w io.Writer, now func() time.Time) func(done, total int64) {
	last := now()
	return func(done, total int64) {
		if now().Sub(last) < time.Second {
			return
		}
		last = now()
		fmt.Fprintf(w, "wbctl: log salvage: %d%% done\n", done*100/max(total, 1))
	}
}

// writeSalvage prints the report as text, a line per finding.
func writeSalvage(w io.Writer, r *consumer.SalvageReport) error {
	var b strings.Builder
	for _, d := range r.Damage {
		fmt.Fprintf(&b, "damage: %s\n", d)
	}
	if len(r.Damage) == 0 {
		b.WriteString("damage: none\n")
	}
	fmt.Fprintf(&b, "kept: epochs %s (%d records, %d seals)\n", epochRanges(r.Kept), r.Records, r.Seals)
	fmt.Fprintf(&b, "lost: epochs %s (%d records dropped)\n", epochRanges(r.Lost), r.DroppedRecords)
	if r.UnknownAfter != nil {
		fmt.Fprintf(&b, "unknown: the epochs after %d\n", *r.UnknownAfter)
	}
	fmt.Fprintf(&b, "wrote %s (log %s, from log %s)\n", r.Output, r.Log, r.SourceLog)
	_, err := io.WriteString(w, b.String())
	return err
}

// epochRanges lists rs, "none" if empty.
func epochRanges(rs []changelog.EpochRange) string {
	if len(rs) == 0 {
		return "none"
	}
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}
