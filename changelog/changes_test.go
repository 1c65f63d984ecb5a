package changelog

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/record"
)

func TestChanges(t *testing.T) {
	rename := func(seq, epoch uint64, op record.Op, handle, parent, name string) record.Record {
		r := change(seq, epoch, op, handle)
		r.Parent, r.Name = fh(1, parent), name
		return r
	}
	recs := []record.Record{
		// epoch 1
		write(1, 1, "a", 0, 100), write(2, 1, "a", 100, 50), create(3, 1, "d", "new"),
		change(4, 2, record.OpAttr, "b"), // epoch 2 starts before 1 is sealed
		closed(1, false),
		// epoch 2
		write(5, 2, "a", 1000, 10), write(6, 2, "a", 0, 10),
		rename(7, 2, record.OpRenameFrom, "c", "d", "old"), rename(8, 2, record.OpRenameTo, "c", "e", "renamed"),
		create(9, 2, "d", "new"), create(10, 2, "e", "new"),
		closed(2, false),
		// epoch 3: lossy
		write(11, 3, "b", 5, 5), closed(3, true),
		// epoch 4: sealed, empty
		closed(4, false),
		// epoch 5: sealed; epoch 6 never sealed; epoch 7 sealed
		change(12, 5, record.OpXattr, "a"), closed(5, false),
		change(13, 6, record.OpSize, "z"),
		change(14, 7, record.OpSize, "z"), closed(7, false),
		// epoch 8: not sealed yet
		change(15, 8, record.OpRemove, "a"),
	}
	l, err := Open(writeLog(t, t.TempDir(), recs...))
	if err != nil {
		t.Fatal(err)
	}
	objA := func(ops record.Op, first, last uint64, n int, ranges ...Range) Object {
		return Object{Handle: fh(1, "a"), Ops: ops, Ranges: ranges, Records: n, FirstEpoch: first, LastEpoch: last}
	}
	newIn := func(dir string, first, last uint64, n int) Object {
		return Object{Parent: fh(1, dir), Name: "new", Ops: record.OpCreate, Records: n, FirstEpoch: first, LastEpoch: last,
			Entries: []Entry{{Parent: fh(1, dir), Name: "new", Ops: record.OpCreate}}}
	}
	objC := Object{
		Handle: fh(1, "c"), Parent: fh(1, "e"), Name: "renamed", Ops: record.OpRenameFrom | record.OpRenameTo, Records: 2, FirstEpoch: 2, LastEpoch: 2,
		Entries: []Entry{{Parent: fh(1, "d"), Name: "old", Ops: record.OpRenameFrom}, {Parent: fh(1, "e"), Name: "renamed", Ops: record.OpRenameTo}},
	}
	objB := Object{Handle: fh(1, "b"), Ops: record.OpAttr, Records: 1, FirstEpoch: 2, LastEpoch: 2}

	tests := []struct {
		name         string
		since, until uint64
		want         Changes
	}{
		{"epoch 1", 0, 1, Changes{
			Objects: []Object{objA(record.OpData, 1, 1, 2, Range{0, 150}), newIn("d", 1, 1, 1)},
		}},
		{"epochs 1 and 2", 0, 2, Changes{
			Objects: []Object{
				objA(record.OpData, 1, 2, 4, Range{0, 150}, Range{1000, 10}),
				newIn("d", 1, 2, 2),
				objB, objC,
				newIn("e", 2, 2, 1),
			},
		}},
		{"epoch 2 alone", 1, 2, Changes{
			Objects: []Object{objB, objA(record.OpData, 2, 2, 2, Range{0, 10}, Range{1000, 10}), objC, newIn("d", 2, 2, 1), newIn("e", 2, 2, 1)},
		}},
		{"lossy epoch", 2, 3, Changes{
			Objects: []Object{{Handle: fh(1, "b"), Ops: record.OpData, Ranges: []Range{{5, 5}}, Records: 1, FirstEpoch: 3, LastEpoch: 3}},
			Rescan:  true, RescanFrom: 3, Reason: "epoch 3 is lossy: records of it were lost",
		}},
		{"lossy epoch inside the range", 1, 5, Changes{
			Rescan: true, RescanFrom: 3, Reason: "epoch 3 is lossy: records of it were lost",
		}},
		{"sealed empty epoch", 3, 4, Changes{}},
		{"sealed empty epoch and a sealed one", 3, 5, Changes{
			Objects: []Object{objA(record.OpXattr, 5, 5, 1)},
		}},
		{"gap in the seals", 4, 7, Changes{
			Objects: []Object{
				objA(record.OpXattr, 5, 5, 1),
				{Handle: fh(1, "z"), Ops: record.OpSize, Records: 2, FirstEpoch: 6, LastEpoch: 7},
			},
			Rescan: true, RescanFrom: 6, Reason: "epoch 6 is not sealed",
		}},
		{"past the last seal", 7, 8, Changes{
			Objects: []Object{objA(record.OpRemove, 8, 8, 1)},
			Rescan:  true, RescanFrom: 8, Reason: "epoch 8 is not sealed",
		}},
		{"far past the last seal", 7, 100, Changes{
			Objects: []Object{objA(record.OpRemove, 8, 8, 1)},
			Rescan:  true, RescanFrom: 8, Reason: "epoch 8 is not sealed",
		}},
		{"empty range", 2, 2, Changes{}},
		{"empty range past the end", 50, 50, Changes{}},
		{"up to the largest epoch", 7, math.MaxUint64, Changes{
			Objects: []Object{objA(record.OpRemove, 8, 8, 1)},
			Rescan:  true, RescanFrom: 8, Reason: "epoch 8 is not sealed",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Changes(tt.since, tt.until)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Since, tt.want.Until = tt.since, tt.until
			if tt.name == "lossy epoch inside the range" {
				got.Objects = nil // checked elsewhere
			}
			if diff := cmp.Diff(tt.want, got, equate); diff != "" {
				t.Errorf("Changes(%d, %d) mismatch (-want +got):\n%s", tt.since, tt.until, diff)
			}
		})
	}
	if _, err := l.Changes(3, 2); err == nil {
		t.Error("Changes(3, 2) succeeded")
	}
}

