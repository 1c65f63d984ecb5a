package changelog

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/record"
)

// The CRC is CRC32C (Castagnoli) as in iSCSI and ext4: the check value of
// "123456789" is 0xe3069283.
func TestCRC32C(t *testing.T) {
	if got := crc32.Checksum([]byte("123456789"), castagnoli); got != 0xe3069283 {
		t.Fatalf("CRC32C(123456789) = %#x", got)
	}
	// Chaining Update equals one checksum of the concatenation, which is
	// how doc.go describes the frame CRC.
	frame := []byte("llllttrrCCCCpayload!")
	var seed [12]byte
	le.PutUint64(seed[:], 42)
	le.PutUint32(seed[8:], 7)
	whole := crc32.Checksum(append(append(seed[:], frame[:8]...), frame[12:]...), castagnoli)
	if got := frameCRC(42, 7, frame); got != whole {
		t.Fatalf("frameCRC = %#x, checksum of the concatenation = %#x", got, whole)
	}
}

// TestFormatByHand builds a log byte by byte from the description in
// doc.go, without the package's encoders, and checks that the package
// reads it and writes the same bytes.
func TestFormatByHand(t *testing.T) {
	const salt = 0x0123456789abcdef
	created := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	u16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	crc := func(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

	// Header: fs type "xfs" (3), mount "/m" (2), UUID "" (0):
	// 44 + 5 = 49 bytes of fields, + 4 CRC = 53, aligned to 56.
	hdr := cat(
		[]byte("WBLOG\x00\x00\x01"), // 0: magic
		u16(1), u16(0), u32(56),     // 8: version, flags, header length
		u64(salt),                       // 16: salt
		u64(uint64(created.UnixNano())), // 24: created
		u32(0x00fd0002),                 // 32: dev
		u16(3), u16(2), u16(0), u16(0),  // 36: lengths, reserved
		[]byte("xfs/m"), // 44: strings
		[]byte{0, 0, 0}, // 49: padding to 52
	)
	hcrc := crc(hdr)
	hdr = append(hdr, u32(hcrc)...) // 52: header CRC
	if len(hdr) != 56 {
		t.Fatalf("header is %d bytes", len(hdr))
	}

	frame := func(prev uint32, typ uint16, payload []byte) ([]byte, uint32) {
		pad := make([]byte, (8-(12+len(payload))%8)%8)
		head := cat(u32(uint32(len(payload))), u16(typ), u16(0))
		c := crc(cat(u64(salt), u32(prev), head, payload, pad))
		return cat(head, u32(c), payload, pad), c
	}
	// A write to handle (type 0x81, bytes "\x01\x02") with a range,
	// parent (type 1, bytes "P") and name "f": 56 + 2 + 1 + 1 = 60 bytes.
	recPayload := cat(
		[]byte{1, 0b111, 0, 0},     // 0: version, flags (handle, parent, range), reserved
		u32(uint32(record.OpData)), // 4: ops
		u64(77), u64(9),            // 8: seq, 16: epoch
		u64(4096), u64(512), // 24: offset, 32: length
		u32(0x81), u32(1), // 40: handle type, parent type
		u16(2), u16(1), u16(1), u16(0), // 48: lengths, reserved
		[]byte("\x01\x02Pf"),
	)
	f1, c1 := frame(hcrc, 1, recPayload) // 12 + 60 = 72 bytes, no padding
	// A create: no handle, no range: 56 + 1 + 3 = 60 bytes.
	createPayload := cat(
		[]byte{1, 0b010, 0, 0}, u32(uint32(record.OpCreate)), u64(78), u64(9), u64(0), u64(0),
		u32(0), u32(1), u16(0), u16(1), u16(3), u16(0), []byte("Pnew"),
	)
	f2, c2 := frame(c1, 1, createPayload)
	// The seal of epoch 9, lossy, 2 records, its marker seq 79, no record
	// of a later epoch before it, so those start at the seal itself, at
	// 56 + 72 + 72 = 200, after the frame whose crc is c2 (version 3): 12 +
	// 44 = 56, no padding.
	sealPayload := cat([]byte{3, 1, 0, 0, 0, 0, 0, 0}, u64(9), u64(2), u64(79), u64(200), u32(c2))
	f3, _ := frame(c2, 2, sealPayload)
	if len(f1) != 72 || len(f3) != 56 {
		t.Fatalf("frames of %d and %d bytes", len(f1), len(f3))
	}
	file := cat(hdr, f1, f2, f3)

	l, err := openBytes(t, file)
	if err != nil {
		t.Fatal(err)
	}
	wantHdr := Header{Version: 1, Salt: salt, Created: created, FSType: "xfs", Dev: 0x00fd0002, Mount: "/m"}
	if diff := cmp.Diff(wantHdr, l.Header()); diff != "" {
		t.Errorf("Header() mismatch (-want +got):\n%s", diff)
	}
	recs := []record.Record{
		{Type: record.TypeChange, Seq: 77, Epoch: 9, Ops: record.OpData, Handle: fh(0x81, "\x01\x02"), Parent: fh(1, "P"), Name: "f", HasRange: true, Offset: 4096, Length: 512},
		{Type: record.TypeChange, Seq: 78, Epoch: 9, Ops: record.OpCreate, Parent: fh(1, "P"), Name: "new"},
		{Type: record.TypeEpochClosed, Seq: 79, Epoch: 9, Lossy: true},
	}
	checkContents(t, l, recs)
	if got := l.NextSeq(); got != 80 {
		t.Errorf("NextSeq() = %d, want 80 (after the marker)", got)
	}

	// The package's encoders give the same bytes.
	b, prev, err := encodeHeader(&wantHdr)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[:2] {
		b, prev = appendFrame(b, frameRecord, salt, prev, func(dst []byte) []byte { return appendRecordPayload(dst, &r) })
	}
	b, _ = appendFrame(b, frameSeal, salt, prev, func(dst []byte) []byte {
		return appendSealPayload(dst, Seal{Epoch: 9, Lossy: true, Records: 2, Seq: 79}, frameRef{200, prev})
	})
	if !bytes.Equal(b, file) {
		t.Errorf("encoders differ from the hand-built file:\n got %x\nwant %x", b, file)
	}
}
