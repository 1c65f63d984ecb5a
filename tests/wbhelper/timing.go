package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wbarrier/wbarrier/genl"
	"github.com/wbarrier/wbarrier/record"
	"golang.org/x/sys/unix"
)

// span is when something ran, on the monotonic clock.
type span struct{ start, end time.Duration }

func now() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

// barrierSplit MOUNT N: one writer creates and writes N new files, one
// after the other, while barriers close epochs back to back. Each file's
// records must be in the epoch its timing allows: an operation that ended
// before a barrier began is in an epoch that barrier closed or one before;
// one that began after a barrier returned is in a later epoch. Prints how
// many operations ran across a barrier (began before it returned, ended
// after it began): the cases the barrier's waiting decides. And the wait
// itself: right after each barrier returns, every file whose write it
// closed in its epoch (or before) has all its bytes.
func barrierSplit(a []string) error {
	if len(a) != 2 {
		return errors.New("usage: barriersplit MOUNT N")
	}
	root, n := a[0], int(num(a[1]))
	c, err := genl.Dial()
	if err != nil {
		return err
	}
	defer c.Close()
	watch, err := c.StatusOf(root)
	if err != nil {
		return err
	}
	first, err := c.Barrier(watch.ID)
	if err != nil {
		return err
	}
	dir := filepath.Join(root, "split")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	ops := make([]span, n)
	var wg sync.WaitGroup
	wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range ops {
			ops[i].start = now()
			pwrite(filepath.Join(dir, fmt.Sprintf("f%d", i)), 0, 100)
			ops[i].end = now()
		}
	}()
	type closed struct {
		span
		epoch uint64
		sizes []int64 // of each file right after the barrier; -1: none yet
	}
	var barriers []closed
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		s := now()
		b, err := c.Barrier(watch.ID)
		if err != nil {
			return err
		}
		end := now()
		sizes := make([]int64, n)
		for i := range sizes {
			var st unix.Stat_t
			sizes[i] = -1
			if unix.Stat(filepath.Join(dir, fmt.Sprintf("f%d", i)), &st) == nil {
				sizes[i] = st.Size
			}
		}
		barriers = append(barriers, closed{span{s, end}, b.Epoch, sizes})
	}
	wg.Wait()
	recs, err := c.Records(watch.ID, first.NextSeq)
	if err != nil {
		return err
	}
	// The epochs of each file's records (its create, by name; its write, by
	// the handle the file has now), and of its write alone.
	epochs := map[int][]uint64{}
	writeEpoch := map[int]uint64{}
	byHandle := map[string]int{}
	for i := range ops {
		h, err := pathHandle(filepath.Join(dir, fmt.Sprintf("f%d", i)))
		if err != nil {
			return err
		}
		byHandle[h] = i
	}
	for _, r := range recs {
		if r.Type != record.TypeChange {
			continue
		}
		var i int
		if _, err := fmt.Sscanf(r.Name, "f%d", &i); err == nil && r.Parent != nil {
			epochs[i] = append(epochs[i], r.Epoch)
		} else if r.Handle != nil {
			if j, ok := byHandle[handleKey(*r.Handle)]; ok {
				epochs[j] = append(epochs[j], r.Epoch)
				writeEpoch[j] = r.Epoch
			}
		}
	}
	var wrong []string
	across := 0
	for i, op := range ops {
		if len(epochs[i]) < 2 {
			wrong = append(wrong, fmt.Sprintf("f%d: %d records, want a create and a write", i, len(epochs[i])))
			continue
		}
		for _, b := range barriers {
			if op.start < b.end && op.end > b.start {
				across++
			}
			if e, ok := writeEpoch[i]; ok && e <= b.epoch && b.sizes[i] != 100 {
				wrong = append(wrong, fmt.Sprintf("f%d: its write is in epoch %d, but when barrier %d returned the file had %d bytes, not 100", i, e, b.epoch, b.sizes[i]))
			}
			for _, e := range epochs[i] {
				if op.end < b.start && e > b.epoch {
					wrong = append(wrong, fmt.Sprintf("f%d ended before barrier %d began, recorded in epoch %d", i, b.epoch, e))
				}
				if op.start > b.end && e <= b.epoch {
					wrong = append(wrong, fmt.Sprintf("f%d began after barrier %d returned, recorded in epoch %d", i, b.epoch, e))
				}
			}
		}
	}
	for _, w := range wrong {
		fmt.Fprintln(os.Stderr, w)
	}
	fmt.Fprintf(os.Stderr, "%d operations, %d barriers, %d operation-barrier overlaps\n", n, len(barriers), across)
	if len(wrong) > 0 {
		return fmt.Errorf("%d records in an epoch their timing rules out", len(wrong))
	}
	if across == 0 {
		return errors.New("no operation ran across a barrier: the run proves nothing")
	}
	fmt.Println("every record in the epoch its timing allows")
	return nil
}
