package drain

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
)

// fakeSource serves a queue in batches of two records and records the
// cursors asked for, and what the log had made durable by then.
type fakeSource struct {
	queue   []record.Record
	cursors []uint64
	err     error // returned after failAt batches were handed over
	failAt  int
	log     *fakeLog
	durable []int // len(log.ops) synced when each cursor was asked for
	frees   bool  // drop the records below the cursor, as the kernel does
}

func (s *fakeSource) ScanRecords(_ uint32, cursor uint64, fn func([]record.Record) error) error {
	s.cursors = append(s.cursors, cursor)
	if s.log != nil {
		s.durable = append(s.durable, s.log.synced)
	}
	var out []record.Record
	for _, r := range s.queue {
		if r.Seq >= cursor {
			out = append(out, r)
		}
	}
	if s.frees {
		s.queue = slices.Clone(out)
	}
	for n := 0; ; n++ {
		if s.err != nil && n == s.failAt {
			return s.err
		}
		if len(out) == 0 {
			return nil
		}
		b := out[:min(2, len(out))]
		out = out[len(b):]
		if err := fn(b); err != nil {
			return err
		}
	}
}

// fakeLog writes what it is given as short strings; synced counts the ops
// made durable.
type fakeLog struct {
	ops    []string
	synced int
}

func (l *fakeLog) Sync() error {
	l.synced = len(l.ops)
	return nil
}

func (l *fakeLog) Append(r record.Record) error {
	l.ops = append(l.ops, fmt.Sprintf("rec %d/%d", r.Seq, r.Epoch))
	return nil
}

func (l *fakeLog) Seal(epoch, seq uint64, lossy bool) error {
	l.ops = append(l.ops, fmt.Sprintf("seal %d/%d lossy=%v", seq, epoch, lossy))
	l.synced = len(l.ops)
	return nil
}

// Records are acknowledged (by the next pass's cursor) only once the log
// holds them durably: a daemon killed between two passes loses nothing.
func TestOnceSyncsBeforeAcknowledging(t *testing.T) {
	log := &fakeLog{}
	src := &fakeSource{queue: []record.Record{change(1, 1), change(2, 1)}, log: log}
	d := &Drainer{Source: src, Log: log, Watch: 1}
	for i := 0; i < 2; i++ {
		if _, err := d.Once(); err != nil {
			t.Fatal(err)
		}
	}
	src.queue = append(src.queue, change(3, 1))
	if _, err := d.Once(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{0, 3, 3}, src.cursors); diff != "" {
		t.Errorf("cursors (-want +got):\n%s", diff)
	}
	// Before the second pass acknowledged 1 and 2, both were durable.
	if diff := cmp.Diff([]int{0, 2, 2}, src.durable); diff != "" {
		t.Errorf("ops durable when asking (-want +got):\n%s", diff)
	}
}

func change(seq, epoch uint64) record.Record {
	return record.Record{Type: record.TypeChange, Seq: seq, Epoch: epoch, Ops: record.OpData}
}

func closed(seq, epoch uint64, lossy bool) record.Record {
	return record.Record{Type: record.TypeEpochClosed, Seq: seq, Epoch: epoch, Lossy: lossy}
}

