// Package btrfsstatetest makes what package btrfsstate reads: the image of
// a btrfs device, its primary superblock laid out by hand at the offsets
// of struct btrfs_super_block rather than through the code tested.
package btrfsstatetest

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/wbarrier/wbarrier/tools/internal/blockdev/blockdevtest"
)

// Device returns the image of a one-device btrfs filesystem with fsid
// whose last committed transaction is generation: 68 KiB, the primary
// superblock at 64 KiB with a valid crc32c. A log tree is left to replay
// unless clean.
func Device(fsid [16]byte, generation uint64, clean bool) []byte {
	le := binary.LittleEndian
	b := make([]byte, 68*1024)
	s := b[64*1024:]
	copy(s[32:48], fsid[:])                  // fsid
	le.PutUint64(s[48:], 64*1024)            // bytenr
	le.PutUint64(s[64:], 0x4D5F53665248425F) // magic: "_BHRfS_M"
	le.PutUint64(s[72:], generation)         // generation
	if !clean {
		le.PutUint64(s[96:], 30<<20) // log_root
	}
	le.PutUint64(s[136:], 1) // num_devices
	Checksum(b)
	return b
}

// Checksum sets the superblock's crc32c in the device image b, after a
// change to it.
func Checksum(b []byte) {
	s := b[64*1024 : 68*1024]
	sum := crc32.Checksum(s[32:], crc32.MakeTable(crc32.Castagnoli))
	binary.LittleEndian.PutUint32(s[0:], sum)
}

// SetSysfs sets what the btrfs driver says, in the fake system s, of the
// filesystem with fsid uuid (as blkid prints it) in /sys/fs/btrfs/UUID:
// its generation and, in commit_stats, the commits since the mount.
func SetSysfs(t testing.TB, s *blockdevtest.System, uuid, generation, commits string) {
	s.SetFile(t, "sys/fs/btrfs/"+uuid+"/generation", generation)
	s.SetFile(t, "sys/fs/btrfs/"+uuid+"/commit_stats", "commits "+commits+"\nlast_commit_ms 0\nmax_commit_ms 0\ntotal_commit_ms 0\n")
}
