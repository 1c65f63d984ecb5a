package export

import (
	"context"
	"errors"
	"fmt"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
)

// The default batch limits: a batch is cut once it holds BatchRecords
// records or BatchBytes bytes, so that it stays well under a message
// broker's usual 1 MiB limit (a record is at most about 192 KiB).
const (
	BatchRecords = 1024
	BatchBytes   = 256 << 10
)

// ErrAhead: the sink holds a seal of an epoch the log has not sealed (the
// log was restored from an older copy): exporting would skip or double.
var ErrAhead = errors.New("export: the sink is ahead of the log")

// Options tune Export. The zero value takes the defaults.
type Options struct {
	// BatchRecords and BatchBytes cut batches (defaults: the constants).
	BatchRecords int
	BatchBytes   int
	// Progress, if not nil, is called after each epoch's seal was stored.
	Progress func(Progress)
}

// Progress tells what one Export call has published so far.
type Progress struct {
	Epoch   uint64 // the epoch just sealed in the sink
	Lossy   bool   // its seal is lossy
	Records uint64 // records published by this call
	Batches int    // batches published by this call
	Epochs  int    // seals published by this call
	// Skipped counts the sealed epochs not exported because some of their
	// records were purged from the log first: the sink holds no seal of
	// them, so a reader rescans across them.
	Skipped int
}

// Export publishes to sink every epoch that l has sealed and sink does not
// hold sealed for src, oldest first, and returns what it published. It
// stops at the first error of the sink, having published nothing of an
// epoch out of order: a later call resumes where the sink stands.
func Export(ctx context.Context, l *changelog.Log, src Source, sink Sink, opt Options) (Progress, error) {
	pos, err := position(ctx, src, sink)
	if err != nil {
		return Progress{}, err
	}
	return run(ctx, l, src, sink, opt, pos)
}

// ExportFile is Export for the log at path, of which it reads only the
// segments that hold epochs the sink does not hold sealed
// (changelog.OpenSince): a follower's memory and time go with what it
// publishes, not with the log's size.
func ExportFile(ctx context.Context, path string, src Source, sink Sink, opt Options) (Progress, error) {
	pos, err := position(ctx, src, sink)
	if err != nil {
		return Progress{}, err
	}
	l, err := changelog.OpenSince(path, pos.Sealed)
	if err != nil {
		return Progress{}, err
	}
	return run(ctx, l, src, sink, opt, pos)
}

func position(ctx context.Context, src Source, sink Sink) (Position, error) {
	pos, err := sink.Position(ctx, src)
	if err != nil {
		return pos, fmt.Errorf("export: where the sink stands for log %s: %w", src.Log, err)
	}
	return pos, nil
}

// run publishes what l sealed after pos.
func run(ctx context.Context, l *changelog.Log, src Source, sink Sink, opt Options, pos Position) (Progress, error) {
	var p Progress
	if last, _ := l.LastSealed(); pos.Sealed > last {
		return p, fmt.Errorf("%w: it holds epoch %d of log %s sealed, the log's last sealed epoch is %d", ErrAhead, pos.Sealed, src.Log, last)
	}
	d := drain{ctx: ctx, src: src, sink: sink, opt: opt, pos: pos, p: &p,
		pending: make(map[uint64][]record.Record)}
	d.opt.BatchRecords = orDefault(opt.BatchRecords, BatchRecords)
	d.opt.BatchBytes = orDefault(opt.BatchBytes, BatchBytes)
	err := l.EachFrameGen(d.record, d.seal, func(g changelog.Generation) error {
		d.gen = g.Offset
		return nil
	})
	return p, err
}

// orDefault returns v, or def if v is not positive.
func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// drain is one Export call walking the log.
type drain struct {
	ctx     context.Context
	src     Source
	sink    Sink
	opt     Options
	pos     Position
	p       *Progress
	gen     uint64                     // the offset of the generation in force
	pending map[uint64][]record.Record // records of the epochs not sealed yet
}

func (d *drain) record(r record.Record) error {
	if r.Epoch > d.pos.Sealed {
		d.pending[r.Epoch] = append(d.pending[r.Epoch], r)
	}
	return nil
}

func (d *drain) seal(s changelog.Seal) error {
	recs := d.pending[s.Epoch]
	delete(d.pending, s.Epoch)
	if s.Epoch <= d.pos.Sealed {
		return nil
	}
	if uint64(len(recs)) != s.Records {
		// Records of the epoch were in purged segments: the seal of a
		// partial epoch would vouch for changes the sink never got.
		d.p.Skipped++
		return nil
	}
	var done uint64
	index := 0
	if s.Epoch == d.pos.Epoch {
		if d.pos.Records > uint64(len(recs)) {
			return fmt.Errorf("%w: it holds %d records of epoch %d of log %s, the log %d", ErrAhead, d.pos.Records, s.Epoch, d.src.Log, len(recs))
		}
		done, index = d.pos.Records, d.pos.Batches
	}
	for done < uint64(len(recs)) {
		b, err := d.batch(recs, done, index, s.Lossy)
		if err != nil {
			return err
		}
		if err := d.sink.PublishBatch(d.ctx, b); err != nil {
			return fmt.Errorf("export: batch %d of epoch %d (records %d-%d) of log %s: %w", b.Index, s.Epoch, b.First+1, b.First+uint64(b.Count), d.src.Log, err)
		}
		done += uint64(b.Count)
		index++
		d.p.Records += uint64(b.Count)
		d.p.Batches++
	}
	seal := &Seal{Source: d.src, Generation: d.gen, Epoch: s.Epoch, Lossy: s.Lossy, Records: s.Records, Batches: index, Seq: s.Seq}
	if err := d.sink.PublishSeal(d.ctx, seal); err != nil {
		return fmt.Errorf("export: seal of epoch %d of log %s: %w", s.Epoch, d.src.Log, err)
	}
	d.p.Epoch, d.p.Lossy = s.Epoch, s.Lossy
	d.p.Epochs++
	if d.opt.Progress != nil {
		d.opt.Progress(*d.p)
	}
	return nil
}

// batch cuts the batch of recs that starts at record first.
func (d *drain) batch(recs []record.Record, first uint64, index int, lossy bool) (*Batch, error) {
	b := &Batch{Source: d.src, Generation: d.gen, Epoch: recs[first].Epoch, Index: index, First: first, Lossy: lossy,
		FirstSeq: recs[first].Seq}
	for i := first; i < uint64(len(recs)) && b.Count < d.opt.BatchRecords && len(b.Data) < d.opt.BatchBytes; i++ {
		var err error
		if b.Data, err = appendRecord(b.Data, &recs[i]); err != nil {
			return nil, fmt.Errorf("export: epoch %d of log %s: %w", b.Epoch, d.src.Log, err)
		}
		b.Count++
		b.LastSeq = recs[i].Seq
	}
	return b, nil
}
