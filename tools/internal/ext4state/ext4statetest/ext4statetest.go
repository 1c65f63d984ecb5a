// Package ext4statetest makes what package ext4state reads: an ext2/3/4
// superblock, and the ext4 driver's counters in a fake system
// (blockdevtest).
package ext4statetest

import (
	"encoding/binary"
	"testing"

	"github.com/wbarrier/wbarrier/tools/internal/blockdev/blockdevtest"
	"github.com/wbarrier/wbarrier/tools/internal/ext4state"
)

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

// NewSystem lays out a fake system (blockdevtest.NewSystem) whose sda1
// holds the image dev, with the ext4 driver's counters given (none if
// lifetime is "").
func NewSystem(t testing.TB, dev []byte, lifetime, session string) *blockdevtest.System {
	t.Helper()
	s := blockdevtest.NewSystem(t, dev)
	if lifetime != "" {
		SetCounters(t, s, lifetime, session)
	}
	return s
}

// SetCounters sets the ext4 driver's lifetime_write_kbytes and
// session_write_kbytes of sda1.
func SetCounters(t testing.TB, s *blockdevtest.System, lifetime, session string) {
	s.SetFile(t, "sys/fs/ext4/sda1/lifetime_write_kbytes", lifetime)
	s.SetFile(t, "sys/fs/ext4/sda1/session_write_kbytes", session)
}
