package main

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wbarrier/wbarrier/genl"
	"github.com/wbarrier/wbarrier/record"
	"golang.org/x/sys/unix"
)

// object is what the oracle compares of one inode between two barriers.
type object struct {
	state string // mode, owner, size, links, mtime, ctime, content, xattrs
}

// snapshot maps handles to objects and (parent handle, name) to handles.
type snapshot struct {
	objects map[string]object
	entries map[string]string
}

func handleKey(h record.FileHandle) string { return fmt.Sprintf("%d:%x", h.Type, h.Bytes) }

func entryKey(parent, name string) string { return parent + "/" + name }

func pathHandle(path string) (string, error) {
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, path, 0) // 0: do not follow symlinks
	if err != nil {
		return "", fmt.Errorf("name_to_handle_at %s: %w", path, err)
	}
	return handleKey(record.FileHandle{Type: uint32(h.Type()), Bytes: h.Bytes()}), nil
}

func takeSnapshot(root string) (snapshot, error) {
	s := snapshot{objects: map[string]object{}, entries: map[string]string{}}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "lost+found" {
			return filepath.SkipDir
		}
		h, err := pathHandle(path)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		state := fmt.Sprintf("%o %d:%d size=%d nlink=%d m=%d.%d c=%d.%d", st.Mode, st.Uid, st.Gid, st.Size,
			st.Nlink, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
		if d.Type().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			state += fmt.Sprintf(" sha=%x", sha256.Sum256(b))
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			state += " -> " + target
		}
		xattrs, err := xattrState(path)
		if err != nil {
			return err
		}
		state += xattrs
		s.objects[h] = object{state: state}
		if path != root {
			p, err := pathHandle(filepath.Dir(path))
			if err != nil {
				return err
			}
			s.entries[entryKey(p, d.Name())] = h
		}
		return nil
	})
	return s, err
}

// touched is what the records of the given epochs name, but those with an
// op in drop: objects (with the parents of namespace changes) and
// directory entries.
func touched(recs []record.Record, epochs map[uint64]bool, drop record.Op) (handles, entries map[string]bool) {
	handles, entries = map[string]bool{}, map[string]bool{}
	for _, r := range recs {
		if r.Type != record.TypeChange || !epochs[r.Epoch] || r.Ops&drop != 0 {
			continue
		}
		if r.Handle != nil {
			handles[handleKey(*r.Handle)] = true
		}
		if r.Parent != nil {
			p := handleKey(*r.Parent)
			handles[p] = true
			entries[entryKey(p, r.Name)] = true
		}
	}
	return handles, entries
}

// misses lists the changes between two snapshots that no record names.
func misses(before, after snapshot, handles, entries map[string]bool) []string {
	var out []string
	for h, o := range after.objects {
		if old, ok := before.objects[h]; ok && old.state != o.state && !handles[h] {
			out = append(out, "object "+h+" changed: "+old.state+" -> "+o.state)
		}
	}
	for e, h := range after.entries {
		if before.entries[e] != h && !entries[e] {
			out = append(out, "entry "+e+" appeared")
		}
	}
	for e, h := range before.entries {
		if after.entries[e] != h && !entries[e] {
			out = append(out, "entry "+e+" went away")
		}
	}
	return out
}

// xattrState is every extended attribute of path, names and values.
func xattrState(path string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		return "", fmt.Errorf("listxattr %s: %w", path, err)
	}
	// Sorted: filesystems list them in orders of their own.
	names := strings.Split(string(buf[:n]), "\x00")
	slices.Sort(names)
	var state string
	for _, name := range names {
		if name == "" {
			continue
		}
		v := make([]byte, 4096)
		m, err := unix.Lgetxattr(path, name, v)
		if err != nil {
			return "", fmt.Errorf("getxattr %s %s: %w", path, name, err)
		}
		state += fmt.Sprintf(" %s=%x", name, v[:m])
	}
	return state, nil
}

