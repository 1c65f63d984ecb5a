package changelog

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/record"
)

func TestSalvage(t *testing.T) {
	// Frames f0..f10; epoch 3 has a record before the seal of epoch 2,
	// epoch 5 is never sealed.
	recs := []record.Record{
		write(1, 1, "A", 0, 4), // f0
		closed(1, false),       // f1
		write(2, 2, "A", 4, 4), // f2
		write(3, 3, "B", 0, 1), // f3
		write(4, 2, "C", 0, 1), // f4
		closed(2, false),       // f5
		write(5, 3, "B", 1, 1), // f6
		closed(3, false),       // f7
		write(6, 4, "D", 0, 1), // f8
		closed(4, true),        // f9
		write(7, 5, "E", 0, 1), // f10
	}
	// keep returns the records and markers of recs of the given epochs.
	keep := func(epochs ...uint64) []record.Record {
		var out []record.Record
		for _, r := range recs {
			for _, e := range epochs {
				if r.Epoch == e {
					out = append(out, r)
				}
			}
		}
		return out
	}
	flip := func(frame, at int) func([]byte, []int) []byte {
		return func(b []byte, f []int) []byte { b[f[frame]+at] ^= 0x40; return b }
	}
	er := func(a, b uint64) EpochRange { return EpochRange{a, b} }
	tests := []struct {
		name    string
		damage  func(b []byte, frames []int) []byte // of the one-segment log
		damaged [][2]int                            // frame index of the start and end of each damage (-1: end of file)
		want    Salvaged                            // Kept, Lost, Records, Seals, DroppedRecords, TailDamaged
		kept    []record.Record
	}{
		{
			name: "whole",
			want: Salvaged{Kept: []EpochRange{er(1, 4)}, Lost: []EpochRange{er(5, 5)}, Records: 6, Seals: 4, DroppedRecords: 1},
			kept: keep(1, 2, 3, 4),
		},
		{
			// The chain starts again at f5, checked with f4's stored CRC.
			name:    "flipped byte mid-log",
			damage:  flip(4, 20),
			damaged: [][2]int{{4, 5}},
			want:    Salvaged{Kept: []EpochRange{er(1, 1), er(3, 4)}, Lost: []EpochRange{er(2, 2), er(5, 5)}, Records: 4, Seals: 3, DroppedRecords: 2},
			kept:    keep(1, 3, 4),
		},
		{
			// A length that breaks the framing: f3, whose stored CRC
			// alone is vouched for by f4, is lost with f2, and epoch 3
			// with it.
			name:    "damaged frame length",
			damage:  flip(2, 1),
			damaged: [][2]int{{2, 4}},
			want:    Salvaged{Kept: []EpochRange{er(1, 1), er(4, 4)}, Lost: []EpochRange{er(2, 3), er(5, 5)}, Records: 2, Seals: 2, DroppedRecords: 3},
			kept:    keep(1, 4),
		},
		{
			name:    "damaged seal",
			damage:  flip(5, 20),
			damaged: [][2]int{{5, 6}},
			want:    Salvaged{Kept: []EpochRange{er(1, 1), er(3, 4)}, Lost: []EpochRange{er(2, 2), er(5, 5)}, Records: 4, Seals: 3, DroppedRecords: 3},
			kept:    keep(1, 3, 4),
		},
		{
			name:    "damaged first frame",
			damage:  flip(0, 20),
			damaged: [][2]int{{0, 1}},
			want:    Salvaged{Kept: []EpochRange{er(2, 4)}, Lost: []EpochRange{er(1, 1), er(5, 5)}, Records: 5, Seals: 3, DroppedRecords: 1},
			kept:    keep(2, 3, 4),
		},
		{
			name:    "truncated tail",
			damage:  func(b []byte, f []int) []byte { return b[:f[9]+20] },
			damaged: [][2]int{{9, -1}},
			want:    Salvaged{Kept: []EpochRange{er(1, 3)}, Lost: []EpochRange{er(4, 4)}, Records: 5, Seals: 3, DroppedRecords: 1, TailDamaged: true},
			kept:    keep(1, 2, 3),
		},
		{
			// f6 has no frame before it to vouch for it: lost.
			name:    "zeroed middle",
			damage:  func(b []byte, f []int) []byte { clear(b[f[2]:f[6]]); return b },
			damaged: [][2]int{{2, 7}},
			want:    Salvaged{Kept: []EpochRange{er(1, 1), er(4, 4)}, Lost: []EpochRange{er(2, 3), er(5, 5)}, Records: 2, Seals: 2, DroppedRecords: 1},
			kept:    keep(1, 4),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := writeLog(t, dir, recs...)
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			frames := frameOffsets(t, data)
			if tt.damage != nil {
				data = tt.damage(data, frames)
				if err := os.WriteFile(src, data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			dst := filepath.Join(dir, "new.wblog")
			var calls []int64
			got, err := Salvage(src, dst, func(done, total int64) {
				if calls = append(calls, done); total != 2*int64(len(data)) {
					t.Errorf("progress(%d, %d): want the total %d, twice the size", done, total, 2*len(data))
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := []int64{int64(len(data)), 2 * int64(len(data))}; !slices.Equal(calls, want) {
				t.Errorf("progress done %v, want %v (the end of each pass over a small log)", calls, want)
			}
			var wantDamage [][2]int64
			for _, d := range tt.damaged {
				end := int64(len(data))
				if d[1] >= 0 {
					end = int64(frames[d[1]])
				}
				wantDamage = append(wantDamage, [2]int64{int64(frames[d[0]]), end})
			}
			var gotDamage [][2]int64
			for _, d := range got.Damage {
				if d.Path != src || d.Reason == "" {
					t.Errorf("damage %+v: want the path %s and a reason", d, src)
				}
				gotDamage = append(gotDamage, [2]int64{d.Offset, d.Offset + d.Bytes})
			}
			if diff := cmp.Diff(wantDamage, gotDamage); diff != "" {
				t.Errorf("damage [start, end) (-want +got):\n%s", diff)
			}
			got.Damage, got.Source, got.Header = nil, Header{}, Header{}
			if diff := cmp.Diff(tt.want, *got, equate); diff != "" {
				t.Errorf("Salvaged (-want +got):\n%s", diff)
			}
			after, err := os.ReadFile(src)
			if err != nil || !bytes.Equal(after, data) {
				t.Errorf("the source changed (%v)", err)
			}
			l, err := Open(dst)
			if err != nil {
				t.Fatal(err)
			}
			checkContents(t, l, tt.kept)
			if h := l.Header(); h.Mount != testHeader.Mount || h.UUID != testHeader.UUID || h.Salt == 0 {
				t.Errorf("new header %+v: want the source's identity", h)
			}
			if _, err := Salvage(src, dst, nil); !errors.Is(err, fs.ErrExist) {
				t.Errorf("salvage onto an existing log: %v, want ErrExist", err)
			}
		})
	}
}

// TestSalvageSegments: damage in one segment ends with it; the next one is
// chained to its header.
func TestSalvageSegments(t *testing.T) {
	recs := []record.Record{
		write(1, 1, "A", 0, 4), closed(1, false),
		write(2, 2, "A", 4, 4), closed(2, false),
		write(3, 3, "B", 0, 1), closed(3, false),
	}
	dir := t.TempDir()
	src := segLog(t, dir, 1, recs...) // a segment per seal
	seg1 := SegmentPath(src, 1)
	data, err := os.ReadFile(seg1)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 1 // the seal of epoch 2
	if err := os.WriteFile(seg1, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(src); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of the damaged log: %v, want ErrCorrupt", err)
	}
	got, err := Salvage(src, filepath.Join(dir, "new"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Damage) != 1 || got.Damage[0].Path != seg1 || got.TailDamaged {
		t.Errorf("damage %+v (tail %v), want one range in %s", got.Damage, got.TailDamaged, seg1)
	}
	if diff := cmp.Diff([]EpochRange{{1, 1}, {3, 3}}, got.Kept); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	l, err := Open(filepath.Join(dir, "new"))
	if err != nil {
		t.Fatal(err)
	}
	checkContents(t, l, []record.Record{recs[0], recs[1], recs[4], recs[5]})
}

func TestSalvageErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Salvage(filepath.Join(dir, "missing"), filepath.Join(dir, "new"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing log: %v, want ErrNotExist", err)
	}
	notLog := filepath.Join(dir, "not")
	if err := os.WriteFile(notLog, []byte("hello, world\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Salvage(notLog, filepath.Join(dir, "new"), nil); !errors.Is(err, ErrNotLog) {
		t.Errorf("not a log: %v, want ErrNotLog", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed salvage left the new log behind (%v)", err)
	}
}

func TestEpochRangeText(t *testing.T) {
	for _, r := range []EpochRange{{3, 3}, {5, 7}} {
		b, _ := r.MarshalText()
		var got EpochRange
		if err := got.UnmarshalText(b); err != nil || got != r {
			t.Errorf("%q read back as %v (%v)", b, got, err)
		}
	}
	for _, s := range []string{"", "x", "7..5", "1..", "..2"} {
		var r EpochRange
		if err := r.UnmarshalText([]byte(s)); err == nil {
			t.Errorf("%q read as %v, want an error", s, r)
		}
	}
}

// TestSalvageProgress: a long log reports its progress every MiB.
func TestSalvageProgress(t *testing.T) {
	var recs []record.Record
	for i := range uint64(40000) { // about 3 MiB
		recs = append(recs, write(i+1, 1, "A", i, 1))
	}
	dir := t.TempDir()
	src := writeLog(t, dir, append(recs, closed(1, false))...)
	var calls []int64
	var total int64
	if _, err := Salvage(src, filepath.Join(dir, "new"), func(d, n int64) { calls, total = append(calls, d), n }); err != nil {
		t.Fatal(err)
	}
	if len(calls) < 6 || !slices.IsSorted(calls) || calls[len(calls)-1] != total {
		t.Errorf("progress done %v of %d: want 3 or more calls a pass, increasing to the total", calls, total)
	}
}
