package main

import (
	"io"
	"testing"

	"github.com/urfave/cli/v2"
)

// records --paths: alone, the watch's own mount; --paths=MOUNT, MOUNT, as
// changes takes it.
func TestRecordsPaths(t *testing.T) {
	tests := []struct {
		args      []string
		wantMount string
		wantSet   bool
		wantArgs  int
		wantCode  int
	}{
		{args: nil},
		{args: []string{"--paths"}, wantMount: "/own", wantSet: true},
		{args: []string{"--paths=/mnt/bind"}, wantMount: "/mnt/bind", wantSet: true},
		{args: []string{"--paths=false"}},
		{args: []string{"--paths="}, wantCode: exitUsage},
		{args: []string{"--paths", "/srv/data"}, wantMount: "/own", wantSet: true, wantArgs: 1}, // the WATCH
		{args: nil}, // a fresh value each run
	}
	for _, tt := range tests {
		var mount string
		var set bool
		var nargs int
		app := newApp()
		app.Commands = []*cli.Command{{Name: "records", Flags: []cli.Flag{recordsPaths}, OnUsageError: app.OnUsageError,
			Action: func(ctx *cli.Context) error {
				mount, set = recordsPaths.mount(ctx, "/own")
				nargs = ctx.NArg()
				return nil
			}}}
		app.Writer, app.ErrWriter = io.Discard, io.Discard
		app.ExitErrHandler = func(*cli.Context, error) {}
		err := app.Run(append([]string{"wbctl", "records"}, tt.args...))
		if code := exitCode(err); err != nil && code != tt.wantCode || err == nil && tt.wantCode != 0 {
			t.Errorf("records %q: %v (exit code %d), want exit code %d", tt.args, err, code, tt.wantCode)
			continue
		}
		if mount != tt.wantMount || set != tt.wantSet || nargs != tt.wantArgs {
			t.Errorf("records %q: mount %q, %v, %d arguments; want %q, %v, %d", tt.args, mount, set, nargs, tt.wantMount, tt.wantSet, tt.wantArgs)
		}
	}
}
