package changelog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/wbarrier/wbarrier/record"
)

// FormatVersion is the header version of a log's first segment (FILE);
// SegmentVersion the header version of the later segments (FILE.NNNNNN),
// whose header has the segment fields. The frames are the same in both.
const (
	FormatVersion  = 1
	SegmentVersion = 2
)

// MaxPayload is the largest payload a frame may declare. A length field above
// it is treated as damage, never as a frame to read.
const MaxPayload = 1 << 20

// The fixed sizes of the format; doc.go describes every byte.
const (
	magic = "WBLOG\x00\x00\x01"

	headerFixed   = 44 // version 1 header bytes before the strings
	segmentFixed  = 84 // version 2: the segment fields come before the strings
	headerMinSize = 48 // a header with three empty strings: 44 + CRC, aligned

	frameHeaderSize = 12 // length, type, reserved, CRC
	frameRecord     = 1
	frameSeal       = 2
	frameGeneration = 3
	frameUnmount    = 4

	payloadVersion    = 1  // of record payloads
	recordFixed       = 56 // record payload bytes before handle, parent and name
	sealVersion1      = 1  // a seal payload without its marker's seq
	sealVersion2      = 2  // with the marker's seq
	sealVersion       = 3  // the seal payload the writer writes
	sealPayloadSizeV1 = 24
	sealPayloadSizeV2 = 32 // version 2: the marker's seq at offset 24
	sealPayloadSize   = 44 // version 3: where the epochs after it start, at offset 32
	recordFlagHandle  = 1 << 0
	recordFlagParent  = 1 << 1
	recordFlagRange   = 1 << 2
	recordFlagsKnown  = recordFlagHandle | recordFlagParent | recordFlagRange
	sealFlagLossy     = 1 << 0
	sealFlagsKnown    = sealFlagLossy
	maxVariableLength = math.MaxUint16 // each of handle, parent, name; each header string
)

var (
	le         = binary.LittleEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// align8 rounds n up to a multiple of 8.
func align8(n int) int { return (n + 7) &^ 7 }

// frameSize is the size on disk of a frame whose payload is n bytes.
func frameSize(n int) int { return align8(frameHeaderSize + n) }

// frameCRC is the chained CRC32C of one whole frame (header, payload and
// padding; the CRC field itself is skipped): CRC32C(salt || prev || frame[0:8]
// || frame[12:]).
func frameCRC(salt uint64, prev uint32, frame []byte) uint32 {
	c := crcUint(0, salt, 8)
	c = crcUint(c, uint64(prev), 4)
	c = crc32.Update(c, castagnoli, frame[0:8])
	return crc32.Update(c, castagnoli, frame[frameHeaderSize:])
}

// crcUint is crc32.Update(c, castagnoli, the n low bytes of v, little
// endian), a byte at a time from the table: a slice of v's bytes would
// escape through crc32.Update, an allocation per frame.
func crcUint(c uint32, v uint64, n int) uint32 {
	c = ^c
	for range n {
		c = castagnoli[byte(c)^byte(v)] ^ c>>8
		v >>= 8
	}
	return ^c
}

// appendFrame appends a frame of type typ to dst, its payload written by
// payload, and returns the extended slice and the frame's CRC.
func appendFrame(dst []byte, typ uint16, salt uint64, prev uint32, payload func([]byte) []byte) ([]byte, uint32) {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderSize)...)
	dst = payload(dst)
	n := len(dst) - start - frameHeaderSize
	dst = append(dst, make([]byte, frameSize(n)-frameHeaderSize-n)...)
	f := dst[start:]
	le.PutUint32(f[0:], uint32(n))
	le.PutUint16(f[4:], typ)
	le.PutUint16(f[6:], 0)
	crc := frameCRC(salt, prev, f)
	le.PutUint32(f[8:], crc)
	return dst, crc
}

// Header is the identity of a log file: which watch it records.
type Header struct {
	// Version is the format version (FormatVersion); Create sets it.
	Version uint16
	// Salt is random per file and seeds the CRC chain, so that frames of
	// another file (or an older generation of this one) never validate.
	// Create draws it from crypto/rand and ignores the value passed in.
	Salt uint64
	// Created is when the file was created, stored with nanosecond
	// precision and read back in UTC. Create uses the current time if zero.
	Created time.Time

	FSType string // filesystem type, e.g. "ext4"
	Dev    uint32 // device number of the watched superblock
	Mount  string // mount path of the watched filesystem
	UUID   string // filesystem UUID; may be empty

	// The segment fields, zero in a log's first segment (version 1); the
	// Writer sets them when it starts a segment.

	// Segment is the segment's number: 0 for FILE, N for FILE.N.
	Segment uint64
	// Base: every record and seal of an epoch after Base is in this
	// segment or a later one. Once the earlier segments are removed, the
	// epochs up to Base can no longer be answered.
	Base uint64
	// Sealed is the last epoch sealed in the earlier segments (0: none).
	Sealed uint64
	// NextSeq is one past the greatest seq of the records and of the
	// sealed epoch-closed markers of the earlier segments (0: none).
	NextSeq uint64
	// PrevCRC is the crc of the last frame of the previous segment (its
	// header_crc if it has no frame): the chain goes on across segments.
	PrevCRC uint32
}