// oracleRun is one oracle run on a watched filesystem: the records read
// so far, and what the workload did.
type oracleRun struct {
	c       *genl.Client
	watch   uint32
	root    string
	cursor  uint64
	recs    []record.Record
	drop    record.Op
	fan     *fanListener
	snap    snapshot
	changed int // objects and entries that changed, over all epochs
	events  int
	// misses of each oracle, as messages
	snapMisses, fanMisses []string
}

// round is what one barrier closed: the epoch, and what changed from the
// previous round's snapshot to this one's, to be checked once the records
// of every epoch it may be in are read.
type round struct {
	epoch  uint64
	before snapshot
	after  snapshot
	events []fanEvent
}

// barrier closes the open epoch and reads its records, then syncs the
// filesystem as the daemon does: writeback write-protects mapped pages,
// so that a store after it faults into the epoch open then.
func (o *oracleRun) barrier() (uint64, error) {
	b, err := o.c.Barrier(o.watch)
	if err != nil {
		return 0, err
	}
	if b.Lossy {
		o.snapMisses = append(o.snapMisses, fmt.Sprintf("epoch %d is lossy", b.Epoch))
	}
	recs, err := o.c.Records(o.watch, o.cursor)
	if err != nil {
		return 0, err
	}
	o.recs = append(o.recs, recs...)
	o.cursor = b.NextSeq
	fd, err := unix.Open(o.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return 0, fmt.Errorf("syncfs %s: %w", o.root, err)
	}
	return b.Epoch, nil
}

// observe takes the snapshot and the fanotify events since the last one.
func (o *oracleRun) observe(epoch uint64) (round, error) {
	r := round{epoch: epoch, before: o.snap}
	var err error
	if r.after, err = takeSnapshot(o.root); err != nil {
		return r, err
	}
	o.snap = r.after
	if o.fan != nil {
		if r.events, err = o.fan.drain(); err != nil {
			return r, err
		}
	}
	return r, nil
}

// check checks a round against the records of the given epochs.
func (o *oracleRun) check(r round, epochs ...uint64) {
	in := map[uint64]bool{}
	for _, e := range epochs {
		in[e] = true
	}
	handles, entries := touched(o.recs, in, o.drop)
	o.changed += len(misses(r.before, r.after, nil, nil))
	for _, m := range misses(r.before, r.after, handles, entries) {
		o.snapMisses = append(o.snapMisses, fmt.Sprintf("epoch %d: %s", r.epoch, m))
	}
	// The removal of an object whose dentry was still in use (an open
	// file below a removed directory, released later by a worker) is
	// reported when its last user lets go: in this epoch or any before.
	earlier := map[uint64]bool{}
	for e := uint64(0); e <= slices.Max(epochs); e++ {
		earlier[e] = true
	}
	removedBefore, _ := touched(o.recs, earlier, o.drop)
	o.events += len(r.events)
	for _, ev := range r.events {
		if ev.mask&unix.FAN_DELETE_SELF != 0 && ev.recorded(removedBefore, nil) {
			continue
		}
		if !ev.recorded(handles, entries) {
			o.fanMisses = append(o.fanMisses, fmt.Sprintf("epoch %d: fanotify %v not in the records of epochs %v", r.epoch, ev, epochs))
		}
	}
}