func TestOnce(t *testing.T) {
	tests := []struct {
		name       string
		queue      []record.Record
		cursor     uint64
		lastSealed uint64
		offset     uint64
		wantOps    []string
		wantStats  Stats
		wantCursor uint64
		wantErr    string
	}{
		{
			name:       "empty",
			wantCursor: 0,
		},
		{
			name: "records of the next epoch may precede the marker",
			queue: []record.Record{
				change(1, 1), change(2, 2), closed(3, 1, false), change(4, 2), closed(5, 2, true),
			},
			wantOps:    []string{"rec 1/1", "rec 2/2", "seal 3/1 lossy=false", "rec 4/2", "seal 5/2 lossy=true"},
			wantStats:  Stats{Records: 3, Sealed: []uint64{1, 2}, Lossy: []uint64{2}},
			wantCursor: 6,
		},
		{
			name:       "a restart skips the marker of an epoch already sealed",
			queue:      []record.Record{closed(7, 3, false), change(8, 4)},
			cursor:     7,
			lastSealed: 3,
			wantOps:    []string{"rec 8/4"},
			wantStats:  Stats{Records: 1},
			wantCursor: 9,
		},
		{
			name:       "a later generation: the watch's epochs go into the log after the break",
			queue:      []record.Record{change(1, 1), closed(2, 1, false), change(3, 2)},
			cursor:     1,
			lastSealed: 6,
			offset:     7,
			wantOps:    []string{"rec 1/8", "seal 2/8 lossy=false", "rec 3/9"},
			wantStats:  Stats{Records: 2, Sealed: []uint64{8}},
			wantCursor: 4,
		},
		{
			name: "a gap seals the epoch of the next marker and the one after lossy",
			queue: []record.Record{
				change(5, 2), closed(6, 1, false), change(7, 2), closed(8, 2, false), change(9, 3), closed(10, 3, false),
			},
			cursor:     3,
			wantOps:    []string{"rec 5/2", "seal 6/1 lossy=true", "rec 7/2", "seal 8/2 lossy=true", "rec 9/3", "seal 10/3 lossy=false"},
			wantStats:  Stats{Records: 3, Sealed: []uint64{1, 2, 3}, Lossy: []uint64{1, 2}, Gaps: []Gap{{3, 5}}},
			wantCursor: 11,
		},
		{
			name:       "a log begun mid-epoch seals it lossy",
			queue:      []record.Record{change(4, 1), closed(5, 1, false), closed(6, 2, false), closed(7, 3, false)},
			cursor:     1,
			wantOps:    []string{"rec 4/1", "seal 5/1 lossy=true", "seal 6/2 lossy=true", "seal 7/3 lossy=false"},
			wantStats:  Stats{Records: 1, Sealed: []uint64{1, 2, 3}, Lossy: []uint64{1, 2}, Gaps: []Gap{{1, 4}}},
			wantCursor: 8,
		},
		{
			name:       "a change after its seal is an error",
			queue:      []record.Record{change(4, 2)},
			cursor:     4,
			lastSealed: 2,
			wantErr:    "after the epoch was sealed",
			wantCursor: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &fakeLog{}
			d := &Drainer{Source: &fakeSource{queue: tt.queue}, Log: log, Watch: 1,
				Cursor: tt.cursor, LastSealed: tt.lastSealed, Offset: tt.offset}
			st, err := d.Once()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Once() error = %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Once() error = %v", err)
			}
			if tt.wantErr == "" {
				if diff := cmp.Diff(tt.wantStats, st); diff != "" {
					t.Errorf("stats (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantOps, log.ops); diff != "" {
					t.Errorf("log operations (-want +got):\n%s", diff)
				}
			}
			if d.Cursor != tt.wantCursor {
				t.Errorf("cursor = %d, want %d", d.Cursor, tt.wantCursor)
			}
		})
	}
}

