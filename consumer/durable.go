package consumer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wbarrier/wbarrier/export"
	wbjs "github.com/wbarrier/wbarrier/export/jetstream"
)

// The metadata of a durable JetStream consumer made by AddStreamConsumer.
const (
	metaHost   = "wbarrier-host"
	metaFS     = "wbarrier-fs"
	metaCursor = "wbarrier-cursor" // the cursor it was added at
)

// ErrNotStreamConsumer: the durable JetStream consumer of that name was not
// made by AddStreamConsumer (or is of another host or filesystem).
var ErrNotStreamConsumer = errors.New("consumer: not a wbarrier consumer of the stream")

// StreamConsumer is a named consumer of the log wbctl export published to
// a JetStream stream for one host's filesystem, whose cursor the server
// keeps: a durable JetStream consumer of the subject's seals, acknowledged
// up to the last epoch the consumer has processed, as a local consumer's
// cursor is kept in the registry beside the log (Log.Ack). A fleet's
// consumers keep no cursor files: each resumes where its last
// acknowledgement left it, from any machine.
//
// The durable consumer takes the seals (wbarrier.HOST.FS.seal) one at a
// time (MaxAckPending 1), so that they are processed in order even after a
// reader died holding one: the server hands that seal out again after the
// AckWait the consumer was made with. Its acknowledgement floor is the
// cursor: the seal acknowledged last, or the cursor it was added at.
type StreamConsumer struct {
	s      jetstream.Stream
	c      jetstream.Consumer
	stream string
	name   string
	src    export.Source
}

// StreamConsumerInfo is where a StreamConsumer stands.
type StreamConsumerInfo struct {
	Name   string
	Host   string
	FS     string
	Cursor Cursor // the last epoch it processed
	// Last is the cursor of the subject's last seal: where to go on from
	// after a rescan, if taken before it.
	Last Cursor
	// Behind counts the seals in the stream after its cursor: the epochs
	// it has yet to process.
	Behind uint64
}

// AddStreamConsumer makes the durable consumer name (letters, digits, '-'
// and '_') of host's filesystem fs in the stream, with the cursor start:
// usually the stream's cursor (ReadStreamSince(...).Cursor()), right for a
// consumer that has just scanned everything. ackWait is how long the server
// waits before it hands a seal that a reader took and never acknowledged to
// another (0: 30 s).
func AddStreamConsumer(ctx context.Context, js jetstream.JetStream, stream, host, fs, name string, start Cursor, ackWait time.Duration) (*StreamConsumer, error) {
	if err := wbjs.CheckToken("consumer name", name); err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	sc, err := openStreamConsumer(ctx, js, stream, host, fs, name)
	if err != nil {
		return nil, err
	}
	// CreateConsumer takes an identical config as a success.
	if _, err := sc.s.Consumer(ctx, name); err == nil {
		return nil, fmt.Errorf("consumer: %w: %q in stream %q", ErrExists, name, stream)
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("consumer: %q in stream %q: %w", name, stream, err)
	}
	from, _, _, err := newStream(sc.src).start(ctx, sc.s, stream, start)
	if err != nil {
		return nil, err
	}
	if ackWait == 0 {
		ackWait = 30 * time.Second
	}
	sc.c, err = sc.s.CreateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   fmt.Sprintf("wbarrier consumer of %s.%s (wbctl consumer)", host, fs),
		FilterSubject: wbjs.Subject(sc.src, wbjs.KindSeal),
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxAckPending: 1,
		Metadata:      map[string]string{metaHost: host, metaFS: fs, metaCursor: start.String()},
	})
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return nil, fmt.Errorf("consumer: %w: %q in stream %q", ErrExists, name, stream)
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: adding %q to stream %q: %w", name, stream, err)
	}
	return sc, nil
}

// OpenStreamConsumer returns the consumer name of host's filesystem fs
// that AddStreamConsumer made: an error wrapping ErrUnknown if there is
// none, ErrNotStreamConsumer if it is another's.
func OpenStreamConsumer(ctx context.Context, js jetstream.JetStream, stream, host, fs, name string) (*StreamConsumer, error) {
	sc, err := openStreamConsumer(ctx, js, stream, host, fs, name)
	if err != nil {
		return nil, err
	}
	sc.c, err = sc.s.Consumer(ctx, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("%w: %q in stream %q (wbctl consumer add --nats)", ErrUnknown, name, stream)
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: %q in stream %q: %w", name, stream, err)
	}
	md := sc.c.CachedInfo().Config.Metadata
	if md[metaHost] != host || md[metaFS] != fs {
		return nil, fmt.Errorf("%w: %q in stream %q is of %s.%s, not %s.%s", ErrNotStreamConsumer, name, stream, md[metaHost], md[metaFS], host, fs)
	}
	return sc, nil
}

