package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/export"
	wbjs "github.com/wbarrier/wbarrier/export/jetstream"
	"github.com/wbarrier/wbarrier/export/jetstream/jstest"
)

// newSink starts a server, creates the stream "wb" and returns a sink to it.
func newSink(t testing.TB) (*jstest.Server, jetstream.JetStream, *wbjs.Sink) {
	t.Helper()
	srv := jstest.Start(t)
	_, js := srv.Connect()
	ctx := context.Background()
	if err := wbjs.CreateStream(ctx, js, "wb"); err != nil {
		t.Fatal(err)
	}
	sink, err := wbjs.New(ctx, js, "wb")
	if err != nil {
		t.Fatal(err)
	}
	return srv, js, sink
}

func TestExport(t *testing.T) {
	_, js, sink := newSink(t)
	l := makeLog(t, 6, 25, 3) // epochs 1-5 sealed, 3 lossy; 6 open
	src := source(l, "web1")
	opt := export.Options{BatchRecords: 10}
	var seen []uint64
	opt.Progress = func(p export.Progress) { seen = append(seen, p.Epoch) }
	p, err := export.Export(context.Background(), l, src, sink, opt)
	if err != nil {
		t.Fatal(err)
	}
	if p.Epochs != 5 || p.Records != 125 || p.Batches != 15 || len(seen) != 5 {
		t.Errorf("progress %+v, %d calls; want 5 epochs, 125 records, 15 batches", p, len(seen))
	}
	if n := check(t, dump(t, js, "wb"), l, src); n != 15 {
		t.Errorf("%d batches in the stream, want 15", n)
	}

	// Again: nothing to do, nothing doubled.
	p, err = export.Export(context.Background(), l, src, sink, opt)
	if err != nil || p.Epochs != 0 || p.Batches != 0 {
		t.Errorf("second export: %+v, %v; want nothing published", p, err)
	}
	if msgs := dump(t, js, "wb"); len(msgs) != 20 {
		t.Errorf("%d messages after the second export, want 20", len(msgs))
	}
}

func TestNoStream(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	_, err := wbjs.New(context.Background(), js, "missing")
	if !errors.Is(err, wbjs.ErrNoStream) || !strings.Contains(err.Error(), "--subjects 'wbarrier.>'") {
		t.Errorf("New on a missing stream: %v; want ErrNoStream saying how to create it", err)
	}
}

// failing is a sink that stops working after n batches, as an exporter
// killed in the middle of an epoch.
type failing struct {
	export.Sink
	n int
}

var errKilled = errors.New("killed")

func (f *failing) PublishBatch(ctx context.Context, b *export.Batch) error {
	if f.n == 0 {
		return errKilled
	}
	f.n--
	return f.Sink.PublishBatch(ctx, b)
}

func TestExportResumesMidEpoch(t *testing.T) {
	for _, n := range []int{0, 1, 4, 5, 9} { // batches of 3 records, 4 batches an epoch
		_, js, sink := newSink(t)
		l := makeLog(t, 4, 10)
		src := source(l, "web1")
		opt := export.Options{BatchRecords: 3}
		if _, err := export.Export(context.Background(), l, src, &failing{sink, n}, opt); !errors.Is(err, errKilled) {
			t.Fatalf("killed after %d batches: %v", n, err)
		}
		// Nothing of the epoch it was killed in is sealed.
		for _, m := range dump(t, js, "wb") {
			if m.seal != nil && m.seal.Epoch > uint64(n/4) {
				t.Errorf("killed after %d batches: epoch %d sealed", n, m.seal.Epoch)
			}
		}
		p, err := export.Export(context.Background(), l, src, sink, opt)
		if err != nil {
			t.Fatal(err)
		}
		if p.Batches != 12-n {
			t.Errorf("killed after %d batches: the restart published %d batches, want %d", n, p.Batches, 12-n)
		}
		check(t, dump(t, js, "wb"), l, src)
	}
}

