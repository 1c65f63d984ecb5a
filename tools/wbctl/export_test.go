package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/consumer"
	"github.com/wbarrier/wbarrier/export/jetstream/jstest"
	"github.com/wbarrier/wbarrier/record"
)

func TestExport(t *testing.T) {
	srv := jstest.Start(t)
	_, js := srv.Connect()
	path := writeLog(t,
		write(1, 1, "A", 0, 4), write(2, 1, "B", 0, 4), closed(1, false),
		write(3, 2, "A", 4, 4), closed(2, true),
		write(4, 3, "C", 0, 1))
	base := []string{"export", "--nats", srv.URL(), "--stream", "wb", "--host", "web1", "--log", path}
	tests := []struct {
		name     string
		args     []string
		want     string // a regexp on stdout
		wantErr  string // in stderr
		wantCode int
	}{
		{name: "no stream", args: base, wantErr: `no such stream "wb": create it (wbctl export --create, or: nats stream add wb`, wantCode: exitError},
		{name: "create", args: slices.Concat(base, []string{"--create", "--batch-records", "1"}),
			want: `^epoch 1 sealed in the stream; 1 epochs, 2 records, 2 batches so far
epoch 2 sealed in the stream \(lossy\); 2 epochs, 3 records, 3 batches so far
published 2 epochs \(3 records, 3 batches\) of log [0-9a-f]{16} on wbarrier.web1.dev-0-42.\*; 0 epochs skipped \(purged from the log first\)
$`},
		{name: "again", args: slices.Concat(base, []string{"--json"}),
			want: `^\{"done":true,"subject":"wbarrier.web1.dev-0-42.\*","log":"[0-9a-f]{16}","epochs":0,"records":0,"batches":0,"skipped":0\}
$`},
		{name: "json", args: slices.Concat(base[:len(base)-4], []string{"--host", "web2", "--log", path, "--json"}),
			want: `^\{"epoch":1,"lossy":false,"epochs":1,"records":2,"batches":1,"skipped":0\}
\{"epoch":2,"lossy":true,"epochs":2,"records":3,"batches":2,"skipped":0\}
\{"done":true,`},
		{name: "bad host", args: slices.Concat(base, []string{"--host", "a.b"}), wantErr: `the host "a.b" has '.'`, wantCode: exitUsage},
		{name: "server down", args: []string{"export", "--nats", "nats://127.0.0.1:1", "--stream", "wb", "--log", path, "--host", "h"},
			wantErr: "is the NATS server running there?", wantCode: exitError},
		{name: "no log", args: []string{"export", "--nats", srv.URL(), "--stream", "wb"}, wantErr: "export: --log FILE is required", wantCode: exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit code %d, stderr %q; want %d, %q", code, errOut, tt.wantCode, tt.wantErr)
			}
			if tt.want != "" && !regexpMatch(tt.want, out) {
				t.Errorf("stdout:\n%s\nwant it to match:\n%s", out, tt.want)
			}
		})
	}
	s, err := js.Stream(context.Background(), "wb")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// web1: 3 batches, 2 seals; web2: 2 batches, 2 seals.
	if info.State.Msgs != 9 {
		t.Errorf("the stream holds %d messages, want 9", info.State.Msgs)
	}
}

// TestChangesNATS holds changes --nats to what changes --log answers, from
// a log exported to a stream.
func TestChangesNATS(t *testing.T) {
	srv := jstest.Start(t)
	path := writeLog(t,
		write(1, 1, "A", 0, 4), named(2, 1, record.OpCreate, "", "D", "new"), closed(1, false),
		write(3, 2, "A", 4, 4), closed(2, false),
		write(4, 3, "B", 0, 1), closed(3, true),
		write(5, 4, "C", 0, 1), closed(4, false),
		write(6, 5, "C", 8, 1))
	if _, errOut, code := run("export", "--nats", srv.URL(), "--stream", "wb", "--create", "--host", "web1", "--fs", "data", "--log", path); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	stream := []string{"changes", "--nats", srv.URL(), "--stream", "wb", "--host", "web1", "--fs", "data"}
	for _, since := range []string{"0", "1", "2", "3", "4", "5", "0000000000000001:1"} {
		for _, format := range [][]string{nil, {"--json"}} {
			want, wantErr, wantCode := run(slices.Concat([]string{"changes", "--log", path, "--since", since}, format)...)
			got, gotErr, code := run(slices.Concat(stream, []string{"--since", since}, format)...)
			if code != wantCode || got != want {
				t.Errorf("since %s %v: exit %d, stdout\n%s\nstderr %s\nwant exit %d, stdout\n%s\nstderr %s",
					since, format, code, got, gotErr, wantCode, want, wantErr)
			}
		}
	}
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--since", "0", "--until", "2"}, "--until is for a log file"},
		{[]string{"--since", "0", "--fs", "a.b"}, `the fs "a.b" has '.'`},
		{[]string{"--since", "0", "--host", ""}, "--stream, --host and --fs are required"},
	} {
		_, errOut, code := run(slices.Concat(stream, tt.args)...)
		if code != exitUsage || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("changes %v: exit %d, %q; want %d, %q", tt.args, code, errOut, exitUsage, tt.wantErr)
		}
	}
}