// oracle [-concurrent] [-fanotify=false] [-drop OPS] MOUNT ROUNDS OPS SEED
func oracle(args []string) error {
	flags := flag.NewFlagSet("oracle", flag.ContinueOnError)
	concurrent := flags.Bool("concurrent", false, "run the workload while barriers close epochs, not between them")
	withFan := flags.Bool("fanotify", true, "check the records against a fanotify listener too")
	dropOps := flags.String("drop", "", "ignore the records with these ops (op names joined by |): the oracles must notice")
	if err := flags.Parse(args); err != nil {
		return err
	}
	a := flags.Args()
	if len(a) != 4 {
		return errors.New("usage: oracle [-concurrent] [-fanotify=false] [-drop OPS] MOUNT ROUNDS OPS SEED|random")
	}
	o := &oracleRun{root: a[0]}
	rounds, nops := int(num(a[1])), int(num(a[2]))
	seed := time.Now().UnixNano()
	if a[3] != "random" {
		seed = num(a[3])
	}
	fmt.Fprintf(os.Stderr, "oracle %s: seed %d, %d rounds of %d operations, concurrent=%v\n", o.root, seed, rounds, nops, *concurrent)
	if *dropOps != "" {
		var err error
		if o.drop, err = record.ParseOp(*dropOps); err != nil {
			return err
		}
	}
	var err error
	if o.c, err = genl.Dial(); err != nil {
		return err
	}
	defer o.c.Close()
	watch, err := o.c.StatusOf(o.root)
	if err != nil {
		return err
	}
	o.watch = watch.ID
	for i := 0; i < 3; i++ {
		if err := os.MkdirAll(filepath.Join(o.root, fmt.Sprintf("d%d", i), "sub"), 0o755); err != nil {
			return err
		}
	}
	if *withFan {
		if o.fan, err = newFanListener(o.root); err != nil {
			return err
		}
		defer o.fan.Close()
	}
	if _, err := o.barrier(); err != nil {
		return err
	}
	if _, err := o.observe(0); err != nil {
		return err
	}
	wl := newWorkload(o.root, seed)
	defer wl.unmapHeld()
	if *concurrent {
		err = o.runConcurrent(wl, rounds*nops)
	} else {
		err = o.runBetween(wl, rounds, nops)
	}
	if err != nil {
		return err
	}
	total := 0
	for _, n := range wl.ran {
		total += n
	}
	fmt.Fprintf(os.Stderr, "%d operations %v; %d objects or entries changed; %d fanotify events\n", total, wl.ran, o.changed, o.events)
	for _, m := range append(o.snapMisses, o.fanMisses...) {
		fmt.Fprintln(os.Stderr, m)
	}
	fmt.Printf("snapshot: %d missed\n", len(o.snapMisses))
	if o.fan != nil {
		fmt.Printf("fanotify: %d missed\n", len(o.fanMisses))
	}
	if n := len(o.snapMisses) + len(o.fanMisses); n > 0 {
		return fmt.Errorf("%d changes were not recorded", n)
	}
	return nil
}

// runBetween runs the operations between barriers: every change of a round
// must be in the epoch that the barrier after it closed.
func (o *oracleRun) runBetween(wl *workload, rounds, nops int) error {
	for i := 0; i < rounds; i++ {
		for j := 0; j < nops; j++ {
			wl.step()
		}
		epoch, err := o.barrier()
		if err != nil {
			return err
		}
		r, err := o.observe(epoch)
		if err != nil {
			return err
		}
		o.check(r, epoch)
	}
	return nil
}

// runConcurrent runs n operations while barriers close epochs one after the
// other. An operation in flight across a barrier is in one of the two
// epochs around it: each change seen between two snapshots must be in the
// epoch the later barrier closed or in the next one. The snapshots are
// taken between operations (a walk during a rename would see half of it).
func (o *oracleRun) runConcurrent(wl *workload, n int) error {
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			mu.Lock()
			wl.step()
			mu.Unlock()
		}
	}()
	var pending *round
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		case <-time.After(time.Duration(wl.rnd.Intn(20)) * time.Millisecond):
		}
		epoch, err := o.barrier()
		if err != nil {
			return err
		}
		mu.Lock()
		r, err := o.observe(epoch)
		mu.Unlock()
		if err != nil {
			return err
		}
		if pending != nil {
			o.check(*pending, pending.epoch, pending.epoch+1)
		}
		pending = &r
	}
	// The last round: nothing ran after it, its epoch alone.
	o.check(*pending, pending.epoch)
	return nil
}
