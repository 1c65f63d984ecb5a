// Package ext4state reads the state of an ext2, ext3 or ext4 filesystem
// that tells whether it changed between two mounts: the on-disk superblock
// (its uuid, mount count, KiB written over its life, times, and whether
// it was cleanly unmounted), read through the block device, and, while it
// is mounted, what the ext4 driver says in sysfs of the KiB written before
// this mount.
//
// A clean unmount leaves the superblock with the valid-state bit set, no
// error bit, and no journal to recover; the unmount's last write updates
// s_kbytes_written. The next read-write mount adds one to the mount count
// and loads s_kbytes_written, which /sys/fs/ext4/DEV/lifetime_write_kbytes
// minus session_write_kbytes then gives back: if those equal what the
// unmount left (and the count went up by one), nothing wrote the
// filesystem in between: no other mount, no e2fsck, tune2fs or debugfs -w.
// A raw write to the device that bypasses the filesystem is not seen.
package ext4state

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The superblock: 1024 bytes at offset 1024 of the device. Offsets within
// it are those of struct ext4_super_block (fs/ext4/ext4.h).
const (
	superblockOffset = 1024
	superblockSize   = 1024

	offMTime         = 0x2C  // s_mtime, le32
	offWTime         = 0x30  // s_wtime, le32
	offMountCount    = 0x34  // s_mnt_count, le16
	offMagic         = 0x38  // s_magic, le16
	offState         = 0x3A  // s_state, le16
	offIncompat      = 0x60  // s_feature_incompat, le32
	offUUID          = 0x68  // s_uuid, 16 bytes
	offKBytesWritten = 0x178 // s_kbytes_written, le64

	// Magic is s_magic of every ext2, ext3 and ext4 filesystem.
	Magic = 0xEF53
	// StateValid (EXT4_VALID_FS): cleanly unmounted.
	StateValid = 0x0001
	// StateError (EXT4_ERROR_FS): errors were detected.
	StateError = 0x0002
	// IncompatRecover (EXT4_FEATURE_INCOMPAT_RECOVER): the journal needs
	// recovery: the filesystem was not cleanly unmounted.
	IncompatRecover = 0x0004
)

// Superblock is what the package reads of an ext2/3/4 superblock.
type Superblock struct {
	Magic         uint16
	State         uint16
	Incompat      uint32 // s_feature_incompat
	UUID          [16]byte
	MountCount    uint16
	MTime, WTime  uint32 // last mount, last superblock write: seconds since 1970
	KBytesWritten uint64 // over the filesystem's life, as of the last superblock write
}

// Parse decodes the superblock b: the 1024 bytes at offset 1024 of the
// device. It fails if b is short or the magic is not ext2/3/4's.
func Parse(b []byte) (Superblock, error) {
	var s Superblock
	if len(b) < superblockSize {
		return s, fmt.Errorf("ext4state: superblock is %d bytes, want %d", len(b), superblockSize)
	}
	le := func(off, n int) uint64 {
		var v uint64
		for i := n - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[off+i])
		}
		return v
	}
	s.Magic = uint16(le(offMagic, 2))
	if s.Magic != Magic {
		return s, fmt.Errorf("ext4state: superblock magic %#04x, not ext2/3/4's %#04x", s.Magic, Magic)
	}
	s.State = uint16(le(offState, 2))
	s.Incompat = uint32(le(offIncompat, 4))
	copy(s.UUID[:], b[offUUID:offUUID+16])
	s.MountCount = uint16(le(offMountCount, 2))
	s.MTime = uint32(le(offMTime, 4))
	s.WTime = uint32(le(offWTime, 4))
	s.KBytesWritten = le(offKBytesWritten, 8)
	return s, nil
}

// Clean returns nil if the superblock says the filesystem was cleanly
// unmounted, or why not.
func (s Superblock) Clean() error {
	switch {
	case s.State&StateError != 0:
		return fmt.Errorf("the superblock says errors were detected (state %#x)", s.State)
	case s.State&StateValid == 0:
		return fmt.Errorf("the superblock says it was not cleanly unmounted (state %#x)", s.State)
	case s.Incompat&IncompatRecover != 0:
		return errors.New("the journal needs recovery")
	}
	return nil
}

