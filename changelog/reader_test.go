package changelog

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/record"
)

// sampleRecs is a log whose last frame is a record.
var sampleRecs = []record.Record{
	write(1, 1, "a", 0, 4096), create(2, 1, "dir", "new"), closed(1, false),
	change(3, 2, record.OpAttr, "b"), closed(2, false),
	write(4, 3, "c", 100, 200), write(5, 3, "averyveryverylonghandle", 0, 1),
}

// sampleSealed is a log whose last frame is a seal.
var sampleSealed = append(sampleRecs[:len(sampleRecs):len(sampleRecs)], closed(3, false))

// openBytes parses a log image as Open does.
func openBytes(t *testing.T, data []byte) (*Log, error) {
	t.Helper()
	return Open(writeFile(t, data))
}

// expectTorn checks that data reads as recs followed by a torn tail at off.
func expectTorn(t *testing.T, data []byte, off int, recs []record.Record) {
	t.Helper()
	l, err := openBytes(t, data)
	if err != nil {
		t.Fatalf("Open: %v, want a torn tail at %d", err, off)
	}
	r := l.Recovery()
	if off == len(data) {
		if r != nil {
			t.Fatalf("Recovery() = %v, want nil", r)
		}
	} else if r == nil || r.Offset != int64(off) || r.Bytes != int64(len(data)-off) {
		t.Fatalf("Recovery() = %v, want offset %d, %d bytes", r, off, len(data)-off)
	}
	checkContents(t, l, recs)
}

// expectCorrupt checks that data fails to read with a CorruptError at off.
func expectCorrupt(t *testing.T, data []byte, off int) {
	t.Helper()
	l, err := openBytes(t, data)
	if err == nil {
		t.Fatalf("Open succeeded (recovery %v), want corruption at offset %d", l.Recovery(), off)
	}
	var ce *CorruptError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
		t.Fatalf("Open: %v, want a *CorruptError", err)
	}
	if ce.Offset != int64(off) {
		t.Fatalf("Open: %v, want offset %d", err, off)
	}
}

// Cutting the file anywhere inside its last frame is a torn tail.
func TestTornEveryCut(t *testing.T) {
	for _, tt := range []struct {
		name string
		recs []record.Record
	}{{"record last", sampleRecs}, {"seal last", sampleSealed}} {
		t.Run(tt.name, func(t *testing.T) {
			data := logBytes(t, tt.recs...)
			offs := frameOffsets(t, data)
			last := offs[len(offs)-1]
			for cut := last; cut <= len(data); cut++ {
				want, off := tt.recs[:len(tt.recs)-1], last
				if cut == len(data) {
					want, off = tt.recs, cut
				}
				expectTorn(t, data[:cut], off, want)
			}
		})
	}
}

