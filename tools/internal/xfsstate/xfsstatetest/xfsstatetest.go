// Package xfsstatetest makes what package xfsstate reads: the image of an
// xfs device, laid out by hand at the offsets of struct xfs_dsb and struct
// xlog_rec_header rather than through the code tested.
package xfsstatetest

import (
	"encoding/binary"
	"testing"

	"github.com/wbarrier/wbarrier/tools/internal/blockdev/blockdevtest"
)

// Device returns the image of a v5 xfs filesystem with uuid: 512-byte
// blocks, allocation groups of 16, and an 8-block log at block 17 that
// holds one record, at cycle:blk (blk at most 5), of a header and one data
// block: an unmount record if clean, else one of two operations. The
// superblock's last write points at it. After a clean one, the log's tail
// is at cycle:blk+2.
func Device(uuid [16]byte, cycle, blk uint32, clean bool) []byte {
	const logStart = 17 * 512
	be := binary.BigEndian
	b := make([]byte, logStart+8*512)
	be.PutUint32(b[0:], 0x58465342) // sb_magicnum
	be.PutUint32(b[4:], 512)        // sb_blocksize
	copy(b[32:48], uuid[:])         // sb_uuid
	be.PutUint64(b[48:], 1<<4|1)    // sb_logstart: group 1, block 1
	be.PutUint32(b[84:], 16)        // sb_agblocks
	be.PutUint32(b[96:], 8)         // sb_logblocks
	be.PutUint16(b[100:], 0xb4a5)   // sb_versionnum: v5
	b[120] = 9                      // sb_blocklog
	b[124] = 4                      // sb_agblklog
	lsn := uint64(cycle)<<32 | uint64(blk)
	be.PutUint64(b[240:], lsn) // sb_lsn
	h := b[logStart+int(blk)*512:]
	be.PutUint32(h[0:], 0xFEEDBABE) // h_magicno
	be.PutUint32(h[4:], cycle)      // h_cycle
	be.PutUint32(h[8:], 2)          // h_version
	be.PutUint32(h[12:], 512)       // h_len
	be.PutUint64(h[16:], lsn)       // h_lsn
	ops := uint32(2)
	if clean {
		ops = 1
		h[512+9] = 0x20 // the op header's oh_flags: XLOG_UNMOUNT_TRANS
	}
	be.PutUint32(h[40:], ops)      // h_num_logops
	be.PutUint32(h[320:], 32*1024) // h_size
	return b
}

// SetTail sets the xfs driver's log_tail_lsn of sda1 in the fake system s.
func SetTail(t testing.TB, s *blockdevtest.System, tail string) {
	s.SetFile(t, "sys/fs/xfs/sda1/log/log_tail_lsn", tail)
}
