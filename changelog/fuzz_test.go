package changelog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wbarrier/wbarrier/record"
)

// checkParse runs the reader on data and checks what must hold for any
// input: no panic, a known error, or a log whose valid part reads back
// cleanly on its own.
func checkParse(t *testing.T, data []byte) *Log {
	l, tl, err := parse(data, "fuzz")
	if err != nil {
		if !errors.Is(err, ErrNotLog) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			t.Fatalf("parse: unexpected error kind: %v", err)
		}
		if l != nil || tl != nil {
			t.Fatal("parse returned a log and an error")
		}
		return nil
	}
	end := int64(len(data))
	if r := l.Recovery(); r != nil {
		if r.Offset+r.Bytes != int64(len(data)) || r.Offset < headerMinSize || r.Offset%8 != 0 || r.Bytes <= 0 || r.Reason == "" {
			t.Fatalf("bad recovery %+v for %d bytes", r, len(data))
		}
		end = r.Offset
	}
	if tl.end != end {
		t.Fatalf("tail end %d, valid part ends at %d", tl.end, end)
	}
	l2, _, err := parse(data[:end], "fuzz")
	if err != nil {
		t.Fatalf("the valid part does not read: %v", err)
	}
	if l2.Recovery() != nil || !sameRecords(l.Records(), l2.Records()) || len(l.Seals()) != len(l2.Seals()) {
		t.Fatalf("the valid part reads differently: %v", l2.Recovery())
	}
	last, _ := l.LastSealed()
	for _, q := range [][2]uint64{{0, last}, {0, last + 1}, {last / 2, last}} {
		if _, err := l.Changes(q[0], q[1]); err != nil {
			t.Fatalf("Changes(%d, %d): %v", q[0], q[1], err)
		}
	}
	return l
}

func FuzzOpen(f *testing.F) {
	valid := logBytes(f, sampleSealed...)
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	f.Add(append(bytes.Clone(valid), make([]byte, 64)...))
	corrupt := bytes.Clone(valid)
	corrupt[frameOffsets(f, valid)[1]+40] ^= 1
	f.Add(corrupt)
	f.Add(logBytes(f))
	f.Add(segmentBytes(f, sampleSealed...))
	f.Add([]byte(magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, data)
	})
}

// FuzzFrames reaches the payload decoders and the semantic checks, which
// random bytes hardly do because of the CRCs: the input is cut into frames
// (type byte, length byte, payload) that get a valid CRC chain. Whatever
// the reader accepts must encode back to the same payloads.
func FuzzFrames(f *testing.F) {
	seed := func(frames ...craftFrame) []byte {
		var b []byte
		for _, fr := range frames {
			b = append(b, byte(fr.typ), byte(len(fr.payload)))
			b = append(b, fr.payload...)
		}
		return b
	}
	r := write(1, 5, "h", 10, 20)
	f.Add(seed(recFrame(r), sealFrame(5, 1, false)))
	f.Add(seed(recFrame(create(2, 3, "p", "name")), sealFrame(2, 0, true), sealFrame(3, 1, false)))
	f.Add(seed(sealFrame(1, 0, false), recFrame(change(1, 1, record.OpData, "x"))))
	f.Add(seed(recFrame(r), sealV2(Seal{Epoch: 5, Records: 1, Seq: 2}), sealV2(Seal{Epoch: 6, Seq: 3})))
	f.Add(seed(recFrame(r), sealV1(Seal{Epoch: 5, Records: 1}), sealV2(Seal{Epoch: 6, Seq: 3})))
	f.Fuzz(func(t *testing.T, in []byte) {
		var frames []craftFrame
		for len(in) >= 2 {
			n := min(int(in[1]), len(in)-2)
			frames = append(frames, craftFrame{typ: uint16(in[0]), payload: in[2 : 2+n]})
			in = in[2+n:]
		}
		data := craftBytes(frames)
		l := checkParse(t, data)
		if l == nil {
			return
		}
		if l.Recovery() != nil {
			for _, fr := range frames {
				if fr.typ == 0 && len(fr.payload) == 0 {
					return // reads as zeroed bytes, by design
				}
			}
			t.Fatalf("frames with a valid chain read as torn: %v", l.Recovery())
		}
		// Canonical encoding: the accepted frames are exactly what the
		// writer would write for what was read.
		var want []craftFrame
		recs, seals := l.Records(), l.Seals()
		for _, fr := range frames {
			switch fr.typ {
			case frameRecord:
				want = append(want, recFrame(recs[0]))
				recs = recs[1:]
			case frameSeal:
				if fr.payload[0] == sealVersion1 {
					want = append(want, sealV1(seals[0]))
				} else {
					want = append(want, sealV2(seals[0]))
				}
				seals = seals[1:]
			}
		}
		if !bytes.Equal(craftBytes(want), data) {
			t.Fatal("the accepted frames are not in canonical encoding")
		}
	})
}

// craftBytes is craft without a testing.T and reserved fields.
func craftBytes(frames []craftFrame) []byte {
	h := testHeader
	h.Version, h.Salt = FormatVersion, 0x1122334455667788
	b, prev, _ := encodeHeader(&h)
	for _, f := range frames {
		b, prev = appendFrame(b, f.typ, h.Salt, prev, func(dst []byte) []byte { return append(dst, f.payload...) })
	}
	return b
}

// segmentBytes returns the bytes of the second segment (version 2 header)
// of a log holding recs, a segment per seal.
func segmentBytes(t testing.TB, recs ...record.Record) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.wblog")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	w.SetSegmentSize(1)
	for _, r := range recs {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(SegmentPath(path, 1))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
