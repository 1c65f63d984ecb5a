package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
)

var logVerifyCommand = &cli.Command{
	Name:      "verify",
	Usage:     "check a log file and say what it holds",
	ArgsUsage: "FILE",
	Description: `Reads and checks the whole file without changing it, then prints one line
per finding: the header, the number of records, the sealed epochs (first and
last, and the unsealed epochs between them), the lossy epochs, the records
after the last seal, and the tail: clean, or torn (where and how many bytes;
the daemon cuts a torn tail off when it resumes, and keeps it in FILE.broken).
The last line is "ok". A torn tail is not corruption: it is what
a crash leaves, and it only loses unsealed epochs.

Damage before the tail (a frame that fails its check with a valid seal after
it) is corruption: verify prints "corrupt at byte offset N: REASON" and exits
with status 4.
A file that is not a wbarrier log is an error (status 1).

Example:
   wbctl log verify /var/lib/wbarrier/data.log`,
	Action: func(ctx *cli.Context) error {
		if ctx.NArg() != 1 {
			return usageError{"log verify: expected one FILE"}
		}
		path := ctx.Args().First()
		l, err := changelog.Open(path)
		var ce *changelog.CorruptError
		if errors.As(err, &ce) {
			fmt.Fprintf(ctx.App.Writer, "corrupt at byte offset %d: %s\n", ce.Offset, ce.Reason)
			return err
		}
		if err != nil {
			return err
		}
		return writeVerify(ctx.App.Writer, l)
	},
}

// writeVerify prints what the valid log l holds.
func writeVerify(w io.Writer, l *changelog.Log) error {
	h := l.Header()
	var b strings.Builder
	fmt.Fprintf(&b, "header: format %d, %s on %s\n", h.Version, h.FSType, h.Mount)
	recs := l.Records()
	fmt.Fprintf(&b, "records: %d\n", len(recs))

	seals := l.Seals()
	if len(seals) == 0 {
		b.WriteString("sealed: none\n")
	} else {
		first, last := seals[0].Epoch, seals[len(seals)-1].Epoch
		fmt.Fprintf(&b, "sealed: %d epochs, %d..%d\n", len(seals), first, last)
		var gaps, lossy []string
		for i, s := range seals {
			if i > 0 && s.Epoch > seals[i-1].Epoch+1 {
				gaps = append(gaps, epochSpan(seals[i-1].Epoch+1, s.Epoch-1))
			}
			if s.Lossy {
				lossy = append(lossy, fmt.Sprint(s.Epoch))
			}
		}
		if len(gaps) > 0 {
			fmt.Fprintf(&b, "unsealed between: %s\n", strings.Join(gaps, ","))
		}
		if len(lossy) > 0 {
			fmt.Fprintf(&b, "lossy: %s\n", strings.Join(lossy, ","))
		}
	}
	last, _ := l.LastSealed()
	open := 0
	var minE, maxE uint64
	for _, r := range recs {
		if r.Epoch > last {
			if open == 0 || r.Epoch < minE {
				minE = r.Epoch
			}
			maxE = max(maxE, r.Epoch)
			open++
		}
	}
	if open > 0 {
		fmt.Fprintf(&b, "unsealed records: %d, epochs %s\n", open, epochSpan(minE, maxE))
	}
	if rec := l.Recovery(); rec != nil {
		fmt.Fprintf(&b, "tail: torn: %d bytes at offset %d (%s)\n", rec.Bytes, rec.Offset, rec.Reason)
	} else {
		b.WriteString("tail: clean\n")
	}
	b.WriteString("ok\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func epochSpan(a, b uint64) string {
	if a == b {
		return fmt.Sprint(a)
	}
	return fmt.Sprintf("%d..%d", a, b)
}
