// Package xfsstate reads the state of an xfs filesystem that tells whether
// it changed between two mounts: where its log ends after a clean unmount,
// read through the block device, and, while it is mounted, where xfs says
// the log's tail is.
//
// A clean unmount ends the log with an unmount record. When xfs next
// mounts the filesystem and finds that record last, it sets the log's tail
// to the block right after it (xlog_check_unmount_rec, fs/xfs/
// xfs_log_recover.c), and the tail stays there until the metadata logged
// after this mount has been written back. /sys/fs/xfs/DEV/log/log_tail_lsn
// shows it. Any read-write mount in between writes records and another
// unmount record further on: the tail then differs from what the first
// unmount left. Only v5 (crc) filesystems with an internal log are read.
package xfsstate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

var be = binary.BigEndian

// The superblock: at offset 0 of the device, big-endian. Offsets are those
// of struct xfs_dsb (fs/xfs/libxfs/xfs_format.h).
const (
	superblockSize = 512

	offMagic      = 0   // sb_magicnum, be32
	offBlockSize  = 4   // sb_blocksize, be32
	offUUID       = 32  // sb_uuid, 16 bytes
	offLogStart   = 48  // sb_logstart, be64: an fs block number
	offAGBlocks   = 84  // sb_agblocks, be32
	offLogBlocks  = 96  // sb_logblocks, be32: fs blocks
	offVersionNum = 100 // sb_versionnum, be16
	offBlockLog   = 120 // sb_blocklog
	offAGBlkLog   = 124 // sb_agblklog
	offLSN        = 240 // sb_lsn, be64: the log sequence of its last write (v5)

	// Magic is sb_magicnum: "XFSB".
	Magic = 0x58465342
	// version5 is the version in the low bits of sb_versionnum of a v5
	// (crc) filesystem.
	version5     = 5
	versionMask  = 0x000f
	basicBlock   = 512 // the log's unit (BBSIZE)
	basicBlockSh = 9
)

// The log: records of 512-byte basic blocks, each a header (struct
// xlog_rec_header, fs/xfs/libxfs/xfs_log_format.h) and its data.
const (
	recMagic     = 0xFEEDBABE // XLOG_HEADER_MAGIC_NUM
	recVersion2  = 2          // XLOG_VERSION_2
	recCycleSize = 32 * 1024  // XLOG_HEADER_CYCLE_SIZE: data one header block covers

	offRecMagic   = 0   // h_magicno, be32
	offRecCycle   = 4   // h_cycle, be32
	offRecVersion = 8   // h_version, be32
	offRecLen     = 12  // h_len, be32: data bytes
	offRecLSN     = 16  // h_lsn, be64
	offRecNumOps  = 40  // h_num_logops, be32
	offRecSize    = 320 // h_size, be32: the in-core log buffer's size (v2)

	offOpFlags   = 9    // oh_flags of the record's first struct xlog_op_header
	unmountTrans = 0x20 // XLOG_UNMOUNT_TRANS
)

// Superblock is what the package reads of an xfs superblock.
type Superblock struct {
	UUID       [16]byte
	VersionNum uint16
	BlockSize  uint32
	BlockLog   uint8
	AGBlocks   uint32
	AGBlkLog   uint8
	LogStart   uint64 // fs block number of the internal log, 0 if external
	LogBlocks  uint32 // fs blocks
	LSN        uint64 // of the superblock's last write
}

