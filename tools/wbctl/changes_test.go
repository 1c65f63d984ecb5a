package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/consumer"
	"github.com/wbarrier/wbarrier/record"
)

func TestChanges(t *testing.T) {
	log := writeLog(t,
		named(1, 1, record.OpCreate, "", "d", "a"),
		write(2, 1, "A", 0, 4),
		closed(1, false),
		write(3, 2, "A", 4, 4),
		change(4, 2, record.OpAttr, "B"),
		named(5, 2, record.OpRenameFrom, "C", "d", "old"),
		named(6, 2, record.OpRenameTo, "C", "d", "new"),
		closed(2, false),
		write(7, 3, "A", 100, 1),
		closed(3, true),
		write(8, 4, "B", 0, 1),
		closed(4, false),
		write(9, 5, "B", 0, 1), // epoch 5 is not sealed
	)
	tests := []struct {
		name     string
		args     []string
		wantOut  string
		wantErr  string // a substring of stderr
		wantCode int
	}{
		{
			name: "merged across epochs",
			args: []string{"--since", "0", "--until", "2"},
			wantOut: `ops=create epochs=1-1 records=1 entry=create:1:64/"a"
ops=data epochs=1-2 records=2 fh=1:41 ranges=0+8
ops=attr epochs=2-2 records=1 fh=1:42
ops=rename-from|rename-to epochs=2-2 records=2 fh=1:43 entry=rename-from:1:64/"old" entry=rename-to:1:64/"new"
`,
		},
		{
			name:    "one epoch",
			args:    []string{"--since", "1", "--until", "2"},
			wantOut: "ops=data epochs=2-2 records=1 fh=1:41 ranges=4+4\nops=attr epochs=2-2 records=1 fh=1:42\nops=rename-from|rename-to epochs=2-2 records=2 fh=1:43 entry=rename-from:1:64/\"old\" entry=rename-to:1:64/\"new\"\n",
		},
		{
			name:     "lossy epoch in range",
			args:     []string{"--since", "2"},
			wantErr:  "rescan required from epoch 3: epoch 3 is lossy",
			wantCode: exitRescan,
		},
		{
			name:    "after the lossy epoch",
			args:    []string{"--since", "3"},
			wantOut: "ops=data epochs=4-4 records=1 fh=1:42 ranges=0+1\n",
		},
		{
			name:     "unsealed until",
			args:     []string{"--since", "3", "--until", "5"},
			wantErr:  "rescan required from epoch 5: epoch 5 is not sealed",
			wantCode: exitRescan,
		},
		{
			name:     "lazytime note",
			args:     []string{"--since", "3", "--until", "5"},
			wantErr:  "lazytime",
			wantCode: exitRescan,
		},
		{
			name: "since the last sealed: nothing",
			args: []string{"--since", "4"},
		},
		{
			name:     "since beyond the last sealed",
			args:     []string{"--since", "5"},
			wantErr:  "beyond the last sealed epoch 4",
			wantCode: exitRescan,
		},
		{
			name:     "until before since",
			args:     []string{"--since", "3", "--until", "2"},
			wantErr:  "before --since",
			wantCode: exitUsage,
		},
		{
			name:     "paths without a MOUNT",
			args:     []string{"--since", "3", "--paths", "--print0"},
			wantErr:  `--paths takes the MOUNT to resolve against, as --paths MOUNT or --paths=MOUNT (the log's watch was on /mnt/t), not "--print0"`,
			wantCode: exitUsage,
		},
		{
			name:     "print0 needs paths",
			args:     []string{"--since", "3", "--print0"},
			wantErr:  "--print0 needs --paths",
			wantCode: exitUsage,
		},
		{
			name: "json",
			args: []string{"--since", "3", "--json"},
			wantOut: `{"ops":"data","first_epoch":4,"last_epoch":4,"records":1,"handle":{"type":1,"hex":"42"},"ranges":[{"offset":0,"length":1}]}` + "\n" +
				`{"cursor":"@ID@:4","log":"@ID@","until":4}` + "\n",
		},
		{
			name:    "a cursor of this log",
			args:    []string{"--since", "@ID@:3"},
			wantOut: "ops=data epochs=4-4 records=1 fh=1:42 ranges=0+1\n",
			wantErr: "answered up to epoch 4: cursor @ID@:4",
		},
		{
			name:     "a cursor of another log",
			args:     []string{"--since", "0123456789abcdef:3"},
			wantErr:  "rescan required from epoch 4: the cursor 0123456789abcdef:3 belongs to log 0123456789abcdef, not to this log (@ID@)",
			wantCode: exitRescan,
		},
		{
			name:     "a cursor that is not one",
			args:     []string{"--since", ":3"},
			wantErr:  `--since ":3": want N or LOGID:N`,
			wantCode: exitUsage,
		},
	}
	l, err := changelog.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	id := consumer.LogID(l.Header())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"changes", "--log", log}, tt.args...)
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], "@ID@", id)
			}
			out, errOut, code := run(args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tt.wantCode, errOut)
			}
			if diff := cmp.Diff(strings.ReplaceAll(tt.wantOut, "@ID@", id), out); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if wantErr := strings.ReplaceAll(tt.wantErr, "@ID@", id); !strings.Contains(errOut, wantErr) {
				t.Errorf("stderr %q does not contain %q", errOut, wantErr)
			}
		})
	}
}