// UUIDString returns the uuid as blkid(8) prints it.
func (s Superblock) UUIDString() string {
	u := s.UUID
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// Read reads and decodes the superblock of the device r.
func Read(r io.ReaderAt) (Superblock, error) {
	b := make([]byte, superblockSize)
	if _, err := r.ReadAt(b, superblockOffset); err != nil {
		return Superblock{}, fmt.Errorf("ext4state: reading the superblock: %w", err)
	}
	return Parse(b)
}

// IsExt reports whether fstype is one this package reads.
func IsExt(fstype string) bool {
	return fstype == "ext2" || fstype == "ext3" || fstype == "ext4"
}

// Device is an open block device.
type Device interface {
	io.ReaderAt
	io.Closer
}

// System is where the package finds devices and the kernel's state: the
// real ones by default (the zero System), others in tests. Its device,
// sysfs and procfs access serve package xfsstate's and btrfsstate's
// callers too.
type System struct {
	// Sys is the sysfs mount ("/sys" if empty), Dev the device directory
	// ("/dev" if empty), Proc the procfs mount ("/proc" if empty).
	Sys, Dev, Proc string
	// Open opens a device node read-only, exclusively if excl (a mounted
	// filesystem holds its device exclusively: the open then fails with
	// EBUSY). nil: open(2) with O_EXCL for excl.
	Open func(path string, excl bool) (Device, error)
	// Poll and Wait bound WaitUnmounted: it tries every Poll (50 ms if 0)
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
// under /sys/fs/ext4.
func (s *System) DevName(dev uint32) (string, error) {
	major, minor := unix.Major(uint64(dev)), unix.Minor(uint64(dev))
	path := filepath.Join(s.sys(), "dev", "block", fmt.Sprintf("%d:%d", major, minor), "uevent")
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("ext4state: device %d:%d is not a block device the kernel lists: %w", major, minor, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "DEVNAME="); ok && name != "" {
			return name, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("ext4state: %s: %w", path, err)
	}
	return "", fmt.Errorf("ext4state: %s names no DEVNAME", path)
}

// WaitUnmounted waits until the device name (DevName) can be opened
// exclusively, which says that no filesystem on it is mounted any more:
// the unmount, with its last superblock write, is over. It then reads the
// superblock through that descriptor. It tries every Poll for Wait, and
// fails if the device stays busy.
func (s *System) WaitUnmounted(name string) (Superblock, error) {
	var sb Superblock
	err := s.WaitExclusive(name, func(d io.ReaderAt) error {
		var err error
		sb, err = Read(d)
		return err
	})
	return sb, err
}

// WaitExclusive waits as WaitUnmounted does, then hands the device to
// read, for any filesystem type.
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
				err = fmt.Errorf("ext4state: close %s: %w", path, cerr)
			}
			return err
		}
		if !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("ext4state: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ext4state: %s is still in use after %v: the filesystem is mounted elsewhere, or the unmount did not end", path, wait)
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
		return fmt.Errorf("ext4state: %w", err)
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
		return "", fmt.Errorf("ext4state: %w", err)
	}
	return string(b), nil
}

// ReadProc reads the file at path under the procfs mount ("self/mountinfo").
func (s *System) ReadProc(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join(s.proc(), path))
	if err != nil {
		return "", fmt.Errorf("ext4state: %w", err)
	}
	return string(b), nil
}

// Mounted is the state of a mounted filesystem.
type Mounted struct {
	// Superblock as it is now: the mount has written it (the mount count
	// counts this mount).
	Superblock
	// KBytesBeforeMount is what s_kbytes_written was when the filesystem
	// was mounted: the KiB written over its life before this mount.
	KBytesBeforeMount uint64
}

// sysfsAttempts bounds how often Mount rereads the sysfs counters while
// the filesystem is being written.
const sysfsAttempts = 100

// Mount reads the state of the ext2/3/4 filesystem mounted from device
// name by the ext4 driver: the superblock (through the device, not
// exclusively) and, from /sys/fs/ext4/NAME, lifetime_write_kbytes minus
// session_write_kbytes, read until the session's count is the same before
// and after the lifetime's.
func (s *System) Mount(name string) (Mounted, error) {
	var m Mounted
	err := s.ReadDevice(name, func(d io.ReaderAt) error {
		var err error
		m.Superblock, err = Read(d)
		return err
	})
	if err != nil {
		return m, err
	}
	dir := filepath.Join(s.sys(), "fs", "ext4", name)
	for range sysfsAttempts {
		before, err := readUint(filepath.Join(dir, "session_write_kbytes"))
		if err != nil {
			return m, err
		}
		life, err := readUint(filepath.Join(dir, "lifetime_write_kbytes"))
		if err != nil {
			return m, err
		}
		after, err := readUint(filepath.Join(dir, "session_write_kbytes"))
		if err != nil {
			return m, err
		}
		if before != after {
			continue
		}
		if life < after {
			return m, fmt.Errorf("ext4state: %s: %d KiB written in the filesystem's life, fewer than the %d of this mount", dir, life, after)
		}
		m.KBytesBeforeMount = life - after
		return m, nil
	}
	return m, fmt.Errorf("ext4state: %s: session_write_kbytes changed at each of %d reads", dir, sysfsAttempts)
}

// readUint reads a sysfs file that holds one decimal number.
func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("ext4state: %w (is the filesystem mounted by the ext4 driver?)", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ext4state: %s: %w", path, err)
	}
	return v, nil
}