// encodeHeader returns the header's bytes and its CRC.
func encodeHeader(h *Header) ([]byte, uint32, error) {
	for _, s := range []struct{ name, v string }{{"fs type", h.FSType}, {"mount path", h.Mount}, {"UUID", h.UUID}} {
		if len(s.v) > maxVariableLength {
			return nil, 0, fmt.Errorf("changelog: header %s is %d bytes, the limit is %d", s.name, len(s.v), maxVariableLength)
		}
	}
	fixed := headerFixed
	if h.Version == SegmentVersion {
		fixed = segmentFixed
	}
	vlen := len(h.FSType) + len(h.Mount) + len(h.UUID)
	size := align8(fixed + vlen + 4)
	b := make([]byte, size)
	copy(b[0:8], magic)
	le.PutUint16(b[8:], h.Version)
	le.PutUint16(b[10:], 0)
	le.PutUint32(b[12:], uint32(size))
	le.PutUint64(b[16:], h.Salt)
	le.PutUint64(b[24:], uint64(h.Created.UnixNano()))
	le.PutUint32(b[32:], h.Dev)
	le.PutUint16(b[36:], uint16(len(h.FSType)))
	le.PutUint16(b[38:], uint16(len(h.Mount)))
	le.PutUint16(b[40:], uint16(len(h.UUID)))
	le.PutUint16(b[42:], 0)
	if h.Version == SegmentVersion {
		le.PutUint64(b[44:], h.Segment)
		le.PutUint64(b[52:], h.Base)
		le.PutUint64(b[60:], h.Sealed)
		le.PutUint64(b[68:], h.NextSeq)
		le.PutUint32(b[76:], h.PrevCRC)
		le.PutUint32(b[80:], 0)
	}
	p := fixed
	p += copy(b[p:], h.FSType)
	p += copy(b[p:], h.Mount)
	copy(b[p:], h.UUID)
	crc := crc32.Checksum(b[:size-4], castagnoli)
	le.PutUint32(b[size-4:], crc)
	return b, crc, nil
}

// decodeHeader parses the header at the start of data. It returns the
// header, its size and its CRC (the start of the frame chain).
func decodeHeader(data []byte, path string) (Header, int, uint32, error) {
	var h Header
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		why := "bad magic"
		if len(data) == 0 {
			why = "empty file"
		} else if len(data) < len(magic) {
			why = fmt.Sprintf("%d bytes, shorter than the magic", len(data))
		}
		return h, 0, 0, fmt.Errorf("%w: %s: %s", ErrNotLog, path, why)
	}
	corrupt := func(off int, format string, args ...any) error {
		return &CorruptError{Path: path, Offset: int64(off), Reason: "header: " + fmt.Sprintf(format, args...)}
	}
	if len(data) < 10 {
		return h, 0, 0, corrupt(len(data), "file ends inside the header (%d bytes)", len(data))
	}
	h.Version = le.Uint16(data[8:])
	fixed := headerFixed
	switch h.Version {
	case FormatVersion:
	case SegmentVersion:
		fixed = segmentFixed
	default:
		return h, 0, 0, fmt.Errorf("%w: %s: format version %d, this reader knows %d and %d", ErrVersion, path, h.Version, FormatVersion, SegmentVersion)
	}
	if len(data) < headerMinSize {
		return h, 0, 0, corrupt(len(data), "file ends inside the header (%d bytes)", len(data))
	}
	size := int(le.Uint32(data[12:]))
	if size < headerMinSize || size%8 != 0 {
		return h, 0, 0, corrupt(12, "implausible header length %d", size)
	}
	if size > len(data) {
		return h, 0, 0, corrupt(len(data), "file ends inside the header (%d of %d bytes)", len(data), size)
	}
	crc := le.Uint32(data[size-4:])
	if got := crc32.Checksum(data[:size-4], castagnoli); got != crc {
		return h, 0, 0, corrupt(size-4, "CRC mismatch (stored %#08x, computed %#08x)", crc, got)
	}
	if f := le.Uint16(data[10:]); f != 0 {
		return h, 0, 0, corrupt(10, "unknown flags %#x", f)
	}
	if r := le.Uint16(data[42:]); r != 0 {
		return h, 0, 0, corrupt(42, "reserved field is %#x, not 0", r)
	}
	fl, ml, ul := int(le.Uint16(data[36:])), int(le.Uint16(data[38:])), int(le.Uint16(data[40:]))
	if want := align8(fixed + fl + ml + ul + 4); want != size {
		return h, 0, 0, corrupt(12, "header length %d, but the strings need %d", size, want)
	}
	h.Salt = le.Uint64(data[16:])
	h.Created = time.Unix(0, int64(le.Uint64(data[24:]))).UTC()
	h.Dev = le.Uint32(data[32:])
	if h.Version == SegmentVersion {
		h.Segment, h.Base, h.Sealed, h.NextSeq = le.Uint64(data[44:]), le.Uint64(data[52:]), le.Uint64(data[60:]), le.Uint64(data[68:])
		h.PrevCRC = le.Uint32(data[76:])
		if r := le.Uint32(data[80:]); r != 0 {
			return h, 0, 0, corrupt(80, "segment reserved field is %#x, not 0", r)
		}
		if h.Segment == 0 {
			return h, 0, 0, corrupt(44, "a version 2 header for segment 0")
		}
	}
	p := fixed
	h.FSType = string(data[p : p+fl])
	p += fl
	h.Mount = string(data[p : p+ml])
	p += ml
	h.UUID = string(data[p : p+ul])
	p += ul
	for i := p; i < size-4; i++ {
		if data[i] != 0 {
			return h, 0, 0, corrupt(i, "padding byte is %#x, not 0", data[i])
		}
	}
	return h, size, crc, nil
}

