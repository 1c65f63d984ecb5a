package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/consumer"
)

func TestLogSalvage(t *testing.T) {
	src := writeLog(t,
		write(1, 1, "A", 0, 4), closed(1, false),
		write(2, 2, "A", 4, 4), closed(2, false),
		write(3, 3, "B", 0, 1), closed(3, false),
	)
	l, err := changelog.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	srcID := consumer.LogID(l.Header())
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// A 64-byte header, 72-byte records, 56-byte seals: the record of
	// epoch 2 is at 192, its seal at 264.
	data[192+30] ^= 0x10
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(src)
	damage := "72 bytes at offset 192 of " + src + " (CRC mismatch (stored 0x"
	tests := []struct {
		name     string
		args     []string
		want     string // stdout; the new log's id as @ID@, the source's @SRC@, a CRC as @CRC@
		wantErr  string // in stderr
		wantCode int
	}{
		{name: "text", args: []string{"log", "salvage", src, dir + "/text.log"},
			want: "damage: " + damage + "@CRC@))\nkept: epochs 1,3 (2 records, 2 seals)\nlost: epochs 2 (0 records dropped)\nwrote " + dir + "/text.log (log @ID@, from log @SRC@)\n"},
		{name: "json", args: []string{"log", "salvage", "--json", "--log", src, dir + "/json.log"},
			want: `{"source":"` + src + `","source_log":"@SRC@","output":"` + dir + `/json.log","log":"@ID@","damage":[{"file":"` + src + `","offset":192,"bytes":72,"reason":"CRC mismatch (stored 0x@CRC@)"}],"kept":["1","3"],"records":2,"seals":2,"lost":["2"],"dropped_records":0}` + "\n"},
		{name: "exists", args: []string{"log", "salvage", src, src}, wantErr: "file already exists", wantCode: exitError},
		{name: "missing", args: []string{"log", "salvage", dir + "/missing", dir + "/m.log"}, wantErr: "file does not exist", wantCode: exitError},
		{name: "unreadable", args: []string{"log", "salvage", t.TempDir(), dir + "/u.log"}, wantErr: "is a directory", wantCode: exitError},
		{name: "one argument", args: []string{"log", "salvage", src}, wantErr: "expected FILE NEWFILE", wantCode: exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit code %d, stderr %q; want %d, %q", code, errOut, tt.wantCode, tt.wantErr)
			}
			if code != 0 {
				if out != "" {
					t.Errorf("stdout %q, want nothing", out)
				}
				return
			}
			newLog := tt.args[len(tt.args)-1]
			n, err := consumer.Open(newLog)
			if err != nil {
				t.Fatal(err)
			}
			got := regexpReplace(`(stored 0x)[0-9a-f]+, computed 0x[0-9a-f]+`, out, "${1}@CRC@")
			want := strings.NewReplacer("@ID@", n.ID(), "@SRC@", srcID).Replace(tt.want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			// Across the damage: rescan, naming it.
			_, errOut, code = run("changes", "--log", newLog, "--since", srcID+":1")
			if code != exitRescan || !strings.Contains(errOut, "salvaged from the damaged log "+src+" ("+srcID+"), which lost epoch 2 to damage: "+damage) {
				t.Errorf("changes across the damage: exit code %d, stderr %q; want %d naming the damage", code, errOut, exitRescan)
			}
			if out, _, code := run("changes", "--log", newLog, "--since", srcID+":2"); code != 0 || !strings.Contains(out, "epochs=3-3") {
				t.Errorf("changes after the damage: exit code %d, stdout %q; want epoch 3", code, out)
			}
		})
	}
	after, err := os.ReadFile(src)
	if err != nil || !bytes.Equal(after, data) {
		t.Errorf("the damaged log changed (%v)", err)
	}
}

// Progress goes to stderr once a second, not before the first.
func TestSalvageProgress(t *testing.T) {
	var clock time.Time
	var b strings.Builder
	progress := salvageProgress(&b, func() time.Time { return clock })
	for i := range int64(4) {
		clock = clock.Add(500 * time.Millisecond)
		progress(i+1, 4)
	}
	if want := "wbctl: log salvage: 50% done\nwbctl: log salvage: 100% done\n"; b.String() != want {
		t.Errorf("progress printed %q, want %q", b.String(), want)
	}
}
