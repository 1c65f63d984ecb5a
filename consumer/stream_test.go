package consumer

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wbarrier/wbarrier/export"
	wbjs "github.com/wbarrier/wbarrier/export/jetstream"
	"github.com/wbarrier/wbarrier/export/jetstream/jstest"
	"github.com/wbarrier/wbarrier/record"
)

// exportTo publishes l's sealed epochs to the stream as host's fs "data".
func exportTo(t *testing.T, js jetstream.JetStream, l *Log, host string) {
	t.Helper()
	exportAs(t, js, l.path, l.ID(), host)
}

// exportAs publishes the sealed epochs of the log at path, every one (not
// the end consumer.Open reads), as the log id's of host's fs "data", to
// the stream "wb": a prefix of a log exported as the whole log's id is the
// log before it grew.
func exportAs(t *testing.T, js jetstream.JetStream, path, id, host string) {
	t.Helper()
	src := export.Source{Log: id, Host: host, FS: "data"}
	if _, err := jstest.ExportLog(context.Background(), js, "wb", path, src, export.Options{BatchRecords: 2}); err != nil {
		t.Fatal(err)
	}
}

// TestStreamChanges holds the stream's answers to the local log's, for
// three hosts' logs in one stream.
func TestStreamChanges(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	logs := map[string]*Log{
		"web1": writeLog(t, 0,
			write(1, 1, "A", 0, 4), closed(1, false),
			write(2, 2, "A", 4, 4), write(3, 2, "B", 0, 1), write(4, 2, "C", 0, 1), closed(2, false),
			write(5, 3, "A", 100, 1), closed(3, true),
			write(6, 4, "B", 0, 1), closed(4, false),
			write(7, 5, "B", 0, 1)), // epoch 5 is not sealed
		"web2": writeLog(t, 0,
			write(1, 1, "X", 0, 4), closed(1, false),
			write(2, 2, "Y", 0, 1), // epoch 2 is never sealed
			write(3, 3, "Y", 0, 1), closed(3, false)),
		"db1": writeLog(t, 0, closed(1, false), closed(2, false)),
	}
	for host, l := range logs {
		exportTo(t, js, l, host)
	}
	for host, l := range logs {
		whole, err := ReadStream(context.Background(), js, "wb", host, "data")
		if err != nil {
			t.Fatal(err)
		}
		if whole.ID() != l.ID() || whole.Cursor() != l.Cursor() {
			t.Errorf("%s: the stream's log %s, cursor %s; the log's %s, %s", host, whole.ID(), whole.Cursor(), l.ID(), l.Cursor())
		}
		for since := uint64(0); since <= 5; since++ {
			for _, c := range []Cursor{{Log: l.ID(), Epoch: since}, {Epoch: since}, {Log: "0000000000000001", Epoch: since}} {
				part, err := ReadStreamSince(context.Background(), js, "wb", host, "data", c)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range []struct {
					name string
					st   *Stream
				}{{"ReadStream", whole}, {"ReadStreamSince", part}} {
					want, wantErr := l.Changes(c)
					got, err := r.st.Changes(c)
					var wantRe, gotRe *RescanError
					if errors.As(wantErr, &wantRe) != errors.As(err, &gotRe) || (wantRe != nil && (wantRe.From != gotRe.From || wantRe.Reason != gotRe.Reason)) {
						t.Errorf("%s: %s: changes since %s: the stream says %v; the log %v", host, r.name, c, err, wantErr)
						continue
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("%s: %s: changes since %s (-log +stream):\n%s", host, r.name, c, diff)
					}
				}
			}
		}
	}
}

// TestStreamSinceReadsLittle: ReadStreamSince reads the epochs after the
// cursor and a few seals to find them, not the whole subject, also with a
// log made anew on the same subject; and its snapshot refuses an earlier
// cursor rather than answer it from what it did not read.
func TestStreamSinceReadsLittle(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	var recs []record.Record
	seq := uint64(1)
	for e := uint64(1); e <= 60; e++ {
		for i := 0; i < 3; i++ { // 3 records: 2 batches of 2 and 1
			recs = append(recs, write(seq, e, fmt.Sprint("f", i), 0, 1))
			seq++
		}
		recs = append(recs, closed(e, false))
		seq++
	}
	old := writeLog(t, 0, recs[:40]...) // the log before, made anew on the subject
	exportTo(t, js, old, "web1")
	l := writeLog(t, 0, recs...)
	exportTo(t, js, l, "web1") // 30 + 180 messages
	tests := []struct {
		since   uint64
		maxRead int // seals bisected (about 8) and 3 messages per epoch after since
	}{
		{0, 220}, {1, 200}, {30, 10 + 3*30}, {55, 10 + 3*5}, {59, 13}, {60, 1},
	}
	for _, tc := range tests {
		c := Cursor{Log: l.ID(), Epoch: tc.since}
		st, err := ReadStreamSince(context.Background(), js, "wb", "web1", "data", c)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("since %d: %d messages read", tc.since, st.Read())
		if st.Read() > tc.maxRead {
			t.Errorf("since %d: read %d messages, want at most %d", tc.since, st.Read(), tc.maxRead)
		}
		want, err := l.Changes(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.Changes(c)
		if err != nil {
			t.Fatalf("since %d: %v", tc.since, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("since %d (-log +stream):\n%s", tc.since, diff)
		}
		if tc.since > 0 {
			if _, err := st.Changes(Cursor{Log: l.ID(), Epoch: tc.since - 1}); err == nil || errors.As(err, new(*RescanError)) {
				t.Errorf("since %d: a snapshot read since %d answered since %d: %v", tc.since, tc.since, tc.since-1, err)
			}
		}
	}
}

func TestStreamEmpty(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	if err := wbjs.CreateStream(context.Background(), js, "wb"); err != nil {
		t.Fatal(err)
	}
	st, err := ReadStream(context.Background(), js, "wb", "nobody", "data")
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.Changes(Cursor{})
	if err != nil || len(c.Objects) != 0 || st.ID() != "" {
		t.Errorf("changes of an empty subject: %+v, %v; want nothing", c, err)
	}
}

// TestStreamTrimmed: a stream that dropped its oldest messages (limits,
// discard old) answers the epochs it lost as purged.
func TestStreamTrimmed(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "wb", Subjects: []string{"wbarrier.>"}, MaxMsgs: 5}); err != nil {
		t.Fatal(err)
	}
	l := writeLog(t, 0,
		write(1, 1, "A", 0, 1), closed(1, false),
		write(2, 2, "A", 0, 1), closed(2, false),
		write(3, 3, "A", 0, 1), closed(3, false),
		write(4, 4, "A", 0, 1), closed(4, false)) // 8 messages: epoch 1 and the batch of 2 go
	exportTo(t, js, l, "web1")
	st, err := ReadStream(ctx, js, "wb", "web1", "data")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		since  uint64
		reason Reason // 0: answered
	}{{0, Purged}, {1, Purged}, {2, 0}, {3, 0}} {
		_, err := st.Changes(Cursor{Log: l.ID(), Epoch: tc.since})
		var re *RescanError
		if errors.As(err, &re) != (tc.reason != 0) || (re != nil && re.Reason != tc.reason) {
			t.Errorf("changes since %d: %v; want reason %v", tc.since, err, tc.reason)
		}
	}
}