// checkRecord returns an error if r cannot be stored as a record frame.
func checkRecord(r *record.Record) error {
	if r.Type != record.TypeChange {
		return fmt.Errorf("changelog: cannot store a record of type %v as a change", r.Type)
	}
	if r.Lossy {
		return fmt.Errorf("changelog: change record (seq %d) has the lossy flag, which only epoch-closed markers carry", r.Seq)
	}
	if r.Handle != nil && len(r.Handle.Bytes) > maxVariableLength {
		return fmt.Errorf("changelog: record (seq %d): handle is %d bytes, the limit is %d", r.Seq, len(r.Handle.Bytes), maxVariableLength)
	}
	if r.Parent != nil && len(r.Parent.Bytes) > maxVariableLength {
		return fmt.Errorf("changelog: record (seq %d): parent handle is %d bytes, the limit is %d", r.Seq, len(r.Parent.Bytes), maxVariableLength)
	}
	if len(r.Name) > maxVariableLength {
		return fmt.Errorf("changelog: record (seq %d): name is %d bytes, the limit is %d", r.Seq, len(r.Name), maxVariableLength)
	}
	return nil
}

// appendRecordPayload appends the payload of a record frame; r has passed
// checkRecord.
func appendRecordPayload(b []byte, r *record.Record) []byte {
	var flags uint8
	var ht, pt uint32
	var hb, pb []byte
	if r.Handle != nil {
		flags |= recordFlagHandle
		ht, hb = r.Handle.Type, r.Handle.Bytes
	}
	if r.Parent != nil {
		flags |= recordFlagParent
		pt, pb = r.Parent.Type, r.Parent.Bytes
	}
	if r.HasRange {
		flags |= recordFlagRange
	}
	b = append(b, payloadVersion, flags, 0, 0)
	b = le.AppendUint32(b, uint32(r.Ops))
	b = le.AppendUint64(b, r.Seq)
	b = le.AppendUint64(b, r.Epoch)
	b = le.AppendUint64(b, r.Offset)
	b = le.AppendUint64(b, r.Length)
	b = le.AppendUint32(b, ht)
	b = le.AppendUint32(b, pt)
	b = le.AppendUint16(b, uint16(len(hb)))
	b = le.AppendUint16(b, uint16(len(pb)))
	b = le.AppendUint16(b, uint16(len(r.Name)))
	b = le.AppendUint16(b, 0)
	b = append(b, hb...)
	b = append(b, pb...)
	return append(b, r.Name...)
}

