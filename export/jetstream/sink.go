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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wbarrier/wbarrier/export"
)

// ErrNoStream: the stream does not exist; CreateStream makes one.
var ErrNoStream = errors.New("jetstream: no such stream")

// ErrMoved: the stream holds a message on the subject that Position did
// not see (another exporter of the same log, or a message of this one
// stored after its acknowledgement was lost): nothing was published. A
// new Export reads where the stream stands and goes on from there.
var ErrMoved = errors.New("jetstream: the stream moved on since the export read where it stands")

// Sink publishes to one stream. It is not safe for concurrent use.
//
// Every message is published on the condition that the last message of
// its subject is the one the sink knows of (Nats-Expected-Last-Subject-
// Sequence): the one Position found, or the one it published last. So a
// copy of a message is never stored, however long after the stream's
// duplicate window (Nats-Msg-Id) it comes: the exporter finds where it
// stopped from the stream itself.
type Sink struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	name   string
	last   map[string]uint64 // by subject: the sequence of its last message, 0 if none
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
	return &Sink{js: js, stream: s, name: stream, last: make(map[string]uint64)}, nil
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
// and filesystem) counts as none. What it read is what the next
// PublishBatch and PublishSeal of src expect the stream to hold last.
func (s *Sink) Position(ctx context.Context, src export.Source) (export.Position, error) {
	var pos export.Position
	m, err := s.lastMsg(ctx, Subject(src, KindSeal))
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
	if m, err = s.lastMsg(ctx, Subject(src, KindRecords)); err != nil || m == nil {
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

// lastMsg returns the stream's last message on subj, nil if none, and
// keeps its sequence as what a publish on subj expects.
func (s *Sink) lastMsg(ctx context.Context, subj string) (*jetstream.RawStreamMsg, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		s.last[subj] = 0
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: last message on %s in stream %q: %w", subj, s.name, err)
	}
	s.last[subj] = m.Sequence
	return m, nil
}

// PublishBatch publishes b and waits for the server's acknowledgement;
// Position must have been read for b's source.
func (s *Sink) PublishBatch(ctx context.Context, b *export.Batch) error {
	return s.publish(ctx, batchMsg(b), b.ID())
}

// PublishSeal publishes seal and waits for the server's acknowledgement;
// Position must have been read for the seal's source.
func (s *Sink) PublishSeal(ctx context.Context, seal *export.Seal) error {
	return s.publish(ctx, sealMsg(seal), seal.ID())
}

// publish publishes m with the message ID id, if the last message on its
// subject is the one the sink knows of, and waits for the server's
// acknowledgement.
func (s *Sink) publish(ctx context.Context, m *nats.Msg, id string) error {
	last, ok := s.last[m.Subject]
	if !ok {
		return fmt.Errorf("jetstream: publishing on %s before reading where the stream stands (Position)", m.Subject)
	}
	ack, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgID(id), jetstream.WithExpectStream(s.name),
		jetstream.WithExpectLastSequencePerSubject(last))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		delete(s.last, m.Subject) // read Position again
		return fmt.Errorf("%w: %s on %s (%v)", ErrMoved, id, m.Subject, err)
	}
	if err != nil {
		return fmt.Errorf("jetstream: publishing to stream %q: %w", s.name, err)
	}
	s.last[m.Subject] = ack.Sequence
	return nil
}
