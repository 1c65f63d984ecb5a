package consumer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
	"github.com/wbarrier/wbarrier/record/recordtest"
	"golang.org/x/sys/unix"
)

var fh = recordtest.Handle

// fakeResolver maps handle bytes to absolute paths.
type fakeResolver map[string]string

func (f fakeResolver) path(h *record.FileHandle) (string, error) { return f[string(h.Bytes)], nil }

// links: handles whose bytes begin with "H" have two names, others one.
func (f fakeResolver) links(h *record.FileHandle) (uint64, error) {
	switch {
	case f[string(h.Bytes)] == "":
		return 0, nil
	case strings.HasPrefix(string(h.Bytes), "H"):
		return 2, nil
	}
	return 1, nil
}

// walkOnce returns a walk that gives m and counts its calls in n.
func walkOnce(m map[string][]string, n *int) func(string) (map[string][]string, error) {
	return func(string) (map[string][]string, error) {
		*n++
		if m == nil {
			return nil, errors.New("no walk wanted")
		}
		return m, nil
	}
}

func TestPaths(t *testing.T) {
	objects := []changelog.Object{
		{Ops: record.OpCreate, Entries: []changelog.Entry{{Parent: fh(1, "D"), Name: "a", Ops: record.OpCreate}}},
		{Handle: fh(1, "A"), Ops: record.OpData},
		{Handle: fh(1, "C"), Ops: record.OpRenameFrom | record.OpRenameTo, Entries: []changelog.Entry{
			{Parent: fh(1, "R"), Name: "old", Ops: record.OpRenameFrom},
			{Parent: fh(1, "D"), Name: "new", Ops: record.OpRenameTo},
		}},
		{Handle: fh(1, "X"), Ops: record.OpRemove, Entries: []changelog.Entry{{Parent: fh(1, "D"), Name: "gone", Ops: record.OpRemove}}},
		{Handle: fh(1, "Y"), Ops: record.OpData},                                               // deleted but open: no path
		{Handle: fh(1, "L"), Ops: record.OpData},                                               // alive, whatever its name
		{Handle: fh(1, "R"), Ops: record.OpAttr},                                               // the mount itself
		{Ops: record.OpCreate, Entries: []changelog.Entry{{Parent: fh(1, "Q"), Name: "lost"}}}, // parent gone
	}
	connected := fakeResolver{"D": "/m/dir", "A": "/m/dir/a", "C": "/m/dir/new", "R": "/m", "L": "/m/report (deleted)"}
	// Disconnected handles ("/NAME") are found by one walk of the mount,
	// and so are the other names of a file with hard links.
	disconnected := fakeResolver{"U": "/u", "V": "/v", "H": "/m/h1"}
	for k, v := range connected {
		disconnected[k] = v
	}
	walked := map[string][]string{
		handleKey(1, []byte("U")): {"dir/u"},
		handleKey(1, []byte("V")): {"v"},
		handleKey(1, []byte("H")): {"dir/h2", "h1"},
	}
	more := append(objects[:len(objects):len(objects)],
		changelog.Object{Handle: fh(1, "U"), Ops: record.OpData},
		changelog.Object{Handle: fh(1, "V"), Ops: record.OpData},
		changelog.Object{Handle: fh(1, "H"), Ops: record.OpData})
	tests := []struct {
		name      string
		objects   []changelog.Object
		res       fakeResolver
		dir       string
		walk      map[string][]string // nil: a walk is an error
		isAt      func(string, *record.FileHandle) bool
		want      []string
		wantWalks int
		wantErr   string
	}{
		{
			name: "connected", objects: objects, res: connected, dir: "/m",
			want: []string{"dir/a", "dir/gone", "dir/new", "old", "report (deleted)"},
		},
		{
			name: "disconnected and hard links", objects: more, res: disconnected, dir: "/m", walk: walked,
			want:      []string{"dir/a", "dir/gone", "dir/h2", "dir/new", "dir/u", "h1", "old", "report (deleted)", "v"},
			wantWalks: 1,
		},
		{
			// With the mount at "/", a disconnected "/v" looks like a
			// path under it: isAt tells.
			name: "mount at /", objects: []changelog.Object{{Handle: fh(1, "V"), Ops: record.OpData}},
			res: fakeResolver{"V": "/v"}, dir: "/", walk: map[string][]string{handleKey(1, []byte("V")): {"srv/v"}},
			isAt:      func(p string, h *record.FileHandle) bool { return p == "/srv/v" },
			want:      []string{"srv/v"},
			wantWalks: 1,
		},
		{
			// A handle that exists but is nowhere under the mount is an
			// error, never silently left out.
			name: "outside the mount", objects: append(more, changelog.Object{Handle: fh(1, "Z"), Ops: record.OpData}),
			res: fakeResolver{"Z": "/elsewhere/z"}, dir: "/m", walk: walked,
			wantErr: "has no path under /m", wantWalks: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			m := &Mount{dir: tt.dir, res: tt.res, walk: walkOnce(tt.walk, &n), isAt: tt.isAt}
			got, err := m.Paths(tt.objects)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Paths: error %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Paths (-want +got):\n%s", diff)
			}
			if n != tt.wantWalks {
				t.Errorf("walked %d times, want %d", n, tt.wantWalks)
			}
		})
	}
}

