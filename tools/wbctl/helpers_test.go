package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog/changelogtest"
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
	return changelogtest.Write(t, 0, recs...)
}

// writeSegLog is writeLog with a segment size (changelog.Writer.SetSegmentSize).
var writeSegLog = changelogtest.Write

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

func regexpReplace(re, s, repl string) string {
	return regexp.MustCompile(re).ReplaceAllString(s, repl)
}