// A restarted drainer finds the gaps in what the log holds: one that a
// seal followed makes the epoch after that seal lossy, one that no marker
// followed yet the next marker's.
func TestResume(t *testing.T) {
	tests := []struct {
		name    string
		first   uint64
		held    []Held
		cursor  uint64
		queue   []record.Record
		wantOps []string
	}{{
		name:    "no gap",
		held:    []Held{{Seq: 2}, {Seq: 1}, {Seq: 3, Epoch: 1, Marker: true}},
		cursor:  4,
		queue:   []record.Record{closed(4, 2, false)},
		wantOps: []string{"seal 4/2 lossy=false"},
	}, {
		name:    "a gap before the last seal: the next epoch is lossy",
		held:    []Held{{Seq: 2}, {Seq: 3, Epoch: 1, Marker: true}},
		cursor:  4,
		queue:   []record.Record{closed(4, 2, false), closed(5, 3, false)},
		wantOps: []string{"seal 4/2 lossy=true", "seal 5/3 lossy=false"},
	}, {
		name:    "a gap after the last seal: the next marker's epoch and the one after",
		held:    []Held{{Seq: 1, Epoch: 1, Marker: true}, {Seq: 3}},
		cursor:  4,
		queue:   []record.Record{closed(4, 2, false), closed(5, 3, false), closed(6, 4, false)},
		wantOps: []string{"seal 4/2 lossy=true", "seal 5/3 lossy=true", "seal 6/4 lossy=false"},
	}, {
		name:    "segments removed: the held seqs start later",
		first:   10,
		held:    []Held{{Seq: 10}, {Seq: 11, Epoch: 5, Marker: true}},
		cursor:  12,
		queue:   []record.Record{closed(12, 6, false)},
		wantOps: []string{"seal 12/6 lossy=false"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &fakeLog{}
			d := &Drainer{Source: &fakeSource{queue: tt.queue}, Log: log, Watch: 1, Cursor: tt.cursor}
			d.Resume(tt.first, tt.held)
			if _, err := d.Once(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantOps, log.ops); diff != "" {
				t.Errorf("log operations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOnceSourceError(t *testing.T) {
	errBoom := errors.New("boom")
	d := &Drainer{Source: &fakeSource{err: errBoom}, Log: &fakeLog{}, Watch: 2}
	if _, err := d.Once(); !errors.Is(err, errBoom) {
		t.Fatalf("Once() error = %v, want it to wrap %v", err, errBoom)
	}
}

// An error in the middle of a dump keeps what came before it: those records
// are in the log and behind the cursor, the next pass syncs them before its
// request acknowledges them and resumes after them, and nothing is doubled.
func TestOnceErrorMidDump(t *testing.T) {
	errBoom := errors.New("boom")
	log := &fakeLog{}
	src := &fakeSource{frees: true, log: log, err: errBoom, failAt: 2, queue: []record.Record{
		change(1, 1), change(2, 1), closed(3, 1, false), change(4, 2), change(5, 2), change(6, 2),
	}}
	d := &Drainer{Source: src, Log: log, Watch: 1}
	st, err := d.Once()
	if !errors.Is(err, errBoom) {
		t.Fatalf("Once() error = %v, want it to wrap %v", err, errBoom)
	}
	if diff := cmp.Diff(Stats{Records: 3, Sealed: []uint64{1}}, st); diff != "" {
		t.Errorf("stats of the failed pass (-want +got):\n%s", diff)
	}
	if d.Cursor != 5 {
		t.Fatalf("cursor after the failed pass = %d, want 5", d.Cursor)
	}
	src.err = nil
	if _, err := d.Once(); err != nil {
		t.Fatalf("Once() after the error: %v", err)
	}
	want := []string{"rec 1/1", "rec 2/1", "seal 3/1 lossy=false", "rec 4/2", "rec 5/2", "rec 6/2"}
	if diff := cmp.Diff(want, log.ops); diff != "" {
		t.Errorf("log operations (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint64{0, 5}, src.cursors); diff != "" {
		t.Errorf("cursors (-want +got):\n%s", diff)
	}
	// Record 4 was durable before the request that acknowledged it.
	if diff := cmp.Diff([]int{0, 4}, src.durable); diff != "" {
		t.Errorf("ops durable when asking (-want +got):\n%s", diff)
	}
}

// A drainer restarted on a log that ends with seals resumes after the last
// epoch-closed marker, which the seal keeps: the markers after the last
// change record were acknowledged, and freed, by the earlier run.
func TestResumeAfterTrailingSeals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wb.log")
	w, err := changelog.Create(path, changelog.Header{FSType: "tmpfs", Mount: "/mnt/t"})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{frees: true, queue: []record.Record{
		change(1, 1), closed(2, 1, false), closed(3, 2, false), closed(4, 3, false),
	}}
	d := &Drainer{Source: src, Log: w, Watch: 1}
	for range 2 { // the second pass acknowledges what the first drained
		if _, err := d.Once(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	src.queue = append(src.queue, change(5, 4), closed(6, 4, false))

	old, err := changelog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := old.NextSeq(); got != 5 {
		t.Fatalf("NextSeq() = %d, want 5: one past the last marker", got)
	}
	w, _, err = changelog.OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	d = &Drainer{Source: src, Log: w, Watch: 1, Cursor: old.NextSeq()}
	d.LastSealed, _ = old.LastSealed()
	st, err := d.Once()
	if err != nil {
		t.Fatalf("Once() after the restart: %v", err)
	}
	if diff := cmp.Diff(Stats{Records: 1, Sealed: []uint64{4}}, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := changelog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, r := range l.Records() {
		seqs = append(seqs, r.Seq)
	}
	for _, s := range l.Seals() {
		seqs = append(seqs, s.Seq)
	}
	slices.Sort(seqs)
	if diff := cmp.Diff([]uint64{1, 2, 3, 4, 5, 6}, seqs); diff != "" {
		t.Errorf("seqs of the records and seals: nothing lost or doubled (-want +got):\n%s", diff)
	}
}
