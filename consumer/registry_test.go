package consumer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestRegistry(t *testing.T) {
	type op struct {
		do      string // add, ack, rm
		name    string
		epoch   uint64
		wantErr string
	}
	tests := []struct {
		name string
		ops  []op
		want []Position
	}{
		{"add and ack", []op{
			{do: "add", name: "backup", epoch: 3},
			{do: "add", name: "index", epoch: 0},
			{do: "ack", name: "backup", epoch: 5},
			{do: "ack", name: "backup", epoch: 5}, // again: fine
		}, []Position{{"backup", 5, t0}, {"index", 0, t0}}},
		{"errors", []op{
			{do: "add", name: "a", epoch: 1},
			{do: "add", name: "a", epoch: 2, wantErr: "consumer exists"},
			{do: "add", name: "-x", wantErr: "bad name"},
			{do: "add", name: "", wantErr: "bad name"},
			{do: "add", name: "a b", wantErr: "bad name"},
			{do: "ack", name: "nobody", epoch: 1, wantErr: "no such consumer"},
			{do: "ack", name: "a", epoch: 11, wantErr: "epoch 11: it is not sealed (the last sealed epoch is 10)"},
			{do: "ack", name: "a", epoch: 0, wantErr: "already acknowledged epoch 1"},
			{do: "rm", name: "nobody", wantErr: "no such consumer"},
		}, []Position{{"a", 1, t0}}},
		{"rm", []op{
			{do: "add", name: "a"},
			{do: "add", name: "b"},
			{do: "rm", name: "a"},
		}, []Position{{"b", 0, t0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Registry{LogID: "x"}
			for i, o := range tt.ops {
				var err error
				switch o.do {
				case "add":
					err = r.add(o.name, o.epoch, t0)
				case "ack":
					err = r.ack(o.name, o.epoch, 10, t0)
				case "rm":
					err = r.remove(o.name)
				}
				if o.wantErr == "" && err != nil || o.wantErr != "" && (err == nil || !strings.Contains(err.Error(), o.wantErr)) {
					t.Errorf("op %d %+v: error %v, want %q", i, o, err, o.wantErr)
				}
			}
			if diff := cmp.Diff(tt.want, r.Consumers); diff != "" {
				t.Errorf("consumers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSaveLoad(t *testing.T) {
	path := registryPath(filepath.Join(t.TempDir(), "data.log"))
	r, err := load(path, "id1")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Consumers) != 0 {
		t.Fatalf("missing file: %+v", r)
	}
	if err := update(path, "id1", func(r *Registry) error { return r.add("a", 4, t0) }, nil); err != nil {
		t.Fatal(err)
	}
	// A failing update leaves the file alone.
	boom := errors.New("boom")
	if err := update(path, "id1", func(r *Registry) error { r.Consumers = nil; return boom }, nil); !errors.Is(err, boom) {
		t.Fatalf("update: %v, want boom", err)
	}
	got, err := load(path, "id1")
	if err != nil {
		t.Fatal(err)
	}
	want := &Registry{LogID: "id1", Consumers: []Position{{"a", 4, t0}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("load (-want +got):\n%s", diff)
	}
	if _, err := load(path, "id2"); !errors.Is(err, ErrOtherLog) {
		t.Errorf("load for another log: %v, want ErrOtherLog", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := load(path, "id1"); err == nil {
		t.Error("load of a damaged file: no error")
	}
}

// TestConcurrentAcks: the lock keeps concurrent updates from losing each
// other.
func TestConcurrentAcks(t *testing.T) {
	path := registryPath(filepath.Join(t.TempDir(), "data.log"))
	const n = 20
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := string(rune('a'+i%26)) + "x"
			if i >= 26 {
				name += "y"
			}
			if err := update(path, "id", func(r *Registry) error { return r.add(name, uint64(i), t0) }, nil); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	r, err := load(path, "id")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Consumers) != n {
		t.Errorf("%d consumers, want %d", len(r.Consumers), n)
	}
}

func TestSlowest(t *testing.T) {
	tests := []struct {
		name   string
		epochs []uint64
		want   uint64
		ok     bool
	}{
		{"no consumer: nothing may go", nil, 0, false},
		{"one", []uint64{7}, 7, true},
		{"the smallest", []uint64{9, 3, 5}, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Registry
			for i, e := range tt.epochs {
				if err := r.add(string(rune('a'+i)), e, t0); err != nil {
					t.Fatal(err)
				}
			}
			if got, ok := r.Slowest(); got != tt.want || ok != tt.ok {
				t.Errorf("Slowest() = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// update runs then with the saved registry, which is on disk by then,
// and not at all if the update fails.
func TestUpdateThen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.consumers")
	var seen []uint64
	then := func(r *Registry) error {
		onDisk, err := load(path, "id")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(r, onDisk); diff != "" {
			t.Errorf("then ran before the registry was saved (-given +on disk):\n%s", diff)
		}
		e, _ := r.Slowest()
		seen = append(seen, e)
		return nil
	}
	if err := update(path, "id", func(r *Registry) error { return r.add("a", 4, t0) }, then); err != nil {
		t.Fatal(err)
	}
	if err := update(path, "id", func(r *Registry) error { return r.ack("a", 2, 9, t0) }, then); err == nil {
		t.Fatal("acking backwards succeeded")
	}
	if err := update(path, "id", func(r *Registry) error { return r.ack("a", 6, 9, t0) }, then); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{4, 6}, seen); diff != "" {
		t.Errorf("then saw (-want +got):\n%s", diff)
	}
}
