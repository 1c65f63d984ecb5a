package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/consumer"
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
	l, err := changelog.Open(good)
	if err != nil {
		t.Fatal(err)
	}
	id := consumer.LogID(l.Header()) // the torn copy has the same header
	head := "header: format 1, tmpfs on /mnt/t\nrecords: 4\nsealed: 3 epochs, 1..4\nunsealed between: 3\nlossy: 2\n"
	tests := []struct {
		name     string
		file     string
		json     bool
		want     string
		wantCode int
	}{
		{"good", good, false, head + "unsealed records: 1, epochs 5\ntail: clean\nok\n", 0},
		{"torn", torn, false, "header: format 1, tmpfs on /mnt/t\nrecords: 3\nsealed: 3 epochs, 1..4\nunsealed between: 3\nlossy: 2\ntail: torn: 69 bytes at offset 448 (partial frame (69 of 72 bytes))\nok\n", 0},
		{"corrupt", bad, false, "", exitCorrupt},
		{"not a log", notLog, false, "", exitError},
		{"good json", good, true, `{"format":1,"fstype":"tmpfs","mount":"/mnt/t","records":4,"sealed":3,"first_sealed":1,"last_sealed":4,"unsealed_between":["3"],"lossy":[2],"unsealed_records":1,"unsealed_first":5,"unsealed_last":5,"cursor":"@ID@:4","ok":true}` + "\n", 0},
		{"torn json", torn, true, `{"format":1,"fstype":"tmpfs","mount":"/mnt/t","records":3,"sealed":3,"first_sealed":1,"last_sealed":4,"unsealed_between":["3"],"lossy":[2],"torn_tail":{"offset":448,"bytes":69,"reason":"partial frame (69 of 72 bytes)"},"cursor":"@ID@:4","ok":true}` + "\n", 0},
		{"corrupt json", bad, true, "", exitCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"log", "verify", tt.file}
			if tt.json {
				args = []string{"log", "verify", "--json", tt.file}
			}
			out, errOut, code := run(args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tt.wantCode, errOut)
			}
			if tt.want != "" {
				if diff := cmp.Diff(strings.ReplaceAll(tt.want, "@ID@", id), out); diff != "" {
					t.Errorf("stdout (-want +got):\n%s", diff)
				}
			}
			if tt.wantCode == exitCorrupt && !tt.json && !regexpMatch(`^corrupt at byte offset \d+: .+\n$`, out) {
				t.Errorf("stdout %q: want a corrupt line", out)
			}
			if tt.wantCode == exitCorrupt && tt.json && !regexpMatch(`^\{"ok":false,"corrupt_offset":\d+,"reason":".+","file":".+"\}\n$`, out) {
				t.Errorf("stdout %q: want a corrupt line", out)
			}
		})
	}
}

// verify and dump read every segment; a segment missing between two is
// corruption of the next one.
func TestLogVerifySegments(t *testing.T) {
	log := writeSegLog(t, 1,
		write(1, 1, "A", 0, 4), closed(1, false),
		write(2, 2, "B", 0, 4), closed(2, false),
		write(3, 3, "C", 0, 4), closed(3, false),
	)
	out, errOut, code := run("log", "verify", log)
	want := "header: format 1, tmpfs on /mnt/t\nsegments: 4, test.log..test.log.000003\nrecords: 3\nsealed: 3 epochs, 1..3\ntail: clean\nok\n"
	if diff := cmp.Diff(want, out); diff != "" || code != 0 {
		t.Errorf("verify: status %d, %s; stdout (-want +got):\n%s", code, errOut, diff)
	}
	out, _, code = run("log", "dump", log)
	if want := "log of /mnt/t (tmpfs)\n"; code != 0 || !strings.HasPrefix(out, want) || strings.Count(out, "\n") != 7 {
		t.Errorf("dump: status %d, stdout %q; want the header line, 3 records and 3 seals", code, out)
	}
	if err := os.Remove(log + ".000002"); err != nil {
		t.Fatal(err)
	}
	out, _, code = run("log", "verify", log)
	if want := "corrupt at byte offset 0 of " + log + ".000003: segments missing between " + log + ".000001 and this one\n"; out != want || code != exitCorrupt {
		t.Errorf("verify with a gap: status %d, stdout %q; want %d, %q", code, out, exitCorrupt, want)
	}
}