// TestExportResumesOtherBatchSize restarts an export killed in the middle
// of an epoch with another batch size: it goes on from the record after the
// last one stored.
func TestExportResumesOtherBatchSize(t *testing.T) {
	for _, size := range []int{1, 2, 4, 100} {
		_, js, sink := newSink(t)
		l := makeLog(t, 3, 10)
		src := source(l, "web1")
		if _, err := export.Export(context.Background(), l, src, &failing{sink, 5}, export.Options{BatchRecords: 3}); !errors.Is(err, errKilled) {
			t.Fatal(err)
		}
		if _, err := export.Export(context.Background(), l, src, sink, export.Options{BatchRecords: size}); err != nil {
			t.Fatal(err)
		}
		check(t, dump(t, js, "wb"), l, src)
	}
}

// stopping is a sink whose server stops after n batches.
type stopping struct {
	export.Sink
	srv *jstest.Server
	n   int
}

func (s *stopping) PublishBatch(ctx context.Context, b *export.Batch) error {
	if s.n--; s.n == 0 {
		s.srv.Stop()
	}
	return s.Sink.PublishBatch(ctx, b)
}

// TestServerDownMidExport: the export fails with the server down, the
// epoch it was in unsealed; once the server is back, the next export
// completes the stream.
func TestServerDownMidExport(t *testing.T) {
	srv, js, sink := newSink(t)
	l := makeLog(t, 5, 10)
	src := source(l, "web1")
	opt := export.Options{BatchRecords: 4}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p, err := export.Export(ctx, l, src, &stopping{Sink: sink, srv: srv, n: 5}, opt)
	if err == nil || p.Epochs != 1 {
		t.Fatalf("export with the server gone after 5 batches: %+v, %v; want an error after one epoch", p, err)
	}
	t.Log(err)
	srv.Restart()
	if _, err := export.Export(context.Background(), l, src, sink, opt); err != nil {
		t.Fatal(err)
	}
	check(t, dump(t, js, "wb"), l, src)
}

// restarting is a sink whose server restarts after n batches.
type restarting struct {
	export.Sink
	srv *jstest.Server
	n   int
}

func (r *restarting) PublishBatch(ctx context.Context, b *export.Batch) error {
	if r.n--; r.n == 0 {
		r.srv.Restart()
	}
	return r.Sink.PublishBatch(ctx, b)
}

