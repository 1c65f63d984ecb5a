package drain

import (
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
)

// OpenLog opens the log at path for appending (changelog.OpenWriterVisit:
// its last two segments read once, a frame at a time) and returns, from
// the same read, the seqs a Drainer resumes after (ResumeAfter).
func OpenLog(path string) (*changelog.Writer, *changelog.Recovery, *LogSeqs, error) {
	s := new(LogSeqs)
	w, rec, err := changelog.OpenWriterVisit(path, s.visitor())
	if err != nil {
		return nil, nil, nil, err
	}
	return w, rec, s, nil
}

// ResumeAfter sets up the gap state of d, which goes on with generation g
// of a log, from what OpenLog read of it (see Resume).
func (d *Drainer) ResumeAfter(s *LogSeqs, g changelog.Generation) {
	first := uint64(1)
	if len(s.gens) == 1 && s.restated && s.gens[0] == g {
		first = s.first.NextSeq // g goes on from the segments not read
	}
	if len(s.gens) == 0 || s.gens[len(s.gens)-1] != g {
		s.held = seqs{} // none of g's
	}
	d.resume(first, &s.held)
}

// LogSeqs are the seqs a log holds that a Drainer resumes after
// (Drainer.Resume), collected as OpenLog reads the log's last segments: a
// gap found before a restart still makes its epochs lossy. The segments before hold nothing
// that matters: each ends with a seal, and a gap before a seal has made
// the epoch after it lossy by the time a later seal is written.
type LogSeqs struct {
	first    changelog.Header // of the first segment read
	segments int
	frames   int  // since the start of the segment
	held     seqs // of the last generation read
	gens     []changelog.Generation
	restated bool // gens[0] is the first frame of a later segment
}

// visitor collects them, frame by frame.
func (h *LogSeqs) visitor() changelog.Visitor {
	return changelog.Visitor{
		Segment: func(s changelog.Header) error {
			if h.segments == 0 {
				h.first = s
			}
			h.segments++
			h.frames = 0
			return nil
		},
		Record: func(r record.Record) error {
			h.frames++
			h.held.add(Held{Seq: r.Seq})
			return nil
		},
		Seal: func(s changelog.Seal) error {
			h.frames++
			if s.Seq != 0 {
				h.held.add(Held{Seq: s.Seq, Epoch: s.Epoch, Marker: true})
			}
			return nil
		},
		Generation: func(g changelog.Generation) error {
			if len(h.gens) == 0 {
				h.restated = h.frames == 0 && h.first.Segment > 0
			}
			h.frames++
			h.gens = append(h.gens, g)
			h.held = seqs{} // of the generations before
			return nil
		},
	}
}
