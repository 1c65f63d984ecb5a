package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/genl"
	"github.com/wbarrier/wbarrier/tools/internal/blockdev"
)

// openDrain follows the watch it is given: a new log, the same watch
// resumed, a watch made anew behind a generation break; and what a restart
// cannot fix is exit status 5, never a failure the unit repeats.
func TestOpenDrainGenerations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.log")
	watchA := genl.Watch{ID: 1, LoadID: 0xaaaa, FSType: "tmpfs", Path: "/mnt/t", Dev: 42, NextSeq: 1}
	var stderr bytes.Buffer
	app := &cli.App{ErrWriter: &stderr}
	ctx := cli.NewContext(app, nil, nil)

	open := func(w genl.Watch) (uint64, uint64, uint64, error) {
		t.Helper()
		stderr.Reset()
		d, log, err := openDrain(ctx, nil, w, path, new(blockdev.System))
		if err != nil {
			return 0, 0, 0, err
		}
		defer log.Close()
		return d.Offset, d.Cursor, d.LastSealed, nil
	}

	// A new log: the first generation, the kernel's numbering, from seq 1.
	if off, cur, _, err := open(watchA); err != nil || off != 0 || cur != 1 {
		t.Fatalf("new log: offset %d, cursor %d, %v; want 0, 1", off, cur, err)
	}
	// The watch seals epoch 1 (records 1, 2, marker 3).
	_, log, err := openDrain(ctx, nil, watchA, path, new(blockdev.System))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []error{log.Append(write(1, 1, "a", 0, 1)), log.Append(write(2, 1, "b", 0, 1)), log.Seal(1, 3, false)} {
		if r != nil {
			t.Fatal(r)
		}
	}
	log.Close()

	// The same watch resumes after its marker, no break.
	watchA.NextSeq = 4
	if off, cur, last, err := open(watchA); err != nil || off != 0 || cur != 4 || last != 1 || stderr.Len() != 0 {
		t.Fatalf("same watch: offset %d, cursor %d, last sealed %d, %v, %q; want 0, 4, 1, no message", off, cur, last, err, stderr.String())
	}
	// A watch made anew (a reboot: another load id) numbers from 1 again:
	// a break at epoch 2, its epoch E is the log's E+2.
	watchB := watchA
	watchB.LoadID, watchB.NextSeq = 0xbbbb, 1
	if off, cur, last, err := open(watchB); err != nil || off != 2 || cur != 1 || last != 1 {
		t.Fatalf("new watch: offset %d, cursor %d, last sealed %d, %v; want 2, 1, 1", off, cur, last, err)
	}
	if !strings.Contains(stderr.String(), "epoch 2 is a break") {
		t.Errorf("new watch: stderr %q does not name the break", stderr.String())
	}
	// Started again on the same new watch: no second break.
	if off, cur, _, err := open(watchB); err != nil || off != 2 || cur != 1 || stderr.Len() != 0 {
		t.Fatalf("new watch again: offset %d, cursor %d, %v, %q; want 2, 1, no message", off, cur, err, stderr.String())
	}

	// What needs a person: exit status 5.
	ext4 := watchB
	ext4.FSType = "ext4"
	noID := watchB
	noID.LoadID = 0
	for name, w := range map[string]genl.Watch{"another filesystem type": ext4, "a module without load ids": noID} {
		_, _, _, err := open(w)
		var pe personError
		if !errors.As(err, &pe) || exitCode(err) != exitPerson {
			t.Errorf("%s: error %v (exit code %d), want a personError (exit code %d)", name, err, exitCode(err), exitPerson)
		}
	}
}
