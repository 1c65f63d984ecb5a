package consumer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wbarrier/wbarrier/export/jetstream/jstest"
	"github.com/wbarrier/wbarrier/record"
)

// durableLog is a log of epochs 1-6: 3 lossy, 5 never sealed, 6 open.
var durableLog = []record.Record{
	write(1, 1, "A", 0, 4), write(2, 1, "B", 0, 4), write(3, 1, "C", 0, 4), closed(1, false),
	write(4, 2, "A", 4, 4), closed(2, false),
	write(5, 3, "A", 100, 1), closed(3, true),
	closed(4, false),
	write(6, 5, "B", 0, 1),
	write(7, 6, "C", 0, 1), closed(6, false),
	write(8, 7, "C", 9, 1),
}

// answer is what a Handler was given.
type answer struct {
	Since, Until uint64
	Objects      int
	Rescan       Reason
}

// collect returns a Handler that appends what it is given to got, after
// checking the changes against the local log's.
func collect(t *testing.T, l *Log, got *[]answer) Handler {
	return func(_ context.Context, c *Changes, rescan *RescanError) error {
		a := answer{Since: c.Since, Until: c.Until, Objects: len(c.Objects)}
		if rescan != nil {
			a.Rescan = rescan.Reason
		} else {
			want, err := l.ChangesUntil(Cursor{Log: l.ID(), Epoch: c.Since}, c.Until)
			if err != nil {
				t.Errorf("the log on (%d, %d]: %v; the stream answered", c.Since, c.Until, err)
			} else if diff := cmp.Diff(want, c); diff != "" {
				t.Errorf("(%d, %d] (-log +stream):\n%s", c.Since, c.Until, diff)
			}
		}
		*got = append(*got, a)
		return nil
	}
}

