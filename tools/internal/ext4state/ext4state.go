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
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/wbarrier/wbarrier/tools/internal/blockdev"
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

// WaitUnmounted waits until the device name (blockdev.System.DevName) is
// no longer mounted (blockdev.System.WaitExclusive) and reads the
// superblock the unmount left.
func WaitUnmounted(s *blockdev.System, name string) (Superblock, error) {
	var sb Superblock
	err := s.WaitExclusive(name, func(d io.ReaderAt) error {
		var err error
		sb, err = Read(d)
		return err
	})
	return sb, err
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
func Mount(s *blockdev.System, name string) (Mounted, error) {
	var m Mounted
	err := s.ReadDevice(name, func(d io.ReaderAt) error {
		var err error
		m.Superblock, err = Read(d)
		return err
	})
	if err != nil {
		return m, err
	}
	dir := path.Join("fs", "ext4", name)
	for range sysfsAttempts {
		before, err := readUint(s, path.Join(dir, "session_write_kbytes"))
		if err != nil {
			return m, err
		}
		life, err := readUint(s, path.Join(dir, "lifetime_write_kbytes"))
		if err != nil {
			return m, err
		}
		after, err := readUint(s, path.Join(dir, "session_write_kbytes"))
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
func readUint(s *blockdev.System, file string) (uint64, error) {
	b, err := s.ReadSys(file)
	if err != nil {
		return 0, fmt.Errorf("ext4state: %w (is the filesystem mounted by the ext4 driver?)", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ext4state: %s: %w", file, err)
	}
	return v, nil
}
