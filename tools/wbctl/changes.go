package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/consumer"
)

var changesCommand = &cli.Command{
	Name:  "changes",
	Usage: "list the objects changed in epochs (SINCE, UNTIL] of a log",
	Description: `Reads the log file and prints every object changed in the epochs after
--since (or the cursor of --consumer) up to --until (default: the last sealed epoch), one per object, the
records of an object merged: its ops ORed, its data ranges joined, the names
it had (parent and name; for a rename, the old and the new). A consumer keeps
the cursor of what it processed and passes it as --since next time.

Text output: one line per object, key=value fields. --json: one JSON object
per line. With --paths MOUNT (or --paths=MOUNT, the form "records" takes
too), handles are resolved to paths relative to MOUNT, where the watched
filesystem is mounted now (a path is empty if the object is gone); --print0 then prints only paths,
each ending in a NUL byte, suitable for
   rsync -a -r -I --delete --force --from0 --files-from=- --delete-missing-args MOUNT/ DEST/
The list holds the current path of every changed object (every name of one
with hard links) and the old names of renamed and removed objects, which
--delete-missing-args removes at DEST (--force: also a directory that is
not empty there). A listed directory is copied whole (-r, --delete): one
that moved has contents no record names. -I copies a listed file even if
its size and time look unchanged.

If any epoch in the range is not sealed (not closed yet, lost in a crash,
before the log began) or is lossy (records were lost), the log cannot say
what changed: nothing is printed to stdout, the reason goes to stderr, and
the exit status is 3 ("rescan required"). So is a cursor of another log, or
beyond the last sealed epoch (another watch's).

Having answered, changes reports the cursor LOGID:M for the next --since:
as a last JSON object with --json, else on stderr; --cursor-file writes it
to a file, atomically (not on exit 3).

With --nats URL --stream S --host H --fs F instead of --log, it answers the
same from what "wbctl export" published of host H's filesystem F to the
JetStream stream S, for a consumer on another machine, with the same
contract (exit 3 for an epoch not sealed in the stream, lossy, removed from
it, or a generation break); it reads the stream from the epoch after the
cursor on, not the whole stream. --consumer NAME takes the cursor of the
consumer the server keeps (see wbctl consumer add --nats); --until is for
a log file.

Examples:
   wbctl changes --log data.log --since 41
   wbctl changes --nats nats://nats.example:4222 --stream wbarrier --host web1 --fs data --since 5e1d0c2a9b3f4e77:41
   wbctl changes --nats nats://nats.example:4222 --stream wbarrier --host web1 --fs data --consumer backup-web1
   wbctl changes --log data.log --since 41 --paths /srv/data --print0 |
      rsync -a -r -I --delete --force --from0 --files-from=- --delete-missing-args /srv/data/ backup:/data/`,
	Flags: []cli.Flag{
		logFlag,
		&cli.StringFlag{Name: "since", Usage: "the cursor: the last epoch already processed, `N` or LOGID:N as changes reported it; changes after it are listed", DefaultText: "none: give --since or --consumer"},
		&cli.StringFlag{Name: "consumer", Usage: "take --since from the cursor of consumer `NAME` (see wbctl consumer)"},
		&cli.Uint64Flag{Name: "until", Usage: "the last epoch to list (`M`)", DefaultText: "the last sealed epoch"},
		&cli.StringFlag{Name: "cursor-file", Usage: "once answered, write the cursor LOGID:M to `FILE` (atomically; not on exit 3)"},
		&cli.StringFlag{Name: "paths", Usage: "resolve handles to paths relative to `MOUNT`, also as --paths=MOUNT (needs CAP_DAC_READ_SEARCH)"},
		&cli.BoolFlag{Name: "print0", Usage: "print only the paths, each ending in NUL (needs --paths)"},
		jsonFlag,
		natsFlag, streamFlag, hostFlag, fsFlag,
	},
	Before: func(ctx *cli.Context) error {
		if ctx.String("nats") != "" {
			return nil // the stream stands for the log
		}
		return requireLog(ctx)
	},
	Action: func(ctx *cli.Context) error {
		if ctx.NArg() != 0 {
			return usageError{"changes: unexpected arguments (the log is --log FILE)"}
		}
		if ctx.IsSet("since") == ctx.IsSet("consumer") {
			return usageError{"changes: give one of --since N and --consumer NAME"}
		}
		if ctx.Bool("print0") && ctx.String("paths") == "" {
			return usageError{"changes: --print0 needs --paths MOUNT"}
		}
		if ctx.Bool("print0") && ctx.Bool("json") {
			return usageError{"changes: --print0 and --json exclude each other"}
		}
		var c *consumer.Changes
		var err error
		if ctx.String("nats") != "" {
			c, err = streamChanges(ctx)
		} else {
			c, err = logChanges(ctx)
		}
		if err != nil {
			return err
		}
		if f := ctx.String("cursor-file"); f != "" {
			if err := consumer.SaveCursor(f, c.Cursor); err != nil {
				return err
			}
		}
		var m *consumer.Mount
		if dir := ctx.String("paths"); dir != "" {
			if m, err = consumer.OpenMount(dir); err != nil {
				return err
			}
			defer m.Close()
		}
		if err := printChanges(ctx, c, m); err != nil {
			return err
		}
		if ctx.Bool("json") {
			return printJSON(ctx, cursorOut{Cursor: c.Cursor.String(), Log: c.Cursor.Log, Until: c.Until})
		}
		fmt.Fprintf(ctx.App.ErrWriter, "wbctl: answered up to epoch %d: cursor %s\n", c.Until, c.Cursor)
		return nil
	},
}

