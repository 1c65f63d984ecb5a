package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// workload does random modifying operations under root: every kind of
// change the module hooks, on a few names in a few directories, some of
// them in subdirectories that are renamed and removed whole.
type workload struct {
	root string
	rnd  *rand.Rand
	// held is a shared writable mapping of heldFile kept across operations
	// (and barriers) until an operation unmaps it.
	held     []byte
	heldFile *os.File
	// ran counts the operations run, by name.
	ran map[string]int
}

func newWorkload(root string, seed int64) *workload {
	return &workload{root: root, rnd: rand.New(rand.NewSource(seed)), ran: map[string]int{}}
}

func (w *workload) dir() string {
	d := filepath.Join(w.root, fmt.Sprintf("d%d", w.rnd.Intn(3)))
	if w.rnd.Intn(3) == 0 {
		d = filepath.Join(d, "sub")
	}
	return d
}

func (w *workload) path() string {
	return filepath.Join(w.dir(), fmt.Sprintf("f%d", w.rnd.Intn(8)))
}

func (w *workload) nonEmptyFile() (string, bool) {
	p := w.path()
	var st unix.Stat_t
	if unix.Lstat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size == 0 {
		return p, false
	}
	return p, true
}

// workloadOps are the operations, each run on random names; errors (a name
// that does not exist, an operation the filesystem lacks) are part of the
// game and ignored.
var workloadOps = []struct {
	name string
	run  func(w *workload)
}{
	{"pwrite", func(w *workload) { pwrite(w.path(), int64(w.rnd.Intn(8192)), 1+w.rnd.Intn(3000)) }},
	{"append", func(w *workload) {
		if f, err := os.OpenFile(w.path(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			f.WriteString("append\n")
			f.Close()
		}
	}},
	{"pwritev2_append", func(w *workload) { pwritev2Append([]string{w.path(), "5"}) }},
	{"pwritev", func(w *workload) { pwritev([]string{w.path(), fmt.Sprint(w.rnd.Intn(8192))}) }},
	{"truncate", func(w *workload) { os.Truncate(w.path(), int64(w.rnd.Intn(5000))) }},
	{"open_trunc", func(w *workload) {
		if f, err := os.OpenFile(w.path(), os.O_WRONLY|os.O_TRUNC|os.O_CREATE, 0o644); err == nil {
			f.WriteString("truncated\n")
			f.Close()
		}
	}},
	{"fallocate", func(w *workload) {
		modes := []string{"alloc", "keep", "punch", "zero"}
		fallocate([]string{w.path(), modes[w.rnd.Intn(len(modes))], fmt.Sprint(w.rnd.Intn(4) * 4096), "4096"})
	}},
	{"chmod", func(w *workload) { os.Chmod(w.path(), os.FileMode(0o600+w.rnd.Intn(0o100))) }},
	{"chown", func(w *workload) { os.Lchown(w.path(), w.rnd.Intn(3), w.rnd.Intn(3)) }},
	{"utimens", func(w *workload) {
		t := unix.NsecToTimespec(int64(w.rnd.Intn(1 << 30)))
		unix.UtimesNanoAt(unix.AT_FDCWD, w.path(), []unix.Timespec{t, t}, unix.AT_SYMLINK_NOFOLLOW)
	}},
	{"setxattr", func(w *workload) { unix.Lsetxattr(w.path(), "user.x", []byte(fmt.Sprint(w.rnd.Intn(100))), 0) }},
	{"removexattr", func(w *workload) { unix.Lremovexattr(w.path(), "user.x") }},
	{"setacl", func(w *workload) { setACL([]string{w.path()}) }},
	{"setflags", func(w *workload) { setNoatimeFlag([]string{w.path()}) }},
	{"rename", func(w *workload) { os.Rename(w.path(), w.path()) }},
	{"exchange", func(w *workload) { rename2([]string{w.path(), w.path()}, unix.RENAME_EXCHANGE) }},
	{"rename_noreplace", func(w *workload) { rename2([]string{w.path(), w.path()}, unix.RENAME_NOREPLACE) }},
	{"unlink", func(w *workload) { os.Remove(w.path()) }},
	{"link", func(w *workload) { os.Link(w.path(), w.path()) }},
	{"symlink", func(w *workload) { os.Symlink(fmt.Sprintf("target%d", w.rnd.Intn(3)), w.path()) }},
	// Named apart from the files: opening a FIFO for writing would wait
	// for a reader.
	{"mkfifo", func(w *workload) { unix.Mkfifo(filepath.Join(w.dir(), fmt.Sprintf("p%d", w.rnd.Intn(2))), 0o644) }},
	{"tmpfile_link", func(w *workload) { tmpfileLink([]string{w.dir(), fmt.Sprintf("f%d", w.rnd.Intn(8))}) }},
	{"mkdir", func(w *workload) { os.Mkdir(filepath.Join(w.root, fmt.Sprintf("d%d", w.rnd.Intn(3)), "sub"), 0o755) }},
	{"rmdir", func(w *workload) { os.Remove(filepath.Join(w.root, fmt.Sprintf("d%d", w.rnd.Intn(3)), "sub")) }},
	// A directory with its files moves, or replaces an empty one.
	{"rename_dir", func(w *workload) {
		from := filepath.Join(w.root, fmt.Sprintf("d%d", w.rnd.Intn(3)), "sub")
		os.Rename(from, filepath.Join(w.root, fmt.Sprintf("d%d", w.rnd.Intn(3)), "sub"))
	}},
	{"rm_rf", func(w *workload) {
		if w.rnd.Intn(4) == 0 {
			os.RemoveAll(filepath.Join(w.root, fmt.Sprintf("d%d", w.rnd.Intn(3)), "sub"))
		}
	}},
	{"copy_range", func(w *workload) { copyRange([]string{w.path(), w.path()}) }},
	{"splice", func(w *workload) { splice([]string{w.path(), w.path()}) }},
	{"sendfile", func(w *workload) { sendfile([]string{w.path(), w.path()}) }},
	{"clone", func(w *workload) { remap([]string{w.path(), w.path()}, unix.FICLONE) }},
	{"aio_write", func(w *workload) {
		aioWrite([]string{w.path(), fmt.Sprint(w.rnd.Intn(4) * 4096), "4096", "buffered"})
	}},
	{"uring_write", func(w *workload) {
		uringWrite([]string{w.path(), fmt.Sprint(w.rnd.Intn(4) * 4096), "4096", "buffered"})
	}},
	{"mmap_write", func(w *workload) {
		if p, ok := w.nonEmptyFile(); ok {
			mmapWrite([]string{p, "0"})
		}
	}},
	{"mmap_readfirst", func(w *workload) {
		if p, ok := w.nonEmptyFile(); ok {
			mmapReadFirst([]string{p, "0"})
		}
	}},
	// Maps a file and keeps the mapping; later runs store into it or unmap
	// it, perhaps epochs later.
	{"mmap_held", func(w *workload) {
		switch {
		case w.held == nil:
			p, ok := w.nonEmptyFile()
			if !ok {
				return
			}
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				return
			}
			m, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			if err != nil {
				f.Close()
				return
			}
			w.held, w.heldFile = m, f
		case w.rnd.Intn(3) == 0:
			w.unmapHeld()
		default:
			// A store past the end of the file would fault (SIGBUS).
			if st, err := w.heldFile.Stat(); err == nil && st.Size() > 0 {
				w.held[0] = byte('a' + w.rnd.Intn(26))
			}
		}
	}},
}

// step runs one random operation.
func (w *workload) step() {
	op := workloadOps[w.rnd.Intn(len(workloadOps))]
	op.run(w)
	w.ran[op.name]++
}

func (w *workload) unmapHeld() {
	if w.held != nil {
		unix.Munmap(w.held)
		w.heldFile.Close()
		w.held, w.heldFile = nil, nil
	}
}
