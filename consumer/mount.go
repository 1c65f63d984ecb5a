package consumer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
	"golang.org/x/sys/unix"
)

// Mount resolves the file handles of changes to paths relative to the
// mount point of the watched filesystem, with open_by_handle_at(2), which
// needs CAP_DAC_READ_SEARCH. An object that is gone (no handle found, or
// no link left: removed, perhaps still open) has no path.
//
// open_by_handle_at(2) finds the inode of any handle, but the path of a
// file (not a directory) only if its dentry is cached: an uncached one
// comes back disconnected. Such handles, and the other names of a file
// with hard links, are looked up by walking the mount once, the first
// time one is needed, taking the handle of every file with
// name_to_handle_at(2): slow, but never a changed file silently left out.
//
// A Mount is not safe for concurrent use.
type Mount struct {
	dir string
	res resolver
	// walk returns the paths (relative to dir) of every handle under dir,
	// keyed by handleKey: more than one for hard links.
	walk     func(dir string) (map[string][]string, error)
	byHandle map[string][]string // the walk's result, once needed
	// isAt reports whether the absolute path names the object of h: a
	// disconnected "/NAME" may name another file when the mount is "/".
	// nil: trust the path.
	isAt func(path string, h *record.FileHandle) bool
}

// resolver turns a handle into an absolute path, "" if the object is
// gone, and tells how many names it has; *fdResolver is the real one.
type resolver interface {
	path(h *record.FileHandle) (string, error)
	links(h *record.FileHandle) (uint64, error)
}

// OpenMount opens the mount point dir (made absolute, symlinks resolved)
// to resolve handles on its filesystem. Close it when done.
func OpenMount(dir string) (*Mount, error) {
	// Resolved paths are absolute and free of symlinks: so must the
	// mount be, for the relative paths to come out right.
	var fd int
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err == nil {
		// Not O_PATH: open_by_handle_at(2) refuses such a mount fd (EBADF).
		fd, err = unix.Open(abs, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: opening the mount %s to resolve handles: %w", dir, err)
	}
	return &Mount{dir: abs, res: &fdResolver{mountFD: fd}, walk: walkHandles, isAt: handleIsAt}, nil
}

// Close releases the mount point.
func (m *Mount) Close() error {
	if r, ok := m.res.(*fdResolver); ok {
		return unix.Close(r.mountFD)
	}
	return nil
}

// Dir returns the mount point: absolute, free of symlinks.
func (m *Mount) Dir() string { return m.dir }

// Lookup returns the path the kernel gives the object of h, absolute, or
// "" if it is gone. Unlike Path it is not checked: the path of a
// disconnected file is "/NAME", and one outside the mount point (another
// mount of the same filesystem) is given as is.
func (m *Mount) Lookup(h *record.FileHandle) (string, error) { return m.res.path(h) }

// Path returns the path of the object of h relative to the mount point
// ("." for the mount point itself), or "" if it is gone. An object that
// exists but has no path under the mount point is an error.
func (m *Mount) Path(h *record.FileHandle) (string, error) {
	p, err := m.res.path(h)
	if err != nil || p == "" {
		return "", err
	}
	rel, err := filepath.Rel(m.dir, p)
	if err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && (m.isAt == nil || m.isAt(p, h)) {
		return rel, nil
	}
	// It exists, but its path is not under the mount, or not its own:
	// disconnected.
	names, err := m.walked(h)
	if err != nil {
		return "", err
	}
	return names[0], nil
}

// Names returns every path of the object of h relative to the mount
// point, Path first: more than one for a file with hard links, none if it
// is gone.
func (m *Mount) Names(h *record.FileHandle) ([]string, error) {
	p, err := m.Path(h)
	if err != nil || p == "" {
		return nil, err
	}
	return m.namesAt(h, p)
}

// namesAt is Names, the object's path p known.
func (m *Mount) namesAt(h *record.FileHandle, p string) ([]string, error) {
	names := []string{p}
	n, err := m.res.links(h)
	if err != nil || n <= 1 {
		return names, err
	}
	others, err := m.walked(h)
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		if o != p {
			names = append(names, o)
		}
	}
	return names, nil
}

// EntryPath returns the path of a name an object had: the path of its
// parent directory, relative to the mount point, joined with the name; ""
// if the entry has no parent or the parent is gone.
func (m *Mount) EntryPath(e changelog.Entry) (string, error) {
	if e.Parent == nil {
		return "", nil
	}
	dir, err := m.Path(e.Parent)
	if err != nil || dir == "" {
		return "", err
	}
	return filepath.Join(dir, e.Name), nil
}

