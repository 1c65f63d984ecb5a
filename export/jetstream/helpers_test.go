package jetstream_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/changelog/changelogtest"
	"github.com/wbarrier/wbarrier/consumer"
	"github.com/wbarrier/wbarrier/export"
	wbjs "github.com/wbarrier/wbarrier/export/jetstream"
	"github.com/wbarrier/wbarrier/record"
)

// makeLog writes a log of epochs 1..epochs, perEpoch records each, every
// epoch sealed but the last one (left open) and the lossy ones.
func makeLog(t testing.TB, epochs, perEpoch int, lossy ...uint64) *changelog.Log {
	t.Helper()
	var recs []record.Record
	seq := uint64(1)
	for e := uint64(1); e <= uint64(epochs); e++ {
		for i := 0; i < perEpoch; i++ {
			recs = append(recs, record.Record{Type: record.TypeChange, Seq: seq, Epoch: e, Ops: record.OpData,
				Handle: &record.FileHandle{Type: 1, Bytes: fmt.Appendf(nil, "h%06d", seq)}, HasRange: true, Length: seq})
			seq++
		}
		if e < uint64(epochs) {
			m := record.Record{Type: record.TypeEpochClosed, Seq: seq, Epoch: e}
			for _, l := range lossy {
				m.Lossy = m.Lossy || l == e
			}
			recs = append(recs, m)
			seq++
		}
	}
	l, err := changelog.Open(changelogtest.Write(t, 0, recs...))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func source(l *changelog.Log, host string) export.Source {
	return export.Source{Log: consumer.LogID(l.Header()), Host: host, FS: "fs1"}
}

// message is a message of the stream, parsed.
type message struct {
	seq   uint64
	batch *export.Batch
	seal  *export.Seal
}

// dump reads every message of the stream in order.
func dump(t testing.TB, js jetstream.JetStream, stream string) []message {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []message
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		msg := message{seq: seq}
		if msg.batch, err = wbjs.ParseBatch(m.Subject, m.Header, m.Data); err != nil {
			if msg.seal, err = wbjs.ParseSeal(m.Subject, m.Header); err != nil {
				t.Fatalf("message %d on %s: %v", seq, m.Subject, err)
			}
		}
		out = append(out, msg)
	}
	return out
}

// check holds the stream to the contract for the log l exported as src:
// every epoch l seals is sealed in the stream once, after its batches,
// each stored once, holding exactly the log's records of the epoch. It
// returns how many batches of src the stream holds.
func check(t testing.TB, msgs []message, l *changelog.Log, src export.Source) int {
	t.Helper()
	want := make(map[uint64][]record.Record)
	for _, r := range l.Records() {
		want[r.Epoch] = append(want[r.Epoch], r)
	}
	got := make(map[uint64][]record.Record)
	batches := make(map[uint64]int)
	sealed := make(map[uint64]*export.Seal)
	n := 0
	for _, m := range msgs {
		if b := m.batch; b != nil && b.Source == src {
			if sealed[b.Epoch] != nil {
				t.Errorf("batch %d of epoch %d (message %d) after its seal", b.Index, b.Epoch, m.seq)
			}
			if b.Index != batches[b.Epoch] || b.First != uint64(len(got[b.Epoch])) {
				t.Errorf("message %d: batch %d of epoch %d from record %d, want batch %d from record %d (doubled or skipped)",
					m.seq, b.Index, b.Epoch, b.First, batches[b.Epoch], len(got[b.Epoch]))
			}
			recs, err := export.DecodeRecords(b.Data)
			if err != nil || len(recs) != b.Count {
				t.Fatalf("message %d: %d records, header says %d: %v", m.seq, len(recs), b.Count, err)
			}
			got[b.Epoch] = append(got[b.Epoch], recs...)
			batches[b.Epoch]++
			n++
		}
		if s := m.seal; s != nil && s.Source == src {
			if sealed[s.Epoch] != nil {
				t.Errorf("message %d: epoch %d sealed twice", m.seq, s.Epoch)
			}
			if s.Batches != batches[s.Epoch] || s.Records != uint64(len(got[s.Epoch])) {
				t.Errorf("message %d: seal of epoch %d says %d batches, %d records; the stream holds %d, %d before it",
					m.seq, s.Epoch, s.Batches, s.Records, batches[s.Epoch], len(got[s.Epoch]))
			}
			sealed[s.Epoch] = s
		}
	}
	for _, s := range l.Seals() {
		ss := sealed[s.Epoch]
		if ss == nil {
			t.Errorf("epoch %d of log %s not sealed in the stream", s.Epoch, src.Log)
			continue
		}
		if ss.Lossy != s.Lossy {
			t.Errorf("epoch %d: lossy %v in the stream, %v in the log", s.Epoch, ss.Lossy, s.Lossy)
		}
		if diff := cmp.Diff(want[s.Epoch], got[s.Epoch]); diff != "" {
			t.Errorf("epoch %d: records (-log +stream):\n%s", s.Epoch, diff)
		}
	}
	if len(sealed) != len(l.Seals()) {
		t.Errorf("the stream seals %d epochs of log %s, the log %d", len(sealed), src.Log, len(l.Seals()))
	}
	return n
}
