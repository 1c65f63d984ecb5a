package main

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/record"
)

func TestLogVerify(t *testing.T) {
	recs := []record.Record{
		write(1, 1, "A", 0, 4),
		closed(1, false),
		write(2, 2, "A", 4, 4),
		closed(2, true),
		write(3, 4, "B", 0, 1),
		closed(4, false),
		write(4, 5, "B", 0, 1),
	}
	good := writeLog(t, recs...)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	torn := good + ".torn"
	if err := os.WriteFile(torn, data[:len(data)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	// A byte in the payload of the first record, which a seal follows.
	bad := good + ".bad"
	mid := append([]byte(nil), data...)
	mid[len(mid)/4] ^= 0xff
	if err := os.WriteFile(bad, mid, 0o600); err != nil {
		t.Fatal(err)
	}
	notLog := good + ".not"
	if err := os.WriteFile(notLog, []byte("hello, world\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	head := "header: format 1, tmpfs on /mnt/t\nrecords: 4\nsealed: 3 epochs, 1..4\nunsealed between: 3\nlossy: 2\n"
	tests := []struct {
		name     string
		file     string
		want     string
		wantCode int
	}{
		{"good", good, head + "unsealed records: 1, epochs 5\ntail: clean\nok\n", 0},
		{"torn", torn, "header: format 1, tmpfs on /mnt/t\nrecords: 3\nsealed: 3 epochs, 1..4\nunsealed between: 3\nlossy: 2\ntail: torn: 69 bytes at offset 400 (partial frame (69 of 72 bytes))\nok\n", 0},
		{"corrupt", bad, "", exitCorrupt},
		{"not a log", notLog, "", exitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run("log", "verify", tt.file)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tt.wantCode, errOut)
			}
			if tt.want != "" {
				if diff := cmp.Diff(tt.want, out); diff != "" {
					t.Errorf("stdout (-want +got):\n%s", diff)
				}
			}
			if tt.wantCode == exitCorrupt && !regexpMatch(`^corrupt at byte offset \d+: .+\n$`, out) {
				t.Errorf("stdout %q: want a corrupt line", out)
			}
		})
	}
}