func TestNames(t *testing.T) {
	n := 0
	m := &Mount{dir: "/m", res: fakeResolver{"A": "/m/a", "H": "/m/h1"}, walk: walkOnce(map[string][]string{
		handleKey(1, []byte("H")): {"dir/h2", "h1"},
	}, &n)}
	tests := []struct {
		handle string
		want   []string
	}{
		{"A", []string{"a"}},
		{"H", []string{"h1", "dir/h2"}}, // Path first
		{"G", nil},                      // gone
	}
	for _, tt := range tests {
		got, err := m.Names(fh(1, tt.handle))
		if err != nil {
			t.Fatalf("Names(%s): %v", tt.handle, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Names(%s) (-want +got):\n%s", tt.handle, diff)
		}
	}
}

func TestWalkHandles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "b", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, filepath.Join(dir, "a", "b", "f"), 0)
	if err != nil {
		t.Skipf("name_to_handle_at: %v", err)
	}
	if err := os.Link(filepath.Join(dir, "a", "b", "f"), filepath.Join(dir, "a", "g")); err != nil {
		t.Fatal(err)
	}
	m, err := walkHandles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a/b/f", "a/g"}, m[handleKey(uint32(h.Type()), h.Bytes())]); diff != "" {
		t.Errorf("walkHandles: the paths of a file with two links (-want +got):\n%s", diff)
	}
	if !handleIsAt(filepath.Join(dir, "a", "b", "f"), &record.FileHandle{Type: uint32(h.Type()), Bytes: h.Bytes()}) {
		t.Error("handleIsAt: false for the file's own handle")
	}
	if handleIsAt(filepath.Join(dir, "a"), &record.FileHandle{Type: uint32(h.Type()), Bytes: h.Bytes()}) {
		t.Error("handleIsAt: true for another file")
	}
	if len(m) != 4 { // ., a, a/b, a/b/f and a/g
		t.Errorf("walkHandles: %d entries, want 4: %v", len(m), m)
	}
}

// With the real resolver: open_by_handle_at needs CAP_DAC_READ_SEARCH, so
// this runs as root only.
func TestMountReal(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "d", "report (deleted)")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	handle := func(p string) *record.FileHandle {
		t.Helper()
		h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, p, 0)
		if err != nil {
			t.Skipf("name_to_handle_at: %v", err)
		}
		return &record.FileHandle{Type: uint32(h.Type()), Bytes: h.Bytes()}
	}
	hf, hd := handle(f), handle(filepath.Join(dir, "d"))
	m, err := OpenMount(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Lookup(hf); err != nil {
		t.Skipf("open_by_handle_at: %v", err)
	}
	if err := os.Link(f, filepath.Join(dir, "g")); err != nil {
		t.Fatal(err)
	}
	got, err := m.Paths([]changelog.Object{{Handle: hf}, {Entries: []changelog.Entry{{Parent: hd, Name: "gone"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"d/gone", "d/report (deleted)", "g"}, got); diff != "" {
		t.Errorf("Paths (-want +got):\n%s", diff)
	}
	// Removed while still open: gone, whatever its name says.
	open, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	for _, p := range []string{f, filepath.Join(dir, "g")} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := m.Path(hf); p != "" || err != nil {
		t.Errorf("Path of a removed file: %q, %v; want \"\", nil", p, err)
	}
}