func TestChangesCorrupt(t *testing.T) {
	_, errOut, code := run("changes", "--log", "/nonexistent/log", "--since", "0")
	if code != exitError {
		t.Errorf("exit code %d, want %d (%s)", code, exitError, errOut)
	}
}

// --cursor-file holds what changes answered, and is left alone when it
// tells to rescan.
func TestChangesCursorFile(t *testing.T) {
	log := writeLog(t, write(1, 1, "A", 0, 4), closed(1, false), write(2, 2, "A", 0, 4), closed(2, true))
	l, err := changelog.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	cursor := filepath.Join(t.TempDir(), "cursor")
	if _, errOut, code := run("changes", "--log", log, "--since", "0", "--until", "1", "--cursor-file", cursor); code != 0 {
		t.Fatalf("exit code %d: %s", code, errOut)
	}
	want := consumer.LogID(l.Header()) + ":1\n"
	if b, err := os.ReadFile(cursor); err != nil || string(b) != want {
		t.Fatalf("cursor file %q (%v), want %q", b, err, want)
	}
	// Epoch 2 is lossy: rescan, and the cursor stays.
	if _, _, code := run("changes", "--log", log, "--since", strings.TrimSpace(want), "--cursor-file", cursor); code != exitRescan {
		t.Fatalf("exit code %d, want %d", code, exitRescan)
	}
	if b, err := os.ReadFile(cursor); err != nil || string(b) != want {
		t.Errorf("after a rescan answer: cursor file %q (%v), want %q", b, err, want)
	}
}

// A name that is not UTF-8 (any bytes but '/' and NUL are a name) keeps
// its bytes in JSON, as base64 beside the display string.
func TestChangesNameNotUTF8(t *testing.T) {
	name := "caf\xe9" // Latin-1
	log := writeLog(t, named(1, 1, record.OpCreate, "", "d", name), closed(1, false))
	for _, args := range [][]string{
		{"changes", "--log", log, "--since", "0", "--json"},
		{"log", "dump", "--json", log},
	} {
		out, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("%v: exit code %d: %s", args, code, errOut)
		}
		if want := `"name_base64":"` + base64.StdEncoding.EncodeToString([]byte(name)) + `"`; !strings.Contains(out, want) {
			t.Errorf("%v: output lacks %s:\n%s", args, want, out)
		}
	}
	// A UTF-8 name has no base64 twin.
	log = writeLog(t, named(1, 1, record.OpCreate, "", "d", "café"), closed(1, false))
	if out, _, _ := run("changes", "--log", log, "--since", "0", "--json"); strings.Contains(out, "base64") {
		t.Errorf("a UTF-8 name got a base64 twin:\n%s", out)
	}
}
