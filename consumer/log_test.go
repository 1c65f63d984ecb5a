package consumer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/changelog/changelogtest"
	"github.com/wbarrier/wbarrier/record"
	"github.com/wbarrier/wbarrier/record/recordtest"
)

// writeLog writes a log holding recs (markers become seals), a segment
// per segSize bytes (0: one), and opens it.
func writeLog(t *testing.T, segSize int64, recs ...record.Record) *Log {
	t.Helper()
	l, err := Open(changelogtest.Write(t, segSize, recs...))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var (
	write  = recordtest.Write
	closed = recordtest.Closed
)

func TestChanges(t *testing.T) {
	l := writeLog(t, 0,
		write(1, 1, "A", 0, 4), closed(1, false),
		write(2, 2, "A", 4, 4), write(3, 2, "B", 0, 1), closed(2, false),
		write(4, 3, "A", 100, 1), closed(3, true),
		write(5, 4, "B", 0, 1), closed(4, false),
		write(6, 5, "B", 0, 1), // epoch 5 is not sealed
	)
	id := l.ID()
	until := func(u uint64) *uint64 { return &u }
	tests := []struct {
		name        string
		since       Cursor
		until       *uint64 // nil: Changes, the last sealed epoch
		wantObjects int
		wantCursor  Cursor
		wantReason  Reason // 0: no rescan
		wantFrom    uint64
		wantDetail  string
		wantErr     error
	}{
		{name: "merged", since: Cursor{Epoch: 0}, until: until(2), wantObjects: 2, wantCursor: Cursor{id, 2}},
		{name: "a cursor of this log", since: Cursor{id, 3}, wantObjects: 1, wantCursor: Cursor{id, 4}},
		{name: "nothing changed", since: Cursor{id, 4}, wantCursor: Cursor{id, 4}},
		{name: "lossy", since: Cursor{Epoch: 2}, wantReason: Lossy, wantFrom: 3, wantDetail: "epoch 3 is lossy"},
		{name: "unsealed", since: Cursor{Epoch: 3}, until: until(5), wantReason: Unsealed, wantFrom: 5, wantDetail: "epoch 5 is not sealed"},
		{name: "beyond", since: Cursor{Epoch: 5}, wantReason: BeyondLastSealed, wantFrom: 4, wantDetail: "the cursor 5 is beyond the last sealed epoch 4"},
		{name: "other log", since: Cursor{"0123456789abcdef", 3}, wantReason: OtherLog, wantFrom: 4,
			wantDetail: "the cursor 0123456789abcdef:3 belongs to log 0123456789abcdef, not to this log (" + id + "): it was made anew; after the rescan, go on from " + id + ":4"},
		{name: "reversed", since: Cursor{Epoch: 3}, until: until(2), wantErr: ErrReversed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *Changes
			var err error
			if tt.until == nil {
				c, err = l.Changes(tt.since)
			} else {
				c, err = l.ChangesUntil(tt.since, *tt.until)
			}
			var re *RescanError
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
			case tt.wantReason != 0:
				if !errors.As(err, &re) {
					t.Fatalf("error %v, want a *RescanError", err)
				}
				if re.Reason != tt.wantReason || re.From != tt.wantFrom || !strings.Contains(re.Detail, tt.wantDetail) {
					t.Errorf("got %s from %d (%s), want %s from %d (%s)", re.Reason, re.From, re.Detail, tt.wantReason, tt.wantFrom, tt.wantDetail)
				}
				if !strings.Contains(err.Error(), "lazytime") {
					t.Errorf("%q lacks the lazytime note", err)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if len(c.Objects) != tt.wantObjects || c.Cursor != tt.wantCursor {
					t.Errorf("%d objects, cursor %v; want %d, %v", len(c.Objects), c.Cursor, tt.wantObjects, tt.wantCursor)
				}
			}
		})
	}
	if got, want := l.Cursor(), (Cursor{id, 4}); got != want {
		t.Errorf("Cursor() = %v, want %v", got, want)
	}
}

