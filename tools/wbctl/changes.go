package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
	"github.com/wbarrier/wbarrier/tools/internal/consumers"
	"golang.org/x/sys/unix"
)

// lazytimeNote goes with every "rescan required": a rescan by ctime alone
// can miss changes on a lazytime mount after a crash (docs/changes.md).
const lazytimeNote = "on a lazytime mount, timestamps may be stale on disk after a crash: the rescan must not trust ctime alone (compare size and content, or rescan everything)"

// rescanError is "the log cannot vouch for the range": exit code exitRescan.
type rescanError struct {
	from   uint64
	reason string
}

func (e rescanError) Error() string {
	return fmt.Sprintf("rescan required from epoch %d: %s; %s", e.from, e.reason, lazytimeNote)
}

var changesCommand = &cli.Command{
	Name:  "changes",
	Usage: "list the objects changed in epochs (SINCE, UNTIL] of a log",
	Description: `Reads the log file and prints every object changed in the epochs after
--since (or the cursor of --consumer) up to --until (default: the last sealed epoch), one per object, the
records of an object merged: its ops ORed, its data ranges joined, the names
it had (parent and name; for a rename, the old and the new). A consumer keeps
the cursor of what it processed and passes it as --since next time.

Text output: one line per object, key=value fields. --json: one JSON object
per line. With --paths MOUNT, handles are resolved to paths relative to MOUNT
(a path is empty if the object is gone); --print0 then prints only paths,
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

Examples:
   wbctl changes --log data.log --since 41
   wbctl changes --log data.log --since 41 --paths /srv/data --print0 |
      rsync -a -r -I --delete --force --from0 --files-from=- --delete-missing-args /srv/data/ backup:/data/`,
	Flags: []cli.Flag{
		logFlag,
		&cli.StringFlag{Name: "since", Usage: "the cursor: the last epoch already processed, `N` or LOGID:N as changes reported it; changes after it are listed", DefaultText: "none: give --since or --consumer"},
		&cli.StringFlag{Name: "consumer", Usage: "take --since from the cursor of consumer `NAME` (see wbctl consumer)"},
		&cli.Uint64Flag{Name: "until", Usage: "the last epoch to list (`M`)", DefaultText: "the last sealed epoch"},
		&cli.StringFlag{Name: "cursor-file", Usage: "once answered, write the cursor LOGID:M to `FILE` (atomically; not on exit 3)"},
		&cli.StringFlag{Name: "paths", Usage: "resolve handles to paths relative to `MOUNT` (needs CAP_DAC_READ_SEARCH)"},
		&cli.BoolFlag{Name: "print0", Usage: "print only the paths, each ending in NUL (needs --paths)"},
		jsonFlag,
	},
	Before: requireLog,
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
		path := ctx.String("log")
		l, err := changelog.Open(path)
		if err != nil {
			return err
		}
		if rec := l.Recovery(); rec != nil {
			fmt.Fprintf(ctx.App.ErrWriter, "wbctl: %s: %v\n", path, rec)
		}
		id := logID(l.Header())
		var since uint64
		if ctx.IsSet("since") {
			cursorLog, n, err := parseCursor(ctx.String("since"))
			if err != nil {
				return err
			}
			if cursorLog != "" && cursorLog != id {
				last, _ := l.LastSealed()
				return rescanError{from: last, reason: fmt.Sprintf("the cursor %s belongs to log %s, not to this log (%s): it was made anew; after the rescan, go on from %s:%d", ctx.String("since"), cursorLog, id, id, last)}
			}
			since = n
		}
		if name := ctx.String("consumer"); name != "" {
			s, err := consumers.Load(consumers.Path(path), logID(l.Header()))
			if err != nil {
				return err
			}
			c, err := s.Find(name)
			if err != nil {
				return err
			}
			since = c.Epoch
		}
		var until *uint64
		if ctx.IsSet("until") {
			u := ctx.Uint64("until")
			until = &u
		}
		c, err := queryChanges(l, since, until)
		if err != nil {
			return err
		}
		cursor := fmt.Sprintf("%s:%d", id, c.Until)
		if f := ctx.String("cursor-file"); f != "" {
			if err := writeFileAtomic(f, []byte(cursor+"\n")); err != nil {
				return err
			}
		}
		var pf *pathFinder
		mount := ctx.String("paths")
		if mount != "" {
			// Resolved paths are absolute and free of symlinks: so must
			// the mount be, for the relative paths to come out right.
			if mount, err = filepath.Abs(mount); err == nil {
				mount, err = filepath.EvalSymlinks(mount)
			}
			if err != nil {
				return err
			}
			r, err := newResolver(mount)
			if err != nil {
				return err
			}
			defer r.close()
			pf = &pathFinder{res: r, mount: mount, walk: walkHandles, isAt: handleIsAt}
		}
		if err := printChanges(ctx, c, pf); err != nil {
			return err
		}
		if ctx.Bool("json") {
			return printJSON(ctx, cursorOut{Cursor: cursor, Log: id, Until: c.Until})
		}
		fmt.Fprintf(ctx.App.ErrWriter, "wbctl: answered up to epoch %d: cursor %s\n", c.Until, cursor)
		return nil
	},
}