// ParseSuperblock decodes the xfs superblock b: the first 512 bytes of the
// device. It fails if b is short, the magic is not xfs's, the filesystem
// is not v5, or its log is external.
func ParseSuperblock(b []byte) (Superblock, error) {
	var s Superblock
	if len(b) < superblockSize {
		return s, fmt.Errorf("xfsstate: superblock is %d bytes, want %d", len(b), superblockSize)
	}
	if m := be.Uint32(b[offMagic:]); m != Magic {
		return s, fmt.Errorf("xfsstate: superblock magic %#08x, not xfs's %#08x", m, Magic)
	}
	copy(s.UUID[:], b[offUUID:offUUID+16])
	s.VersionNum = be.Uint16(b[offVersionNum:])
	s.BlockSize = be.Uint32(b[offBlockSize:])
	s.BlockLog = b[offBlockLog]
	s.AGBlocks = be.Uint32(b[offAGBlocks:])
	s.AGBlkLog = b[offAGBlkLog]
	s.LogStart = be.Uint64(b[offLogStart:])
	s.LogBlocks = be.Uint32(b[offLogBlocks:])
	s.LSN = be.Uint64(b[offLSN:])
	switch {
	case s.VersionNum&versionMask != version5:
		return s, fmt.Errorf("xfsstate: a v%d filesystem: only v5 (crc) filesystems are read", s.VersionNum&versionMask)
	case s.LogStart == 0:
		return s, errors.New("xfsstate: the log is external: only an internal log is read")
	case s.BlockLog < basicBlockSh || s.BlockLog > 16 || s.BlockSize != 1<<s.BlockLog:
		return s, fmt.Errorf("xfsstate: block size %d (log2 %d) is not a power of two from 512 to 64 KiB", s.BlockSize, s.BlockLog)
	case s.AGBlkLog > 31 || s.AGBlocks == 0 || s.AGBlocks > 1<<s.AGBlkLog:
		return s, fmt.Errorf("xfsstate: %d blocks per allocation group do not fit in %d bits", s.AGBlocks, s.AGBlkLog)
	case s.LogBlocks == 0:
		return s, errors.New("xfsstate: the log has no blocks")
	}
	return s, nil
}

// UUIDString returns the uuid as blkid(8) prints it.
func (s Superblock) UUIDString() string {
	u := s.UUID
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// logStart returns the log's first basic block on the device, and its
// length in basic blocks.
func (s Superblock) logStart() (start, length uint64) {
	ag := s.LogStart >> s.AGBlkLog
	agbno := s.LogStart & (1<<s.AGBlkLog - 1)
	sh := s.BlockLog - basicBlockSh
	return (ag*uint64(s.AGBlocks) + agbno) << sh, uint64(s.LogBlocks) << sh
}

// Position is a place in the log: its cycle and basic block, as xfs prints
// a log sequence number in sysfs.
type Position struct {
	Cycle, Block uint32
}

func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Cycle, p.Block) }

// ParsePosition parses "cycle:block", as /sys/fs/xfs/DEV/log/log_tail_lsn
// holds it.
func ParsePosition(s string) (Position, error) {
	c, b, ok := strings.Cut(strings.TrimSpace(s), ":")
	cycle, err1 := strconv.ParseUint(c, 10, 32)
	block, err2 := strconv.ParseUint(b, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return Position{}, fmt.Errorf("xfsstate: %q is not a log position (cycle:block)", s)
	}
	return Position{uint32(cycle), uint32(block)}, nil
}

// Unmounted is the state a clean unmount left.
type Unmounted struct {
	Superblock
	// After is the position right after the log's last record, its
	// unmount record: where xfs puts the log's tail when it mounts the
	// filesystem next.
	After Position
}

