package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/consumer"
	"github.com/wbarrier/wbarrier/record"
)

var logVerifyCommand = &cli.Command{
	Name:      "verify",
	Usage:     "check a log file and say what it holds",
	ArgsUsage: "FILE",
	Flags:     []cli.Flag{logArgFlag, jsonFlag},
	Description: `Reads and checks the whole file without changing it, then prints one line
per finding: the header, the segment files and the purged epochs (if the
log has more than FILE), the number of records, the sealed epochs (first and
last, and the unsealed epochs between them), the lossy epochs, the
generation breaks (the epochs where the log goes on with a watch made anew:
changes across one are a rescan), the continuous ones (breaks after a clean
unmount, the filesystem found unchanged since: sealed and empty, no rescan),
the clean unmount the log ends with, if any, the records
after the last seal, and the tail: clean, or torn (where and how many bytes;
the daemon cuts a torn tail off when it resumes, and keeps it in FILE.broken).
The last line is "ok". A torn tail is not corruption: it is what
a crash leaves, and it only loses unsealed epochs.

Damage before the tail (a frame that fails its check with a valid seal after
it) is corruption: verify prints "corrupt at byte offset N: REASON" (with
"of SEGMENT" if the damage is not in FILE) and exits with status 4. So is a
segment missing between two others, a segment that does not chain to the
one before it, or a torn tail in a segment that is not the last.
A file that is not a wbarrier log is an error (status 1).

With --json, one JSON object: the same findings, "last_sealed" among them
(absent if nothing is sealed), "cursor" (LOGID:M, M the last sealed epoch:
where a consumer that copies everything now goes on from), "ok" true; or, for a corrupt log, "ok" false
with "corrupt_offset" and "reason".

Examples:
   wbctl log verify /var/lib/wbarrier/data.log
   wbctl log verify --json /var/lib/wbarrier/data.log`,
	Action: func(ctx *cli.Context) error {
		path, err := logFileArg(ctx, "log verify")
		if err != nil {
			return err
		}
		var v verifyOut
		l, err := changelog.Stream(path, v.visitor())
		var ce *changelog.CorruptError
		if errors.As(err, &ce) {
			if ctx.Bool("json") {
				printJSON(ctx, struct {
					OK      bool   `json:"ok"`
					Corrupt int64  `json:"corrupt_offset"`
					Reason  string `json:"reason"`
					File    string `json:"file"`
				}{false, ce.Offset, ce.Reason, ce.Path})
			} else {
				fmt.Fprintf(ctx.App.Writer, "corrupt at byte offset %d%s: %s\n", ce.Offset, ofSegment(path, ce.Path), ce.Reason)
			}
			return err
		}
		if err != nil {
			return err
		}
		v.finish(path, l)
		return printOut(ctx, v)
	},
}

// tailOut is a torn tail as verify reports it.
type tailOut struct {
	Offset int64  `json:"offset"`
	Bytes  int64  `json:"bytes"`
	Reason string `json:"reason"`
	File   string `json:"file,omitempty"` // if not the log's first file
}

// ofSegment names a segment file of the log at path in a message: nothing
// for path itself.
func ofSegment(path, seg string) string {
	if seg == path {
		return ""
	}
	return " of " + seg
}

// verifyOut is what verify found in a valid log.
type verifyOut struct {
	Format          uint16   `json:"format"`
	FSType          string   `json:"fstype"`
	Mount           string   `json:"mount"`
	Segments        []string `json:"segments,omitempty"`       // if more than FILE
	Purged          uint64   `json:"purged_through,omitempty"` // the log's Base
	Records         int      `json:"records"`
	Sealed          int      `json:"sealed"`                     // how many seals
	FirstSealed     uint64   `json:"first_sealed,omitempty"`     // 0: none
	LastSealed      uint64   `json:"last_sealed,omitempty"`      // 0: none
	UnsealedBetween []string `json:"unsealed_between,omitempty"` // "N" or "N..M"
	Lossy           []uint64 `json:"lossy,omitempty"`
	Breaks          []uint64 `json:"generation_breaks,omitempty"` // epochs between two watches
	Continuous      []uint64 `json:"continuous_breaks,omitempty"` // of those, the ones known empty
	Unmount         string   `json:"unmount,omitempty"`           // the clean unmount the log ends with
	UnsealedRecords int      `json:"unsealed_records,omitempty"`  // after the last seal
	UnsealedFirst   uint64   `json:"unsealed_first,omitempty"`    // their epochs
	UnsealedLast    uint64   `json:"unsealed_last,omitempty"`
	TornTail        *tailOut `json:"torn_tail,omitempty"`
	// Cursor is LOGID:M, M the last sealed epoch: where a consumer that
	// has just copied everything goes on from (changes --since).
	Cursor string `json:"cursor"`
	OK     bool   `json:"ok"`

	open map[uint64]int // records of the epochs after the last seal so far
}

