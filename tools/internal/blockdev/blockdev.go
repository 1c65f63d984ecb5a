// Package blockdev finds a filesystem's block device and reads it, and
// the kernel's state of it in sysfs and procfs, for the packages that read
// a filesystem's own state (ext4state, xfsstate, btrfsstate): the device
// node named by its number, opened exclusively to learn that no mount
// holds it any more, or shared while one does. The zero System is the
// machine's; tests lay out another in a directory (blockdevtest).
package blockdev

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Device is an open block device.
type Device interface {
	io.ReaderAt
	io.Closer
}

// System is where devices and the kernel's state are found: the real ones
// by default (the zero System), others in tests (package blockdevtest).
type System struct {
	// Sys is the sysfs mount ("/sys" if empty), Dev the device directory
	// ("/dev" if empty), Proc the procfs mount ("/proc" if empty).
	Sys, Dev, Proc string
	// Open opens a device node read-only, exclusively if excl (a mounted
	// filesystem holds its device exclusively: the open then fails with
	// EBUSY). nil: open(2) with O_EXCL for excl.
	Open func(path string, excl bool) (Device, error)
	// Poll and Wait bound WaitExclusive: it tries every Poll (50 ms if 0)
	// for Wait (10 s if 0).
	Poll, Wait time.Duration
}

func (s *System) sys() string  { return orDefault(s.Sys, "/sys") }
func (s *System) dev() string  { return orDefault(s.Dev, "/dev") }
func (s *System) proc() string { return orDefault(s.Proc, "/proc") }

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (s *System) open(path string, excl bool) (Device, error) {
	if s.Open != nil {
		return s.Open(path, excl)
	}
	flag := os.O_RDONLY
	if excl {
		flag |= unix.O_EXCL
	}
	return os.OpenFile(path, flag, 0)
}

// DevName returns the kernel's name of the block device dev (encoded as
// stat(2)'s st_dev, as the kernel's new_encode_dev): "sda1", "dm-0". It
// is the device node's name under /dev and the filesystem's directory
// under /sys/fs/ext4 and /sys/fs/xfs.
func (s *System) DevName(dev uint32) (string, error) {
	major, minor := unix.Major(uint64(dev)), unix.Minor(uint64(dev))
	path := filepath.Join(s.sys(), "dev", "block", fmt.Sprintf("%d:%d", major, minor), "uevent")
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("blockdev: device %d:%d is not a block device the kernel lists: %w", major, minor, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "DEVNAME="); ok && name != "" {
			return name, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("blockdev: %s: %w", path, err)
	}
	return "", fmt.Errorf("blockdev: %s names no DEVNAME", path)
}

// WaitExclusive waits until the device name (DevName) can be opened
// exclusively, which says that no filesystem on it is mounted any more:
// the unmount, with its last superblock write, is over. It then hands the
// device to read. It tries every Poll for Wait, and fails if the device
// stays busy.
func (s *System) WaitExclusive(name string, read func(io.ReaderAt) error) error {
	path := filepath.Join(s.dev(), name)
	poll, wait := s.Poll, s.Wait
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	if wait <= 0 {
		wait = 10 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		d, err := s.open(path, true)
		if err == nil {
			err := read(d)
			if cerr := d.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("blockdev: close %s: %w", path, cerr)
			}
			return err
		}
		if !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("blockdev: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("blockdev: %s is still in use after %v: the filesystem is mounted elsewhere, or the unmount did not end", path, wait)
		}
		time.Sleep(poll)
	}
}

// ReadDevice opens the device name (DevName) without O_EXCL, as a mounted
// filesystem's can be, and hands it to read.
func (s *System) ReadDevice(name string, read func(io.ReaderAt) error) error {
	path := filepath.Join(s.dev(), name)
	d, err := s.open(path, false)
	if err != nil {
		return fmt.Errorf("blockdev: %w", err)
	}
	err = read(d)
	d.Close()
	if err != nil {
		return fmt.Errorf("%w (%s)", err, path)
	}
	return nil
}

// ReadSys reads the file at path under the sysfs mount ("fs/xfs/sda1/...").
func (s *System) ReadSys(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join(s.sys(), path))
	if err != nil {
		return "", fmt.Errorf("blockdev: %w", err)
	}
	return string(b), nil
}

// ReadProc reads the file at path under the procfs mount ("self/mountinfo").
func (s *System) ReadProc(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join(s.proc(), path))
	if err != nil {
		return "", fmt.Errorf("blockdev: %w", err)
	}
	return string(b), nil
}