func TestCursor(t *testing.T) {
	tests := []struct {
		in   string
		want Cursor
		err  bool
	}{
		{in: "42", want: Cursor{Epoch: 42}},
		{in: "0123456789abcdef:7", want: Cursor{"0123456789abcdef", 7}},
		{in: ":3", err: true},
		{in: "abc:", err: true},
		{in: "x", err: true},
		{in: "", err: true},
		{in: "-1", err: true},
	}
	for _, tt := range tests {
		got, err := ParseCursor(tt.in)
		if tt.err {
			if !errors.Is(err, ErrBadCursor) {
				t.Errorf("ParseCursor(%q): %v, %v; want ErrBadCursor", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseCursor(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("%#v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}

	path := filepath.Join(t.TempDir(), "cursor")
	if _, err := LoadCursor(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadCursor of no file: %v, want fs.ErrNotExist", err)
	}
	want := Cursor{"0123456789abcdef", 7}
	if err := SaveCursor(path, want); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "0123456789abcdef:7\n" {
		t.Errorf("cursor file %q (%v)", b, err)
	}
	if got, err := LoadCursor(path); err != nil || got != want {
		t.Errorf("LoadCursor = %v, %v; want %v", got, err, want)
	}
	if err := os.WriteFile(path, []byte("junk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCursor(path); !errors.Is(err, ErrBadCursor) {
		t.Errorf("LoadCursor of junk: %v, want ErrBadCursor", err)
	}
}

// The registry beside the log: acks purge what every consumer has
// acknowledged, and the purged epochs are a rescan.
func TestConsumers(t *testing.T) {
	// A segment per seal: segment K holds the epochs after K.
	l := writeLog(t, 1,
		write(1, 1, "A", 0, 4), closed(1, false),
		write(2, 2, "B", 0, 4), closed(2, false),
		write(3, 3, "C", 0, 4), closed(3, false),
		write(4, 4, "D", 0, 4), closed(4, false),
	)
	seg := func(n uint64) string { return changelog.SegmentPath(l.path, n) }
	steps := []struct {
		name      string
		do        func() (Purge, error)
		wantPurge Purge
		wantErr   string
	}{
		{name: "add a", do: func() (Purge, error) { return Purge{}, l.AddConsumer("a", 0) }},
		{name: "add b", do: func() (Purge, error) { return Purge{}, l.AddConsumer("b", 0) }},
		{name: "add unsealed", do: func() (Purge, error) { return Purge{}, l.AddConsumer("c", 5) }, wantErr: "epoch 5 is not sealed"},
		{name: "add again", do: func() (Purge, error) { return Purge{}, l.AddConsumer("a", 1) }, wantErr: "consumer exists"},
		{name: "add a bad name", do: func() (Purge, error) { return Purge{}, l.AddConsumer("-x", 1) }, wantErr: "bad name"},
		{name: "ack a: b holds all", do: func() (Purge, error) { return l.Ack("a", 3) }},
		{name: "ack b", do: func() (Purge, error) { return l.Ack("b", 2) }, wantPurge: Purge{UpTo: 2, Files: []string{seg(0), seg(1)}}},
		{name: "ack unsealed", do: func() (Purge, error) { return l.Ack("b", 5) }, wantErr: "it is not sealed"},
		{name: "ack nobody", do: func() (Purge, error) { return l.Ack("nobody", 2) }, wantErr: "no such consumer"},
		{name: "rm b", do: func() (Purge, error) { return l.RemoveConsumer("b") }, wantPurge: Purge{UpTo: 3, Files: []string{seg(2)}}},
		{name: "rm a: none left, nothing purged", do: func() (Purge, error) { return l.RemoveConsumer("a") }},
	}
	for _, st := range steps {
		p, err := st.do()
		if st.wantErr == "" && err != nil || st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)) {
			t.Errorf("%s: error %v, want %q", st.name, err, st.wantErr)
		}
		if diff := cmp.Diff(st.wantPurge, p); diff != "" {
			t.Errorf("%s: purge (-want +got):\n%s", st.name, diff)
		}
	}
	r, err := l.Consumers()
	if err != nil || len(r.Consumers) != 0 {
		t.Errorf("Consumers() = %+v, %v; want none", r, err)
	}
	// The log as read before the purge still has its records; read anew,
	// the purged epochs are a rescan, and so is adding a consumer there.
	l2, err := Open(l.path)
	if err != nil {
		t.Fatal(err)
	}
	var re *RescanError
	if _, err := l2.Changes(Cursor{Epoch: 1}); !errors.As(err, &re) || re.Reason != Purged {
		t.Errorf("Changes since a purged epoch: %v, want a rescan, purged", err)
	}
	if err := l2.AddConsumer("late", 1); err == nil || !strings.Contains(err.Error(), "the epochs up to 3 were purged") {
		t.Errorf("AddConsumer at a purged epoch: %v", err)
	}
	// The registry of another log at the same path does not apply.
	other := writeLog(t, 0, closed(1, false))
	if err := os.Rename(registryPath(l.path), registryPath(other.path)); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Consumers(); !errors.Is(err, ErrOtherLog) {
		t.Errorf("Consumers() of another log's registry: %v, want ErrOtherLog", err)
	}
}