func TestServerRestartMidExport(t *testing.T) {
	srv, js, sink := newSink(t)
	l := makeLog(t, 8, 10)
	src := source(l, "web1")
	opt := export.Options{BatchRecords: 4}
	rs := &restarting{Sink: sink, srv: srv, n: 7}
	var err error
	for try := 0; try < 5; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = export.Export(ctx, l, src, rs, opt)
		cancel()
		if err == nil {
			break
		}
		t.Logf("export %d: %v", try, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	check(t, dump(t, js, "wb"), l, src)
}

// TestFleet exports the logs of three hosts into one stream, which one
// reader then checks whole.
func TestFleet(t *testing.T) {
	_, js, sink := newSink(t)
	var logs []*changelog.Log
	var srcs []export.Source
	for i, h := range []string{"web1", "web2", "db1"} {
		l := makeLog(t, 3+i, 7)
		src := source(l, h)
		if _, err := export.Export(context.Background(), l, src, sink, export.Options{BatchRecords: 5}); err != nil {
			t.Fatal(err)
		}
		logs, srcs = append(logs, l), append(srcs, src)
	}
	msgs := dump(t, js, "wb")
	for i := range logs {
		check(t, msgs, logs[i], srcs[i])
	}
}

// TestStreamLimit: a limit reached is the server's error, and the epoch
// whose batch was refused is not sealed, also when the seal itself would
// have been stored (the limit is on the records subject only).
func TestStreamLimit(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	ctx := context.Background()
	tests := []struct {
		name    string
		cfg     jetstream.StreamConfig
		wantErr string
		want    export.Position // where the stream stands after it
		msgs    int
	}{
		{"messages", jetstream.StreamConfig{MaxMsgs: 6}, "maximum messages exceeded",
			export.Position{Sealed: 1, Epoch: 2, Batches: 2, Records: 8}, 6},
		{"messages per subject", jetstream.StreamConfig{MaxMsgsPerSubject: 5, DiscardNewPerSubject: true}, "maximum messages per subject exceeded",
			export.Position{Sealed: 1, Epoch: 2, Batches: 2, Records: 8}, 6},
	}
	for _, tc := range tests {
		cfg := tc.cfg
		cfg.Name, cfg.Subjects, cfg.Discard = "small", []string{"wbarrier.>"}, jetstream.DiscardNew
		if _, err := js.CreateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		sink, err := wbjs.New(ctx, js, "small")
		if err != nil {
			t.Fatal(err)
		}
		l := makeLog(t, 4, 10) // 3 epochs of 3 batches and a seal: 12 messages
		src := source(l, "web1")
		_, err = export.Export(ctx, l, src, sink, export.Options{BatchRecords: 4})
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Fatalf("%s: export past the stream's limit: %v; want the server's error %q", tc.name, err, tc.wantErr)
		}
		t.Log(err)
		msgs := dump(t, js, "small")
		if len(msgs) != tc.msgs || msgs[3].seal == nil || msgs[len(msgs)-1].seal != nil {
			t.Errorf("%s: the stream holds %d messages, want %d: epoch 1 sealed and batches of epoch 2, not sealed", tc.name, len(msgs), tc.msgs)
		}
		pos, err := sink.Position(ctx, src)
		if err != nil || pos != tc.want {
			t.Errorf("%s: Position = %+v, %v; want %+v", tc.name, pos, err, tc.want)
		}
		if err := js.DeleteStream(ctx, "small"); err != nil {
			t.Fatal(err)
		}
	}
}

// pausing is a sink whose server process is paused after n batches, and
// resumed after a while.
type pausing struct {
	export.Sink
	proc *jstest.Process
	n    int
	t    *testing.T
}

func (p *pausing) PublishBatch(ctx context.Context, b *export.Batch) error {
	if p.n--; p.n == 0 {
		if err := p.proc.Pause(); err != nil {
			p.t.Fatal(err)
		}
		time.AfterFunc(1500*time.Millisecond, func() { p.proc.Resume() })
	}
	return p.Sink.PublishBatch(ctx, b)
}