// TestConsumerNATS: a consumer kept by the server answers as changes
// --since its cursor does, and ack moves the cursor; errors are clear.
func TestConsumerNATS(t *testing.T) {
	srv := jstest.Start(t)
	path := writeLog(t,
		write(1, 1, "A", 0, 4), closed(1, false),
		write(2, 2, "A", 4, 4), closed(2, false),
		write(3, 3, "B", 0, 1), closed(3, true),
		write(4, 4, "C", 0, 1), closed(4, false))
	if _, errOut, code := run("export", "--nats", srv.URL(), "--stream", "wb", "--create", "--host", "web1", "--fs", "data", "--log", path); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	l, err := consumer.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	id := l.ID()
	nats := []string{"--nats", srv.URL(), "--stream", "wb"}
	fs := slices.Concat(nats, []string{"--host", "web1", "--fs", "data"})
	steps := []struct {
		args     []string
		since    string // compare stdout with changes --log --since this
		want     string // else: a regexp on stdout
		wantErr  string // in stderr
		wantCode int
	}{
		{args: slices.Concat([]string{"consumer", "add"}, fs, []string{"--epoch", "0", "backup"}), wantErr: "consumer backup of web1.data in stream wb starts after " + id + ":0"},
		{args: slices.Concat([]string{"changes"}, fs, []string{"--consumer", "backup"}), since: "0", wantCode: exitRescan},
		{args: slices.Concat([]string{"consumer", "ack"}, fs, []string{"backup", "2"})},
		{args: slices.Concat([]string{"changes"}, fs, []string{"--consumer", "backup", "--json"}), since: "2", wantCode: exitRescan},
		{args: slices.Concat([]string{"consumer", "ack"}, fs, []string{"backup", id + ":4"})},
		{args: slices.Concat([]string{"changes"}, fs, []string{"--consumer", "backup", "--json"}), since: "4"},
		{args: slices.Concat([]string{"consumer", "list", "--json"}, nats),
			want: `^\{"name":"backup","host":"web1","fs":"data","cursor":"` + id + `:4","log":"` + id + `","epoch":4,"last":"` + id + `:4","behind":0\}\n$`},
		{args: slices.Concat([]string{"consumer", "ack"}, fs, []string{"backup", "9"}), wantErr: "cannot acknowledge 9: it is not sealed in the stream", wantCode: exitError},
		{args: slices.Concat([]string{"consumer", "add"}, fs, []string{"backup"}), wantErr: "consumer exists", wantCode: exitError},
		{args: slices.Concat([]string{"consumer", "add"}, fs, []string{"a.b"}), wantErr: `the consumer name "a.b" has '.'`, wantCode: exitUsage},
		{args: slices.Concat([]string{"consumer", "ack"}, nats, []string{"backup", "4"}), wantErr: "consumer ack --nats: --host is required", wantCode: exitUsage},
		{args: slices.Concat([]string{"consumer", "add", "--log", path}, fs, []string{"x"}), wantErr: "--log FILE and --nats URL exclude each other", wantCode: exitUsage},
		{args: slices.Concat([]string{"changes"}, fs, []string{"--consumer", "nobody"}), wantErr: `no such consumer: "nobody"`, wantCode: exitError},
		{args: slices.Concat([]string{"consumer", "rm"}, nats, []string{"backup"})},
		{args: slices.Concat([]string{"consumer", "list"}, nats), want: "^NAME +HOST +FS +CURSOR +LAST +BEHIND\n$"},
	}
	for _, s := range steps {
		out, errOut, code := run(s.args...)
		if code != s.wantCode || !strings.Contains(errOut, s.wantErr) {
			t.Fatalf("%v: exit %d, stderr %q; want %d, %q", s.args, code, errOut, s.wantCode, s.wantErr)
		}
		if s.since != "" {
			format := slices.DeleteFunc(slices.Clone(s.args), func(a string) bool { return a != "--json" })
			want, _, _ := run(slices.Concat([]string{"changes", "--log", path, "--since", s.since}, format)...)
			if out != want {
				t.Errorf("%v: stdout\n%s\nwant (changes --log --since %s)\n%s", s.args, out, s.since, want)
			}
		} else if s.want != "" && !regexpMatch(s.want, out) {
			t.Errorf("%v: stdout\n%s\nwant it to match\n%s", s.args, out, s.want)
		}
	}
}

// lineWriter hands each line written to it to a channel.
type lineWriter struct{ lines chan string }

func (w lineWriter) Write(b []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" {
			w.lines <- l
		}
	}
	return len(b), nil
}

