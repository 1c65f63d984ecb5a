package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/genl"
)

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON (one object per line) instead of text"}

// dial connects to the module, turning the usual failures into advice.
func dial() (*genl.Client, error) {
	c, err := genl.Dial()
	switch {
	case errors.Is(err, genl.ErrNotLoaded):
		return nil, fmt.Errorf("%w\n%s", err, notLoadedAdvice())
	case err != nil:
		return nil, fmt.Errorf("connecting to the wbarrier module: %w", err)
	}
	return c, nil
}

// subscribe returns a Client that receives the family's events, and a
// channel closed once stop fires; stop also ends a receive in progress, with
// an error the caller tells from a real one by that channel.
func subscribe(stop <-chan os.Signal) (*genl.Client, <-chan struct{}, error) {
	c, err := dial()
	if err != nil {
		return nil, nil, err
	}
	if err := c.Subscribe(); err != nil {
		c.Close()
		return nil, nil, err
	}
	stopped := make(chan struct{})
	go func() {
		<-stop
		close(stopped)
		c.SetReadDeadline(time.Now()) // wakes the receive
	}()
	return c, stopped, nil
}

// watchArg reads the command's single WATCH argument.
func watchArg(ctx *cli.Context) (string, error) {
	if ctx.NArg() != 1 {
		return "", usageError{fmt.Sprintf("%s: expected one WATCH argument (a watch id or a path on the watched filesystem), got %d",
			ctx.Command.Name, ctx.NArg())}
	}
	return ctx.Args().First(), nil
}

// openWatch reads the command's WATCH argument, connects to the module and
// finds the watch. The caller closes the client.
func openWatch(ctx *cli.Context) (*genl.Client, genl.Watch, error) {
	arg, err := watchArg(ctx)
	if err != nil {
		return nil, genl.Watch{}, err
	}
	c, err := dial()
	if err != nil {
		return nil, genl.Watch{}, err
	}
	w, err := findWatch(c, arg)
	if err != nil {
		c.Close()
		return nil, genl.Watch{}, err
	}
	return c, w, nil
}

// findWatch resolves a WATCH argument: a watch id, or any path on the
// watched filesystem (the kernel finds the filesystem's watch).
func findWatch(c *genl.Client, arg string) (genl.Watch, error) {
	if id, err := strconv.ParseUint(arg, 10, 32); err == nil {
		return c.Status(uint32(id))
	}
	path, err := filepath.Abs(arg)
	if err != nil {
		return genl.Watch{}, err
	}
	return c.StatusOf(path)
}

// printJSON writes v as one line of JSON.
func printJSON(ctx *cli.Context, v any) error {
	return json.NewEncoder(ctx.App.Writer).Encode(v)
}

// textWriter is an output that also prints as text.
type textWriter interface {
	writeText(w io.Writer) error
}

// printOut writes v as one line of JSON with --json, else as its text.
func printOut(ctx *cli.Context, v textWriter) error {
	if ctx.Bool("json") {
		return printJSON(ctx, v)
	}
	return v.writeText(ctx.App.Writer)
}

// pathsFlag is records' --paths: a switch, which resolves handles against
// the watch's own mount, that also takes a MOUNT as --paths=MOUNT, the
// form changes --paths takes too. Apply gives every run a fresh value.
type pathsFlag struct{ cli.GenericFlag }

// Apply registers a fresh value in set.
func (f *pathsFlag) Apply(set *flag.FlagSet) error {
	f.Value = &mountValue{}
	return f.GenericFlag.Apply(set)
}

// mount returns the MOUNT to resolve against, own for a bare --paths, and
// false without --paths.
func (f *pathsFlag) mount(ctx *cli.Context, own string) (string, bool) {
	v, _ := ctx.Generic(f.Name).(*mountValue)
	if v == nil || !v.set {
		return "", false
	}
	if v.mount == "" {
		return own, true
	}
	return v.mount, true
}

// mountValue is the value of a pathsFlag: a boolean flag to package flag
// (--paths alone means "true"), or a MOUNT.
type mountValue struct {
	set   bool
	mount string // "": the command's own
}

func (v *mountValue) Set(s string) error {
	switch s {
	case "true":
		v.set, v.mount = true, ""
	case "false":
		v.set, v.mount = false, ""
	case "":
		return errors.New("an empty MOUNT (want --paths or --paths=MOUNT)")
	default:
		v.set, v.mount = true, s
	}
	return nil
}

func (v *mountValue) String() string { return v.mount }

// IsBoolFlag makes --paths alone valid.
func (v *mountValue) IsBoolFlag() bool { return true }
