package jstest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// childEnv names the store directory of a server run by StartProcess in
// the test binary itself.
const childEnv = "WBARRIER_JSTEST_STORE"

// ServeIfChild runs the server and never returns when the test binary was
// started by StartProcess; otherwise it returns at once. Call it first in
// TestMain.
func ServeIfChild() {
	dir := os.Getenv(childEnv)
	if dir == "" {
		return
	}
	srv, err := NewServer(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(srv.ClientURL())
	select {}
}

// Process is a server in a process of its own, the test binary run again,
// so that a test can stop it with a signal (SIGSTOP) as it would a server
// elsewhere.
type Process struct {
	cmd *exec.Cmd
	url string
}

// StartProcess runs the server in a child process (the test binary,
// whose TestMain calls ServeIfChild) with its store in a temporary
// directory of t; t's cleanup kills it.
func StartProcess(t testing.TB) *Process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+t.TempDir())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("jstest: starting the server process: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("jstest: the server process printed no URL: %v", err)
	}
	return &Process{cmd: cmd, url: strings.TrimSpace(line)}
}

// URL is the server's client URL.
func (p *Process) URL() string { return p.url }

// Pause stops the server's process (SIGSTOP): connections stay open, nothing
// is answered.
func (p *Process) Pause() error { return p.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues it (SIGCONT).
func (p *Process) Resume() error { return p.cmd.Process.Signal(syscall.SIGCONT) }