// Each frame's own region damaged while nothing durable follows it: torn.
func TestTornDamagedTail(t *testing.T) {
	data := logBytes(t, sampleRecs...)
	offs := frameOffsets(t, data)
	n := len(offs)
	sealed := sampleRecs[:5] // up to the seal of epoch 2
	tests := []struct {
		name    string
		corrupt func(b []byte) []byte
		off     int
		recs    []record.Record
	}{
		{"bit flip in the last payload", func(b []byte) []byte { b[offs[n-1]+30] ^= 0x10; return b }, offs[n-1], sampleRecs[:6]},
		{"bit flip in the last CRC", func(b []byte) []byte { b[offs[n-1]+8] ^= 1; return b }, offs[n-1], sampleRecs[:6]},
		{"bit flip in the last length", func(b []byte) []byte { b[offs[n-1]] ^= 8; return b }, offs[n-1], sampleRecs[:6]},
		{"last two frames damaged", func(b []byte) []byte { b[offs[n-2]+40] ^= 1; b[offs[n-1]+40] ^= 1; return b }, offs[n-2], sealed},
		{"second-last frame damaged, no seal after", func(b []byte) []byte { b[offs[n-2]+40] ^= 1; return b }, offs[n-2], sealed},
		{"last frame zeroed", func(b []byte) []byte { clear(b[offs[n-1]:]); return b }, offs[n-1], sampleRecs[:6]},
		{"last two frames zeroed", func(b []byte) []byte { clear(b[offs[n-2]:]); return b }, offs[n-2], sealed},
		{"end of the last frame zeroed", func(b []byte) []byte { clear(b[offs[n-1]+20:]); return b }, offs[n-1], sampleRecs[:6]},
		{"unwritten page in the middle of the unsealed tail", func(b []byte) []byte { clear(b[offs[n-2] : offs[n-2]+16]); return b }, offs[n-2], sealed},
		{"one zero byte appended", func(b []byte) []byte { return append(b, 0) }, len(data), sampleRecs},
		{"seven zero bytes appended", func(b []byte) []byte { return append(b, make([]byte, 7)...) }, len(data), sampleRecs},
		{"a zeroed frame header appended", func(b []byte) []byte { return append(b, make([]byte, 12)...) }, len(data), sampleRecs},
		{"a zeroed sector appended", func(b []byte) []byte { return append(b, make([]byte, 512)...) }, len(data), sampleRecs},
		{"a zeroed page appended", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }, len(data), sampleRecs},
		{"a frame header with a huge length", func(b []byte) []byte {
			return append(b, 0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4)
		}, len(data), sampleRecs},
		{"a copy of the last frame appended", func(b []byte) []byte { return append(b, b[offs[n-1]:]...) }, len(data), sampleRecs},
		{"a copy of the whole log appended", func(b []byte) []byte { return append(b, b...) }, len(data), sampleRecs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectTorn(t, tt.corrupt(bytes.Clone(data)), tt.off, tt.recs)
		})
	}
}

// Random garbage after the last frame is a torn tail, whatever it holds.
func TestTornGarbage(t *testing.T) {
	data := logBytes(t, sampleSealed...)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 3, 8, 11, 12, 13, 40, 100, 512, 4096, 65536} {
		for range 5 {
			garbage := make([]byte, n)
			for i := range garbage {
				garbage[i] = byte(rng.Uint32())
			}
			if n >= 12 && rng.IntN(2) == 0 {
				// A plausible frame header: small length, known type.
				le.PutUint32(garbage, uint32(rng.IntN(n)))
				le.PutUint32(garbage[4:], uint32(1+rng.IntN(2)))
			}
			expectTorn(t, append(bytes.Clone(data), garbage...), len(data), sampleSealed)
		}
	}
}

// Damage to a frame that a valid seal follows is corruption, at the offset
// of the damaged frame.
func TestCorruptBeforeTail(t *testing.T) {
	data := logBytes(t, sampleSealed...)
	offs := frameOffsets(t, data)
	// Frames: 0 write, 1 create, 2 seal 1, 3 change, 4 seal 2, 5 write, 6 write, 7 seal 3.
	tests := []struct {
		name    string
		corrupt func(b []byte)
		off     int
	}{
		{"first frame payload", func(b []byte) { b[offs[0]+33] ^= 0x80 }, offs[0]},
		{"first frame CRC", func(b []byte) { b[offs[0]+9] ^= 1 }, offs[0]},
		{"first frame length", func(b []byte) { b[offs[0]] ^= 0x40 }, offs[0]},
		{"first frame type", func(b []byte) { b[offs[0]+4] = 2 }, offs[0]},
		{"first frame padding", func(b []byte) { b[offs[1]-1] = 1 }, offs[0]},
		{"first seal lossy flag", func(b []byte) { b[offs[2]+13] = 1 }, offs[2]},
		{"first seal zeroed", func(b []byte) { clear(b[offs[2]:offs[3]]) }, offs[2]},
		{"a record in the middle", func(b []byte) { b[offs[3]+70] ^= 4 }, offs[3]},
		{"a record in the middle zeroed", func(b []byte) { clear(b[offs[3]:offs[4]]) }, offs[3]},
		{"a sector in the middle zeroed", func(b []byte) { clear(b[offs[1]:offs[4]]) }, offs[1]},
		{"the last record before the last seal", func(b []byte) { b[offs[6]+60] ^= 1 }, offs[6]},
		{"the last two records before the last seal", func(b []byte) { b[offs[5]+60] ^= 1; b[offs[6]+60] ^= 1 }, offs[5]},
		{"two damaged frames: the first is reported", func(b []byte) { b[offs[1]+60] ^= 1; b[offs[5]+60] ^= 1 }, offs[1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(data)
			tt.corrupt(b)
			expectCorrupt(t, b, tt.off)
		})
	}
}

