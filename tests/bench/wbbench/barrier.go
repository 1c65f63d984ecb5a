package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wbarrier/wbarrier/genl"
	"github.com/wbarrier/wbarrier/record"
	"golang.org/x/sys/unix"
)

// barrierLatency times Barrier calls, idle and while two threads pwrite
// 4 KiB to the watched filesystem, on each benchmark filesystem.
func (b *bench) barrierLatency() error {
	if b.barriers <= 0 {
		return nil
	}
	if err := b.insmod(b.maxRecords); err != nil {
		return err
	}
	defer b.rmmod()
	for _, f := range b.fss {
		w, err := b.c.Watch(f.Mnt)
		if err != nil {
			return err
		}
		for _, loaded := range []bool{false, true} {
			r, err := b.timeBarriers(w, f, loaded)
			if err != nil {
				return err
			}
			b.out.Barrier = append(b.out.Barrier, r)
		}
		if err := b.c.Unwatch(w.ID); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) timeBarriers(w genl.Watch, f benchFS, loaded bool) (BarrierResult, error) {
	r := BarrierResult{FS: f.Name, Load: loaded, N: b.barriers}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var maxOp [2]int64
	var writes [2]int64
	errs := make(chan error, 2)
	if loaded {
		r.Writers = 2
		for t := 0; t < 2; t++ {
			fd, err := unix.Open(filepath.Join(f.Mnt, "barrier-load"+strconv.Itoa(t)), unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o644)
			if err != nil {
				return r, err
			}
			wg.Add(1)
			go func(t, fd int) {
				defer wg.Done()
				defer unix.Close(fd)
				runtime.LockOSThread()
				for i := 0; !stop.Load(); i++ {
					s := time.Now()
					if _, err := unix.Pwrite(fd, block, int64(i%256)*4096); err != nil {
						errs <- err
						return
					}
					if d := time.Since(s).Nanoseconds(); d > maxOp[t] {
						maxOp[t] = d
					}
					writes[t]++
				}
			}(t, fd)
		}
		time.Sleep(100 * time.Millisecond)
	}
	lat := make([]float64, 0, b.barriers)
	var err error
	for i := 0; i < b.barriers; i++ {
		s := time.Now()
		br, e := b.c.Barrier(w.ID)
		d := time.Since(s)
		if e != nil {
			err = e
			break
		}
		lat = append(lat, float64(d.Nanoseconds())/1e3)
		if _, e := b.c.Records(w.ID, br.NextSeq); e != nil {
			err = e
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	select {
	case e := <-errs:
		return r, e
	default:
	}
	if err != nil {
		return r, err
	}
	r.P50us, r.P99us, r.MaxUs = percentile(lat, 50), percentile(lat, 99), percentile(lat, 100)
	r.WriterMaxOpUs = float64(max(maxOp[0], maxOp[1])) / 1e3
	r.Writes = writes[0] + writes[1]
	for t := 0; t < 2 && loaded; t++ {
		os.Remove(filepath.Join(f.Mnt, "barrier-load"+strconv.Itoa(t)))
	}
	return r, nil
}

// bigEpoch creates b.objects empty files (1000 per directory) on a fresh
// tmpfs in one epoch, with max_records just above what that takes, then
// closes the epoch and drains it to a log with "wbctl daemon --once".
func (b *bench) bigEpoch() error {
	n := b.objects
	dirs := (n + 999) / 1000
	want := uint64(n + dirs) // a create per file and per directory
	maxRec := n + dirs + n/10
	r := &BigEpoch{Objects: n, MaxRecords: maxRec, RingBytes: int64(maxRec+16) * 8}
	b.out.BigEpoch = r

	mnt := "/mnt/bench-big"
	os.MkdirAll(mnt, 0o755)
	if err := run("mount", "-t", "tmpfs", "-o", "size=256m,nr_inodes=0", "benchbig", mnt); err != nil {
		return err
	}
	defer run("umount", mnt)
	os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0)
	if err := b.insmod(maxRec); err != nil {
		return err
	}
	defer b.rmmod()
	w, err := b.c.Watch(mnt)
	if err != nil {
		return err
	}
	defer b.c.Unwatch(w.ID)

	m0 := meminfo()
	s := time.Now()
	lr, err := b.load("createonly", mnt, n)
	if err != nil {
		return err
	}
	r.CreateSeconds = time.Since(s).Seconds()
	r.CreateNsOp = lr.NsOp
	m1 := meminfo()
	s = time.Now()
	br, err := b.c.Barrier(w.ID)
	if err != nil {
		return err
	}
	// On tmpfs a barrier walks every inode of the filesystem (shared
	// mappings there are never write-protected again).
	r.BarrierUs = float64(time.Since(s).Nanoseconds()) / 1e3
	st, err := b.c.Status(w.ID)
	if err != nil {
		return err
	}
	r.Records = st.Emitted - 1 // less the epoch-closed marker
	r.Expected = want
	r.Lost = st.Lost
	r.Lossy = br.Lossy
	r.Lossless = !br.Lossy && st.Lost == 0 && r.Records >= want

	// Kernel to Go alone: one dump without acknowledging anything, each
	// message's records decoded and dropped, as the drain receives them.
	s = time.Now()
	dumped := 0
	err = b.c.EachRecords(w.ID, 0, func(batch []record.Record) error {
		dumped += len(batch)
		return nil
	})
	if err != nil {
		return err
	}
	r.DumpSeconds = time.Since(s).Seconds()
	r.DumpRecordsPerSec = float64(dumped) / r.DumpSeconds
	debug.FreeOSMemory()

	// A new log's salt comes from getrandom(), which blocks until the
	// guest's CRNG is ready (seconds after boot, with no entropy device):
	// wait for that here, not inside the timed drains.
	if _, err := unix.Getrandom(make([]byte, 8), 0); err != nil {
		return fmt.Errorf("getrandom: %w", err)
	}
	// The drain's CPU cost: to a log in memory, without syncfs. One pass
	// from cursor 0 acknowledges nothing.
	memLog := filepath.Join(os.TempDir(), "wbbench-big.log")
	os.Remove(memLog)
	s = time.Now()
	if err := run(b.wbctl, "daemon", "--once", "--syncfs=false", "--log", memLog, strconv.Itoa(int(w.ID))); err != nil {
		return err
	}
	r.DrainMemSeconds = time.Since(s).Seconds()
	r.DrainMemRecordsPerSec = float64(r.Records) / r.DrainMemSeconds
	os.Remove(memLog)

	log := filepath.Join(b.logDir, "big.log")
	os.Remove(log)
	s = time.Now()
	if err := run(b.wbctl, "daemon", "--once", "--log", log, strconv.Itoa(int(w.ID))); err != nil {
		return err
	}
	r.DrainSeconds = time.Since(s).Seconds()
	r.DrainRecordsPerSec = float64(r.Records) / r.DrainSeconds
	// The daemon acknowledged with its cursor only what it asked for next
	// time: acknowledge the rest so that the kernel frees every record.
	if _, err := b.c.Records(w.ID, br.NextSeq); err != nil {
		return err
	}
	m2 := meminfo()
	if fi, err := os.Stat(log); err == nil {
		r.LogBytes = fi.Size()
	}
	r.SlabBeforeKB, r.SlabAfterKB, r.SlabDrainedKB = m0["Slab"], m1["Slab"], m2["Slab"]
	r.SUnreclaimBeforeKB, r.SUnreclaimAfterKB, r.SUnreclaimDrainedKB = m0["SUnreclaim"], m1["SUnreclaim"], m2["SUnreclaim"]
	// The records are kmalloc'ed (unreclaimable slab) and freed by the drain;
	// the inodes and dentries of the files stay.
	r.RecordKB = m1["SUnreclaim"] - m2["SUnreclaim"]
	if r.Records > 0 {
		r.BytesPerRecord = float64(r.RecordKB*1024) / float64(r.Records)
	}
	fmt.Printf("wbbench: big epoch: %d objects, %d records, lossless %v\n", n, r.Records, r.Lossless)
	return nil
}
