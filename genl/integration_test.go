package genl_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wbarrier/wbarrier/genl"
	"github.com/wbarrier/wbarrier/record"
)

// TestIntegration runs against the loaded wbarrier module, as root, when
// WBARRIER_INTEGRATION=1. It watches the filesystem of
// WBARRIER_INTEGRATION_DIR, or of a temporary directory, which no one else
// may be watching.
func TestIntegration(t *testing.T) {
	if os.Getenv("WBARRIER_INTEGRATION") != "1" {
		t.Skip("set WBARRIER_INTEGRATION=1 to test against the loaded wbarrier module")
	}
	dir := os.Getenv("WBARRIER_INTEGRATION_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else {
		var err error
		if dir, err = os.MkdirTemp(dir, "genl-test-"); err != nil {
			t.Fatalf("failed to make a directory: %v", err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
	}

	c, err := genl.Dial()
	if err != nil {
		t.Fatalf("failed to dial: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("failed to close: %v", err)
		}
	})
	if err := c.Subscribe(); err != nil {
		t.Fatalf("failed to subscribe: %v", err)
	}

	w, err := c.Watch(dir)
	if err != nil {
		t.Fatalf("failed to watch %s: %v", dir, err)
	}
	unwatched := false
	t.Cleanup(func() {
		if !unwatched {
			_ = c.Unwatch(w.ID)
		}
	})
	if w.Path != dir || w.FSType == "" {
		t.Errorf("unexpected watch: %+v", w)
	}
	if _, err := c.Watch(dir); !errors.Is(err, os.ErrExist) {
		t.Errorf("watching %s twice: got %v, want an error satisfying os.ErrExist", dir, err)
	}

	st, err := c.Status(w.ID)
	if err != nil {
		t.Fatalf("failed to get the status: %v", err)
	}
	if st.ID != w.ID || st.Path != w.Path || st.Dev != w.Dev || st.Epoch != w.Epoch {
		t.Errorf("status %+v does not match the watch %+v", st, w)
	}
	ws, err := c.Watches()
	if err != nil {
		t.Fatalf("failed to list watches: %v", err)
	}
	found := false
	for _, x := range ws {
		found = found || x.ID == w.ID
	}
	if !found {
		t.Errorf("watch %d is not in the list %+v", w.ID, ws)
	}

	const name = "genl-integration.txt"
	if err := os.WriteFile(filepath.Join(dir, name), []byte("hello"), 0o644); err != nil {
		t.Fatalf("failed to write: %v", err)
	}

	b, err := c.Barrier(w.ID)
	if err != nil {
		t.Fatalf("failed to take a barrier: %v", err)
	}
	if b.WatchID != w.ID || b.Epoch != w.Epoch {
		t.Errorf("barrier %+v, want watch %d epoch %d", b, w.ID, w.Epoch)
	}

	rs, err := c.Records(w.ID, 0)
	if err != nil {
		t.Fatalf("failed to read records: %v", err)
	}
	var created, written, closed bool
	for _, r := range rs {
		if r.Seq >= b.NextSeq {
			break
		}
		switch {
		case r.Type == record.TypeChange && r.Ops&record.OpCreate != 0 && r.Name == name:
			created = true
			if r.Parent == nil {
				t.Errorf("create record without the parent's handle: %+v", r)
			}
		case r.Type == record.TypeChange && r.Ops&record.OpData != 0 && r.Handle != nil:
			written = true
		case r.Type == record.TypeEpochClosed && r.Epoch == b.Epoch:
			closed = true
			if r.Seq != b.NextSeq-1 {
				t.Errorf("closing marker has sequence %d, want %d", r.Seq, b.NextSeq-1)
			}
		}
	}
	if !created || !written || !closed {
		t.Errorf("records: create %t, data %t, closing marker %t; want all in %+v", created, written, closed, rs)
	}

	rs, err = c.Records(w.ID, b.NextSeq)
	if err != nil {
		t.Fatalf("failed to acknowledge records: %v", err)
	}
	for _, r := range rs {
		if r.Seq < b.NextSeq {
			t.Errorf("record %d below the cursor %d is still queued", r.Seq, b.NextSeq)
		}
	}

	if err := c.Unwatch(w.ID); err != nil {
		t.Fatalf("failed to unwatch: %v", err)
	}
	unwatched = true
	if _, err := c.Barrier(w.ID); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("barrier after unwatch: got %v, want an error satisfying os.ErrNotExist", err)
	}
	if err := c.Unwatch(w.ID); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unwatch twice: got %v, want an error satisfying os.ErrNotExist", err)
	}

	// The notifications: records waiting, then the watch gone.
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatalf("failed to set the deadline: %v", err)
	}
	var sawRecords bool
	for {
		es, err := c.ReceiveEvents()
		if err != nil {
			t.Fatalf("failed to receive the unwatch notification: %v", err)
		}
		done := false
		for _, e := range es {
			if e.WatchID != w.ID {
				continue
			}
			switch e.Kind {
			case genl.EventRecords:
				sawRecords = true
			case genl.EventUnwatch:
				done = true
			}
		}
		if done {
			break
		}
	}
	if !sawRecords {
		t.Errorf("no records notification for watch %d", w.ID)
	}
}