// logChanges answers from the log file: since --since or --consumer's
// cursor, until --until.
func logChanges(ctx *cli.Context) (*consumer.Changes, error) {
	path := ctx.String("log")
	l, err := consumer.Open(path)
	if err != nil {
		return nil, err
	}
	if rec := l.Changelog().Recovery(); rec != nil {
		fmt.Fprintf(ctx.App.ErrWriter, "wbctl: %s: %v\n", path, rec)
	}
	if dir := ctx.String("paths"); strings.HasPrefix(dir, "-") {
		// --paths alone, as records takes it, swallowed the next flag.
		return nil, usageError{fmt.Sprintf("changes: --paths takes the MOUNT to resolve against, as --paths MOUNT or --paths=MOUNT (the log's watch was on %s), not %q",
			l.Changelog().Header().Mount, dir)}
	}
	var since consumer.Cursor
	if s := ctx.String("since"); ctx.IsSet("since") {
		if since, err = consumer.ParseCursor(s); err != nil {
			return nil, usageError{fmt.Sprintf("changes: --since %q: want N or LOGID:N", s)}
		}
	}
	if name := ctx.String("consumer"); name != "" {
		r, err := l.Consumers()
		if err != nil {
			return nil, err
		}
		p, err := r.Find(name)
		if err != nil {
			return nil, err
		}
		since.Epoch = p.Epoch
	}
	var c *consumer.Changes
	if ctx.IsSet("until") {
		c, err = l.ChangesUntil(since, ctx.Uint64("until"))
	} else {
		c, err = l.Changes(since)
	}
	if errors.Is(err, consumer.ErrReversed) {
		return nil, usageError{fmt.Sprintf("changes: --until %d is before --since %d", ctx.Uint64("until"), since.Epoch)}
	}
	return c, err
}

// cursorOut ends the JSON output of changes: what it answered.
type cursorOut struct {
	Cursor string `json:"cursor"` // LOGID:M, for the next --since
	Log    string `json:"log"`
	Until  uint64 `json:"until"`
}

// printChanges prints what changed: paths, JSON objects or text lines.
func printChanges(ctx *cli.Context, c *consumer.Changes, m *consumer.Mount) error {
	if ctx.Bool("print0") {
		return printPaths(ctx.App.Writer, c, m)
	}
	for _, o := range c.Objects {
		out, err := newObjectOut(o, m)
		if err != nil {
			return err
		}
		if err := printOut(ctx, out); err != nil {
			return err
		}
	}
	return nil
}

// entryOut is one name an object had.
type entryOut struct {
	Ops    string     `json:"ops"`
	Parent *handleOut `json:"parent,omitempty"`
	Name   string     `json:"name"`
	Path   string     `json:"path,omitempty"` // parent resolved, joined with the name
	// Name and Path as bytes, where they are not UTF-8 (see recordOut).
	NameBase64 string `json:"name_base64,omitempty"`
	PathBase64 string `json:"path_base64,omitempty"`
}

