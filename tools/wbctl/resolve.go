package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/wbarrier/wbarrier/record"
	"golang.org/x/sys/unix"
)

// resolver turns file handles into paths with open_by_handle_at(2), which
// needs CAP_DAC_READ_SEARCH and an open file on the same filesystem.
type resolver struct {
	mountFD int
}

func newResolver(path string) (*resolver, error) {
	// Not O_PATH: open_by_handle_at(2) refuses such a mount fd (EBADF).
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s to resolve handles: %w", path, err)
	}
	return &resolver{mountFD: fd}, nil
}

func (r *resolver) close() error { return unix.Close(r.mountFD) }

// path returns the object's current path, or "" if it is gone.
func (r *resolver) path(h *record.FileHandle) (string, error) {
	fd, err := unix.OpenByHandleAt(r.mountFD, unix.NewFileHandle(int32(h.Type), h.Bytes), unix.O_PATH|unix.O_CLOEXEC)
	if errors.Is(err, unix.ESTALE) || errors.Is(err, unix.ENOENT) {
		return "", nil
	}
	if err != nil {
		return "", resolveError(h, err)
	}
	defer unix.Close(fd)
	// Removed but still open somewhere: gone, whatever its name says (a
	// live file may be named "x (deleted)").
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", fmt.Errorf("resolving handle %v: %w", h, err)
	}
	if st.Nlink == 0 {
		return "", nil
	}
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "", fmt.Errorf("resolving handle %v: %w", h, err)
	}
	return p, nil
}

// links returns how many names the object has (0 if it is gone).
func (r *resolver) links(h *record.FileHandle) (uint64, error) {
	fd, err := unix.OpenByHandleAt(r.mountFD, unix.NewFileHandle(int32(h.Type), h.Bytes), unix.O_PATH|unix.O_CLOEXEC)
	if errors.Is(err, unix.ESTALE) || errors.Is(err, unix.ENOENT) {
		return 0, nil
	}
	if err != nil {
		return 0, resolveError(h, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("resolving handle %v: %w", h, err)
	}
	return uint64(st.Nlink), nil
}

// resolveError says what open_by_handle_at(2) needs when it is refused.
func resolveError(h *record.FileHandle, err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("resolving handle %v: %w: resolving handles to paths needs CAP_DAC_READ_SEARCH (run as root)", h, err)
	}
	return fmt.Errorf("resolving handle %v: %w", h, err)
}

// resolve fills in the paths of the record's object and parent.
func (r *resolver) resolve(rec record.Record, out *recordOut) error {
	var err error
	if rec.Handle != nil {
		if out.Path, err = r.path(rec.Handle); err != nil {
			return err
		}
	}
	if rec.Parent != nil {
		if out.Dir, err = r.path(rec.Parent); err != nil {
			return err
		}
	}
	return nil
}
