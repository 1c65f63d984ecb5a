package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
)

// log dump prints a seal with the seq of its epoch-closed marker, and
// without one when the seq is unknown (0).
func TestLogDumpSeals(t *testing.T) {
	marker := func(seq, epoch uint64, lossy bool) record.Record {
		m := closed(epoch, lossy)
		m.Seq = seq
		return m
	}
	log := writeLog(t, write(1, 1, "A", 0, 4), marker(2, 1, false), marker(3, 2, true), closed(3, false),
		write(4, 4, "B", 10, math.MaxUint64-10)) // an append: to EOF
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"text", []string{"log", "dump", log}, "log of /mnt/t (tmpfs)\n" +
			"seq=1 epoch=1 change ops=data fh=1:41 range=0+4\n" +
			"epoch=1 sealed records=1 seq=2\n" +
			"epoch=2 sealed records=0 seq=3 lossy\n" +
			"epoch=3 sealed records=0\n" +
			"seq=4 epoch=4 change ops=data fh=1:42 range=10+eof\n"},
		{"json", []string{"log", "dump", "--json", log}, `{"fstype":"tmpfs","mount":"/mnt/t"}` + "\n" +
			`{"seq":1,"epoch":1,"type":"change","ops":"data","handle":{"type":1,"hex":"41"},"offset":0,"length":4}` + "\n" +
			`{"epoch":1,"sealed":true,"records":1,"seq":2}` + "\n" +
			`{"epoch":2,"sealed":true,"records":0,"seq":3,"lossy":true}` + "\n" +
			`{"epoch":3,"sealed":true,"records":0}` + "\n" +
			`{"seq":4,"epoch":4,"type":"change","ops":"data","handle":{"type":1,"hex":"42"},"offset":10,"length":18446744073709551605,"eof":true}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(tt.args...)
			if diff := cmp.Diff(tt.want, out); diff != "" || code != 0 {
				t.Errorf("status %d, stderr %q; stdout (-want +got):\n%s", code, errOut, diff)
			}
		})
	}
}

// log verify and log dump take the log as their argument or as --log,
// like every other command.
func TestLogFileArg(t *testing.T) {
	log := writeLog(t, write(1, 1, "A", 0, 4), closed(1, false))
	tests := []struct {
		args     []string
		wantCode int
	}{
		{[]string{"log", "verify", log}, 0},
		{[]string{"log", "verify", "--log", log}, 0},
		{[]string{"log", "dump", "--log", log}, 0},
		{[]string{"log", "dump", log}, 0},
		{[]string{"log", "dump"}, exitUsage},
		{[]string{"log", "verify", "--log", log, log}, exitUsage},
	}
	for _, tt := range tests {
		if _, errOut, code := run(tt.args...); code != tt.wantCode {
			t.Errorf("%v: exit code %d, want %d (%s)", tt.args, code, tt.wantCode, errOut)
		}
	}
}

// log dump prints the generations where their frames are.
func TestLogDumpGenerations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.log")
	w, err := changelog.Create(path, changelog.Header{FSType: "tmpfs", Mount: "/mnt/t"})
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { _, err := w.StartGeneration(changelog.Generation{LoadID: 0xa, WatchID: 1}); return err },
		func() error { return w.Seal(1, 1, false) },
		func() error { _, err := w.StartGeneration(changelog.Generation{LoadID: 0xb, WatchID: 1}); return err },
		func() error { return w.Seal(3, 1, false) },
		w.Close,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := run("log", "dump", path)
	want := "log of /mnt/t (tmpfs)\n" +
		"generation watch=1 load=000000000000000a from-epoch=1\n" +
		"epoch=1 sealed records=0 seq=1\n" +
		"generation watch=1 load=000000000000000b from-epoch=3 break=2\n" +
		"epoch=3 sealed records=0 seq=1\n"
	if diff := cmp.Diff(want, out); diff != "" || code != 0 {
		t.Errorf("status %d, stderr %q; stdout (-want +got):\n%s", code, errOut, diff)
	}
}

// continuityLog writes a log of two watches of an ext4 filesystem: the
// first seals epoch 1 and records its clean unmount, the second (continuous
// if cont) seals its epoch 1, the log's 3.
func continuityLog(t *testing.T, cont bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := changelog.Create(path, changelog.Header{FSType: "ext4", Mount: "/srv/data"})
	if err != nil {
		t.Fatal(err)
	}
	u := changelog.Unmount{FSType: "ext4", UUID: [16]byte{0x0f, 0x3c, 15: 0x90}, MountCount: 7, KBytesWritten: 4096, WTime: 1765000000}
	steps := []func() error{
		func() error { _, err := w.StartGeneration(changelog.Generation{LoadID: 0xa, WatchID: 1}); return err },
		func() error { return w.Append(write(1, 1, "A", 0, 4)) },
		func() error { return w.Seal(1, 2, false) },
		func() error { return w.Unmount(u) },
		func() error {
			_, err := w.StartGeneration(changelog.Generation{LoadID: 0xb, WatchID: 1, Continuous: cont})
			return err
		},
		func() error { return w.Append(write(1, 3, "B", 0, 4)) },
		func() error { return w.Seal(3, 2, false) },
		func() error { return w.Unmount(u) },
		w.Close,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// log dump and log verify print the clean unmounts and the continuous
// generation; changes across a continuous one is answered (status 0), and
// across a break that is not continuous a rescan (status 3).
func TestLogContinuity(t *testing.T) {
	path := continuityLog(t, true)
	out, errOut, code := run("log", "dump", path)
	unmount := "unmount fstype=ext4 uuid=0f3c0000-0000-0000-0000-000000000090 mount-count=7 kbytes-written=4096 wtime=1765000000\n"
	want := "log of /srv/data (ext4)\n" +
		"generation watch=1 load=000000000000000a from-epoch=1\n" +
		"seq=1 epoch=1 change ops=data fh=1:41 range=0+4\n" +
		"epoch=1 sealed records=1 seq=2\n" +
		unmount +
		"generation watch=1 load=000000000000000b from-epoch=3 break=2 continuous\n" +
		"seq=1 epoch=3 change ops=data fh=1:42 range=0+4\n" +
		"epoch=3 sealed records=1 seq=2\n" +
		unmount
	if diff := cmp.Diff(want, out); diff != "" || code != 0 {
		t.Errorf("dump: status %d, stderr %q; stdout (-want +got):\n%s", code, errOut, diff)
	}
	out, errOut, code = run("log", "verify", path)
	want = "header: format 1, ext4 on /srv/data\nrecords: 2\nsealed: 2 epochs, 1..3\n" +
		"continuous breaks (a clean unmount, the filesystem unchanged since; sealed and empty): 2\n" +
		"ends with: clean unmount of ext4 0f3c0000-0000-0000-0000-000000000090: mount count 7, 4096 KiB written\n" +
		"tail: clean\nok\n"
	if diff := cmp.Diff(want, out); diff != "" || code != 0 {
		t.Errorf("verify: status %d, stderr %q; stdout (-want +got):\n%s", code, errOut, diff)
	}
	if _, errOut, code := run("changes", "--log", path, "--since", "1"); code != 0 {
		t.Errorf("changes --since 1 across the continuous generation: status %d (%s), want 0", code, errOut)
	}
	broken := continuityLog(t, false)
	if _, errOut, code := run("changes", "--log", broken, "--since", "1"); code != exitRescan || !strings.Contains(errOut, "epoch 2 is the break") {
		t.Errorf("changes --since 1 across a break: status %d (%s), want %d", code, errOut, exitRescan)
	}
}
