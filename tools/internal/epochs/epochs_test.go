package epochs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/record"
	"github.com/wbarrier/wbarrier/tools/internal/drain"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestSchedule(t *testing.T) {
	type step struct {
		at      time.Duration // since t0
		add     int
		reset   bool
		wantDue bool
		// wantWait is Wait(at, time.Minute)
		wantWait time.Duration
	}
	tests := []struct {
		name   string
		policy Policy
		steps  []step
	}{
		{"off", Policy{}, []step{
			{at: 0, wantWait: time.Minute},
			{at: time.Hour, add: 1 << 20, wantWait: time.Minute},
		}},
		{"interval", Policy{Interval: 10 * time.Second}, []step{
			{at: 0, wantWait: 10 * time.Second},
			{at: 4 * time.Second, add: 100, wantWait: 6 * time.Second},
			{at: 10 * time.Second, wantDue: true},
			{at: 11 * time.Second, reset: true, wantWait: 10 * time.Second},
			{at: 20 * time.Second, wantWait: time.Second},
			{at: 25 * time.Second, wantDue: true},
		}},
		{"interval longer than the cap", Policy{Interval: time.Hour}, []step{
			{at: 0, wantWait: time.Minute},
			{at: 59*time.Minute + 30*time.Second, wantWait: 30 * time.Second},
		}},
		{"records", Policy{Records: 3}, []step{
			{at: 0, add: 2, wantWait: time.Minute},
			{at: time.Second, add: 1, wantDue: true, wantWait: time.Minute},
			{at: 2 * time.Second, reset: true, wantWait: time.Minute},
			{at: 3 * time.Second, add: 5, wantDue: true, wantWait: time.Minute},
		}},
		{"both: records first", Policy{Interval: time.Minute, Records: 2}, []step{
			{at: time.Second, add: 2, wantDue: true, wantWait: 59 * time.Second},
			{at: 2 * time.Second, reset: true, wantWait: time.Minute},
			{at: 62 * time.Second, wantDue: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSchedule(tt.policy, t0)
			for i, st := range tt.steps {
				now := t0.Add(st.at)
				if st.reset {
					s.Reset(now)
				}
				s.Add(st.add)
				if got := s.Due(now); got != st.wantDue {
					t.Errorf("step %d: Due = %v, want %v", i, got, st.wantDue)
				}
				if got := s.Wait(now, time.Minute); got != st.wantWait {
					t.Errorf("step %d: Wait = %v, want %v", i, got, st.wantWait)
				}
			}
		})
	}
}

// fakeKernel queues records like the module: a barrier closes the open
// epoch and queues its marker. Every call is logged in calls.
type fakeKernel struct {
	epoch   uint64
	queue   []record.Record
	seq     uint64
	calls   *[]string
	lost    bool // the barrier's marker is never queued
	failBar error
}

func (k *fakeKernel) write(n int) {
	for i := 0; i < n; i++ {
		k.seq++
		k.queue = append(k.queue, record.Record{Type: record.TypeChange, Seq: k.seq, Epoch: k.epoch, Ops: record.OpData,
			Handle: &record.FileHandle{Type: 1, Bytes: []byte("h")}})
	}
}

func (k *fakeKernel) Barrier() (uint64, bool, error) {
	*k.calls = append(*k.calls, "barrier")
	if k.failBar != nil {
		return 0, false, k.failBar
	}
	closed := k.epoch
	k.epoch++
	if !k.lost {
		k.seq++
		k.queue = append(k.queue, record.Record{Type: record.TypeEpochClosed, Seq: k.seq, Epoch: closed})
	}
	return closed, false, nil
}

func (k *fakeKernel) ScanRecords(_ uint32, cursor uint64, fn func([]record.Record) error) error {
	for _, r := range k.queue {
		if r.Seq >= cursor {
			if err := fn([]record.Record{r}); err != nil {
				return err
			}
		}
	}
	return nil
}

type fakeLog struct{ calls *[]string }

func (l fakeLog) Append(r record.Record) error {
	*l.calls = append(*l.calls, fmt.Sprintf("append %d", r.Epoch))
	return nil
}

func (l fakeLog) Seal(epoch, _ uint64, _ bool) error {
	*l.calls = append(*l.calls, fmt.Sprintf("seal %d", epoch))
	return nil
}

// Sync is not in calls: the drainer's own tests check when it syncs.
func (l fakeLog) Sync() error { return nil }

func TestCheckpoint(t *testing.T) {
	errSync := errors.New("sync failed")
	tests := []struct {
		name      string
		writes    int
		lost      bool
		failBar   error
		syncErr   error
		noSync    bool
		wantCalls []string
		wantEpoch uint64
		wantErr   string
	}{
		{
			name:      "barrier, drain, syncfs, seal",
			writes:    2,
			wantCalls: []string{"barrier", "append 1", "append 1", "syncfs", "seal 1"},
			wantEpoch: 1,
		},
		{
			name:      "empty epoch",
			wantCalls: []string{"barrier", "syncfs", "seal 1"},
			wantEpoch: 1,
		},
		{
			name:      "no syncfs",
			writes:    1,
			noSync:    true,
			wantCalls: []string{"barrier", "append 1", "seal 1"},
			wantEpoch: 1,
		},
		{
			name:      "syncfs fails: no seal",
			writes:    1,
			syncErr:   errSync,
			wantCalls: []string{"barrier", "append 1", "syncfs"},
			wantEpoch: 1,
			wantErr:   "syncfs before sealing epoch 1: sync failed",
		},
		{
			name:      "barrier fails",
			failBar:   errors.New("ENODEV"),
			wantCalls: []string{"barrier"},
			wantErr:   "barrier: ENODEV",
		},
		{
			name:      "marker never arrives",
			lost:      true,
			wantCalls: []string{"barrier"},
			wantEpoch: 1,
			wantErr:   "marker did not arrive",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			k := &fakeKernel{epoch: 1, calls: &calls, lost: tt.lost, failBar: tt.failBar}
			k.write(tt.writes)
			log := SyncLog{Log: fakeLog{&calls}}
			if !tt.noSync {
				log.Syncfs = func() error { calls = append(calls, "syncfs"); return tt.syncErr }
			}
			d := &drain.Drainer{Source: k, Log: log, Watch: 1}
			n, _, err := Checkpoint(Steps{Barrier: k.Barrier, Drain: d.Once})
			if n != tt.wantEpoch {
				t.Errorf("epoch %d, want %d", n, tt.wantEpoch)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckpointsInARow: records of the next epoch drained before the
// barrier stay in it.
func TestCheckpointsInARow(t *testing.T) {
	var calls []string
	k := &fakeKernel{epoch: 1, calls: &calls}
	d := &drain.Drainer{Source: k, Log: fakeLog{&calls}, Watch: 1}
	for i := 0; i < 3; i++ {
		k.write(i)
		if _, err := d.Once(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Checkpoint(Steps{Barrier: k.Barrier, Drain: d.Once}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"barrier", "seal 1", "append 2", "barrier", "seal 2", "append 3", "append 3", "barrier", "seal 3"}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