func openStreamConsumer(ctx context.Context, js jetstream.JetStream, stream, host, fs, name string) (*StreamConsumer, error) {
	st, s, err := openStream(ctx, js, stream, host, fs)
	if err != nil {
		return nil, err
	}
	return &StreamConsumer{s: s, stream: stream, name: name, src: st.src}, nil
}

// RemoveStreamConsumer removes the durable consumer name from the stream:
// an error wrapping ErrUnknown if there is none.
func RemoveStreamConsumer(ctx context.Context, js jetstream.JetStream, stream, name string) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("consumer: stream %q: %w", stream, err)
	}
	err = s.DeleteConsumer(ctx, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("%w: %q in stream %q", ErrUnknown, name, stream)
	}
	if err != nil {
		return fmt.Errorf("consumer: removing %q from stream %q: %w", name, stream, err)
	}
	return nil
}

// ListStreamConsumers returns where every consumer AddStreamConsumer made
// in the stream stands, sorted by name; other durable consumers are left
// out.
func ListStreamConsumers(ctx context.Context, js jetstream.JetStream, stream string) ([]StreamConsumerInfo, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("consumer: stream %q: %w", stream, err)
	}
	var out []StreamConsumerInfo
	l := s.ListConsumers(ctx)
	for ci := range l.Info() {
		md := ci.Config.Metadata
		if md[metaHost] == "" || md[metaFS] == "" || ci.Config.Durable == "" {
			continue
		}
		sc := &StreamConsumer{s: s, stream: stream, name: ci.Name, src: export.Source{Host: md[metaHost], FS: md[metaFS]}}
		info, err := sc.infoOf(ctx, ci)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("consumer: listing the consumers of stream %q: %w", stream, err)
	}
	slices.SortFunc(out, func(a, b StreamConsumerInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Info tells where the consumer stands.
func (sc *StreamConsumer) Info(ctx context.Context) (StreamConsumerInfo, error) {
	ci, err := sc.c.Info(ctx)
	if err != nil {
		return StreamConsumerInfo{}, fmt.Errorf("consumer: %q in stream %q: %w", sc.name, sc.stream, err)
	}
	return sc.infoOf(ctx, ci)
}

// infoOf tells where the consumer stands by its JetStream info.
func (sc *StreamConsumer) infoOf(ctx context.Context, ci *jetstream.ConsumerInfo) (StreamConsumerInfo, error) {
	cur, _, err := sc.cursor(ctx, ci)
	if err != nil {
		return StreamConsumerInfo{}, err
	}
	info := StreamConsumerInfo{Name: sc.name, Host: sc.src.Host, FS: sc.src.FS, Cursor: cur,
		Behind: ci.NumPending + uint64(ci.NumAckPending)}
	_, _, last, err := newStream(sc.src).start(ctx, sc.s, sc.stream, Cursor{Epoch: math.MaxUint64})
	if err != nil {
		return StreamConsumerInfo{}, err
	}
	if last != nil {
		info.Last = Cursor{Log: last.Source.Log, Epoch: last.Epoch}
	}
	return info, nil
}

// cursor returns the consumer's cursor and the stream sequence its answers
// start at: after the seal it acknowledged last, else the cursor it was
// added at and the sequence it was made to start at. A last seal removed
// from the stream (limits, age) leaves the cursor 0 of no log, and a
// sequence before the stream's first: the answer is then a rescan (purged).
func (sc *StreamConsumer) cursor(ctx context.Context, ci *jetstream.ConsumerInfo) (Cursor, uint64, error) {
	if ci.AckFloor.Consumer == 0 {
		c, err := ParseCursor(ci.Config.Metadata[metaCursor])
		if err != nil {
			return c, 0, fmt.Errorf("%w: %q in stream %q: %w", ErrNotStreamConsumer, sc.name, sc.stream, err)
		}
		return c, max(ci.Config.OptStartSeq, 1), nil
	}
	from := ci.AckFloor.Stream + 1
	m, err := sc.s.GetMsg(ctx, ci.AckFloor.Stream)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Cursor{}, from - 1, nil // from before the stream's first: trimmed
	}
	if err != nil {
		return Cursor{}, 0, fmt.Errorf("consumer: %q in stream %q: its last seal (message %d): %w", sc.name, sc.stream, ci.AckFloor.Stream, err)
	}
	s, err := wbjs.ParseSeal(m.Subject, m.Header)
	if err != nil {
		return Cursor{}, 0, fmt.Errorf("consumer: %q in stream %q, message %d: %w", sc.name, sc.stream, m.Sequence, err)
	}
	return Cursor{Log: s.Source.Log, Epoch: s.Epoch}, from, nil
}

// Changes answers what changed since the consumer's cursor, up to the
// last epoch sealed in the stream, as Stream.Changes (a *RescanError
// included); it takes nothing from the durable consumer: Ack moves it.
func (sc *StreamConsumer) Changes(ctx context.Context) (*Changes, error) {
	ci, err := sc.c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumer: %q in stream %q: %w", sc.name, sc.stream, err)
	}
	cur, _, err := sc.cursor(ctx, ci)
	if err != nil {
		return nil, err
	}
	st := newStream(sc.src)
	if err := st.readSince(ctx, sc.s, sc.stream, cur); err != nil {
		return nil, err
	}
	return st.Changes(cur)
}