// TestExportFollow: export --follow publishes the epochs sealed while it
// runs, and stops on SIGINT with its summary.
func TestExportFollow(t *testing.T) {
	srv := jstest.Start(t)
	path := writeLog(t, write(1, 1, "A", 0, 4), closed(1, false), write(2, 2, "B", 0, 1))
	out := lineWriter{make(chan string, 16)}
	app := newApp()
	app.Writer, app.ErrWriter = out, out
	app.ExitErrHandler = func(*cli.Context, error) {}
	done := make(chan error, 1)
	go func() {
		done <- app.Run([]string{"wbctl", "export", "--nats", srv.URL(), "--stream", "wb", "--create", "--host", "web1",
			"--log", path, "--follow", "--interval", "50ms", "--json"})
	}()
	next := func(want string) {
		t.Helper()
		select {
		case l := <-out.lines:
			if !regexpMatch(want, l) {
				t.Fatalf("export --follow printed %q, want it to match %q", l, want)
			}
		case err := <-done:
			t.Fatalf("export --follow ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("export --follow printed nothing in 10s; want %q", want)
		}
	}
	next(`^\{"epoch":1,"lossy":false,"epochs":1,"records":1,"batches":1,"skipped":0\}`)

	w, _, err := changelog.OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []record.Record{closed(2, false), write(3, 3, "C", 0, 1)} {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next(`^\{"epoch":2,"lossy":false,"epochs":2,"records":2,"batches":2,"skipped":0\}`)

	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("export --follow after SIGINT: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("export --follow still runs 10s after SIGINT")
	}
	want := `^\{"done":true,"subject":"wbarrier.web1.dev-0-42.\*","log":"[0-9a-f]{16}","epochs":2,"records":2,"batches":2,"skipped":0\}`
	select {
	case l := <-out.lines:
		if !regexpMatch(want, l) {
			t.Errorf("export --follow ended with %q, want it to match %q", l, want)
		}
	default:
		t.Error("export --follow ended without its summary")
	}
}

// TestConsumerFollow: follow runs the command for each epoch with what
// changes --json prints, acknowledges it once the command exits 0, and
// hands it back, exiting 1, when the command fails.
func TestConsumerFollow(t *testing.T) {
	srv := jstest.Start(t)
	path := writeLog(t,
		write(1, 1, "A", 0, 4), closed(1, false),
		write(2, 2, "A", 4, 4), closed(2, true),
		write(3, 3, "B", 0, 1), closed(3, false))
	if _, errOut, code := run("export", "--nats", srv.URL(), "--stream", "wb", "--create", "--host", "web1", "--fs", "data", "--log", path); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	fs := []string{"--nats", srv.URL(), "--stream", "wb", "--host", "web1", "--fs", "data"}
	if _, errOut, code := run(slices.Concat([]string{"consumer", "add", "--epoch", "0"}, fs, []string{"backup"})...); code != 0 {
		t.Fatalf("consumer add: %s", errOut)
	}
	script := `echo "$WBARRIER_SINCE-$WBARRIER_UNTIL rescan=$WBARRIER_RESCAN"; cat; [ "$WBARRIER_UNTIL" != "$FAIL_AT" ]`
	follow := func(failAt string) (string, string, int) {
		t.Setenv("FAIL_AT", failAt)
		return run(slices.Concat([]string{"consumer", "follow", "--once", "--wait", "200ms"}, fs, []string{"backup", "--", "sh", "-c", script})...)
	}
	// The command fails on epoch 3: epochs 1 and 2 are acknowledged, 3 is not.
	out, errOut, code := follow("3")
	want1, _, _ := run("changes", "--log", path, "--since", "0", "--until", "1", "--json")
	want3, _, _ := run("changes", "--log", path, "--since", "2", "--json")
	if code != exitError || !strings.Contains(errOut, "for the changes of epochs 3-3: exit status 1; not acknowledged") ||
		out != "0-1 rescan=\n"+want1+"1-2 rescan=lossy\n2-3 rescan=\n"+want3 {
		t.Errorf("follow failing at epoch 3: exit %d, stdout\n%s\nstderr\n%s", code, out, errOut)
	}
	// Run again: epoch 3 is answered again, and nothing after it.
	out, errOut, code = follow("")
	if code != 0 || out != "2-3 rescan=\n"+want3 {
		t.Errorf("follow again: exit %d, stdout\n%s\nstderr\n%s", code, out, errOut)
	}
	out, _, _ = run(slices.Concat([]string{"consumer", "list", "--json"}, fs[:4])...)
	if !strings.Contains(out, `:3","behind":0}`) {
		t.Errorf("consumer list after follow: %s; want the cursor at epoch 3, none behind", out)
	}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"consumer", "follow", "backup", "--", "true"}, "consumer follow: --nats URL is required"},
		{slices.Concat([]string{"consumer", "follow"}, fs, []string{"backup"}), "expected NAME -- COMMAND"},
	} {
		if _, errOut, code := run(tc.args...); code != exitUsage || !strings.Contains(errOut, tc.wantErr) {
			t.Errorf("%v: exit %d, %q; want %d, %q", tc.args, code, errOut, exitUsage, tc.wantErr)
		}
	}
}