// cursorOut ends the JSON output of changes: what it answered.
type cursorOut struct {
	Cursor string `json:"cursor"` // LOGID:M, for the next --since
	Log    string `json:"log"`
	Until  uint64 `json:"until"`
}

// parseCursor reads N or LOGID:N; the log id is "" in the first form.
func parseCursor(s string) (string, uint64, error) {
	id, n, found := strings.Cut(s, ":")
	if !found {
		id, n = "", s
	}
	epoch, err := strconv.ParseUint(n, 10, 64)
	if err != nil || (found && id == "") {
		return "", 0, usageError{fmt.Sprintf("changes: --since %q: want N or LOGID:N", s)}
	}
	return id, epoch, nil
}

// writeFileAtomic replaces path with data: a reader sees the old file or
// the new one, never a part, and the new one is on disk when it returns.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the cursor file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// printChanges prints what changed: paths, JSON objects or text lines.
func printChanges(ctx *cli.Context, c changelog.Changes, pf *pathFinder) error {
	if ctx.Bool("print0") {
		return printPaths(ctx.App.Writer, c, pf)
	}
	for _, o := range c.Objects {
		out, err := newObjectOut(o, pf)
		if err != nil {
			return err
		}
		if err := printOut(ctx, out); err != nil {
			return err
		}
	}
	return nil
}

// queryChanges answers (since, until] from l; until nil means the last
// sealed epoch. A range the log cannot vouch for is a rescanError.
func queryChanges(l *changelog.Log, since uint64, until *uint64) (changelog.Changes, error) {
	last, _ := l.LastSealed()
	if since > last {
		return changelog.Changes{}, rescanError{from: last, reason: fmt.Sprintf("the cursor %d is beyond the last sealed epoch %d of the log: it belongs to another log or watch", since, last)}
	}
	u := last
	if until != nil {
		u = *until
	}
	if u < since {
		return changelog.Changes{}, usageError{fmt.Sprintf("changes: --until %d is before --since %d", u, since)}
	}
	c, err := l.Changes(since, u)
	if err != nil {
		return c, err
	}
	if c.Rescan {
		return c, rescanError{from: c.RescanFrom, reason: c.Reason}
	}
	return c, nil
}

// pathResolver turns a handle into an absolute path, "" if the object is
// gone, and tells how many names it has; *resolver is the real one.
type pathResolver interface {
	path(h *record.FileHandle) (string, error)
	links(h *record.FileHandle) (uint64, error)
}

// pathFinder resolves handles to paths relative to a mount.
//
// open_by_handle_at(2) finds the inode of any handle, but the path of a
// file (not a directory) only if its dentry is cached: an uncached one
// comes back disconnected, its /proc/self/fd link reads "/NAME". Such
// handles are looked up by walking the mount once, taking the handle of
// every file with name_to_handle_at(2): slow, but never a changed file
// silently left out.
type pathFinder struct {
	res   pathResolver
	mount string
	// walk returns the paths (relative to mount) of every handle under
	// mount, keyed by handleKey: more than one for hard links.
	walk     func(mount string) (map[string][]string, error)
	byHandle map[string][]string // the walk's result, once needed
	// isAt reports whether the absolute path names the object of h: a
	// disconnected "/NAME" may name another file when the mount is "/".
	// nil: trust the path.
	isAt func(path string, h *record.FileHandle) bool
}

// handleIsAt is pathFinder.isAt for real: the handle of path is h.
func handleIsAt(path string, h *record.FileHandle) bool {
	got, _, err := unix.NameToHandleAt(unix.AT_FDCWD, path, 0)
	return err == nil && uint32(got.Type()) == h.Type && string(got.Bytes()) == string(h.Bytes)
}

