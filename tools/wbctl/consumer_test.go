package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/record"
)

func TestConsumer(t *testing.T) {
	log := writeLog(t,
		write(1, 1, "A", 0, 4), closed(1, false),
		write(2, 2, "B", 0, 4), closed(2, false),
		write(3, 3, "C", 0, 4), closed(3, false),
		change(4, 4, record.OpAttr, "D"),
	)
	other := writeLog(t, closed(1, false))
	steps := []struct {
		args     []string
		wantOut  string
		wantErr  string
		wantCode int
	}{
		{args: []string{"consumer", "add", "--log", log, "--epoch", "1", "backup"}},
		{args: []string{"consumer", "add", "--log", log, "index"}}, // at the last sealed, 3
		{args: []string{"consumer", "add", "--log", log, "index"}, wantErr: "consumer exists", wantCode: exitError},
		{args: []string{"consumer", "add", "--log", log, "--epoch", "4", "late"}, wantErr: "epoch 4 is not sealed", wantCode: exitError},
		{args: []string{"consumer", "list", "--log", log}, wantOut: "NAME    EPOCH  BEHIND  UPDATED\nbackup  1      2       TIME\nindex   3      0       TIME\n"},
		{args: []string{"changes", "--log", log, "--consumer", "backup"}, wantOut: "ops=data epochs=2-2 records=1 fh=1:42 ranges=0+4\nops=data epochs=3-3 records=1 fh=1:43 ranges=0+4\n"},
		{args: []string{"changes", "--log", log, "--consumer", "backup", "--since", "1"}, wantErr: "one of --since N and --consumer", wantCode: exitUsage},
		{args: []string{"changes", "--log", log, "--consumer", "nobody"}, wantErr: "no such consumer", wantCode: exitError},
		{args: []string{"consumer", "ack", "--log", log, "backup", "4"}, wantErr: "epoch 4: it is not sealed (the last sealed epoch is 3)", wantCode: exitError},
		{args: []string{"consumer", "ack", "--log", log, "nobody", "2"}, wantErr: `no such consumer: "nobody"`, wantCode: exitError},
		{args: []string{"consumer", "ack", "--log", log, "backup", "x"}, wantErr: "bad EPOCH", wantCode: exitUsage},
		{args: []string{"consumer", "ack", "--log", log, "backup", "3"}},
		{args: []string{"consumer", "ack", "--log", log, "backup", "2"}, wantErr: "already acknowledged epoch 3", wantCode: exitError},
		{args: []string{"changes", "--log", log, "--consumer", "backup"}},
		{args: []string{"consumer", "rm", "--log", log, "index"}},
		{args: []string{"consumer", "list", "--log", log, "--json"}, wantOut: `{"name":"backup","epoch":3,"behind":0,"updated":"TIME"}` + "\n"},
		// The cursors of one log do not apply to another log at the same path.
		{args: []string{"consumer", "list", "--log", other}, wantErr: "the cursors belong to another log", wantCode: exitError},
	}
	times := regexp.MustCompile(`\d{4}-\d\d-\d\dT[0-9:.]+Z`)
	for i, st := range steps {
		if i == len(steps)-1 {
			data, err := os.ReadFile(log + ".consumers")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(other+".consumers", data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		out, errOut, code := run(st.args...)
		out = times.ReplaceAllString(out, "TIME")
		if code != st.wantCode {
			t.Errorf("step %d %v: exit code %d, want %d; stderr: %s", i, st.args, code, st.wantCode, errOut)
		}
		if diff := cmp.Diff(st.wantOut, out); diff != "" {
			t.Errorf("step %d %v: stdout (-want +got):\n%s", i, st.args, diff)
		}
		if !strings.Contains(errOut, st.wantErr) {
			t.Errorf("step %d %v: stderr %q does not contain %q", i, st.args, errOut, st.wantErr)
		}
	}
}

// Acks remove the segments every consumer is done with; the purged epochs
// are a rescan.
func TestConsumerPurge(t *testing.T) {
	// A segment per seal: segment K holds the epochs after K.
	log := writeSegLog(t, 1,
		write(1, 1, "A", 0, 4), closed(1, false),
		write(2, 2, "B", 0, 4), closed(2, false),
		write(3, 3, "C", 0, 4), closed(3, false),
		write(4, 4, "D", 0, 4), closed(4, false),
	)
	removed := func(segs ...string) string {
		var b strings.Builder
		for _, s := range segs {
			b.WriteString("wbctl: removed " + log + s + ": every consumer has acknowledged its epochs")
		}
		return b.String()
	}
	steps := []struct {
		args     []string
		wantOut  string
		wantErr  string
		wantCode int
	}{
		// Without consumers nothing is purged, and a lone consumer at 0 keeps all.
		{args: []string{"consumer", "add", "--log", log, "--epoch", "0", "a"}},
		{args: []string{"consumer", "add", "--log", log, "--epoch", "0", "b"}},
		{args: []string{"consumer", "ack", "--log", log, "a", "3"}},
		{args: []string{"consumer", "ack", "--log", log, "b", "2"}, wantErr: removed("") + " (up to 2)\nwbctl: removed " + log + ".000001: every consumer"},
		{args: []string{"log", "verify", log}, wantOut: "header: format 2, tmpfs on /mnt/t\nsegments: 3, test.log.000002..test.log.000004\npurged: epochs up to 2\nrecords: 2\nsealed: 2 epochs, 3..4\ntail: clean\nok\n"},
		{args: []string{"changes", "--log", log, "--since", "1"}, wantErr: "rescan required from epoch 2: epochs up to 2 were purged from the log", wantCode: exitRescan},
		{args: []string{"changes", "--log", log, "--consumer", "b"}, wantOut: "ops=data epochs=3-3 records=1 fh=1:43 ranges=0+4\nops=data epochs=4-4 records=1 fh=1:44 ranges=0+4\n", wantErr: "answered up to epoch 4: cursor "},
		{args: []string{"consumer", "add", "--log", log, "--epoch", "1", "late"}, wantErr: "the epochs up to 2 were purged", wantCode: exitError},
		{args: []string{"consumer", "rm", "--log", log, "b"}, wantErr: removed(".000002") + " (up to 3)"},
		{args: []string{"consumer", "rm", "--log", log, "a"}},
		{args: []string{"changes", "--log", log, "--since", "3"}, wantOut: "ops=data epochs=4-4 records=1 fh=1:44 ranges=0+4\n", wantErr: "answered up to epoch 4: cursor "},
	}
	for i, st := range steps {
		out, errOut, code := run(st.args...)
		if code != st.wantCode {
			t.Errorf("step %d %v: exit code %d, want %d; stderr: %s", i, st.args, code, st.wantCode, errOut)
		}
		if diff := cmp.Diff(st.wantOut, out); diff != "" {
			t.Errorf("step %d %v: stdout (-want +got):\n%s", i, st.args, diff)
		}
		if !strings.Contains(errOut, st.wantErr) || st.wantErr == "" && errOut != "" {
			t.Errorf("step %d %v: stderr %q, want %q", i, st.args, errOut, st.wantErr)
		}
	}
}
