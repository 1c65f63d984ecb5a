// Package btrfsstate reads the state of a btrfs filesystem that tells
// whether it changed between two mounts: the primary superblock (its
// fsid, generation, and whether a log tree is left to replay), read
// through the block device, and, while it is mounted, what btrfs says in
// sysfs of its generation and of the transactions it committed since the
// mount.
//
// Every transaction btrfs commits gets the next generation number, and
// every commit writes it in the superblock; a clean unmount commits one
// last time and leaves no log tree (log_root 0). When btrfs mounts the
// filesystem, its generation (/sys/fs/btrfs/FSID/generation) starts at
// the superblock's and goes up by one at each transaction started since;
// /sys/fs/btrfs/FSID/commit_stats counts the transactions committed
// since. With no commit counted (read first) and the generation the
// clean unmount's, nothing committed a transaction in between (another
// mount, btrfs check --repair, btrfstune), none is open, and no log tree
// was replayed as this mount began. A raw write to the device that
// bypasses btrfs is not seen.
package btrfsstate

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

var le = binary.LittleEndian

// The primary superblock: 4096 bytes at 64 KiB on the device,
// little-endian. Offsets are those of struct btrfs_super_block
// (fs/btrfs/accessors.h, include/uapi/linux/btrfs_tree.h).
const (
	SuperblockOffset = 64 * 1024
	superblockSize   = 4096

	offCsum       = 0   // csum, 32 bytes: of bytes 32 to 4096
	offFSID       = 32  // fsid, 16 bytes
	offBytenr     = 48  // bytenr, le64: where this copy is
	offFlags      = 56  // flags, le64
	offMagic      = 64  // magic, le64
	offGeneration = 72  // generation, le64
	offLogRoot    = 96  // log_root, le64: the log tree to replay, 0 if none
	offNumDevices = 136 // num_devices, le64
	offCsumType   = 196 // csum_type, le16

	// Magic is "_BHRfS_M", the superblock's magic.
	Magic = 0x4D5F53665248425F
	// FlagError (BTRFS_SUPER_FLAG_ERROR): btrfs met an error and went
	// read-only.
	FlagError = 1 << 2
	// csumCRC32C (BTRFS_CSUM_TYPE_CRC32): the only checksum this package
	// verifies.
	csumCRC32C = 0
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Superblock is what the package reads of a btrfs superblock.
type Superblock struct {
	FSID       [16]byte
	Bytenr     uint64
	Flags      uint64
	Generation uint64 // of the last committed transaction
	LogRoot    uint64 // 0 if no log tree is left to replay
	NumDevices uint64
	CsumType   uint16
}

// Parse decodes the superblock b: the 4096 bytes at 64 KiB of the device.
// It fails if b is short or the magic is not btrfs's; it does not verify
// the checksum (Verify does).
func Parse(b []byte) (Superblock, error) {
	var s Superblock
	if len(b) < superblockSize {
		return s, fmt.Errorf("btrfsstate: superblock is %d bytes, want %d", len(b), superblockSize)
	}
	if m := le.Uint64(b[offMagic:]); m != Magic {
		return s, fmt.Errorf("btrfsstate: superblock magic %#016x, not btrfs's %#016x", m, uint64(Magic))
	}
	copy(s.FSID[:], b[offFSID:offFSID+16])
	s.Bytenr = le.Uint64(b[offBytenr:])
	s.Flags = le.Uint64(b[offFlags:])
	s.Generation = le.Uint64(b[offGeneration:])
	s.LogRoot = le.Uint64(b[offLogRoot:])
	s.NumDevices = le.Uint64(b[offNumDevices:])
	s.CsumType = le.Uint16(b[offCsumType:])
	return s, nil
}

// Verify returns nil if the superblock b (as Parse takes it) is the
// primary copy and its checksum, crc32c, matches.
func Verify(b []byte) error {
	s, err := Parse(b)
	if err != nil {
		return err
	}
	if s.Bytenr != SuperblockOffset {
		return fmt.Errorf("btrfsstate: the superblock says it is at byte %d, not %d", s.Bytenr, SuperblockOffset)
	}
	if s.CsumType != csumCRC32C {
		return fmt.Errorf("btrfsstate: checksum type %d: only crc32c (0) is verified", s.CsumType)
	}
	want := le.Uint32(b[offCsum:])
	if got := crc32.Checksum(b[offFSID:superblockSize], castagnoli); got != want {
		return fmt.Errorf("btrfsstate: superblock checksum %#08x, it holds %#08x", got, want)
	}
	return nil
}

// Clean returns nil if the superblock says the filesystem was cleanly
// unmounted, of one device, or why not.
func (s Superblock) Clean() error {
	switch {
	case s.Flags&FlagError != 0:
		return fmt.Errorf("the superblock says btrfs met an error (flags %#x)", s.Flags)
	case s.LogRoot != 0:
		return errors.New("a log tree is left to replay: the filesystem was not cleanly unmounted")
	case s.NumDevices != 1:
		return fmt.Errorf("the filesystem has %d devices: only one is read", s.NumDevices)
	}
	return nil
}

// UUIDString returns the fsid as blkid(8) prints it, and as it names the
// filesystem's directory under /sys/fs/btrfs.
func (s Superblock) UUIDString() string { return UUIDString(s.FSID) }

// UUIDString formats a uuid as blkid(8) prints it.
func UUIDString(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// Read reads the primary superblock of the device r, verifies it, and
// decodes it.
func Read(r io.ReaderAt) (Superblock, error) {
	b := make([]byte, superblockSize)
	if _, err := r.ReadAt(b, SuperblockOffset); err != nil {
		return Superblock{}, fmt.Errorf("btrfsstate: reading the superblock: %w", err)
	}
	if err := Verify(b); err != nil {
		return Superblock{}, err
	}
	return Parse(b)
}

// ReadMounted reads and decodes the primary superblock of the device r
// of a mounted filesystem, without verifying it: btrfs may be writing it
// meanwhile. What does not change while it is mounted (the fsid) is
// right.
func ReadMounted(r io.ReaderAt) (Superblock, error) {
	b := make([]byte, superblockSize)
	if _, err := r.ReadAt(b, SuperblockOffset); err != nil {
		return Superblock{}, fmt.Errorf("btrfsstate: reading the superblock: %w", err)
	}
	return Parse(b)
}

// MountSource returns the source of a btrfs mount of the superblock whose
// device number is dev (as stat(2)'s st_dev, the kernel's
// new_encode_dev) in mountinfo (proc(5)'s /proc/PID/mountinfo): the
// device btrfs names for it, e.g. "/dev/vdb". A btrfs superblock's device
// number is an anonymous one, not its block device's (and a subvolume's
// stat(2) shows another still); mountinfo shows the superblock's.
func MountSource(mountinfo io.Reader, dev uint32) (string, error) {
	want := fmt.Sprintf("%d:%d", unix.Major(uint64(dev)), unix.Minor(uint64(dev)))
	sc := bufio.NewScanner(mountinfo)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS...] - TYPE SOURCE SUPER
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[2] != want {
			continue
		}
		for i := 6; i+2 < len(f); i++ {
			if f[i] == "-" {
				if f[i+1] != "btrfs" {
					return "", fmt.Errorf("btrfsstate: device %s is mounted as %s, not btrfs", want, f[i+1])
				}
				return unescape(f[i+2]), nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("btrfsstate: reading mountinfo: %w", err)
	}
	return "", fmt.Errorf("btrfsstate: no mount of device %s", want)
}

// unescape undoes mountinfo's octal escapes ("\040" for a space).
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ParseCommits returns the commits counted in the text of
// /sys/fs/btrfs/FSID/commit_stats: the line "commits N".
func ParseCommits(s string) (uint64, error) {
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "commits "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("btrfsstate: commit_stats: %q: %w", line, err)
			}
			return n, nil
		}
	}
	return 0, errors.New("btrfsstate: commit_stats has no \"commits\" line")
}

// ParseGeneration returns the number in the text of
// /sys/fs/btrfs/FSID/generation.
func ParseGeneration(s string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("btrfsstate: generation: %w", err)
	}
	return n, nil
}
