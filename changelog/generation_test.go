package changelog

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/record"
)

var (
	genA = Generation{LoadID: 0xa1, WatchID: 1, Dev: 0x801}
	genB = Generation{LoadID: 0xb2, WatchID: 1, Dev: 0x801}
)

// A second watch appends a break: the first watch's epochs stay answered,
// the break epoch is a rescan that says why, the new watch's epochs are
// answered after it, and the seqs start again.
func TestGenerationBreak(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	w.SetSegmentSize(1) // a segment per seal: the generation is restated
	g, err := w.StartGeneration(genA)
	if err != nil || g.Offset != 0 || g.Break {
		t.Fatalf("first generation: %+v, %v; want offset 0, no break", g, err)
	}
	steps := []func() error{
		func() error { return w.Append(write(1, 1, "a", 0, 1)) },
		func() error { return w.Seal(1, 2, false) },
		func() error { return w.Append(write(3, 2, "b", 0, 1)) },
		func() error { return w.Seal(2, 4, false) },
		func() error { return w.Append(write(5, 3, "c", 0, 1)) }, // never sealed
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	g, err = w.StartGeneration(genB)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Generation{LoadID: 0xb2, WatchID: 1, Dev: 0x801, Offset: 4, Break: true}); g != want {
		t.Fatalf("second generation %+v, want %+v", g, want)
	}
	if n := w.NextSeq(); n != 0 {
		t.Errorf("NextSeq() after the break = %d, want 0", n)
	}
	// The new watch's epoch 1 is the log's 5.
	if err := w.Append(write(1, g.LogEpoch(1), "d", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(g.LogEpoch(1), 2, false); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Generation{{LoadID: 0xa1, WatchID: 1, Dev: 0x801}, g}
	if diff := cmp.Diff(want, l.Generations()); diff != "" {
		t.Errorf("Generations() (-want +got):\n%s", diff)
	}
	if l.NextSeq() != 3 {
		t.Errorf("NextSeq() = %d, want 3", l.NextSeq())
	}
	var frames []string
	err = l.EachFrameGen(func(r record.Record) error {
		frames = append(frames, fmt.Sprintf("rec %d/%d", r.Seq, r.Epoch))
		return nil
	}, func(s Seal) error {
		frames = append(frames, fmt.Sprintf("seal %d", s.Epoch))
		return nil
	}, func(g Generation) error {
		frames = append(frames, fmt.Sprintf("gen %d", g.Offset))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantFrames := []string{"gen 0", "rec 1/1", "seal 1", "rec 3/2", "seal 2", "rec 5/3", "gen 4", "rec 1/5", "seal 5"}
	if diff := cmp.Diff(wantFrames, frames); diff != "" {
		t.Errorf("EachFrameGen (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		since, until uint64
		rescanFrom   uint64 // 0: answered
		reason       string
		objects      int
	}{
		{0, 2, 0, "", 2},
		{2, 5, 3, "epoch 3 is not sealed; and epoch 4 is the break between two watches", 2},
		{3, 5, 4, "epoch 4 is the break between two watches of the filesystem (the watch was made anew: a reboot, a module reload, or an unwatch and a new watch)", 1},
		{4, 5, 0, "", 1},
	} {
		c, err := l.Changes(tt.since, tt.until)
		if err != nil {
			t.Fatal(err)
		}
		if c.RescanFrom != tt.rescanFrom || c.Rescan != (tt.rescanFrom != 0) || !strings.Contains(c.Reason, tt.reason) || len(c.Objects) != tt.objects {
			t.Errorf("Changes(%d, %d): rescan %v from %d (%q), %d objects; want from %d (%q), %d objects",
				tt.since, tt.until, c.Rescan, c.RescanFrom, c.Reason, len(c.Objects), tt.rescanFrom, tt.reason, tt.objects)
		}
	}

	// A writer reopened knows the generation; one after the segments that
	// started both generations were removed still does, from the restated
	// frame.
	if _, err := Purge(path, 4); err != nil {
		t.Fatal(err)
	}
	w, _, err = OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got, ok := w.Generation(); !ok || got != g {
		t.Errorf("after purge: Generation() = %+v, %v; want %+v", got, ok, g)
	}
	if n := w.NextSeq(); n != 3 {
		t.Errorf("after purge: NextSeq() = %d, want 3", n)
	}
	// A third watch breaks after the second's sealed epoch.
	g3, err := w.StartGeneration(Generation{LoadID: 0xb2, WatchID: 2})
	if err != nil || g3.Offset != 6 || !g3.Break {
		t.Errorf("third generation %+v, %v; want offset 6, a break", g3, err)
	}
	if err := w.Append(write(1, 6, "e", 0, 1)); err == nil {
		t.Errorf("a record of the break epoch was appended")
	}
}

// A log that held records before its first generation frame (written
// before generations existed) gets a break too.
func TestGenerationAfterOldLog(t *testing.T) {
	path := writeLog(t, t.TempDir(), write(1, 1, "a", 0, 1), closed(1, false), write(2, 2, "b", 0, 1))
	w, _, err := OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := w.StartGeneration(genA)
	if err != nil || g.Offset != 3 || !g.Break {
		t.Fatalf("generation %+v, %v; want offset 3, a break", g, err)
	}
	w.Close()
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := l.Generation(); !ok || got != g {
		t.Errorf("Generation() = %+v, %v; want %+v", got, ok, g)
	}
}