// Ack acknowledges the seals of the epochs up to until, once the consumer
// has processed them (the Cursor of its Changes): the consumer's cursor
// moves there, on the server. It takes the seals from the durable consumer
// one by one and hands back the first one after until. A seal that another
// reader holds unacknowledged stops it (an error wrapping nats.ErrTimeout,
// after wait) until the server hands it out again. until must be sealed in
// the stream; a cursor naming no log takes the epoch of any.
func (sc *StreamConsumer) Ack(ctx context.Context, until Cursor, wait time.Duration) (Cursor, error) {
	info, err := sc.Info(ctx)
	if err != nil {
		return Cursor{}, err
	}
	cur := info.Cursor
	mine := func(c Cursor) bool { return until.Log == "" || c.Log == until.Log }
	_, _, last, err := newStream(sc.src).start(ctx, sc.s, sc.stream, until)
	if err != nil {
		return cur, err
	}
	if last == nil || !mine(Cursor{Log: last.Source.Log}) || until.Epoch > last.Epoch {
		return cur, fmt.Errorf("consumer: %q cannot acknowledge %s: it is not sealed in the stream (its last seal on %s.%s is %s)", sc.name, until, sc.src.Host, sc.src.FS, sealCursor(last))
	}
	if cur.Log == until.Log && until.Epoch < cur.Epoch {
		return cur, fmt.Errorf("consumer: %q cannot acknowledge %s: it already acknowledged %s (remove and add it to go back)", sc.name, until, cur)
	}
	for n := info.Behind; n > 0 && !(mine(cur) && cur.Epoch == until.Epoch); n-- {
		m, seal, err := sc.next(wait)
		if err != nil {
			return cur, err
		}
		c := Cursor{Log: seal.Source.Log, Epoch: seal.Epoch}
		if mine(c) && c.Epoch > until.Epoch {
			if err := m.Nak(); err != nil {
				return cur, fmt.Errorf("consumer: %q: handing back the seal of epoch %d: %w", sc.name, seal.Epoch, err)
			}
			break
		}
		if err := m.DoubleAck(ctx); err != nil {
			return cur, fmt.Errorf("consumer: %q: acknowledging epoch %d: %w", sc.name, seal.Epoch, err)
		}
		cur = c
	}
	if !mine(cur) || cur.Epoch != until.Epoch {
		return cur, fmt.Errorf("consumer: %q cannot acknowledge %s: its cursor is %s, and the stream holds no seal of %s after it", sc.name, until, cur, until)
	}
	return cur, nil
}

// sealCursor is the cursor of seal s, or "none".
func sealCursor(s *export.Seal) string {
	if s == nil {
		return "none"
	}
	return Cursor{Log: s.Source.Log, Epoch: s.Epoch}.String()
}