// A version 1 seal (written by an older writer) is evidence too.
func TestCorruptBeforeV1Seal(t *testing.T) {
	r := write(1, 5, "a", 0, 1)
	data := craft(t, recFrame(r), recFrame(r), sealV1(Seal{Epoch: 5, Records: 2}))
	offs := frameOffsets(t, data)
	data[offs[0]+40] ^= 1
	expectCorrupt(t, data, offs[0])
}

// The documented limit of the rule: if the CRC field (or length) of the
// frame just before the last seal is damaged, the seal cannot be verified,
// so the damage reads as a torn tail and the seal is dropped: epoch 3
// becomes unsealed, which consumers answer with a rescan.
func TestDamagedPredecessorOfLastSeal(t *testing.T) {
	data := logBytes(t, sampleSealed...)
	offs := frameOffsets(t, data)
	data[offs[6]+8] ^= 1
	expectTorn(t, data, offs[6], sampleSealed[:6])
}

// Frames of another file never validate in this one, even with the same
// content at the same offsets.
func TestStaleFrames(t *testing.T) {
	a := logBytes(t, sampleSealed...)
	b := logBytes(t, sampleSealed...)
	hdr := int(le.Uint32(a[12:]))
	if !bytes.Equal(a[hdr+12:hdr+40], b[hdr+12:hdr+40]) {
		t.Fatal("the two logs differ in their first payload")
	}
	offs := frameOffsets(t, a)
	tests := []struct {
		name string
		data []byte
		off  int
		recs []record.Record
	}{
		{"header of b, frames of a", append(bytes.Clone(b[:hdr]), a[hdr:]...), hdr, nil},
		{"b, then a's frames", append(bytes.Clone(b), a[hdr:]...), len(b), sampleSealed},
		{"first frames of b, rest of a", append(bytes.Clone(b[:offs[3]]), a[offs[3]:]...), offs[3], sampleSealed[:3]},
		{"a, its last frame from b", append(bytes.Clone(a[:offs[7]]), b[offs[7]:]...), offs[7], sampleSealed[:7]},
		// The same file: a frame replayed at another position breaks the chain.
		{"a, its first seal repeated at the end", append(bytes.Clone(a), a[offs[2]:offs[3]]...), len(a), sampleSealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectTorn(t, tt.data, tt.off, tt.recs)
		})
	}
}