// ReadUnmounted reads the superblock of the xfs filesystem on device r and
// finds the log's last record: from the record the superblock's last
// write points to (the start of the log if none did: mkfs's log), it
// follows the records of the same cycle forward, wrapping at the end of
// the log into the next cycle. The last must be an unmount record, else
// the filesystem was not cleanly unmounted.
func ReadUnmounted(r io.ReaderAt) (Unmounted, error) {
	var u Unmounted
	b := make([]byte, superblockSize)
	if _, err := r.ReadAt(b, 0); err != nil {
		return u, fmt.Errorf("xfsstate: reading the superblock: %w", err)
	}
	sb, err := ParseSuperblock(b)
	if err != nil {
		return u, err
	}
	u.Superblock = sb
	l := &logReader{r: r, buf: make([]byte, basicBlock)}
	l.start, l.length = sb.logStart()
	if l.length > 1<<32 {
		return u, fmt.Errorf("xfsstate: the log's %d basic blocks do not fit its block numbers", l.length)
	}
	at := Position{Cycle: uint32(sb.LSN >> 32), Block: uint32(sb.LSN)}
	if sb.LSN == 0 {
		at = Position{Cycle: 1} // never written since mkfs
	}
	if uint64(at.Block) >= l.length {
		return u, fmt.Errorf("xfsstate: the superblock's log sequence %v is beyond the log's %d blocks", at, l.length)
	}
	last, ok, err := l.record(at)
	if err != nil {
		return u, err
	}
	if !ok {
		return u, fmt.Errorf("xfsstate: no log record at %v, where the superblock's last write points", at)
	}
	// The walk ends: a block holds one header, of one cycle, and each
	// step moves on by a block at least.
	lastAt := at
	for {
		next := l.advance(lastAt, last.blocks())
		h, ok, err := l.record(next)
		if err != nil {
			return u, err
		}
		if !ok {
			u.After = next
			break
		}
		last, lastAt = h, next
	}
	if last.numOps != 1 {
		return u, fmt.Errorf("xfsstate: the log's last record, at %v, has %d operations, not an unmount record's 1: the filesystem was not cleanly unmounted", lastAt, last.numOps)
	}
	data := l.advance(lastAt, last.hblocks)
	if err := l.read(data.Block); err != nil {
		return u, err
	}
	if f := l.buf[offOpFlags]; f&unmountTrans == 0 {
		return u, fmt.Errorf("xfsstate: the log's last record, at %v, is not an unmount record (operation flags %#02x): the filesystem was not cleanly unmounted", lastAt, f)
	}
	return u, nil
}

// logReader reads the basic blocks of an internal log.
type logReader struct {
	r             io.ReaderAt
	start, length uint64 // in basic blocks, on the device
	buf           []byte
}

func (l *logReader) read(block uint32) error {
	off := int64(l.start+uint64(block)) * basicBlock
	if _, err := l.r.ReadAt(l.buf, off); err != nil {
		return fmt.Errorf("xfsstate: reading log block %d: %w", block, err)
	}
	return nil
}

// advance returns the position n basic blocks after p: past the end of
// the log, in the next cycle, as xfs wraps (xlog_wrap_logbno).
func (l *logReader) advance(p Position, n uint64) Position {
	b := uint64(p.Block) + n
	for b >= l.length {
		b -= l.length
		p.Cycle++
	}
	p.Block = uint32(b)
	return p
}

// header is what the walk needs of a record header.
type header struct {
	hblocks uint64 // header blocks
	dblocks uint64 // data blocks
	numOps  uint32
}

func (h header) blocks() uint64 { return h.hblocks + h.dblocks }

// record reads the record header at p: ok if there is one written in p's
// cycle at p (its lsn says so), not one of an older cycle or none.
func (l *logReader) record(p Position) (header, bool, error) {
	var h header
	if err := l.read(p.Block); err != nil {
		return h, false, err
	}
	b := l.buf
	if be.Uint32(b[offRecMagic:]) != recMagic || be.Uint32(b[offRecCycle:]) != p.Cycle ||
		be.Uint64(b[offRecLSN:]) != uint64(p.Cycle)<<32|uint64(p.Block) {
		return h, false, nil
	}
	n := be.Uint32(b[offRecLen:])
	if n == 0 || uint64(n) >= l.length*basicBlock {
		return h, false, fmt.Errorf("xfsstate: the log record at %v has a length of %d bytes", p, n)
	}
	h.hblocks = 1
	if size := be.Uint32(b[offRecSize:]); be.Uint32(b[offRecVersion:])&recVersion2 != 0 && size > recCycleSize {
		h.hblocks = (uint64(size) + recCycleSize - 1) / recCycleSize
	}
	h.dblocks = (uint64(n) + basicBlock - 1) / basicBlock
	h.numOps = be.Uint32(b[offRecNumOps:])
	return h, true, nil
}