// visitor counts what verify reports as the log is read, a frame at a
// time: memory stays small whatever the log's size (the records of the
// epochs not sealed yet are counted per epoch).
func (v *verifyOut) visitor() changelog.Visitor {
	var last uint64
	v.open = map[uint64]int{}
	return changelog.Visitor{
		Record: func(r record.Record) error {
			v.Records++
			v.open[r.Epoch]++
			return nil
		},
		Seal: func(s changelog.Seal) error {
			if v.Sealed > 0 && s.Epoch > last+1 {
				v.UnsealedBetween = append(v.UnsealedBetween, changelog.EpochRange{First: last + 1, Last: s.Epoch - 1}.String())
			}
			if v.Sealed == 0 {
				v.FirstSealed = s.Epoch
			}
			if s.Lossy {
				v.Lossy = append(v.Lossy, s.Epoch)
			}
			v.Sealed++
			last = s.Epoch
			for e := range v.open {
				if e <= last {
					delete(v.open, e)
				}
			}
			return nil
		},
		Generation: func(g changelog.Generation) error {
			switch {
			case g.Continuous:
				// Sealed and empty: no gap between the seals around it.
				v.Continuous = append(v.Continuous, g.Offset)
				if v.Sealed > 0 && g.Offset == last+1 {
					last = g.Offset
				}
			case g.Break:
				v.Breaks = append(v.Breaks, g.Offset)
			}
			return nil
		},
	}
}

// finish fills in what the log as read says once every frame was counted.
func (v *verifyOut) finish(path string, l *changelog.Log) {
	h := l.Header()
	last, _ := l.LastSealed()
	v.Format, v.FSType, v.Mount, v.Purged, v.OK = h.Version, h.FSType, h.Mount, l.Base(), true
	v.Cursor = consumer.Cursor{Log: consumer.LogID(h), Epoch: last}.String()
	if segs := l.Segments(); len(segs) > 1 || segs[0] != path {
		for _, s := range segs {
			v.Segments = append(v.Segments, filepath.Base(s))
		}
	}
	if v.Sealed > 0 {
		v.LastSealed = last
	}
	if u, ok := l.Unmount(); ok {
		v.Unmount = u.String()
	}
	for e, n := range v.open {
		if v.UnsealedRecords == 0 || e < v.UnsealedFirst {
			v.UnsealedFirst = e
		}
		v.UnsealedLast = max(v.UnsealedLast, e)
		v.UnsealedRecords += n
	}
	if rec := l.Recovery(); rec != nil {
		v.TornTail = &tailOut{rec.Offset, rec.Bytes, rec.Reason, ""}
		if rec.Path != path {
			v.TornTail.File = rec.Path
		}
	}
}

// writeText prints one line per finding, "ok" last.
func (v verifyOut) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "header: format %d, %s on %s\n", v.Format, v.FSType, v.Mount)
	if n := len(v.Segments); n > 0 {
		fmt.Fprintf(&b, "segments: %d, %s..%s\n", n, v.Segments[0], v.Segments[n-1])
	}
	if v.Purged > 0 {
		fmt.Fprintf(&b, "purged: epochs up to %d\n", v.Purged)
	}
	fmt.Fprintf(&b, "records: %d\n", v.Records)
	if v.Sealed == 0 {
		b.WriteString("sealed: none\n")
	} else {
		fmt.Fprintf(&b, "sealed: %d epochs, %d..%d\n", v.Sealed, v.FirstSealed, v.LastSealed)
	}
	if len(v.UnsealedBetween) > 0 {
		fmt.Fprintf(&b, "unsealed between: %s\n", strings.Join(v.UnsealedBetween, ","))
	}
	if len(v.Lossy) > 0 {
		s := make([]string, len(v.Lossy))
		for i, e := range v.Lossy {
			s[i] = fmt.Sprint(e)
		}
		fmt.Fprintf(&b, "lossy: %s\n", strings.Join(s, ","))
	}
	if len(v.Breaks) > 0 {
		s := make([]string, len(v.Breaks))
		for i, e := range v.Breaks {
			s[i] = fmt.Sprint(e)
		}
		fmt.Fprintf(&b, "generation breaks (a watch made anew; unknown, rescan across): %s\n", strings.Join(s, ","))
	}
	if len(v.Continuous) > 0 {
		s := make([]string, len(v.Continuous))
		for i, e := range v.Continuous {
			s[i] = fmt.Sprint(e)
		}
		fmt.Fprintf(&b, "continuous breaks (a clean unmount, the filesystem unchanged since; sealed and empty): %s\n", strings.Join(s, ","))
	}
	if v.Unmount != "" {
		fmt.Fprintf(&b, "ends with: %s\n", v.Unmount)
	}
	if v.UnsealedRecords > 0 {
		fmt.Fprintf(&b, "unsealed records: %d, epochs %s\n", v.UnsealedRecords, changelog.EpochRange{First: v.UnsealedFirst, Last: v.UnsealedLast})
	}
	if t := v.TornTail; t != nil {
		of := ""
		if t.File != "" {
			of = " of " + t.File
		}
		fmt.Fprintf(&b, "tail: torn: %d bytes at offset %d%s (%s)\n", t.Bytes, t.Offset, of, t.Reason)
	} else {
		b.WriteString("tail: clean\n")
	}
	b.WriteString("ok\n")
	_, err := io.WriteString(w, b.String())
	return err
}