func TestNotLog(t *testing.T) {
	good := logBytes(t, sampleSealed...)
	hdr := int(le.Uint32(good[12:]))
	with := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name    string
		data    []byte
		want    error
		wantOff int64 // for ErrCorrupt
	}{
		{"empty", nil, ErrNotLog, 0},
		{"short", []byte("WBLO"), ErrNotLog, 0},
		{"text", []byte("hello, world\nthis is not a log\n"), ErrNotLog, 0},
		{"magic of another version", with(func(b []byte) []byte { b[7] = 2; return b }), ErrNotLog, 0},
		{"zeros", make([]byte, 4096), ErrNotLog, 0},
		{"magic only", []byte(magic), ErrCorrupt, 8},
		{"half a header", good[:30], ErrCorrupt, 30},
		{"header cut", good[:hdr-1], ErrCorrupt, int64(hdr - 1)},
		{"version 3", with(func(b []byte) []byte { b[8] = 3; return b }), ErrVersion, 0},
		{"version 0", with(func(b []byte) []byte { b[8] = 0; return b }), ErrVersion, 0},
		{"mount path damaged", with(func(b []byte) []byte { b[50] ^= 1; return b }), ErrCorrupt, int64(hdr - 4)},
		{"header CRC damaged", with(func(b []byte) []byte { b[hdr-2] ^= 1; return b }), ErrCorrupt, int64(hdr - 4)},
		{"header length damaged", with(func(b []byte) []byte { b[12] = 7; return b }), ErrCorrupt, 12},
		{"header length huge", with(func(b []byte) []byte { b[15] = 1; return b }), ErrCorrupt, int64(len(good))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := openBytes(t, tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: %v, want %v", err, tt.want)
			}
			for _, other := range []error{ErrNotLog, ErrCorrupt, ErrVersion} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("Open: %v is also %v", err, other)
				}
			}
			var ce *CorruptError
			if errors.As(err, &ce) && ce.Offset != tt.wantOff {
				t.Errorf("Open: %v, want offset %d", err, tt.wantOff)
			}
			if !strings.Contains(err.Error(), "test.wblog") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if _, err := Open("/nonexistent/log"); err == nil {
		t.Error("Open of a missing file succeeded")
	}
}

// craft builds a log image from frames given as (type, payload), with a
// correct CRC chain, so that the reader's checks after the CRC are tested.
func craft(t *testing.T, frames ...craftFrame) []byte {
	t.Helper()
	h := testHeader
	h.Version, h.Salt = FormatVersion, 0x1122334455667788
	b, prev, err := encodeHeader(&h)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		b, prev = appendFrame(b, f.typ, h.Salt, prev, func(dst []byte) []byte { return append(dst, f.payload...) })
		if f.reserved != 0 {
			// Set a reserved field and fix the CRC up.
			start := len(b) - frameSize(len(f.payload))
			le.PutUint16(b[start+6:], f.reserved)
			var p uint32
			if start == int(le.Uint32(b[12:])) {
				p = le.Uint32(b[start-4:])
			} else {
				t.Fatal("craft: a reserved field only in the first frame")
			}
			prev = frameCRC(h.Salt, p, b[start:])
			le.PutUint32(b[start+8:], prev)
		}
	}
	return b
}

type craftFrame struct {
	typ      uint16
	payload  []byte
	reserved uint16
}

func recFrame(r record.Record) craftFrame {
	return craftFrame{typ: frameRecord, payload: appendRecordPayload(nil, &r)}
}

func sealFrame(epoch, records uint64, lossy bool) craftFrame {
	return sealV2(Seal{Epoch: epoch, Records: records, Lossy: lossy})
}

// sealV2 is a seal frame of payload version 2, which older writers wrote:
// no start of the epochs after it, which a crafted log need not get right.
func sealV2(s Seal) craftFrame {
	p := appendSealPayload(nil, s, frameRef{})[:sealPayloadSizeV2]
	p[0] = sealVersion2
	return craftFrame{typ: frameSeal, payload: p}
}

// sealV1 is a seal frame of payload version 1: no marker seq either.
func sealV1(s Seal) craftFrame {
	p := sealV2(s).payload[:sealPayloadSizeV1]
	p[0] = sealVersion1
	return craftFrame{typ: frameSeal, payload: p}
}

