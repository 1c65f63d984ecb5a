package changelog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wbarrier/wbarrier/record"
)

// splitEpochs returns the records of epochs 1..n: each epoch has a record,
// and the odd ones are sealed after a record of the next epoch (as the
// kernel does under load), so that epoch e+1 straddles two segments.
func splitEpochs(n int) []record.Record {
	var recs []record.Record
	seq := uint64(0)
	next := func(epoch uint64) record.Record {
		seq++
		return write(seq, epoch, fmt.Sprintf("f%d", seq), 0, 10)
	}
	for e := uint64(1); e <= uint64(n); e++ {
		recs = append(recs, next(e))
		if e%2 == 1 {
			recs = append(recs, next(e+1))
		}
		recs = append(recs, closed(e, false))
	}
	return recs
}

// segLog writes recs into a new log in dir with the given segment size (0:
// one segment) and returns its path.
func segLog(t testing.TB, dir string, size int64, recs ...record.Record) string {
	t.Helper()
	path := filepath.Join(dir, "test.wblog")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	w.SetSegmentSize(size)
	for _, r := range recs {
		if err := w.Append(r); err != nil {
			t.Fatalf("Append(%+v): %v", r, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func segPaths(path string, from, to uint64) []string {
	var s []string
	for n := from; n <= to; n++ {
		s = append(s, SegmentPath(path, n))
	}
	return s
}

func TestRotation(t *testing.T) {
	recs := splitEpochs(6)
	more := []record.Record{write(100, 7, "g", 0, 1), closed(7, false), write(101, 8, "g", 1, 1), closed(8, true)}
	tests := []struct {
		name       string
		size       int64
		segs, more uint64 // the last segment after recs, after more
	}{
		{"never", 0, 0, 0},
		{"at every seal", 1, 6, 8},
		{"every other seal", 300, 3, 4},
		{"large", 1 << 20, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := segLog(t, t.TempDir(), tt.size, recs...)
			l, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			checkContents(t, l, recs)
			if got, want := l.Segments(), segPaths(path, 0, tt.segs); !slices.Equal(got, want) {
				t.Errorf("Segments() = %v, want %v", got, want)
			}
			if l.Base() != 0 || l.NextSeq() != 10 || l.Recovery() != nil {
				t.Errorf("Base() %d, NextSeq() %d, Recovery() %v; want 0, 10, nil", l.Base(), l.NextSeq(), l.Recovery())
			}
			// Resuming appends to the last segment and goes on rotating.
			w, rec, err := OpenWriter(path)
			if err != nil || rec != nil {
				t.Fatalf("OpenWriter: %v, %v", rec, err)
			}
			w.SetSegmentSize(tt.size)
			for _, r := range more {
				if err := w.Append(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			l, err = Open(path)
			if err != nil {
				t.Fatal(err)
			}
			checkContents(t, l, append(slices.Clone(recs), more...))
			if got, want := l.Segments(), segPaths(path, 0, tt.more); !slices.Equal(got, want) {
				t.Errorf("after more: Segments() = %v, want %v", got, want)
			}
		})
	}
}

func TestPurge(t *testing.T) {
	// One segment per seal: segment k starts after the seal of k, and
	// holds the epochs after Base: k+1 for odd k (a record of k+1 came
	// before the seal of k), else k.
	recs := splitEpochs(6)
	tests := []struct {
		upTo      uint64
		first     uint64 // first segment left
		base      uint64
		firstSeal uint64 // 0: no seal left
	}{
		{0, 0, 0, 1},
		{1, 0, 0, 1},
		{2, 2, 2, 3},
		{3, 2, 2, 3},
		{5, 4, 4, 5},
		{6, 6, 6, 0},
		{100, 6, 6, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("up to ", tt.upTo), func(t *testing.T) {
			path := segLog(t, t.TempDir(), 1, recs...)
			removed, err := Purge(path, tt.upTo)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if tt.first > 0 {
				want = segPaths(path, 0, tt.first-1)
			}
			if !slices.Equal(removed, want) {
				t.Errorf("Purge removed %v, want segments before %d", removed, tt.first)
			}
			l, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := l.Segments(), segPaths(path, tt.first, 6); !slices.Equal(got, want) {
				t.Errorf("Segments() = %v, want %v", got, want)
			}
			last, ok := l.LastSealed()
			if l.Base() != tt.base || last != 6 || !ok || l.NextSeq() != 10 {
				t.Errorf("Base() %d, LastSealed() %d %v, NextSeq() %d; want %d, 6 true, 10", l.Base(), last, ok, l.NextSeq(), tt.base)
			}
			if s := l.Seals(); tt.firstSeal == 0 && len(s) != 0 || tt.firstSeal != 0 && s[0].Epoch != tt.firstSeal {
				t.Errorf("Seals() = %v, want the first %d", s, tt.firstSeal)
			}
			// Everything after Base is answered, as from the whole log.
			c, err := l.Changes(tt.base, 6)
			if err != nil || c.Rescan {
				t.Fatalf("Changes(%d, 6): rescan %v (%s), %v", tt.base, c.Rescan, c.Reason, err)
			}
			whole, _, _ := parse(logBytes(t, recs...), "whole")
			wantc, _ := whole.Changes(tt.base, 6)
			if len(c.Objects) != len(wantc.Objects) {
				t.Errorf("Changes(%d, 6): %d objects, the whole log has %d", tt.base, len(c.Objects), len(wantc.Objects))
			}
			if tt.base > 0 {
				c, err := l.Changes(tt.base-1, 6)
				if err != nil || !c.Rescan || c.RescanFrom != tt.base {
					t.Errorf("Changes(%d, 6) of a purged epoch: rescan %v from %d, %v", tt.base-1, c.Rescan, c.RescanFrom, err)
				}
			}
			// The writer resumes after a purge.
			w, _, err := OpenWriter(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Append(write(10, 7, "h", 0, 1)); err != nil {
				t.Fatal(err)
			}
			if err := w.Seal(7, 0, false); err != nil {
				t.Fatal(err)
			}
			w.Close()
			if l, err = Open(path); err != nil {
				t.Fatal(err)
			}
			if last, _ := l.LastSealed(); last != 7 || l.NextSeq() != 11 {
				t.Errorf("after resuming: LastSealed() %d, NextSeq() %d; want 7, 11", last, l.NextSeq())
			}
		})
	}
}

// A crash in the middle of a rotation leaves a temporary file, or the
// sealed segment without its successor, or the successor with its header
// only: each reads as a valid log, and the writer resumes.
func TestCrashMidRotation(t *testing.T) {
	recs := splitEpochs(4)
	tests := []struct {
		name  string
		crash func(t *testing.T, path string)
		last  uint64 // the last segment after the crash
	}{
		{"temporary file left", func(t *testing.T, path string) {
			tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(SegmentPath(path, 5))+".tmp-123")
			if err := os.WriteFile(tmp, []byte("WBLOG partial"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, 4},
		{"new segment not linked", func(t *testing.T, path string) {
			if err := os.Remove(SegmentPath(path, 4)); err != nil {
				t.Fatal(err)
			}
		}, 3},
		{"new segment with its header only", func(*testing.T, string) {}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := segLog(t, t.TempDir(), 1, recs...)
			tt.crash(t, path)
			l, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			checkContents(t, l, recs)
			if got := l.Segments(); got[len(got)-1] != SegmentPath(path, tt.last) {
				t.Errorf("last segment %s, want number %d", got[len(got)-1], tt.last)
			}
			w, rec, err := OpenWriter(path)
			if err != nil || rec != nil {
				t.Fatalf("OpenWriter: %v, %v", rec, err)
			}
			w.SetSegmentSize(1)
			more := []record.Record{write(20, 5, "m", 0, 1), closed(5, false)}
			for _, r := range more {
				if err := w.Append(r); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			l, err = Open(path)
			if err != nil {
				t.Fatal(err)
			}
			checkContents(t, l, append(slices.Clone(recs), more...))
		})
	}
}

// A torn tail of the last segment is cut as in a one-file log.
func TestTornLastSegment(t *testing.T) {
	recs := splitEpochs(3)
	path := segLog(t, t.TempDir(), 1, recs...)
	last := SegmentPath(path, 3)
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 512))
	f.Close()
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if r := l.Recovery(); r == nil || r.Path != last || r.Bytes != 512 {
		t.Fatalf("Recovery() = %+v, want 512 bytes of %s", r, last)
	}
	w, rec, err := OpenWriter(path)
	if err != nil || rec == nil || rec.Broken != last+".broken" {
		t.Fatalf("OpenWriter: %+v, %v", rec, err)
	}
	w.Close()
	if l, err = Open(path); err != nil || l.Recovery() != nil {
		t.Fatalf("after the cut: %v, %v", l.Recovery(), err)
	}
	checkContents(t, l, recs)
}

// Segments missing, replaced, misnamed, cut short or torn before the
// last are corruption, reported with the file. OpenWriter reads the last
// two segments only: it finds the damage in those, and in the list of
// files.
func TestSegmentDamage(t *testing.T) {
	recs := splitEpochs(5)
	other := segLog(t, t.TempDir(), 1, recs...) // another log: another salt
	copyFile := func(t *testing.T, from, to string) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		bad    uint64 // the segment reported
	}{
		{"segment missing", func(t *testing.T, path string) {
			os.Remove(SegmentPath(path, 2))
		}, 3},
		{"segment of another log", func(t *testing.T, path string) {
			copyFile(t, SegmentPath(other, 2), SegmentPath(path, 2))
		}, 2},
		{"segment under another number", func(t *testing.T, path string) {
			copyFile(t, SegmentPath(path, 2), SegmentPath(path, 6))
		}, 6},
		{"last frame of a segment cut off", func(t *testing.T, path string) {
			seg := SegmentPath(path, 1)
			data, _ := os.ReadFile(seg)
			offs := frameOffsets(t, data)
			os.Truncate(seg, int64(offs[len(offs)-1]))
		}, 2},
		{"torn tail before the last segment", func(t *testing.T, path string) {
			f, _ := os.OpenFile(SegmentPath(path, 1), os.O_WRONLY|os.O_APPEND, 0)
			f.Write([]byte("torn bytes"))
			f.Close()
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := segLog(t, t.TempDir(), 1, recs...)
			tt.damage(t, path)
			var ce *CorruptError
			if _, err := Open(path); !errors.As(err, &ce) || ce.Path != SegmentPath(path, tt.bad) {
				t.Errorf("Open: %v, want corruption of %s", err, SegmentPath(path, tt.bad))
			}
			segs, _ := listSegments(path)
			last := uint64(len(segs) - 1)
			w, _, err := OpenWriter(path)
			switch {
			case tt.bad+1 >= last || tt.name == "segment missing":
				if !errors.As(err, &ce) || ce.Path != SegmentPath(path, tt.bad) {
					t.Errorf("OpenWriter: %v, want corruption of %s", err, SegmentPath(path, tt.bad))
				}
			case err != nil:
				t.Errorf("OpenWriter, damage before the segments it reads: %v", err)
			default:
				w.Close()
			}
			if _, err := Create(path, testHeader); !errors.Is(err, os.ErrExist) {
				t.Errorf("Create over a damaged log: %v, want fs.ErrExist", err)
			}
		})
	}
}

// A seal keeps the seq of its epoch-closed marker, and the Writer keeps
// the greatest in the next segment's header, so that a drain resumes after
// it once the earlier segments are gone.
func TestSealSeqInSegmentHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.wblog")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	w.SetSegmentSize(1)
	steps := []func() error{
		func() error { return w.Append(write(1, 1, "a", 0, 1)) },
		func() error { return w.Seal(1, 2, false) },
		func() error { return w.Seal(2, 6, false) }, // an empty epoch
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if _, err := Purge(path, 2); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.NextSeq(); got != 7 || len(l.Records()) != 0 {
		t.Errorf("NextSeq() = %d with %d records, want 7 and none", got, len(l.Records()))
	}
}
