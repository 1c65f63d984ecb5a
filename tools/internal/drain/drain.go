// Package drain moves change records from the kernel's ring into the change
// log: change records are appended, and an epoch-closed marker becomes a
// seal, written only after everything before it is durable.
package drain

import (
	"fmt"
	"slices"

	"github.com/wbarrier/wbarrier/record"
)

// Source is where records come from: the kernel (genl.Client) or a fake.
type Source interface {
	// ScanRecords hands the queued records of a watch from seq cursor on
	// to fn, batch by batch in sequence order, as they arrive, and
	// acknowledges (frees) those below cursor, as the watch's one
	// acknowledging reader (another gets EBUSY from the kernel). If fn
	// fails, it returns fn's error and hands over nothing more. A batch
	// is fn's only until fn returns: the next may overwrite it, handles
	// and names included (genl.Client.ScanRecords).
	ScanRecords(watch uint32, cursor uint64, fn func([]record.Record) error) error
}

// Log is where records go: a changelog.Writer or a fake. Its Append and
// Seal run while the Source's dump is open: they must not use the Source
// (a genl.Client's requests wait for the dump to end). Append must copy
// what it keeps of the record: the Source reuses its memory.
type Log interface {
	Append(record.Record) error
	// Seal makes everything appended so far durable, then the seal of
	// epoch, which keeps seq, the seq of the epoch's epoch-closed marker.
	Seal(epoch, seq uint64, lossy bool) error
	// Sync makes everything appended so far durable.
	Sync() error
}

// Drainer drains one watch into one log.
type Drainer struct {
	Source Source
	Log    Log
	Watch  uint32
	// Cursor is the next sequence number wanted: one past the last record
	// or sealed epoch-closed marker the log holds (changelog.Log.NextSeq),
	// 1 for a new log or generation (the kernel numbers from 1); a record
	// after it is a gap. 0: where the log begins is unknown (no gap check).
	Cursor uint64
	// LastSealed is the newest epoch the log has sealed (0: none), in the
	// log's numbering. A marker for it or an older epoch is a repeat after
	// a restart and is skipped.
	LastSealed uint64
	// Offset maps the watch's epochs to the log's (changelog.Generation):
	// a record of the watch's epoch E goes into the log as epoch E+Offset,
	// and Stats and LastSealed count in the log's epochs.
	Offset uint64

	acked uint64 // the cursor last passed to Source.ScanRecords

	// A gap in the seqs (records freed before this log had them: taken
	// by another reader, or queued before the log began) may have taken
	// records of the epoch of the first marker after it, F, and of F+1
	// (the kernel opens F+1 before it queues F's marker); F+2 is whole.
	gapPending   bool   // a gap was seen, no marker yet since
	lossyThrough uint64 // seal the log's epochs up to this one lossy
}

// A Gap is a run of seqs the log never had: [From, To).
type Gap struct{ From, To uint64 }

// Held is a seq the log holds of the current generation: a change record's,
// or the epoch-closed marker's of a seal (Marker, with the log's Epoch).
type Held struct {
	Seq    uint64
	Epoch  uint64
	Marker bool
}

// Resume sets up the gap state of a drainer that goes on with a log after a
// restart, from the seqs the log holds of the current generation (in any
// order), from seq first on (1, unless the segments before were removed):
// a gap among them that no marker followed yet still makes the next marker's
// epoch lossy, and one the last seal followed, the epoch after it.
func (d *Drainer) Resume(first uint64, held []Held) {
	var s seqs
	for _, h := range held {
		s.add(h)
	}
	d.resume(first, &s)
}

// resume is Resume from the seqs in s.
func (d *Drainer) resume(first uint64, s *seqs) {
	if !slices.IsSorted(s.all) {
		slices.Sort(s.all)
	}
	want := max(first, 1)
	for _, seq := range s.all {
		if seq > want {
			d.gapPending = true
		}
		if epoch, ok := s.markers[seq]; ok && d.gapPending {
			d.lossyThrough = max(d.lossyThrough, epoch+1)
			d.gapPending = false
		}
		want = max(want, seq+1)
	}
	if d.Cursor > want {
		d.gapPending = true
	}
}

