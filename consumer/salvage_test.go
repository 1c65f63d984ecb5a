package consumer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/changelog/changelogtest"
)

// TestSalvage: a log salvaged from a damaged one answers the intact
// epochs, takes the damaged log's cursors, and its rescans name the damage.
func TestSalvage(t *testing.T) {
	src := changelogtest.Write(t, 0,
		write(1, 1, "A", 0, 4), closed(1, false),
		write(2, 2, "A", 4, 4), closed(2, false),
		write(3, 3, "B", 0, 1), closed(3, false),
		write(4, 4, "B", 0, 1), closed(4, false),
	)
	old, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// The tail is cut inside the seal of epoch 4; a byte of the record of
	// epoch 2 is flipped.
	data = data[:len(data)-8]
	// A 64-byte header, 72-byte records, 48-byte seals: the second record
	// starts at 184.
	data[184+30] ^= 0x10
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "new.log")
	r, err := Salvage(src, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	two := changelog.EpochRange{First: 2, Last: 2}
	if len(r.Lost) == 0 || r.Lost[0] != two || r.UnknownAfter == nil || *r.UnknownAfter != 4 {
		t.Errorf("lost %v, unknown after %v: want 2 first, and after 4", r.Lost, r.UnknownAfter)
	}
	l, err := Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := l.ChangesUntil(Cursor{old.ID(), 2}, 3); err != nil || len(c.Objects) != 1 || c.Cursor != (Cursor{l.ID(), 3}) {
		t.Errorf("changes since the old log's cursor 2: %+v, %v; want one object, cursor %s:3", c, err, l.ID())
	}
	for _, since := range []Cursor{{old.ID(), 1}, {"", 1}, {old.ID(), 4}} {
		_, err := l.Changes(since)
		var re *RescanError
		if !errors.As(err, &re) || !strings.Contains(re.Detail, "salvaged from the damaged log "+src) || !strings.Contains(re.Detail, "at offset") {
			t.Errorf("changes since %s: %v, want a rescan naming the damage", since, err)
		}
	}
	if _, err := Salvage(src, dst, nil); !errors.Is(err, fs.ErrExist) {
		t.Errorf("salvage onto an existing log: %v, want ErrExist", err)
	}
	os.Remove(dst)
	if _, err := Salvage(src, dst, nil); !errors.Is(err, fs.ErrExist) {
		t.Errorf("salvage onto an existing report: %v, want ErrExist", err)
	}
}
