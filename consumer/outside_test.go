package consumer_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
)

// outsideMain is a consumer of its own, in a module of its own: it
// prints what changed since the cursor kept in a file and keeps the new
// one, or says why to rescan and exits 3.
const outsideMain = `package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/wbarrier/wbarrier/consumer"
)

func main() {
	if err := run(os.Args[1], os.Args[2]); err != nil {
		var rescan *consumer.RescanError
		if errors.As(err, &rescan) {
			fmt.Printf("rescan: %s from epoch %d\n", rescan.Reason, rescan.From)
			os.Exit(3)
		}
		fmt.Fprintln(os.Stderr, "outside:", err)
		os.Exit(1)
	}
}

func run(logPath, cursorPath string) error {
	l, err := consumer.Open(logPath)
	if err != nil {
		return err
	}
	since, err := consumer.LoadCursor(cursorPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	c, err := l.Changes(since)
	if err != nil {
		return err
	}
	for _, o := range c.Objects {
		fmt.Printf("%v %v epochs %d-%d\n", o.Ops, o.Handle, o.FirstEpoch, o.LastEpoch)
	}
	if c.Cursor.Log != l.ID() {
		return fmt.Errorf("cursor %v is not of log %s", c.Cursor, l.ID())
	}
	fmt.Printf("up to epoch %d\n", c.Cursor.Epoch)
	return consumer.SaveCursor(cursorPath, c.Cursor)
}
`

// TestOutsideConsumer builds a consumer in a module outside this one,
// against this library, as its users do, and runs it on a log.
func TestOutsideConsumer(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: cannot build a consumer outside the module")
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/outside\n\ngo 1.26\n\nrequire github.com/wbarrier/wbarrier v0.0.0\n\nreplace github.com/wbarrier/wbarrier => " + root + "\n",
		"go.sum":  string(sum), // the library's dependencies, already in the module cache
		"main.go": outsideMain,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "outside")
	build := exec.Command(goBin, "build", "-o", bin, ".")
	build.Dir = dir
	// Offline: the dependencies come from the module cache.
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building a consumer outside the module: %v\n%s", err, out)
	}

	logPath, cursor := filepath.Join(dir, "data.log"), filepath.Join(dir, "cursor")
	w, err := changelog.Create(logPath, changelog.Header{FSType: "ext4", Dev: 0x800001, Mount: "/srv/data"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	a := &record.FileHandle{Type: 1, Bytes: []byte{0x0a}}
	b := &record.FileHandle{Type: 1, Bytes: []byte{0x0b}}
	steps := []struct {
		name     string
		recs     []record.Record // appended before the run
		want     string
		wantCode int
	}{
		{
			name: "first run: from the start",
			recs: []record.Record{
				{Type: record.TypeChange, Seq: 1, Epoch: 1, Ops: record.OpData, Handle: a},
				{Type: record.TypeEpochClosed, Seq: 2, Epoch: 1},
				{Type: record.TypeChange, Seq: 3, Epoch: 2, Ops: record.OpAttr, Handle: a},
				{Type: record.TypeChange, Seq: 4, Epoch: 2, Ops: record.OpData, Handle: b},
				{Type: record.TypeEpochClosed, Seq: 5, Epoch: 2},
			},
			want: "data|attr 1:0a epochs 1-2\ndata 1:0b epochs 2-2\nup to epoch 2\n",
		},
		{
			name: "from its cursor",
			recs: []record.Record{
				{Type: record.TypeChange, Seq: 6, Epoch: 3, Ops: record.OpData, Handle: b},
				{Type: record.TypeEpochClosed, Seq: 7, Epoch: 3},
			},
			want: "data 1:0b epochs 3-3\nup to epoch 3\n",
		},
		{name: "nothing new", want: "up to epoch 3\n"},
		{
			name: "a lossy epoch",
			recs: []record.Record{
				{Type: record.TypeChange, Seq: 8, Epoch: 4, Ops: record.OpData, Handle: a},
				{Type: record.TypeEpochClosed, Seq: 9, Epoch: 4, Lossy: true},
			},
			want:     "rescan: lossy from epoch 4\n",
			wantCode: 3,
		},
	}
	for _, st := range steps {
		for _, r := range st.recs {
			if err := w.Append(r); err != nil {
				t.Fatal(err)
			}
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, logPath, cursor)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if code != st.wantCode {
			t.Errorf("%s: exit code %d, want %d; stderr: %s", st.name, code, st.wantCode, stderr.String())
		}
		if diff := cmp.Diff(st.want, stdout.String()); diff != "" {
			t.Errorf("%s: output (-want +got):\n%s", st.name, diff)
		}
	}
}
