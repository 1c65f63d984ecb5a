package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// fifoOpens parks N opens of a FIFO for writing in the kernel: each
// open(O_WRONLY|O_CREAT|O_APPEND) sleeps in fifo_open until the FIFO has a
// reader. Once all are parked it prints "N opens parked"; when the file
// RELEASE appears it opens the FIFO for reading, which lets them all
// return, and prints how many did.
func fifoOpens(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: fifoopens FIFO N RELEASE")
	}
	fifo, release := args[0], args[2]
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 1 {
		return fmt.Errorf("bad count %q", args[1])
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND|unix.O_CLOEXEC, 0o644)
			if err != nil {
				errs <- fmt.Errorf("open %s: %w", fifo, err)
				return
			}
			unix.Close(fd)
		}()
	}
	// A parked open holds a thread of its own: wait until they all exist,
	// then a little for the last ones to reach fifo_open.
	for threads() < n {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	fmt.Printf("%d opens parked\n", n)
	for {
		if _, err := os.Stat(release); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s for reading: %w", fifo, err)
	}
	defer unix.Close(r)
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	fmt.Printf("%d opens returned\n", n)
	return nil
}

func threads() int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	return len(ents)
}