// Both seal payload versions read; a version 2 seal keeps its marker's seq,
// which NextSeq counts, also when seals end the log.
func TestSealVersions(t *testing.T) {
	r := write(1, 5, "a", 0, 1)
	resize := func(f craftFrame, n int) craftFrame {
		f.payload = append(bytes.Clone(f.payload), make([]byte, 8)...)[:n]
		return f
	}
	tests := []struct {
		name      string
		frames    []craftFrame
		wantSeals []Seal
		wantNext  uint64
		bad       int // index of the corrupt frame, -1 if none
	}{
		{"version 1", []craftFrame{recFrame(r), sealV1(Seal{Epoch: 5, Records: 1, Lossy: true})},
			[]Seal{{Epoch: 5, Records: 1, Lossy: true}}, 2, -1},
		{"version 2", []craftFrame{recFrame(r), sealV2(Seal{Epoch: 5, Records: 1, Seq: 2})},
			[]Seal{{Epoch: 5, Records: 1, Seq: 2}}, 3, -1},
		{"trailing version 2 seals", []craftFrame{recFrame(r), sealV2(Seal{Epoch: 5, Records: 1, Seq: 2}),
			sealV2(Seal{Epoch: 6, Seq: 3}), sealV2(Seal{Epoch: 7, Seq: 4})},
			[]Seal{{Epoch: 5, Records: 1, Seq: 2}, {Epoch: 6, Seq: 3}, {Epoch: 7, Seq: 4}}, 5, -1},
		{"version 1 then version 2", []craftFrame{recFrame(r), sealV1(Seal{Epoch: 5, Records: 1}), sealV2(Seal{Epoch: 6, Seq: 9})},
			[]Seal{{Epoch: 5, Records: 1}, {Epoch: 6, Seq: 9}}, 10, -1},
		{"trailing version 1 seals: seq unknown", []craftFrame{recFrame(r), sealV1(Seal{Epoch: 5, Records: 1}), sealV1(Seal{Epoch: 6})},
			[]Seal{{Epoch: 5, Records: 1}, {Epoch: 6}}, 2, -1},
		{"marker seq before the last record", []craftFrame{sealV2(Seal{Epoch: 4, Seq: 1}), recFrame(write(7, 5, "a", 0, 1))},
			[]Seal{{Epoch: 4, Seq: 1}}, 8, -1},
		{"version 2 of 24 bytes", []craftFrame{resize(sealV2(Seal{Epoch: 5, Seq: 2}), 24)}, nil, 0, 0},
		{"version 2 of 40 bytes", []craftFrame{resize(sealV2(Seal{Epoch: 5, Seq: 2}), 40)}, nil, 0, 0},
		{"version 1 of 32 bytes", []craftFrame{resize(sealV1(Seal{Epoch: 5}), 32)}, nil, 0, 0},
		{"version 3", []craftFrame{mod(sealV2(Seal{Epoch: 5}), 0, 3)}, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := craft(t, tt.frames...)
			if tt.bad >= 0 {
				expectCorrupt(t, data, frameOffsets(t, data)[tt.bad])
				return
			}
			l, err := openBytes(t, data)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantSeals, l.Seals()); diff != "" {
				t.Errorf("Seals() (-want +got):\n%s", diff)
			}
			if got := l.NextSeq(); got != tt.wantNext {
				t.Errorf("NextSeq() = %d, want %d", got, tt.wantNext)
			}
		})
	}
}

// mod returns f with byte i of its payload set to v.
func mod(f craftFrame, i int, v byte) craftFrame {
	f.payload = bytes.Clone(f.payload)
	f.payload[i] = v
	return f
}