// decodeRecordPayload parses a record frame's payload. The error says what is
// wrong, without an offset.
func decodeRecordPayload(p []byte) (record.Record, error) {
	var r record.Record
	if len(p) < recordFixed {
		return r, fmt.Errorf("record payload is %d bytes, shorter than %d", len(p), recordFixed)
	}
	if p[0] != payloadVersion {
		return r, fmt.Errorf("record payload version %d, this reader knows %d", p[0], payloadVersion)
	}
	flags := p[1]
	if flags&^recordFlagsKnown != 0 {
		return r, fmt.Errorf("record has unknown flags %#x", flags)
	}
	if le.Uint16(p[2:]) != 0 || le.Uint16(p[54:]) != 0 {
		return r, fmt.Errorf("record reserved field is not 0")
	}
	ht, pt := le.Uint32(p[40:]), le.Uint32(p[44:])
	hl, pl, nl := int(le.Uint16(p[48:])), int(le.Uint16(p[50:])), int(le.Uint16(p[52:]))
	if want := recordFixed + hl + pl + nl; len(p) != want {
		return r, fmt.Errorf("record payload is %d bytes, its lengths say %d", len(p), want)
	}
	if flags&recordFlagHandle == 0 && (ht != 0 || hl != 0) {
		return r, fmt.Errorf("record without a handle has handle type %d, length %d", ht, hl)
	}
	if flags&recordFlagParent == 0 && (pt != 0 || pl != 0) {
		return r, fmt.Errorf("record without a parent has parent type %d, length %d", pt, pl)
	}
	r.Type = record.TypeChange
	r.Ops = record.Op(le.Uint32(p[4:]))
	r.Seq = le.Uint64(p[8:])
	r.Epoch = le.Uint64(p[16:])
	r.HasRange = flags&recordFlagRange != 0
	r.Offset = le.Uint64(p[24:])
	r.Length = le.Uint64(p[32:])
	v := p[recordFixed:]
	if flags&recordFlagHandle != 0 {
		r.Handle = &record.FileHandle{Type: ht, Bytes: bytes.Clone(v[:hl])}
	}
	v = v[hl:]
	if flags&recordFlagParent != 0 {
		r.Parent = &record.FileHandle{Type: pt, Bytes: bytes.Clone(v[:pl])}
	}
	r.Name = string(v[pl:])
	return r, nil
}

// Seal says that an epoch is complete in the log: every record of it that
// the log will ever hold comes before the seal.
type Seal struct {
	Epoch   uint64
	Lossy   bool   // records of the epoch were lost: consumers must rescan
	Records uint64 // how many records of the epoch the log holds
	// Seq is the seq of the kernel's epoch-closed marker the seal was
	// made of; 0 if unknown (a version 1 seal; the kernel numbers records
	// from 1).
	Seq uint64
}

func (s Seal) String() string {
	l := ""
	if s.Lossy {
		l = ", lossy"
	}
	if s.Seq != 0 {
		l += fmt.Sprintf(", marker seq %d", s.Seq)
	}
	return fmt.Sprintf("epoch %d sealed (%d records%s)", s.Epoch, s.Records, l)
}

// frameRef is where a frame starts in its segment file, and the crc of the
// frame before it (or the header's): what reading from there needs.
type frameRef struct {
	off  int64
	prev uint32
}

// appendSealPayload appends a version 3 seal payload; start is where the
// records of the epochs after s.Epoch that come before the seal start.
func appendSealPayload(b []byte, s Seal, start frameRef) []byte {
	var flags uint8
	if s.Lossy {
		flags |= sealFlagLossy
	}
	b = append(b, sealVersion, flags, 0, 0, 0, 0, 0, 0)
	b = le.AppendUint64(b, s.Epoch)
	b = le.AppendUint64(b, s.Records)
	b = le.AppendUint64(b, s.Seq)
	b = le.AppendUint64(b, uint64(start.off))
	return le.AppendUint32(b, start.prev)
}

// decodeSealPayload parses a seal payload of version 1 (its Seq is 0), 2
// or 3. The start of the epochs after it is known in version 3 only (ok).
func decodeSealPayload(p []byte) (s Seal, start frameRef, ok bool, err error) {
	if len(p) == 0 {
		return s, start, false, fmt.Errorf("seal payload is empty")
	}
	var size int
	switch p[0] {
	case sealVersion1:
		size = sealPayloadSizeV1
	case sealVersion2:
		size = sealPayloadSizeV2
	case sealVersion:
		size = sealPayloadSize
	default:
		return s, start, false, fmt.Errorf("seal payload version %d, this reader knows %d to %d", p[0], sealVersion1, sealVersion)
	}
	if len(p) != size {
		return s, start, false, fmt.Errorf("version %d seal payload is %d bytes, not %d", p[0], len(p), size)
	}
	if p[1]&^sealFlagsKnown != 0 {
		return s, start, false, fmt.Errorf("seal has unknown flags %#x", p[1])
	}
	for _, c := range p[2:8] {
		if c != 0 {
			return s, start, false, fmt.Errorf("seal reserved field is not 0")
		}
	}
	s.Lossy = p[1]&sealFlagLossy != 0
	s.Epoch = le.Uint64(p[8:])
	s.Records = le.Uint64(p[16:])
	if p[0] >= sealVersion2 {
		s.Seq = le.Uint64(p[24:])
	}
	if p[0] == sealVersion {
		start = frameRef{int64(le.Uint64(p[32:])), le.Uint32(p[40:])}
		if start.off > math.MaxInt64/2 || start.off%8 != 0 {
			return s, start, false, fmt.Errorf("seal says the epochs after it start at offset %d", start.off)
		}
		ok = true
	}
	return s, start, ok, nil
}
