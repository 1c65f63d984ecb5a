package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
	"github.com/wbarrier/wbarrier/record/recordtest"
)

// Records for the tests, handles written as short strings.
var (
	fh     = recordtest.Handle
	change = recordtest.Change
	write  = recordtest.Write
	named  = recordtest.Named
	closed = recordtest.Closed
)

// writeLog creates a log in a temporary directory holding recs (markers
// become seals) and returns its path.
func writeLog(t testing.TB, recs ...record.Record) string {
	t.Helper()
	return writeSegLog(t, 0, recs...)
}

// writeSegLog is writeLog with a segment size (changelog.Writer.SetSegmentSize).
func writeSegLog(t testing.TB, size int64, recs ...record.Record) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.log")
	w, err := changelog.Create(path, changelog.Header{FSType: "tmpfs", Dev: 42, Mount: "/mnt/t"})
	if err != nil {
		t.Fatal(err)
	}
	w.SetSegmentSize(size)
	for _, r := range recs {
		if r.Type == record.TypeEpochClosed {
			err = w.Seal(r.Epoch, r.Seq, r.Lossy)
		} else {
			err = w.Append(r)
		}
		if err != nil {
			t.Fatalf("writing %+v: %v", r, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// run runs wbctl with args and returns stdout, stderr and the exit code.
func run(args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	app.ExitErrHandler = func(*cli.Context, error) {}
	code := 0
	if err := app.Run(append([]string{"wbctl"}, args...)); err != nil {
		errOut.WriteString("wbctl: " + err.Error() + "\n")
		code = exitCode(err)
	}
	return out.String(), errOut.String(), code
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