// TestServerPaused: a server stopped by SIGSTOP in the middle of an epoch
// answers nothing: the export times out with the epoch unsealed and is run
// again until the server is back; nothing skipped, nothing doubled.
func TestServerPaused(t *testing.T) {
	proc := jstest.StartProcess(t)
	nc, err := nats.Connect(proc.URL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := wbjs.CreateStream(ctx, js, "wb"); err != nil {
		t.Fatal(err)
	}
	sink, err := wbjs.New(ctx, js, "wb")
	if err != nil {
		t.Fatal(err)
	}
	l := makeLog(t, 5, 10)
	src := source(l, "web1")
	ps := &pausing{Sink: sink, proc: proc, n: 5, t: t}
	failed := 0
	for try := 0; ; try++ {
		_, err := export.Export(ctx, l, src, ps, export.Options{BatchRecords: 4})
		if err == nil {
			break
		}
		failed++
		if try == 20 {
			t.Fatalf("still failing after %d tries: %v", try, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if failed == 0 {
		t.Error("the export never failed while the server was paused")
	}
	check(t, dump(t, js, "wb"), l, src)
}

// lossyAcks is a sink whose acknowledgement of its nth message (batch or
// seal; from 1) is lost: the message is stored, the exporter is told it
// failed.
type lossyAcks struct {
	export.Sink
	n int
}

func (l *lossyAcks) count(err error) error {
	if l.n--; l.n == 0 && err == nil {
		return errKilled
	}
	return err
}

func (l *lossyAcks) PublishBatch(ctx context.Context, b *export.Batch) error {
	return l.count(l.Sink.PublishBatch(ctx, b))
}

func (l *lossyAcks) PublishSeal(ctx context.Context, s *export.Seal) error {
	return l.count(l.Sink.PublishSeal(ctx, s))
}

// TestNoDoubleAfterDupWindow: the stream forgets message IDs after its
// duplicate window (100 ms here, 2 minutes as --create makes it), and an
// export run again after that doubles nothing: it goes on from what the
// stream holds (Position), and a copy published by an exporter that read
// the stream before (a second exporter of the log, a message held in
// flight) is refused for the subject's last sequence.
func TestNoDoubleAfterDupWindow(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	ctx := context.Background()
	const window = 100 * time.Millisecond

	// The window really passes: an ID published on a probe stream with the
	// same window is stored again once the server forgot it (its purge runs
	// on a timer), and the IDs of the stream under test, older, are
	// forgotten by then.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "probe", Subjects: []string{"probe"}, Duplicates: window}); err != nil {
		t.Fatal(err)
	}
	probes := 0
	forgotten := func() {
		t.Helper()
		id := fmt.Sprint("probe", probes)
		probes++
		for try := 0; ; try++ {
			ack, err := js.Publish(ctx, "probe", nil, jetstream.WithMsgID(id))
			if err != nil {
				t.Fatal(err)
			}
			if try > 0 && !ack.Duplicate {
				return
			}
			if try == 100 {
				t.Fatalf("the ID %s still a duplicate after %v", id, 100*window/2)
			}
			time.Sleep(window / 2)
		}
	}

	tests := []struct {
		name  string
		first func(export.Sink) export.Sink // the run that fails
	}{
		{"killed after 5 batches", func(s export.Sink) export.Sink { return &failing{s, 5} }},
		{"acknowledgement of batch 5 lost", func(s export.Sink) export.Sink { return &lossyAcks{s, 5} }},
		{"acknowledgement of seal 1 lost", func(s export.Sink) export.Sink { return &lossyAcks{s, 4} }},
		{"acknowledgement of seal 3 lost", func(s export.Sink) export.Sink { return &lossyAcks{s, 12} }},
	}
	for _, tc := range tests {
		const stream = "wb"
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"wbarrier.>"}, Duplicates: window}); err != nil {
			t.Fatal(err)
		}
		sink, err := wbjs.New(ctx, js, stream)
		if err != nil {
			t.Fatal(err)
		}
		l := makeLog(t, 4, 10) // 3 epochs of 3 batches and a seal
		src := source(l, "web1")
		opt := export.Options{BatchRecords: 4}
		if _, err := export.Export(ctx, l, src, tc.first(sink), opt); !errors.Is(err, errKilled) {
			t.Fatalf("%s: %v", tc.name, err)
		}
		forgotten()
		// An exporter that read the stream now, and publishes later.
		stale, err := wbjs.New(ctx, js, stream)
		if err != nil {
			t.Fatal(err)
		}
		pos, err := stale.Position(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := export.Export(ctx, l, src, sink, opt); err != nil {
			t.Fatalf("%s: the second run: %v", tc.name, err)
		}
		forgotten()
		p, err := export.Export(ctx, l, src, positioned{stale, pos}, opt)
		if err == nil && p.Batches+p.Epochs > 0 || err != nil && !errors.Is(err, wbjs.ErrMoved) {
			t.Errorf("%s: a copy from an exporter that read the stream before: %+v, %v; want ErrMoved (or nothing to do)", tc.name, p, err)
		}
		if n := check(t, dump(t, js, stream), l, src); n != 9 {
			t.Errorf("%s: %d batches in the stream, want 9", tc.name, n)
		}
		if err := js.DeleteStream(ctx, stream); err != nil {
			t.Fatal(err)
		}
	}
}

// positioned is a sink that answers the position it was given, as an
// exporter that read it before the stream moved on.
type positioned struct {
	export.Sink
	pos export.Position
}

func (p positioned) Position(context.Context, export.Source) (export.Position, error) {
	return p.pos, nil
}