// Epochs before the first seal in the log are unknown.
func TestChangesBeforeLog(t *testing.T) {
	l, err := Open(writeLog(t, t.TempDir(), write(1, 10, "a", 0, 1), closed(10, false), closed(11, false)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		since, until uint64
		rescan       bool
		from         uint64
	}{{0, 11, true, 1}, {8, 10, true, 9}, {9, 11, false, 0}, {10, 11, false, 0}, {11, 12, true, 12}} {
		c, err := l.Changes(tt.since, tt.until)
		if err != nil {
			t.Fatal(err)
		}
		if c.Rescan != tt.rescan || c.RescanFrom != tt.from {
			t.Errorf("Changes(%d, %d): rescan %v from %d (%s), want %v from %d", tt.since, tt.until, c.Rescan, c.RescanFrom, c.Reason, tt.rescan, tt.from)
		}
	}
	// An empty log knows nothing.
	l, err = Open(writeLog(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := l.Changes(0, 1); !c.Rescan || c.RescanFrom != 1 {
		t.Errorf("Changes(0, 1) on an empty log: %+v, want a rescan from 1", c)
	}
}

func TestJoinRanges(t *testing.T) {
	tests := []struct {
		name string
		in   []Range
		want []Range
	}{
		{"none", nil, nil},
		{"one", []Range{{5, 1}}, []Range{{5, 1}}},
		{"disjoint, unsorted", []Range{{100, 10}, {0, 10}}, []Range{{0, 10}, {100, 10}}},
		{"adjacent", []Range{{10, 10}, {0, 10}}, []Range{{0, 20}}},
		{"overlapping", []Range{{0, 10}, {5, 10}}, []Range{{0, 15}}},
		{"contained", []Range{{0, 100}, {5, 10}, {200, 1}}, []Range{{0, 100}, {200, 1}}},
		{"empty ranges", []Range{{0, 0}, {0, 0}, {10, 0}}, []Range{{0, 0}, {10, 0}}},
		{"overflow", []Range{{math.MaxUint64 - 5, 100}, {math.MaxUint64 - 1, 1}}, []Range{{math.MaxUint64 - 5, 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, joinRanges(tt.in), equate); diff != "" {
				t.Errorf("joinRanges mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
