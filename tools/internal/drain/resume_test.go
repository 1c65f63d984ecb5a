package drain

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
)

// What OpenLog reads (the last two segments) sets up the same gap state as
// the whole log does, wherever a gap is, in a log of one segment per epoch
// or of several epochs per segment, with the segments before purged or not.
func TestOpenLogResumesAsTheWholeLog(t *testing.T) {
	gen := changelog.Generation{LoadID: 7, WatchID: 1}
	for _, size := range []int64{1, 400, 0} {
		for gapAt := uint64(0); gapAt <= 40; gapAt += 3 {
			for _, purge := range []bool{false, true} {
				t.Run(fmt.Sprintf("segments of %d/gap at seq %d/purged %v", size, gapAt, purge), func(t *testing.T) {
					path := filepath.Join(t.TempDir(), "wb.log")
					w, err := changelog.Create(path, changelog.Header{FSType: "tmpfs"})
					if err != nil {
						t.Fatal(err)
					}
					w.SetSegmentSize(size)
					if _, err := w.StartGeneration(gen); err != nil {
						t.Fatal(err)
					}
					// Epochs of three records and a marker; seq gapAt
					// never reaches the log.
					seq := uint64(0)
					for e := uint64(1); e <= 10; e++ {
						for range 3 {
							if seq++; seq != gapAt {
								if err := w.Append(record.Record{Type: record.TypeChange, Seq: seq, Epoch: e, Ops: record.OpData, Name: "f"}); err != nil {
									t.Fatal(err)
								}
							}
						}
						if seq++; seq != gapAt {
							if err := w.Seal(e, seq, false); err != nil {
								t.Fatal(err)
							}
						}
					}
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
					if purge {
						if _, err := changelog.Purge(path, 6); err != nil {
							t.Fatal(err)
						}
					}
					whole := wholeLogResume(t, path, gen)
					w, _, seqs, err := OpenLog(path)
					if err != nil {
						t.Fatal(err)
					}
					w.Close()
					var d Drainer
					d.Cursor = w.NextSeq()
					d.ResumeAfter(seqs, gen)
					last, _ := w.LastSealed()
					// What matters from now on: a pending gap, and lossy
					// epochs not sealed yet.
					got := fmt.Sprint(d.gapPending, max(d.lossyThrough, last))
					want := fmt.Sprint(whole.gapPending, max(whole.lossyThrough, last))
					if got != want {
						t.Errorf("gap pending, lossy through: %s from OpenLog, %s from the whole log", got, want)
					}
				})
			}
		}
	}
}

// wholeLogResume is Resume from every seq the log holds of g, as the
// daemon did before it read the last segments only.
func wholeLogResume(t *testing.T, path string, g changelog.Generation) *Drainer {
	l, err := changelog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var held []Held
	for _, r := range l.Records() {
		held = append(held, Held{Seq: r.Seq})
	}
	for _, s := range l.Seals() {
		held = append(held, Held{Seq: s.Seq, Epoch: s.Epoch, Marker: true})
	}
	first := uint64(1)
	if gens := l.Generations(); l.Header().Segment > 0 && len(gens) == 1 && gens[0] == g {
		first = l.Header().NextSeq
	}
	d := &Drainer{Cursor: l.NextSeq()}
	d.Resume(first, held)
	return d
}
