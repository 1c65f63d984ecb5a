package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"

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
		if x, err := unix.Lgetxattr(path, "user.x", make([]byte, 64)); err == nil {
			state += fmt.Sprintf(" xattr=%d", x)
		}
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

// workload does one random modifying operation under root.
type workload struct {
	root string
	rnd  *rand.Rand
}

func (w *workload) path() string {
	return filepath.Join(w.root, fmt.Sprintf("d%d", w.rnd.Intn(3)), fmt.Sprintf("f%d", w.rnd.Intn(8)))
}

func (w *workload) step() {
	p := w.path()
	switch w.rnd.Intn(11) {
	case 0, 1:
		pwrite(p, int64(w.rnd.Intn(8192)), 1+w.rnd.Intn(3000))
	case 2:
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			f.WriteString("append\n")
			f.Close()
		}
	case 3:
		os.Truncate(p, int64(w.rnd.Intn(5000)))
	case 4:
		os.Chmod(p, os.FileMode(0o600+w.rnd.Intn(0o100)))
	case 5:
		os.Rename(p, w.path())
	case 6:
		os.Remove(p)
	case 7:
		os.Link(p, w.path())
	case 8:
		d := filepath.Join(w.root, fmt.Sprintf("d%d", w.rnd.Intn(3)), "sub")
		if os.Mkdir(d, 0o755) != nil {
			os.Remove(d)
		}
	case 9:
		unix.Setxattr(p, "user.x", []byte(fmt.Sprint(w.rnd.Intn(100))), 0)
	case 10:
		if st, err := os.Stat(p); err == nil && st.Size() > 0 {
			mmapWrite([]string{p, "0"})
		}
	}
}

// touched is what one epoch's records name: objects (with the parents of
// namespace changes) and directory entries.
func touched(recs []record.Record, epoch uint64) (handles, entries map[string]bool) {
	handles, entries = map[string]bool{}, map[string]bool{}
	for _, r := range recs {
		if r.Type != record.TypeChange || r.Epoch != epoch {
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

// oracle MOUNT ROUNDS OPS SEED: ROUNDS epochs of OPS random operations on the
// watched MOUNT, each checked against snapshots taken at the barriers.
func oracle(a []string) error {
	if len(a) != 4 {
		return errors.New("usage: oracle MOUNT ROUNDS OPS SEED")
	}
	root := a[0]
	rounds, nops := int(num(a[1])), int(num(a[2]))
	c, err := genl.Dial()
	if err != nil {
		return err
	}
	defer c.Close()
	watch, err := c.StatusOf(root)
	if err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		if err := os.MkdirAll(filepath.Join(root, fmt.Sprintf("d%d", i)), 0o755); err != nil {
			return err
		}
	}
	b, err := c.Barrier(watch.ID)
	if err != nil {
		return err
	}
	cursor := b.NextSeq
	before, err := takeSnapshot(root)
	if err != nil {
		return err
	}
	wl := &workload{root: root, rnd: rand.New(rand.NewSource(num(a[3])))}
	var all []string
	for r := 0; r < rounds; r++ {
		for i := 0; i < nops; i++ {
			wl.step()
		}
		b, err := c.Barrier(watch.ID)
		if err != nil {
			return err
		}
		after, err := takeSnapshot(root)
		if err != nil {
			return err
		}
		recs, err := c.Records(watch.ID, cursor)
		if err != nil {
			return err
		}
		cursor = b.NextSeq
		if b.Lossy {
			all = append(all, fmt.Sprintf("epoch %d is lossy", b.Epoch))
		}
		handles, entries := touched(recs, b.Epoch)
		for _, m := range misses(before, after, handles, entries) {
			all = append(all, fmt.Sprintf("epoch %d: %s", b.Epoch, m))
		}
		before = after
	}
	for _, m := range all {
		fmt.Fprintln(os.Stderr, m)
	}
	fmt.Printf("%d epochs of %d operations: %d misses\n", rounds, nops, len(all))
	if len(all) > 0 {
		return errors.New(strings.TrimSpace(fmt.Sprintf("%d changes were not recorded", len(all))))
	}
	return nil
}