// seqs are seqs held, 8 bytes each: a log's last segments may hold
// millions.
type seqs struct {
	all     []uint64          // every seq, the markers' too
	markers map[uint64]uint64 // the markers' seqs: their epochs
}

func (s *seqs) add(h Held) {
	s.all = append(s.all, h.Seq)
	if h.Marker {
		if s.markers == nil {
			s.markers = make(map[uint64]uint64)
		}
		s.markers[h.Seq] = h.Epoch
	}
}

// Stats counts what one pass moved.
type Stats struct {
	Records int      // change records appended
	Sealed  []uint64 // epochs sealed (the log's numbering), in order
	Lossy   []uint64 // of those, the lossy ones
	Gaps    []Gap    // seqs freed before the log had them
}

// Once drains every record queued now. Records arrive in sequence order;
// a gap (records freed before this log had them: acknowledged by another
// reader, or before the log began) is never a silent loss: the epoch of the
// first marker after it and the next one are sealed lossy (Stats.Gaps).
func (d *Drainer) Once() (Stats, error) {
	var st Stats
	// Asking from Cursor acknowledges the records below it: the kernel
	// frees them. Those the log only buffers would die with this process
	// (a SIGKILL between two passes): make them durable first.
	acking := d.Cursor
	if d.Cursor > d.acked {
		if err := d.Log.Sync(); err != nil {
			return st, fmt.Errorf("drain: syncing the log before acknowledging records below %d: %w", d.Cursor, err)
		}
	}
	// Each record is in the log (buffered) and past the cursor before the
	// next one is looked at: an error mid-dump loses nothing, and the next
	// pass resumes after the last record appended.
	var applyErr error
	err := d.Source.ScanRecords(d.Watch, d.Cursor, func(recs []record.Record) error {
		for _, r := range recs {
			if r.Seq < d.Cursor {
				applyErr = fmt.Errorf("drain: watch %d: expected record %d, got %d", d.Watch, d.Cursor, r.Seq)
				return applyErr
			}
			// Records were freed before the log had them: the epochs
			// they may belong to are sealed lossy.
			if d.Cursor != 0 && r.Seq > d.Cursor {
				st.Gaps = append(st.Gaps, Gap{d.Cursor, r.Seq})
				d.gapPending = true
			}
			if applyErr = d.apply(r, &st); applyErr != nil {
				return applyErr
			}
			d.Cursor = r.Seq + 1
		}
		return nil
	})
	if applyErr != nil {
		return st, applyErr
	}
	if err != nil {
		return st, fmt.Errorf("drain: reading records of watch %d: %w", d.Watch, err)
	}
	d.acked = acking
	return st, nil
}

func (d *Drainer) apply(r record.Record, st *Stats) error {
	r.Epoch += d.Offset
	switch r.Type {
	case record.TypeChange:
		if r.Epoch <= d.LastSealed {
			return fmt.Errorf("drain: record %d of epoch %d arrived after the epoch was sealed", r.Seq, r.Epoch)
		}
		if err := d.Log.Append(r); err != nil {
			return fmt.Errorf("drain: appending record %d: %w", r.Seq, err)
		}
		st.Records++
	case record.TypeEpochClosed:
		if d.gapPending {
			d.lossyThrough = max(d.lossyThrough, r.Epoch+1)
			d.gapPending = false
		}
		if r.Epoch <= d.LastSealed {
			return nil
		}
		r.Lossy = r.Lossy || r.Epoch <= d.lossyThrough
		if err := d.Log.Seal(r.Epoch, r.Seq, r.Lossy); err != nil {
			return fmt.Errorf("drain: sealing epoch %d: %w", r.Epoch, err)
		}
		d.LastSealed = r.Epoch
		st.Sealed = append(st.Sealed, r.Epoch)
		if r.Lossy {
			st.Lossy = append(st.Lossy, r.Epoch)
		}
	default:
		return fmt.Errorf("drain: record %d has unknown type %v", r.Seq, r.Type)
	}
	return nil
}
