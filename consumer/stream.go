package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/export"
	wbjs "github.com/wbarrier/wbarrier/export/jetstream"
	"github.com/wbarrier/wbarrier/record"
)

// Stream is a log as wbctl export published it to a NATS JetStream stream
// (docs/changes.md, "Fleet: NATS JetStream"): a snapshot of the seals and
// batches of one host's filesystem, taken by ReadStream or
// ReadStreamSince, answered with the same contract as a local log. It
// holds the subject's last log: the one its last seal is of.
type Stream struct {
	src     export.Source // Log: "" if the subject has no seal
	seals   map[uint64]*export.Seal
	batches map[uint64]map[int]*export.Batch // by epoch, by index; duplicates dropped
	last    uint64                           // the last epoch sealed
	first   uint64                           // the first epoch of the log read
	trimmed bool                             // the stream lost messages that were to be read (limits, age)
	since   uint64                           // what was read answers cursors from this epoch on
	read    int                              // messages read from the stream
}

// ReadStream reads every message of host's filesystem fs in the stream
// named (the subjects wbarrier.HOST.FS.records and .seal): its Changes
// answers any cursor. ReadStreamSince reads only what one cursor needs.
func ReadStream(ctx context.Context, js jetstream.JetStream, stream, host, fs string) (*Stream, error) {
	st, s, err := openStream(ctx, js, stream, host, fs)
	if err != nil {
		return nil, err
	}
	return st, st.readRange(ctx, s, stream, 1, 0)
}

// ReadStreamSince reads what Changes needs to answer the cursor since and
// any later one: the messages after the subject's last seal of an epoch
// up to since.Epoch (or of an older log), found in a few requests by
// bisecting the seal subject (the exporter publishes in log order), up to
// the subject's last seal. Its cost follows the answer, not the stream.
// Should the seals not be in log order (two exporters of one log), it may
// read too little; then an epoch lacks its batches or seal and Changes
// answers a rescan, never a wrong answer.
func ReadStreamSince(ctx context.Context, js jetstream.JetStream, stream, host, fs string, since Cursor) (*Stream, error) {
	st, s, err := openStream(ctx, js, stream, host, fs)
	if err != nil {
		return nil, err
	}
	return st, st.readSince(ctx, s, stream, since)
}

// readSince reads what Changes needs to answer since.
func (st *Stream) readSince(ctx context.Context, s jetstream.Stream, stream string, since Cursor) error {
	st.since = since.Epoch
	from, to, last, err := st.start(ctx, s, stream, since)
	if err != nil || last == nil {
		return err
	}
	if from > to {
		// Other log, nothing new or beyond: Changes answers from the last seal.
		st.index(nil, []*export.Seal{last})
		return nil
	}
	return st.readRange(ctx, s, stream, from, to)
}

// start returns where a reader of the epochs after since starts in the
// stream (from), the sequence of the subject's last seal (to) and that
// seal; from is after to if there is nothing to read (since is of another
// log, or at or beyond the last seal); last is nil if the subject has no
// seal.
func (st *Stream) start(ctx context.Context, s jetstream.Stream, stream string, since Cursor) (from, to uint64, last *export.Seal, err error) {
	subj := wbjs.Subject(st.src, wbjs.KindSeal)
	m, err := s.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 1, 0, nil, nil
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("consumer: stream %q: the last seal on %s: %w", stream, subj, err)
	}
	if last, err = wbjs.ParseSeal(m.Subject, m.Header); err != nil {
		return 0, 0, nil, fmt.Errorf("consumer: stream %q, message %d: %w", stream, m.Sequence, err)
	}
	if (since.Log != "" && since.Log != last.Source.Log) || since.Epoch >= last.Epoch {
		return m.Sequence + 1, m.Sequence, last, nil
	}
	from, err = st.after(ctx, s, stream, last.Source.Log, since.Epoch, m.Sequence)
	return from, m.Sequence, last, err
}

// newStream returns an empty snapshot of src's subjects.
func newStream(src export.Source) *Stream {
	return &Stream{src: src, seals: make(map[uint64]*export.Seal), batches: make(map[uint64]map[int]*export.Batch)}
}

