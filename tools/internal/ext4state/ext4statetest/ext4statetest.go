// Package ext4statetest lays out, in a temporary directory, what package
// ext4state reads: a block device holding an ext2/3/4 superblock, its
// entry in sysfs, and the ext4 driver's counters.
package ext4statetest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/wbarrier/wbarrier/tools/internal/ext4state"
)

// Dev is the device number of the fake device (8:1, named sda1), encoded
// as stat(2)'s st_dev.
const Dev = 0x801

// Superblock encodes s at the offsets of struct ext4_super_block
// (fs/ext4/ext4.h), written here by hand rather than by the code tested:
// 1024 bytes, the rest zero.
func Superblock(s ext4state.Superblock) []byte {
	b := make([]byte, 1024)
	le := binary.LittleEndian
	le.PutUint32(b[0x2C:], s.MTime)
	le.PutUint32(b[0x30:], s.WTime)
	le.PutUint16(b[0x34:], s.MountCount)
	le.PutUint16(b[0x38:], s.Magic)
	le.PutUint16(b[0x3A:], s.State)
	le.PutUint32(b[0x60:], s.Incompat)
	copy(b[0x68:], s.UUID[:])
	le.PutUint64(b[0x178:], s.KBytesWritten)
	return b
}

// Device is the image of a device whose superblock is s: at offset 1024.
func Device(s ext4state.Superblock) []byte {
	return append(make([]byte, 1024), Superblock(s)...)
}

// System is a fake system in a temporary directory: block device 8:1 is
// sda1 (and 7:0 a device without a name), /dev/sda1 holds the image dev,
// and /sys/fs/ext4/sda1 the counters given (none if lifetime is "").
type System struct {
	*ext4state.System
	root string
}

// NewSystem lays out a System.
func NewSystem(t testing.TB, dev []byte, lifetime, session string) *System {
	t.Helper()
	root := t.TempDir()
	s := &System{System: &ext4state.System{Sys: filepath.Join(root, "sys"), Dev: filepath.Join(root, "dev"), Proc: filepath.Join(root, "proc")}, root: root}
	s.write(t, "sys/dev/block/8:1/uevent", "MAJOR=8\nMINOR=1\nDEVNAME=sda1\nDEVTYPE=partition\n")
	s.write(t, "sys/dev/block/7:0/uevent", "MAJOR=7\nMINOR=0\n")
	s.SetDevice(t, dev)
	if lifetime != "" {
		s.SetCounters(t, lifetime, session)
	}
	return s
}

// SetDevice replaces the device's image.
func (s *System) SetDevice(t testing.TB, dev []byte) { s.write(t, "dev/sda1", string(dev)) }

// SetCounters sets the ext4 driver's lifetime_write_kbytes and
// session_write_kbytes of sda1.
func (s *System) SetCounters(t testing.TB, lifetime, session string) {
	s.write(t, "sys/fs/ext4/sda1/lifetime_write_kbytes", lifetime)
	s.write(t, "sys/fs/ext4/sda1/session_write_kbytes", session)
}

func (s *System) write(t testing.TB, name, data string) {
	t.Helper()
	p := filepath.Join(s.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// SetMountinfo sets the mount table, /proc/self/mountinfo.
func (s *System) SetMountinfo(t testing.TB, mountinfo string) {
	s.write(t, "proc/self/mountinfo", mountinfo)
}

// SetBtrfs sets what the btrfs driver says of the filesystem with fsid
// uuid (as blkid prints it) in /sys/fs/btrfs/UUID: its generation and,
// in commit_stats, the commits since the mount.
func (s *System) SetBtrfs(t testing.TB, uuid, generation, commits string) {
	s.write(t, "sys/fs/btrfs/"+uuid+"/generation", generation)
	s.write(t, "sys/fs/btrfs/"+uuid+"/commit_stats", "commits "+commits+"\nlast_commit_ms 0\nmax_commit_ms 0\ntotal_commit_ms 0\n")
}

// SetXFSTail sets the xfs driver's log_tail_lsn of sda1.
func (s *System) SetXFSTail(t testing.TB, tail string) {
	s.write(t, "sys/fs/xfs/sda1/log/log_tail_lsn", tail)
}