func handleKey(typ uint32, b []byte) string { return fmt.Sprintf("%d:%x", typ, b) }

// rel returns the path of h relative to the mount: "" if it is gone.
func (f *pathFinder) rel(h *record.FileHandle) (string, error) {
	p, err := f.res.path(h)
	if err != nil || p == "" {
		return "", err
	}
	rel, err := filepath.Rel(f.mount, p)
	if err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && (f.isAt == nil || f.isAt(p, h)) {
		return rel, nil
	}
	// It exists, but its path is not under the mount, or not its own:
	// disconnected.
	names, err := f.names(h)
	if err != nil {
		return "", err
	}
	return names[0], nil
}

// names returns every path of h relative to the mount (hard links), from
// one walk of the mount, made when first needed.
func (f *pathFinder) names(h *record.FileHandle) ([]string, error) {
	if f.byHandle == nil {
		var err error
		if f.byHandle, err = f.walk(f.mount); err != nil {
			return nil, fmt.Errorf("looking for the paths of handles: %w", err)
		}
	}
	if names := f.byHandle[handleKey(h.Type, h.Bytes)]; len(names) > 0 {
		return names, nil
	}
	return nil, fmt.Errorf("handle %v exists but has no path under %s (outside it, or another mount)", h, f.mount)
}

// walkHandles maps the handle of every file under mount, on the mount's
// filesystem, to its paths relative to mount.
func walkHandles(mount string) (map[string][]string, error) {
	var root unix.Stat_t
	if err := unix.Stat(mount, &root); err != nil {
		return nil, err
	}
	m := make(map[string][]string)
	err := filepath.WalkDir(mount, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Dev != root.Dev { // another filesystem mounted below
			return filepath.SkipDir
		}
		h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, p, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, err := filepath.Rel(mount, p)
		if err != nil {
			return err
		}
		key := handleKey(uint32(h.Type()), h.Bytes())
		m[key] = append(m[key], rel)
		return nil
	})
	return m, err
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

func newObjectOut(o changelog.Object, pf *pathFinder) (objectOut, error) {
	out := objectOut{Ops: o.Ops.String(), FirstEpoch: o.FirstEpoch, LastEpoch: o.LastEpoch,
		Records: o.Records, Handle: handleJSON(o.Handle)}
	for _, r := range o.Ranges {
		out.Ranges = append(out.Ranges, rangeOut{r.Offset, r.Length, toEOF(r.Offset, r.Length)})
	}
	for _, e := range o.Entries {
		eo := entryOut{Ops: e.Ops.String(), Parent: handleJSON(e.Parent), Name: e.Name}
		if pf != nil && e.Parent != nil {
			dir, err := pf.rel(e.Parent)
			if err != nil {
				return out, err
			}
			if dir != "" {
				eo.Path = filepath.Join(dir, e.Name)
			}
		}
		out.Entries = append(out.Entries, eo)
	}
	if pf != nil && o.Handle != nil {
		p, err := pf.rel(o.Handle)
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

// changedPaths lists, sorted and without repeats, the current path of every
// changed object and every name an object had (the old names of removed
// and renamed objects included), relative to mount. An object with hard
// links is listed under each of its names: a copy that does not keep hard
// links (rsync without -H) has a file for each.
func changedPaths(c changelog.Changes, pf *pathFinder) ([]string, error) {
	seen := make(map[string]bool)
	for _, o := range c.Objects {
		out, err := newObjectOut(o, pf)
		if err != nil {
			return nil, err
		}
		if out.Path != "" && out.Path != "." {
			seen[out.Path] = true
			n, err := pf.res.links(o.Handle)
			if err != nil {
				return nil, err
			}
			if n > 1 {
				names, err := pf.names(o.Handle)
				if err != nil {
					return nil, err
				}
				for _, p := range names {
					seen[p] = true
				}
			}
		}
		for _, e := range out.Entries {
			if e.Path != "" {
				seen[e.Path] = true
			}
		}
	}
	paths := make([]string, 0, len(seen))
	for p := range seen {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths, nil
}

func printPaths(w io.Writer, c changelog.Changes, pf *pathFinder) error {
	if pf == nil {
		return errors.New("changes: no resolver")
	}
	paths, err := changedPaths(c, pf)
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