// MarshalJSON adds the base64 form of the names that are not UTF-8.
func (e entryOut) MarshalJSON() ([]byte, error) {
	type plain entryOut
	p := plain(e)
	p.NameBase64, p.PathBase64 = rawBytes(e.Name), rawBytes(e.Path)
	return json.Marshal(p)
}

// rangeOut is a joined data range.
type rangeOut struct {
	Offset uint64 `json:"offset"`
	Length uint64 `json:"length"`
	EOF    bool   `json:"eof,omitempty"` // it runs to the end of the file
}

// objectOut is one changed object as printed by "changes".
type objectOut struct {
	Ops        string     `json:"ops"`
	FirstEpoch uint64     `json:"first_epoch"`
	LastEpoch  uint64     `json:"last_epoch"`
	Records    int        `json:"records"`
	Handle     *handleOut `json:"handle,omitempty"`
	Ranges     []rangeOut `json:"ranges,omitempty"`
	Entries    []entryOut `json:"entries,omitempty"`
	Path       string     `json:"path,omitempty"`        // current path, with --paths
	PathBase64 string     `json:"path_base64,omitempty"` // Path as bytes, where it is not UTF-8
}

// MarshalJSON adds the base64 form of the path, if it is not UTF-8.
func (o objectOut) MarshalJSON() ([]byte, error) {
	type plain objectOut
	p := plain(o)
	p.PathBase64 = rawBytes(o.Path)
	return json.Marshal(p)
}

// newObjectOut is o as printed; m, if not nil, resolves its paths.
func newObjectOut(o changelog.Object, m *consumer.Mount) (objectOut, error) {
	out := objectOut{Ops: o.Ops.String(), FirstEpoch: o.FirstEpoch, LastEpoch: o.LastEpoch,
		Records: o.Records, Handle: handleJSON(o.Handle)}
	for _, r := range o.Ranges {
		out.Ranges = append(out.Ranges, rangeOut{r.Offset, r.Length, toEOF(r.Offset, r.Length)})
	}
	for _, e := range o.Entries {
		eo := entryOut{Ops: e.Ops.String(), Parent: handleJSON(e.Parent), Name: e.Name}
		if m != nil {
			p, err := m.EntryPath(e)
			if err != nil {
				return out, err
			}
			eo.Path = p
		}
		out.Entries = append(out.Entries, eo)
	}
	if m != nil && o.Handle != nil {
		p, err := m.Path(o.Handle)
		if err != nil {
			return out, err
		}
		out.Path = p
	}
	return out, nil
}

// writeText prints the object as one line of key=value fields.
func (o objectOut) writeText(w io.Writer) error {
	f := []string{"ops=" + o.Ops, fmt.Sprintf("epochs=%d-%d", o.FirstEpoch, o.LastEpoch), fmt.Sprintf("records=%d", o.Records)}
	if o.Handle != nil {
		f = append(f, fmt.Sprintf("fh=%d:%s", o.Handle.Type, o.Handle.Hex))
	}
	if len(o.Ranges) > 0 {
		rs := make([]string, len(o.Ranges))
		for i, r := range o.Ranges {
			rs[i] = rangeText(r.Offset, r.Length)
		}
		f = append(f, "ranges="+strings.Join(rs, ","))
	}
	for _, e := range o.Entries {
		switch {
		case e.Path != "":
			f = append(f, fmt.Sprintf("entry=%s:%q", e.Ops, e.Path))
		case e.Parent != nil:
			f = append(f, fmt.Sprintf("entry=%s:%d:%s/%q", e.Ops, e.Parent.Type, e.Parent.Hex, e.Name))
		default:
			f = append(f, fmt.Sprintf("entry=%s:%q", e.Ops, e.Name))
		}
	}
	if o.Path != "" {
		f = append(f, fmt.Sprintf("path=%q", o.Path))
	}
	_, err := fmt.Fprintln(w, strings.Join(f, " "))
	return err
}

func printPaths(w io.Writer, c *consumer.Changes, m *consumer.Mount) error {
	paths, err := m.Paths(c.Objects)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if _, err := fmt.Fprintf(w, "%s\x00", p); err != nil {
			return err
		}
	}
	return nil
}
