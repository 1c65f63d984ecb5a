package main

import (
	"math"
	"path/filepath"
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