// Paths lists, sorted and without repeats, the current path of every
// changed object (every name of one with hard links: a copy that does not
// keep hard links has a file for each) and every name an object had (the
// old names of removed and renamed objects included), relative to the
// mount point. The mount point itself is left out. It is what rsync
// --files-from wants: docs/changes.md has the options it needs.
func (m *Mount) Paths(objects []changelog.Object) ([]string, error) {
	seen := make(map[string]bool)
	for _, o := range objects {
		for _, e := range o.Entries {
			p, err := m.EntryPath(e)
			if err != nil {
				return nil, err
			}
			if p != "" {
				seen[p] = true
			}
		}
		if o.Handle == nil {
			continue
		}
		p, err := m.Path(o.Handle)
		if err != nil {
			return nil, err
		}
		if p == "" || p == "." {
			continue
		}
		names, err := m.namesAt(o.Handle, p)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			seen[n] = true
		}
	}
	paths := make([]string, 0, len(seen))
	for p := range seen {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths, nil
}

// walked returns every path of h relative to the mount (hard links), from
// one walk of the mount, made when first needed.
func (m *Mount) walked(h *record.FileHandle) ([]string, error) {
	if m.byHandle == nil {
		var err error
		if m.byHandle, err = m.walk(m.dir); err != nil {
			return nil, fmt.Errorf("looking for the paths of handles: %w", err)
		}
	}
	if names := m.byHandle[handleKey(h.Type, h.Bytes)]; len(names) > 0 {
		return names, nil
	}
	return nil, fmt.Errorf("handle %v exists but has no path under %s (outside it, or another mount)", h, m.dir)
}

func handleKey(typ uint32, b []byte) string { return fmt.Sprintf("%d:%x", typ, b) }

// handleIsAt is Mount.isAt for real: the handle of path is h.
func handleIsAt(path string, h *record.FileHandle) bool {
	got, _, err := unix.NameToHandleAt(unix.AT_FDCWD, path, 0)
	return err == nil && uint32(got.Type()) == h.Type && string(got.Bytes()) == string(h.Bytes)
}

// walkHandles maps the handle of every file under dir, on dir's
// filesystem, to its paths relative to dir.
func walkHandles(dir string) (map[string][]string, error) {
	var root unix.Stat_t
	if err := unix.Stat(dir, &root); err != nil {
		return nil, err
	}
	m := make(map[string][]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		key := handleKey(uint32(h.Type()), h.Bytes())
		m[key] = append(m[key], rel)
		return nil
	})
	return m, err
}

// fdResolver resolves handles with open_by_handle_at(2) against an open
// directory of the filesystem.
type fdResolver struct {
	mountFD int
}

// path returns the object's current path, or "" if it is gone.
func (r *fdResolver) path(h *record.FileHandle) (string, error) {
	fd, nlink, err := r.open(h)
	if err != nil || fd < 0 {
		return "", err
	}
	defer unix.Close(fd)
	// Removed but still open somewhere: gone, whatever its name says (a
	// live file may be named "x (deleted)").
	if nlink == 0 {
		return "", nil
	}
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "", fmt.Errorf("resolving handle %v: %w", h, err)
	}
	return p, nil
}

// links returns how many names the object has (0 if it is gone).
func (r *fdResolver) links(h *record.FileHandle) (uint64, error) {
	fd, nlink, err := r.open(h)
	if err != nil || fd < 0 {
		return 0, err
	}
	unix.Close(fd)
	return nlink, nil
}

// open opens the object of h (O_PATH) and returns the fd and its link
// count; the fd is -1 if the object is gone.
func (r *fdResolver) open(h *record.FileHandle) (int, uint64, error) {
	fd, err := unix.OpenByHandleAt(r.mountFD, unix.NewFileHandle(int32(h.Type), h.Bytes), unix.O_PATH|unix.O_CLOEXEC)
	if errors.Is(err, unix.ESTALE) || errors.Is(err, unix.ENOENT) {
		return -1, 0, nil
	}
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return -1, 0, fmt.Errorf("resolving handle %v: %w: resolving handles to paths needs CAP_DAC_READ_SEARCH (run as root)", h, err)
		}
		return -1, 0, fmt.Errorf("resolving handle %v: %w", h, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("resolving handle %v: %w", h, err)
	}
	return fd, uint64(st.Nlink), nil
}
