package consumer

import (
	"context"
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
// batches of one host's filesystem, taken by ReadStream, answered with the
// same contract as a local log. It holds the subject's last log: the one
// its last seal is of.
type Stream struct {
	src     export.Source // Log: "" if the subject has no seal
	seals   map[uint64]*export.Seal
	batches map[uint64]map[int]*export.Batch // by epoch, by index; duplicates dropped
	last    uint64                           // the last epoch sealed
	first   uint64                           // the first epoch of the log the stream holds anything of
	trimmed bool                             // the stream lost its oldest messages (limits, age)
}

// ReadStream reads every message of host's filesystem fs in the stream
// named (the subjects wbarrier.HOST.FS.records and .seal).
func ReadStream(ctx context.Context, js jetstream.JetStream, stream, host, fs string) (*Stream, error) {
	st := &Stream{src: export.Source{Host: host, FS: fs},
		seals: make(map[uint64]*export.Seal), batches: make(map[uint64]map[int]*export.Batch)}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("consumer: stream %q: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumer: stream %q: %w", stream, err)
	}
	st.trimmed = info.State.FirstSeq > 1
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{
		wbjs.Subject(st.src, wbjs.KindRecords), wbjs.Subject(st.src, wbjs.KindSeal)}})
	if err != nil {
		return nil, fmt.Errorf("consumer: reading stream %q: %w", stream, err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumer: reading stream %q: %w", stream, err)
	}
	var batches []*export.Batch
	var seals []*export.Seal
	for pending := ci.NumPending; pending > 0; {
		mb, err := c.Fetch(int(min(pending, 256)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("consumer: reading stream %q: %w", stream, err)
		}
		n := 0
		for m := range mb.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("consumer: reading stream %q: %w", stream, err)
			}
			pending = md.NumPending
			if b, err := wbjs.ParseBatch(m.Subject(), m.Headers(), m.Data()); err == nil {
				batches = append(batches, b)
			} else if sl, err := wbjs.ParseSeal(m.Subject(), m.Headers()); err == nil {
				seals = append(seals, sl)
			} else {
				return nil, fmt.Errorf("consumer: stream %q, message %d: %w", stream, md.Sequence.Stream, err)
			}
		}
		if err := mb.Error(); err != nil {
			return nil, fmt.Errorf("consumer: reading stream %q: %w", stream, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("consumer: reading stream %q: no message in 5s, %d pending", stream, pending)
		}
	}
	st.index(batches, seals)
	return st, nil
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