// drain calls Next until no seal is left.
func drain(t *testing.T, sc *StreamConsumer, h Handler) {
	t.Helper()
	for {
		_, err := sc.Next(context.Background(), 200*time.Millisecond, h)
		if errors.Is(err, nats.ErrTimeout) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestStreamConsumerNext follows a log on a durable consumer added at
// several cursors: each seal is answered once, in order, from the cursor,
// with the local log's answers and rescans; the consumer's cursor on the
// server is the last epoch handled.
func TestStreamConsumerNext(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	l := writeLog(t, 0, durableLog...)
	exportTo(t, js, l, "web1")
	id := l.ID()
	tests := []struct {
		start Cursor
		want  []answer
	}{
		{Cursor{}, []answer{{0, 1, 3, 0}, {1, 2, 1, 0}, {2, 3, 0, Lossy}, {3, 4, 0, 0}, {4, 6, 0, Unsealed}}},
		{Cursor{Log: id, Epoch: 2}, []answer{{2, 3, 0, Lossy}, {3, 4, 0, 0}, {4, 6, 0, Unsealed}}},
		{Cursor{Log: id, Epoch: 4}, []answer{{4, 6, 0, Unsealed}}},
		{Cursor{Log: id, Epoch: 6}, nil},
		{Cursor{Epoch: 3}, []answer{{3, 4, 0, 0}, {4, 6, 0, Unsealed}}},
		{Cursor{Log: "0000000000000001", Epoch: 2}, nil}, // another log's: from the stream's end
	}
	for i, tc := range tests {
		name := fmt.Sprint("c", i)
		sc, err := AddStreamConsumer(context.Background(), js, "wb", "web1", "data", name, tc.start, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []answer
		drain(t, sc, collect(t, l, &got))
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("added at %s: answers (-want +got):\n%s", tc.start, diff)
		}
		info, err := sc.Info(context.Background())
		wantCursor := tc.start
		if len(tc.want) > 0 {
			wantCursor = Cursor{Log: id, Epoch: 6}
		}
		if last := (Cursor{Log: id, Epoch: 6}); err != nil || info.Cursor != wantCursor || info.Last != last || info.Behind != 0 {
			t.Errorf("added at %s: info %+v, %v; want cursor %s, last %s, behind 0", tc.start, info, err, wantCursor, last)
		}
	}
}

// TestStreamConsumerResumes: a consumer whose handler fails, or that dies
// holding a seal, is answered the same epoch again by the next reader (a
// process on another machine opening the consumer by name), not a later
// one; the log grows and is made anew meanwhile.
func TestStreamConsumerResumes(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	ctx := context.Background()
	full := writeLog(t, 0, durableLog...)
	id := full.ID()
	exportAs(t, js, writeLog(t, 0, durableLog[:6]...).path, id, "web1") // epochs 1-2 sealed
	if _, err := AddStreamConsumer(ctx, js, "wb", "web1", "data", "backup", Cursor{}, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	open := func() *StreamConsumer {
		sc, err := OpenStreamConsumer(ctx, js, "wb", "web1", "data", "backup")
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	var got []answer
	h := collect(t, full, &got)
	if _, err := open().Next(ctx, time.Second, h); err != nil {
		t.Fatal(err)
	}
	// The handler fails on epoch 2: handed back, answered again.
	failed := errors.New("disk full")
	_, err := open().Next(ctx, time.Second, func(context.Context, *Changes, *RescanError) error { return failed })
	if !errors.Is(err, failed) {
		t.Fatalf("Next with a failing handler: %v", err)
	}
	// A reader dies holding the seal of epoch 2; the log grows meanwhile.
	if _, _, err := open().next(time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	exportAs(t, js, full.path, id, "web1")
	if _, err := open().Next(ctx, 2*time.Second, h); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("the seal held by a dead reader was answered after %v, before its AckWait", d)
	}
	drain(t, open(), h)
	// The log is made anew on the same host and filesystem.
	anew := writeLog(t, 0, durableLog[:4]...)
	exportTo(t, js, anew, "web1")
	drain(t, open(), h)
	want := []answer{{0, 1, 3, 0}, {1, 2, 1, 0}, {2, 3, 0, Lossy}, {3, 4, 0, 0}, {4, 6, 0, Unsealed}, {6, 1, 0, OtherLog}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

// TestStreamConsumerAck is the command line's way: Changes answers from
// the consumer's cursor and takes nothing; Ack moves the cursor to the
// epoch processed, and no further.
func TestStreamConsumerAck(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	ctx := context.Background()
	l := writeLog(t, 0, durableLog[:11]...) // epochs 1-4 sealed, 3 lossy
	exportTo(t, js, l, "web1")
	id := l.ID()
	sc, err := AddStreamConsumer(ctx, js, "wb", "web1", "data", "backup", Cursor{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		ack        Cursor
		wantErr    bool
		wantCursor Cursor // after the ack
		wantReason Reason // of Changes after it
	}{
		{Cursor{Log: id, Epoch: 1}, false, Cursor{Log: id, Epoch: 1}, Lossy},
		{Cursor{Log: id, Epoch: 1}, false, Cursor{Log: id, Epoch: 1}, Lossy}, // again: nothing moves
		{Cursor{Log: id, Epoch: 9}, true, Cursor{Log: id, Epoch: 1}, Lossy},  // not sealed: nothing moves
		{Cursor{Log: id, Epoch: 0}, true, Cursor{Log: id, Epoch: 1}, Lossy},  // before the cursor
		{Cursor{Log: "0000000000000001", Epoch: 2}, true, Cursor{Log: id, Epoch: 1}, Lossy},
		{Cursor{Log: id, Epoch: 3}, false, Cursor{Log: id, Epoch: 3}, 0},
		{Cursor{Epoch: 4}, false, Cursor{Log: id, Epoch: 4}, 0},
	}
	for _, s := range steps {
		cur, err := sc.Ack(ctx, s.ack, 200*time.Millisecond)
		if (err != nil) != s.wantErr || cur != s.wantCursor {
			t.Errorf("Ack(%s) = %s, %v; want %s, error %v", s.ack, cur, err, s.wantCursor, s.wantErr)
		}
		if info, err := sc.Info(ctx); err != nil || info.Behind != 4-s.wantCursor.Epoch {
			t.Errorf("after Ack(%s): info %+v, %v; want %d behind", s.ack, info, err, 4-s.wantCursor.Epoch)
		}
		c, err := sc.Changes(ctx)
		var re *RescanError
		if errors.As(err, &re) != (s.wantReason != 0) || (re != nil && re.Reason != s.wantReason) {
			t.Errorf("after Ack(%s): Changes: %v; want reason %v", s.ack, err, s.wantReason)
			continue
		}
		if err != nil {
			continue
		}
		want, err := l.Changes(s.wantCursor)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("after Ack(%s): Changes (-log +stream):\n%s", s.ack, diff)
		}
	}
}

func TestStreamConsumerErrors(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	ctx := context.Background()
	exportTo(t, js, writeLog(t, 0, durableLog...), "web1")
	if _, err := AddStreamConsumer(ctx, js, "wb", "web1", "data", "backup", Cursor{}, 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"add twice", func() error {
			_, err := AddStreamConsumer(ctx, js, "wb", "web1", "data", "backup", Cursor{}, 0)
			return err
		}(), ErrExists},
		{"bad name", func() error {
			_, err := AddStreamConsumer(ctx, js, "wb", "web1", "data", "a.b", Cursor{}, 0)
			return err
		}(), nil},
		{"open unknown", func() error {
			_, err := OpenStreamConsumer(ctx, js, "wb", "web1", "data", "nobody")
			return err
		}(), ErrUnknown},
		{"open another host's", func() error {
			_, err := OpenStreamConsumer(ctx, js, "wb", "web2", "data", "backup")
			return err
		}(), ErrNotStreamConsumer},
		{"remove unknown", RemoveStreamConsumer(ctx, js, "wb", "nobody"), ErrUnknown},
		{"remove", RemoveStreamConsumer(ctx, js, "wb", "backup"), nil},
	}
	for _, tc := range tests {
		if tc.name == "remove" {
			if tc.err != nil {
				t.Errorf("%s: %v", tc.name, tc.err)
			}
			continue
		}
		if tc.err == nil || (tc.want != nil && !errors.Is(tc.err, tc.want)) {
			t.Errorf("%s: %v; want an error wrapping %v", tc.name, tc.err, tc.want)
		}
	}
}

// TestStreamConsumerTrimmed: a consumer whose last acknowledged seal the
// stream dropped (a limit, discard old) is told to rescan, purged.
func TestStreamConsumerTrimmed(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "wb", Subjects: []string{"wbarrier.>"}, MaxMsgs: 4}); err != nil {
		t.Fatal(err)
	}
	full := writeLog(t, 0, durableLog[:8]...) // epochs 1 (2 batches), 2 and 3 (1 each) sealed: 7 messages
	id := full.ID()
	exportAs(t, js, writeLog(t, 0, durableLog[:4]...).path, id, "web1")
	sc, err := AddStreamConsumer(ctx, js, "wb", "web1", "data", "backup", Cursor{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []answer
	drain(t, sc, collect(t, full, &got))
	exportAs(t, js, full.path, id, "web1") // the seal of epoch 1 goes
	drain(t, sc, collect(t, full, &got))
	want := []answer{{0, 1, 3, 0}, {0, 2, 0, Purged}, {2, 3, 0, Lossy}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}
