// Package jetstream is an export.Sink that publishes a log's sealed epochs
// to a NATS JetStream stream: batches on wbarrier.HOST.FS.records, seals on
// wbarrier.HOST.FS.seal (see SubjectPrefix), each with a Nats-Msg-Id (the
// batch's or seal's ID) so that the stream stores none twice, and each
// acknowledged by the server before the next is sent. The stream must
// take the subjects ("wbarrier.>", see CreateStream).
package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wbarrier/wbarrier/export"
)

// ErrNoStream: the stream does not exist; CreateStream makes one.
var ErrNoStream = errors.New("jetstream: no such stream")

// Sink publishes to one stream. It is not safe for concurrent use.
type Sink struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	name   string
}

// New returns a sink that publishes to the stream named, which must exist
// (ErrNoStream) and take the subjects SubjectPrefix.>.
func New(ctx context.Context, js jetstream.JetStream, stream string) (*Sink, error) {
	s, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w %q: create it (wbctl export --create, or: nats stream add %s --subjects '%s.>' --storage file --discard new --dupe-window 2m)", ErrNoStream, stream, stream, SubjectPrefix)
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: looking up stream %q: %w", stream, err)
	}
	return &Sink{js: js, stream: s, name: stream}, nil
}

// CreateStream creates the stream named, taking the subjects
// SubjectPrefix.>, on file storage, refusing new messages once a limit is
// reached (so that what a reader was told is stored stays), and
// deduplicating message IDs for two minutes, if it does not exist.
func CreateStream(ctx context.Context, js jetstream.JetStream, name string) error {
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: "wbarrier change logs (wbctl export)",
		Subjects:    []string{SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		Duplicates:  2 * time.Minute,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("jetstream: creating stream %q: %w", name, err)
	}
	return nil
}

// Position reads the stream's last seal of src and its last batch: the
// last epoch of src's log sealed in the stream, and what the stream holds
// of the next one. A last seal of another log (made anew on the same host
// and filesystem) counts as none.
func (s *Sink) Position(ctx context.Context, src export.Source) (export.Position, error) {
	var pos export.Position
	m, err := s.last(ctx, Subject(src, KindSeal))
	if err != nil {
		return pos, err
	}
	if m != nil {
		seal, err := ParseSeal(m.Subject, m.Header)
		if err != nil {
			return pos, err
		}
		if seal.Source.Log == src.Log {
			pos.Sealed = seal.Epoch
		}
	}
	if m, err = s.last(ctx, Subject(src, KindRecords)); err != nil || m == nil {
		return pos, err
	}
	b, err := ParseBatch(m.Subject, m.Header, nil)
	if err != nil {
		return pos, err
	}
	if b.Source.Log == src.Log && b.Epoch > pos.Sealed {
		pos.Epoch, pos.Batches, pos.Records = b.Epoch, b.Index+1, b.First+uint64(b.Count)
	}
	return pos, nil
}

// last returns the stream's last message on subj, nil if none.
func (s *Sink) last(ctx context.Context, subj string) (*jetstream.RawStreamMsg, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: last message on %s in stream %q: %w", subj, s.name, err)
	}
	return m, nil
}

// PublishBatch publishes b and waits for the server's acknowledgement.
func (s *Sink) PublishBatch(ctx context.Context, b *export.Batch) error {
	_, err := s.js.PublishMsg(ctx, batchMsg(b), jetstream.WithMsgID(b.ID()), jetstream.WithExpectStream(s.name))
	if err != nil {
		return fmt.Errorf("jetstream: publishing to stream %q: %w", s.name, err)
	}
	return nil
}

// PublishSeal publishes seal and waits for the server's acknowledgement.
func (s *Sink) PublishSeal(ctx context.Context, seal *export.Seal) error {
	_, err := s.js.PublishMsg(ctx, sealMsg(seal), jetstream.WithMsgID(seal.ID()), jetstream.WithExpectStream(s.name))
	if err != nil {
		return fmt.Errorf("jetstream: publishing to stream %q: %w", s.name, err)
	}
	return nil
}