// openStream looks the stream up for a reader of host's filesystem fs.
func openStream(ctx context.Context, js jetstream.JetStream, stream, host, fs string) (*Stream, jetstream.Stream, error) {
	st := newStream(export.Source{Host: host, FS: fs})
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, nil, fmt.Errorf("consumer: stream %q: %w", stream, err)
	}
	return st, s, nil
}

// after returns the stream sequence after the last seal, before the one
// at lastSeq, that is of another log than id or of an epoch up to epoch:
// everything of id's later epochs is at or after it. It bisects the seal
// subject: a seal of id after epoch is "late", and every later seal is.
func (st *Stream) after(ctx context.Context, s jetstream.Stream, stream, id string, epoch, lastSeq uint64) (uint64, error) {
	subj := wbjs.Subject(st.src, wbjs.KindSeal)
	lo, hi := uint64(1), lastSeq // the answer is in [lo, hi]; the seal at hi is late
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, err := s.GetMsg(ctx, mid, jetstream.WithGetMsgSubject(subj)) // the first seal at or after mid
		if err != nil {
			return 0, fmt.Errorf("consumer: stream %q: the seal at or after message %d: %w", stream, mid, err)
		}
		seal, err := wbjs.ParseSeal(m.Subject, m.Header)
		if err != nil {
			return 0, fmt.Errorf("consumer: stream %q, message %d: %w", stream, m.Sequence, err)
		}
		st.read++
		if seal.Source.Log == id && seal.Epoch > epoch {
			hi = mid
		} else {
			lo = m.Sequence + 1 // no later seal before it
		}
	}
	return lo, nil
}

// readRange reads the subject's messages from stream sequence from up to
// to (0: the stream's end) and indexes them.
func (st *Stream) readRange(ctx context.Context, s jetstream.Stream, stream string, from, to uint64) error {
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("consumer: stream %q: %w", stream, err)
	}
	st.trimmed = info.State.FirstSeq > from
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{wbjs.Subject(st.src, wbjs.KindRecords), wbjs.Subject(st.src, wbjs.KindSeal)},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy, OptStartSeq: from})
	if err != nil {
		return fmt.Errorf("consumer: reading stream %q: %w", stream, err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return fmt.Errorf("consumer: reading stream %q: %w", stream, err)
	}
	var batches []*export.Batch
	var seals []*export.Seal
	for pending := ci.NumPending; pending > 0; {
		mb, err := c.Fetch(int(min(pending, 256)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("consumer: reading stream %q: %w", stream, err)
		}
		n := 0
		for m := range mb.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("consumer: reading stream %q: %w", stream, err)
			}
			pending = md.NumPending
			if to != 0 && md.Sequence.Stream >= to {
				pending = 0
			}
			if to != 0 && md.Sequence.Stream > to {
				continue
			}
			st.read++
			if b, err := wbjs.ParseBatch(m.Subject(), m.Headers(), m.Data()); err == nil {
				batches = append(batches, b)
			} else if sl, err := wbjs.ParseSeal(m.Subject(), m.Headers()); err == nil {
				seals = append(seals, sl)
			} else {
				return fmt.Errorf("consumer: stream %q, message %d: %w", stream, md.Sequence.Stream, err)
			}
		}
		if err := mb.Error(); err != nil {
			return fmt.Errorf("consumer: reading stream %q: %w", stream, err)
		}
		if n == 0 {
			return fmt.Errorf("consumer: reading stream %q: no message in 5s, %d pending", stream, pending)
		}
	}
	st.index(batches, seals)
	return nil
}

// index keeps the seals and batches of the last log sealed on the subject.
func (st *Stream) index(batches []*export.Batch, seals []*export.Seal) {
	if len(seals) == 0 {
		return
	}
	st.src.Log = seals[len(seals)-1].Source.Log
	st.first = ^uint64(0)
	for _, s := range seals {
		if s.Source.Log == st.src.Log {
			st.seals[s.Epoch] = s
			st.last = max(st.last, s.Epoch)
			st.first = min(st.first, s.Epoch)
		}
	}
	for _, b := range batches {
		if b.Source.Log != st.src.Log {
			continue
		}
		if st.batches[b.Epoch] == nil {
			st.batches[b.Epoch] = make(map[int]*export.Batch)
		}
		st.batches[b.Epoch][b.Index] = b
		st.first = min(st.first, b.Epoch)
	}
}

