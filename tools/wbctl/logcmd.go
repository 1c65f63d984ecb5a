package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
)

var logCommand = &cli.Command{
	Name:  "log",
	Usage: "read a log file written by the daemon",
	Subcommands: []*cli.Command{
		logVerifyCommand,
		{
			Name:      "dump",
			Usage:     "print a log file's header, records and seals",
			ArgsUsage: "FILE",
			Description: `Validates the whole file first: a torn tail (an interrupted write at the
end) is reported and ignored; damage before the tail, or a file that is not
a wbarrier log, is an error. The records print as "wbctl records" prints
them; a seal prints as "epoch=N sealed records=K seq=S" (and "lossy"),
where S is the seq of the module's epoch-closed marker the seal was made of
(absent in logs written before wbctl kept it; "seq" in --json).

Example:
   wbctl log dump --json data.log`,
			Flags: []cli.Flag{jsonFlag},
			Action: func(ctx *cli.Context) error {
				if ctx.NArg() != 1 {
					return usageError{"log dump: expected one FILE"}
				}
				l, err := changelog.Open(ctx.Args().First())
				if err != nil {
					return err
				}
				if rec := l.Recovery(); rec != nil {
					fmt.Fprintf(ctx.App.ErrWriter, "wbctl: %s: %v\n", ctx.Args().First(), rec)
				}
				return dumpLog(ctx, l)
			},
		},
	},
}

func dumpLog(ctx *cli.Context, l *changelog.Log) error {
	h := l.Header()
	asJSON := ctx.Bool("json")
	var err error
	if asJSON {
		err = printJSON(ctx, struct {
			FSType string `json:"fstype"`
			Mount  string `json:"mount"`
			UUID   string `json:"uuid,omitempty"`
		}{h.FSType, h.Mount, h.UUID})
	} else {
		_, err = fmt.Fprintf(ctx.App.Writer, "log of %s (%s)\n", h.Mount, h.FSType)
	}
	if err != nil {
		return err
	}
	record := func(r record.Record) error {
		out := newRecordOut(r)
		if asJSON {
			return printJSON(ctx, out)
		}
		return out.writeText(ctx.App.Writer)
	}
	seal := func(s changelog.Seal) error {
		if asJSON {
			return printJSON(ctx, struct {
				Epoch   uint64 `json:"epoch"`
				Sealed  bool   `json:"sealed"`
				Records uint64 `json:"records"`
				Seq     uint64 `json:"seq,omitempty"`
				Lossy   bool   `json:"lossy,omitempty"`
			}{s.Epoch, true, s.Records, s.Seq, s.Lossy})
		}
		more := ""
		if s.Seq != 0 {
			more = fmt.Sprintf(" seq=%d", s.Seq)
		}
		if s.Lossy {
			more += " lossy"
		}
		_, err := fmt.Fprintf(ctx.App.Writer, "epoch=%d sealed records=%d%s\n", s.Epoch, s.Records, more)
		return err
	}
	return l.EachFrame(record, seal)
}