// next takes the next seal from the durable consumer.
func (sc *StreamConsumer) next(wait time.Duration) (jetstream.Msg, *export.Seal, error) {
	m, err := sc.c.Next(jetstream.FetchMaxWait(wait))
	if errors.Is(err, nats.ErrTimeout) {
		return nil, nil, fmt.Errorf("consumer: %q: no seal handed out within %v (another reader holds it, or none is left): %w", sc.name, wait, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("consumer: %q in stream %q: %w", sc.name, sc.stream, err)
	}
	seal, err := wbjs.ParseSeal(m.Subject(), m.Headers())
	if err != nil {
		m.Term()
		return nil, nil, fmt.Errorf("consumer: %q in stream %q: %w", sc.name, sc.stream, err)
	}
	return m, seal, nil
}

// Handler processes what changed in one epoch (or a run of epochs the
// stream cannot vouch for): c.Since, c.Until and c.Cursor are always set;
// if rescan is not nil, c holds no Objects and the consumer must find the
// changes another way (a full scan) before it returns. On nil, the epochs
// up to c.Until are acknowledged; on an error, the seal is handed back and
// Next returns the error.
type Handler func(ctx context.Context, c *Changes, rescan *RescanError) error

// Next waits up to wait for the stream's next seal after the consumer's
// cursor, answers what changed in its epoch (and in any unsealed epochs
// before it), hands that to h, and acknowledges the seal once h returned
// nil, so that the consumer's cursor moves only after it processed the
// epoch. While h runs, the seal is kept from being handed to another
// reader. It returns the new cursor; with no seal in time, an error
// wrapping nats.ErrTimeout.
func (sc *StreamConsumer) Next(ctx context.Context, wait time.Duration, h Handler) (Cursor, error) {
	m, seal, err := sc.next(wait)
	if err != nil {
		return Cursor{}, err
	}
	md, err := m.Metadata()
	if err != nil {
		m.Nak()
		return Cursor{}, fmt.Errorf("consumer: %q in stream %q: %w", sc.name, sc.stream, err)
	}
	c, rescan, err := sc.answer(ctx, seal, md.Sequence.Stream)
	if err == nil && (c.Until > c.Since || rescan != nil) { // else a seal at or before the cursor
		err = sc.handle(ctx, m, h, c, rescan)
	}
	if err != nil {
		m.Nak()
		return Cursor{}, err
	}
	if err := m.DoubleAck(ctx); err != nil {
		return Cursor{}, fmt.Errorf("consumer: %q: acknowledging epoch %d: %w", sc.name, seal.Epoch, err)
	}
	return c.Cursor, nil
}

// answer reads what changed from the consumer's cursor up to seal, at
// stream sequence seq: the messages after the last seal it acknowledged.
func (sc *StreamConsumer) answer(ctx context.Context, seal *export.Seal, seq uint64) (*Changes, *RescanError, error) {
	ci, err := sc.c.Info(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("consumer: %q in stream %q: %w", sc.name, sc.stream, err)
	}
	cur, from, err := sc.cursor(ctx, ci)
	if err != nil {
		return nil, nil, err
	}
	whole := &Changes{Since: cur.Epoch, Until: seal.Epoch, Cursor: Cursor{Log: seal.Source.Log, Epoch: seal.Epoch}}
	if cur.Log == seal.Source.Log && seal.Epoch <= cur.Epoch {
		// A seal exported again at or before the cursor (not doubled by
		// the exporter, but a consumer added past it): nothing new.
		whole.Since = seal.Epoch
		return whole, nil, nil
	}
	st := newStream(sc.src)
	if err := st.readRange(ctx, sc.s, sc.stream, from, seq); err != nil {
		return nil, nil, err
	}
	c, err := st.Changes(cur)
	var re *RescanError
	if errors.As(err, &re) {
		return whole, re, nil
	}
	return c, nil, err
}

// handle runs h, telling the server every third of the AckWait that the
// seal is in progress.
func (sc *StreamConsumer) handle(ctx context.Context, m jetstream.Msg, h Handler, c *Changes, rescan *RescanError) error {
	done := make(chan struct{})
	defer close(done)
	tick := time.NewTicker(max(sc.c.CachedInfo().Config.AckWait/3, 10*time.Millisecond))
	defer tick.Stop()
	go func() {
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				m.InProgress()
			}
		}
	}()
	return h(ctx, c, rescan)
}

// Follow calls Next for every seal as the stream gets them, until ctx is
// done (it then returns nil, within a second) or Next fails.
func (sc *StreamConsumer) Follow(ctx context.Context, h Handler) error {
	for ctx.Err() == nil {
		_, err := sc.Next(ctx, time.Second, h)
		if err != nil && !errors.Is(err, nats.ErrTimeout) {
			return err
		}
	}
	return nil
}