// ID returns the ID of the log the stream holds (its last seal's), "" if
// it holds no seal.
func (st *Stream) ID() string { return st.src.Log }

// Read returns how many messages were read from the stream to take the
// snapshot (seals and batches, and the seals looked at to find where to
// start).
func (st *Stream) Read() int { return st.read }

// Cursor returns the cursor of the last epoch sealed in the stream.
func (st *Stream) Cursor() Cursor { return Cursor{Log: st.src.Log, Epoch: st.last} }

// Changes answers the epochs after since up to the last epoch sealed in
// the stream, as Log.Changes does: a *RescanError if an epoch in the range
// has no seal in the stream (never sealed, a generation break, skipped at
// export), is lossy, lacks batches its seal counts or was removed from the
// stream (Purged), or if the cursor is of another log or beyond the last
// sealed epoch.
func (st *Stream) Changes(since Cursor) (*Changes, error) {
	id := st.src.Log
	if since.Epoch < st.since && (since.Log == "" || since.Log == id) {
		return nil, fmt.Errorf("consumer: the stream was read for the cursors from epoch %d on, not %s (ReadStreamSince)", st.since, since)
	}
	if since.Log != "" && since.Log != id {
		return nil, &RescanError{From: st.last, Reason: OtherLog,
			Detail: fmt.Sprintf("the cursor %s belongs to log %s; the stream's last log on %s.%s is %s: after the rescan, go on from %s", since, since.Log, st.src.Host, st.src.FS, id, st.Cursor())}
	}
	if since.Epoch > st.last {
		return nil, &RescanError{From: st.last, Reason: BeyondLastSealed,
			Detail: fmt.Sprintf("the cursor %d is beyond the last epoch %d sealed in the stream: it belongs to another log or watch", since.Epoch, st.last)}
	}
	var recs []record.Record
	for e := since.Epoch + 1; e <= st.last; e++ {
		got, err := st.epoch(e)
		if err != nil {
			return nil, err
		}
		recs = append(recs, got...)
	}
	return &Changes{Since: since.Epoch, Until: st.last, Objects: changelog.Merge(recs, since.Epoch, st.last),
		Cursor: Cursor{Log: id, Epoch: st.last}}, nil
}

// epoch returns the records of epoch e, or why the stream cannot vouch
// for it.
func (st *Stream) epoch(e uint64) ([]record.Record, error) {
	s := st.seals[e]
	if s == nil && st.trimmed && e < st.first {
		return nil, &RescanError{From: e, Reason: Purged,
			Detail: fmt.Sprintf("epoch %d was removed from the stream (its oldest epoch of log %s is %d)", e, st.src.Log, st.first)}
	}
	if s == nil {
		why := fmt.Sprintf("epoch %d is not sealed in the stream", e)
		for _, o := range st.seals {
			if o.Generation == e {
				why = fmt.Sprintf("epoch %d is the break between two watches of the filesystem (the watch was made anew): what changed then is unknown; after the rescan, go on from epoch %d", e, e)
			}
		}
		return nil, &RescanError{From: e, Reason: Unsealed, Detail: why}
	}
	if s.Lossy {
		return nil, &RescanError{From: e, Reason: Lossy, Detail: fmt.Sprintf("epoch %d is lossy: records of it were lost", e)}
	}
	var recs []record.Record
	for i := range s.Batches {
		b := st.batches[e][i]
		if b == nil {
			return nil, &RescanError{From: e, Reason: Purged,
				Detail: fmt.Sprintf("batch %d of the %d of epoch %d is not in the stream (removed by a limit or its age)", i, s.Batches, e)}
		}
		got, err := export.DecodeRecords(b.Data)
		if err != nil {
			return nil, fmt.Errorf("consumer: epoch %d, batch %d of log %s: %w", e, i, st.src.Log, err)
		}
		recs = append(recs, got...)
	}
	if uint64(len(recs)) != s.Records {
		return nil, fmt.Errorf("consumer: epoch %d of log %s: its seal counts %d records, its batches hold %d", e, st.src.Log, s.Records, len(recs))
	}
	return slices.Clip(recs), nil
}
