package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
)

func fh(typ uint32, b string) *record.FileHandle {
	return &record.FileHandle{Type: typ, Bytes: []byte(b)}
}

func change(seq, epoch uint64, ops record.Op, handle string) record.Record {
	return record.Record{Type: record.TypeChange, Seq: seq, Epoch: epoch, Ops: ops, Handle: fh(1, handle)}
}

func write(seq, epoch uint64, handle string, off, n uint64) record.Record {
	r := change(seq, epoch, record.OpData, handle)
	r.HasRange, r.Offset, r.Length = true, off, n
	return r
}

func named(seq, epoch uint64, ops record.Op, handle, parent, name string) record.Record {
	r := record.Record{Type: record.TypeChange, Seq: seq, Epoch: epoch, Ops: ops, Parent: fh(1, parent), Name: name}
	if handle != "" {
		r.Handle = fh(1, handle)
	}
	return r
}

func closed(epoch uint64, lossy bool) record.Record {
	return record.Record{Type: record.TypeEpochClosed, Epoch: epoch, Lossy: lossy}
}

// writeLog creates a log in a temporary directory holding recs (markers
// become seals) and returns its path.
func writeLog(t testing.TB, recs ...record.Record) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.log")
	w, err := changelog.Create(path, changelog.Header{FSType: "tmpfs", Dev: 42, Mount: "/mnt/t"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Type == record.TypeEpochClosed {
			err = w.Seal(r.Epoch, r.Lossy)
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
