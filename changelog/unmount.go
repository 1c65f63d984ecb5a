package changelog

import (
	"bytes"
	"fmt"
)

// Unmount is the state a filesystem was left in by a clean unmount, as
// the log records it after the last seal of a generation (Writer.Unmount):
// what the next watch compares the filesystem with to tell whether it
// changed between the two watches (see Generation.Continuous). The fields
// are those of the ext2/3/4 superblock, of the xfs log, or of the btrfs
// superblock.
type Unmount struct {
	FSType string   // the filesystem type, e.g. "ext4" (at most 16 bytes, no NUL)
	UUID   [16]byte // s_uuid
	// MountCount is s_mnt_count: the number of mounts since the last
	// check, which every read-write mount increments.
	MountCount uint16
	// KBytesWritten is s_kbytes_written: the KiB written to the
	// filesystem over its life, which every unmount writes back.
	KBytesWritten uint64
	WTime         uint32 // s_wtime: the last superblock write, seconds since 1970
	MTime         uint32 // s_mtime: the last mount
	// LogCycle and LogBlock are, for xfs, the log position right after
	// the unmount record: where the next mount puts the log's tail. A
	// cycle of 0 (xfs's start at 1) says there is none.
	LogCycle, LogBlock uint32
	// FSGeneration is, for btrfs, the superblock's generation after the
	// unmount: that of its last committed transaction. 0 (btrfs's start
	// at 1) says there is none.
	FSGeneration uint64
}

func (u Unmount) String() string {
	if u.FSGeneration != 0 {
		return fmt.Sprintf("clean unmount of %s %s: generation %d", u.FSType, u.UUIDString(), u.FSGeneration)
	}
	if u.LogCycle != 0 {
		return fmt.Sprintf("clean unmount of %s %s: log ends at %d:%d", u.FSType, u.UUIDString(), u.LogCycle, u.LogBlock)
	}
	return fmt.Sprintf("clean unmount of %s %s: mount count %d, %d KiB written", u.FSType, u.UUIDString(), u.MountCount, u.KBytesWritten)
}

// UUIDString returns the UUID as blkid(8) prints it.
func (u Unmount) UUIDString() string {
	b := u.UUID
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// The unmount payload (frame type 4); doc.go has the layout. Version 2
// adds the log position, version 3 the btrfs generation; a payload is
// written in the lowest version that holds it, which readers that know no
// later one still read.
const (
	unmountVersion1     = 1
	unmountVersion2     = 2
	unmountVersion3     = 3
	unmountPayloadSize1 = 56
	unmountPayloadSize2 = 64
	unmountPayloadSize3 = 72
	unmountFSTypeSize   = 16
)

func appendUnmountPayload(b []byte, u Unmount) []byte {
	v := byte(unmountVersion1)
	switch {
	case u.FSGeneration != 0:
		v = unmountVersion3
	case u.LogCycle != 0:
		v = unmountVersion2
	}
	b = append(b, v, 0)
	b = le.AppendUint16(b, u.MountCount)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint64(b, u.KBytesWritten)
	b = le.AppendUint32(b, u.WTime)
	b = le.AppendUint32(b, u.MTime)
	b = append(b, u.UUID[:]...)
	var t [unmountFSTypeSize]byte
	copy(t[:], u.FSType)
	b = append(b, t[:]...)
	if v >= unmountVersion2 {
		b = le.AppendUint32(b, u.LogCycle)
		b = le.AppendUint32(b, u.LogBlock)
	}
	if v == unmountVersion3 {
		b = le.AppendUint64(b, u.FSGeneration)
	}
	return b
}

// checkUnmount returns an error if u cannot be stored in an unmount frame.
func checkUnmount(u Unmount) error {
	if u.FSType == "" || len(u.FSType) > unmountFSTypeSize || bytes.IndexByte([]byte(u.FSType), 0) >= 0 {
		return fmt.Errorf("changelog: unmount: filesystem type %q is not 1 to %d bytes without NUL", u.FSType, unmountFSTypeSize)
	}
	return nil
}

func decodeUnmountPayload(p []byte) (Unmount, error) {
	var u Unmount
	size := 0
	switch {
	case len(p) > 0 && p[0] == unmountVersion1:
		size = unmountPayloadSize1
	case len(p) > 0 && p[0] == unmountVersion2:
		size = unmountPayloadSize2
	case len(p) > 0 && p[0] == unmountVersion3:
		size = unmountPayloadSize3
	default:
		return u, fmt.Errorf("unmount payload version unknown, this reader knows %d to %d", unmountVersion1, unmountVersion3)
	}
	if len(p) != size {
		return u, fmt.Errorf("unmount payload version %d is %d bytes, not %d", p[0], len(p), size)
	}
	if p[1] != 0 || le.Uint32(p[4:]) != 0 {
		return u, fmt.Errorf("unmount reserved field is not 0")
	}
	u.MountCount = le.Uint16(p[2:])
	u.KBytesWritten = le.Uint64(p[8:])
	u.WTime = le.Uint32(p[16:])
	u.MTime = le.Uint32(p[20:])
	copy(u.UUID[:], p[24:40])
	t := p[40:56]
	n := bytes.IndexByte(t, 0)
	if n < 0 {
		n = len(t)
	}
	if n == 0 || len(bytes.Trim(t[n:], "\x00")) != 0 {
		return u, fmt.Errorf("unmount filesystem type is empty or not NUL-padded")
	}
	u.FSType = string(t[:n])
	if size >= unmountPayloadSize2 {
		u.LogCycle = le.Uint32(p[56:])
		u.LogBlock = le.Uint32(p[60:])
		if size == unmountPayloadSize2 && u.LogCycle == 0 {
			return u, fmt.Errorf("unmount payload version 2 with a log cycle of 0")
		}
	}
	if size == unmountPayloadSize3 {
		u.FSGeneration = le.Uint64(p[64:])
		if u.FSGeneration == 0 {
			return u, fmt.Errorf("unmount payload version 3 with a generation of 0")
		}
	}
	return u, nil
}

// unmountRule returns why an unmount frame may not come where the log
// stands (last sealed epoch last if sealed, the greatest epoch of the
// records after it open, 0 if none; the generation in force gen if known),
// or "" if it may: every epoch the log holds is sealed, and so is one of
// the generation in force.
func unmountRule(last uint64, sealed bool, open uint64, gen Generation, hasGen bool) string {
	switch {
	case !sealed:
		return "an unmount frame in a log without a seal"
	case open > last:
		return fmt.Sprintf("an unmount frame with records of epoch %d after the last seal (of epoch %d)", open, last)
	case hasGen && last <= gen.Offset:
		return fmt.Sprintf("an unmount frame before any seal of the generation after epoch %d", gen.Offset)
	}
	return ""
}
