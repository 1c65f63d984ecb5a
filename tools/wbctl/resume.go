package main

import (
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
	"github.com/wbarrier/wbarrier/tools/internal/drain"
)

// heldSeqs collects, as OpenWriterVisit reads the log's last segments,
// the seqs the drain resumes after (Drainer.Resume): a gap found before a
// restart still makes its epochs lossy. The segments before hold nothing
// that matters: each ends with a seal, and a gap before a seal has made
// the epoch after it lossy by the time a later seal is written.
type heldSeqs struct {
	first    changelog.Header // of the first segment read
	segments int
	frames   int // since the start of the segment
	held     []drain.Held
	gens     []changelog.Generation
	restated bool // gens[0] is the first frame of a later segment
}

func (h *heldSeqs) visitor() changelog.Visitor {
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
			h.held = append(h.held, drain.Held{Seq: r.Seq, Epoch: r.Epoch})
			return nil
		},
		Seal: func(s changelog.Seal) error {
			h.frames++
			if s.Seq != 0 {
				h.held = append(h.held, drain.Held{Seq: s.Seq, Epoch: s.Epoch, Marker: true})
			}
			return nil
		},
		Generation: func(g changelog.Generation) error {
			if len(h.gens) == 0 {
				h.restated = h.frames == 0 && h.first.Segment > 0
			}
			h.frames++
			h.gens = append(h.gens, g)
			return nil
		},
	}
}

// of returns where generation g's seqs start in what was read (1, unless
// g goes on from segments not read: then the first header's next seq) and
// the seqs held of g.
func (h *heldSeqs) of(g changelog.Generation) (uint64, []drain.Held) {
	var held []drain.Held
	for _, s := range h.held {
		if s.Epoch > g.Offset {
			held = append(held, s)
		}
	}
	first := uint64(1)
	if len(h.gens) == 1 && h.restated && h.gens[0] == g {
		first = h.first.NextSeq
	}
	return first, held
}