// Frames with a valid CRC that break the rules are corruption: the writer
// never writes them.
func TestCorruptValidFrames(t *testing.T) {
	r := write(1, 5, "a", 0, 1)
	tests := []struct {
		name   string
		frames []craftFrame
		bad    int // index of the bad frame
	}{
		{"record of a sealed epoch", []craftFrame{sealFrame(5, 0, false), recFrame(r)}, 1},
		{"record of an older epoch", []craftFrame{sealFrame(6, 0, false), recFrame(r)}, 1},
		{"seal twice", []craftFrame{sealFrame(5, 0, false), sealFrame(5, 0, false)}, 1},
		{"seal backwards", []craftFrame{sealFrame(5, 0, false), sealFrame(4, 0, false)}, 1},
		{"seal counts too many", []craftFrame{recFrame(r), sealFrame(5, 2, false)}, 1},
		{"seal counts too few", []craftFrame{recFrame(r), recFrame(r), sealFrame(5, 1, false)}, 2},
		{"unknown frame type", []craftFrame{{typ: 3, payload: []byte("x")}}, 0},
		{"frame type 0", []craftFrame{{typ: 0, payload: []byte("x")}}, 0},
		{"frame reserved field", []craftFrame{{typ: frameRecord, payload: recFrame(r).payload, reserved: 1}}, 0},
		{"record payload version", []craftFrame{mod(recFrame(r), 0, 2)}, 0},
		{"record unknown flag", []craftFrame{mod(recFrame(r), 1, 0x0c)}, 0},
		{"record reserved", []craftFrame{mod(recFrame(r), 2, 1)}, 0},
		{"record reserved at 54", []craftFrame{mod(recFrame(r), 54, 1)}, 0},
		{"record lengths too long", []craftFrame{mod(recFrame(r), 48, 2)}, 0},
		{"record lengths too short", []craftFrame{mod(recFrame(r), 48, 0)}, 0},
		{"record parent type without parent", []craftFrame{mod(recFrame(r), 44, 1)}, 0},
		{"record handle without the flag", []craftFrame{mod(recFrame(r), 1, recordFlagRange)}, 0},
		{"record too short", []craftFrame{{typ: frameRecord, payload: make([]byte, 55)}}, 0},
		{"empty record", []craftFrame{{typ: frameRecord}}, 0},
		{"seal payload version", []craftFrame{mod(sealFrame(1, 0, false), 0, 0)}, 0},
		{"seal unknown flag", []craftFrame{mod(sealFrame(1, 0, false), 1, 2)}, 0},
		{"seal reserved", []craftFrame{mod(sealFrame(1, 0, false), 7, 1)}, 0},
		{"seal too long", []craftFrame{{typ: frameSeal, payload: make([]byte, 25)}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := craft(t, tt.frames...)
			offs := frameOffsets(t, data)
			expectCorrupt(t, data, offs[tt.bad])
		})
	}
	// The crafted frames themselves are fine when they follow the rules.
	l, err := openBytes(t, craft(t, recFrame(r), recFrame(r), sealFrame(5, 2, true), sealFrame(7, 0, false)))
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Seals(); len(got) != 2 || got[0] != (Seal{Epoch: 5, Lossy: true, Records: 2}) {
		t.Errorf("Seals() = %v", got)
	}
}

// A record of epoch N+1 may precede the seal of epoch N (the kernel starts
// epoch N+1 before it closes N), and is counted by the seal of N+1.
func TestRecordOfNextEpochBeforeSeal(t *testing.T) {
	recs := []record.Record{write(1, 1, "a", 0, 1), write(2, 2, "b", 0, 1), write(3, 1, "c", 0, 1), closed(1, false), write(4, 2, "d", 0, 1), closed(2, false)}
	l, err := Open(writeLog(t, t.TempDir(), recs...))
	if err != nil {
		t.Fatal(err)
	}
	checkContents(t, l, recs)
	if s := l.Seals(); s[0].Records != 2 || s[1].Records != 2 {
		t.Errorf("Seals() = %v, want 2 records each", s)
	}
}

// Records of the next epoch may be drained before the seal of the one
// before: EachFrame gives them in file order, not grouped by epoch.
func TestEachFrameInterleaved(t *testing.T) {
	recs := []record.Record{
		write(1, 1, "A", 0, 4),
		write(3, 2, "B", 0, 4),
		closed(1, false),
		write(4, 2, "A", 4, 4),
		closed(2, false),
		write(6, 3, "C", 0, 1),
	}
	recs[2].Seq, recs[4].Seq = 2, 5
	l, err := Open(writeLog(t, t.TempDir(), recs...))
	if err != nil {
		t.Fatal(err)
	}
	checkContents(t, l, recs)
}
