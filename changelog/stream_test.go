package changelog

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/record"
)

// Stream passes the frames Open keeps, in the same order, a generation
// once however many segments restate it, each segment's header before its
// frames; and stops at the Visitor's error.
func TestStreamAsOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.wblog")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	w.SetSegmentSize(300)
	for i, g := range []Generation{{LoadID: 1, WatchID: 1}, {LoadID: 2, WatchID: 1}} {
		if _, err := w.StartGeneration(g); err != nil {
			t.Fatal(err)
		}
		for _, r := range straddling(6) {
			r.Epoch += uint64(10 * i)
			if err := w.Append(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	whole, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	whole.EachFrameGen(func(r record.Record) error {
		want = append(want, fmt.Sprintf("record %d", r.Seq))
		return nil
	}, func(s Seal) error {
		want = append(want, fmt.Sprintf("seal %d", s.Epoch))
		return nil
	}, func(g Generation) error {
		want = append(want, fmt.Sprintf("generation %v", g))
		return nil
	})
	var got []string
	segments := 0
	stop := errors.New("stop")
	v := Visitor{
		Segment: func(h Header) error {
			if h.Segment != uint64(segments) {
				t.Errorf("segment %d's header, want %d", h.Segment, segments)
			}
			segments++
			return nil
		},
		Record: func(r record.Record) error {
			got = append(got, fmt.Sprintf("record %d", r.Seq))
			return nil
		},
		Seal: func(s Seal) error {
			got = append(got, fmt.Sprintf("seal %d", s.Epoch))
			return nil
		},
		Generation: func(g Generation) error {
			got = append(got, fmt.Sprintf("generation %v", g))
			return nil
		},
	}
	l, err := Stream(path, v)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frames (-Open +Stream):\n%s", diff)
	}
	if segments != len(whole.Segments()) || segments < 3 {
		t.Errorf("%d segment headers, want %d (several)", segments, len(whole.Segments()))
	}
	if len(l.Records()) != 0 || fmt.Sprint(l.LastSealed()) != fmt.Sprint(whole.LastSealed()) || l.NextSeq() != whole.NextSeq() || len(l.Generations()) != 2 {
		t.Errorf("Stream's Log: %d records, last sealed %v, next seq %d, %d generations", len(l.Records()), fmt.Sprint(l.LastSealed()), l.NextSeq(), len(l.Generations()))
	}
	n, segments := 0, 0
	v.Record = func(record.Record) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	}
	if _, err := Stream(path, v); !errors.Is(err, stop) {
		t.Errorf("Stream with a Visitor that fails: %v, want its error", err)
	}
}

// The search for a valid seal after damage reads the segment a window at a
// time: a seal megabytes after the damage, past the first windows, makes
// it corruption; without it, a torn tail.
func TestDamageFarBeforeSeal(t *testing.T) {
	big := string(make([]byte, 60000))
	var recs []record.Record
	for i := range 60 { // about 3.6 MiB of records of epoch 1
		recs = append(recs, create(uint64(i+1), 1, big, fmt.Sprintf("%s%d", big, i)))
	}
	sealed := append(recs, closed(1, false))
	for _, tt := range []struct {
		name    string
		recs    []record.Record
		corrupt bool
	}{{"seal far after", sealed, true}, {"no seal after", recs, false}} {
		t.Run(tt.name, func(t *testing.T) {
			data := logBytes(t, tt.recs...)
			if len(data) < 3*MaxPayload {
				t.Fatalf("log of %d bytes, want more than three windows", len(data))
			}
			off := frameOffsets(t, data)[1]
			data[off+frameHeaderSize+20] ^= 1
			l, err := openBytes(t, data)
			switch {
			case tt.corrupt && !errors.Is(err, ErrCorrupt):
				t.Errorf("Open: %v, want corruption", err)
			case !tt.corrupt && (err != nil || l.Recovery() == nil || l.Recovery().Offset != int64(off)):
				t.Errorf("Open: %v, want a torn tail at %d", err, off)
			}
		})
	}
}
