package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// spliceWaitData is what the pipe gets once the helper is released.
const spliceWaitData = "spliced after the wait\n"

// spliceWait parks a splice(2) of up to LEN bytes from an empty pipe into
// FILE: the kernel sleeps in pipe_wait_readable, inside the file's
// splice_write, waiting for data that only comes when the file RELEASE
// appears. Then the pipe gets spliceWaitData, which the splice writes at
// offset 0 before it returns.
func spliceWait(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: splicewait FILE LEN RELEASE")
	}
	length := int(num(args[1]))
	f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return err
	}
	defer unix.Close(p[0])

	done := make(chan error, 1)
	var spliced int64
	go func() {
		var off int64
		var err error
		spliced, err = unix.Splice(p[0], nil, int(f.Fd()), &off, length, 0)
		done <- err
	}()

	if err := waitForWchan("pipe_wait_readable", 10*time.Second); err != nil {
		unix.Close(p[1])
		<-done
		return err
	}
	fmt.Println("waiting for pipe data")

	waitFile(args[2])
	_, err = unix.Write(p[1], []byte(spliceWaitData))
	unix.Close(p[1])
	if err := errors.Join(err, <-done); err != nil {
		return err
	}
	fmt.Printf("spliced %d bytes\n", spliced)
	return nil
}

// waitForWchan returns once one of this process's threads sleeps in the
// kernel function fn (its /proc wchan), or an error after timeout.
func waitForWchan(fn string, timeout time.Duration) error {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		paths, err := filepath.Glob("/proc/self/task/*/wchan")
		if err != nil {
			return err
		}
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == fn {
				return nil
			}
		}
	}
	return fmt.Errorf("no thread sleeps in %s after %v", fn, timeout)
}
