package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// A workload: prepare (untimed) then op(i) for i in [0, n) (timed).
type workload struct {
	prepare func(dir string) error
	op      func(i int) error
}

// loadResult is what "wbbench load" prints.
type loadResult struct {
	Kind  string  `json:"kind"`
	Ops   int     `json:"ops"`
	NsOp  float64 `json:"ns_op"` // wall clock, whole run
	MaxNs int64   `json:"max_ns"`
	// The run is timed in chunks of a few hundred microseconds too. The host
	// deschedules the guest's vCPU threads now and then (other guests share
	// its cores); a chunk that straddles such a gap is slow, most are not,
	// so the median chunk is the cost of an operation on a running CPU.
	ChunkOps   int     `json:"chunk_ops"`
	ChunkMedNs float64 `json:"chunk_median_ns_op"`
	ChunkMinNs float64 `json:"chunk_min_ns_op"`
}

// chunkOps is how many operations a timed chunk holds: a multiple of the
// workload's period (64 appends per fsync, 8 ops of the mixed cycle).
var chunkOps = map[string]int{
	"pwrite": 128, "append": 64, "create": 8, "rename": 32, "mixed": 32, "createonly": 1000,
}

var loadKinds = []string{"pwrite", "append", "create", "rename", "mixed"}

func runLoad(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: wbbench load KIND DIR N (KIND: %v, createonly)", loadKinds)
	}
	kind, dir := args[0], args[1]
	n, err := strconv.Atoi(args[2])
	if err != nil || n <= 0 {
		return fmt.Errorf("bad N %q", args[2])
	}
	w, err := newWorkload(kind, dir)
	if err != nil {
		return err
	}
	if err := w.prepare(dir); err != nil {
		return err
	}
	// Untimed warm-up: under TCG the first pass through a code path pays
	// for its translation, and a module loaded anew brings new probe code.
	warm := 0
	if kind != "createonly" {
		warm = n / 5
	}
	for i := 0; i < warm; i++ {
		if err := w.op(i); err != nil {
			return fmt.Errorf("%s warm-up op %d: %w", kind, i, err)
		}
	}
	var maxNs int64
	co := chunkOps[kind]
	chunks := make([]float64, 0, n/co+1)
	start := time.Now()
	last, chunkStart := start, start
	for i := warm; i < warm+n; i++ {
		if err := w.op(i); err != nil {
			return fmt.Errorf("%s op %d: %w", kind, i, err)
		}
		now := time.Now()
		if d := now.Sub(last).Nanoseconds(); d > maxNs {
			maxNs = d
		}
		last = now
		if (i-warm)%co == co-1 {
			chunks = append(chunks, float64(now.Sub(chunkStart).Nanoseconds())/float64(co))
			chunkStart = now
		}
	}
	total := time.Since(start)
	r := loadResult{Kind: kind, Ops: n, NsOp: float64(total.Nanoseconds()) / float64(n), MaxNs: maxNs, ChunkOps: co}
	if len(chunks) > 0 {
		r.ChunkMedNs = median(chunks)
		r.ChunkMinNs, _ = minMax(chunks)
	} else {
		r.ChunkMedNs, r.ChunkMinNs = r.NsOp, r.NsOp
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

var block = make([]byte, 4096)

func openFile(path string, flags int) (int, error) {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", path, err)
	}
	return fd, nil
}

// createWriteUnlink is one small-file lifetime: create, write 1 KiB, close,
// unlink.
func createWriteUnlink(path string) error {
	fd, err := openFile(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY)
	if err != nil {
		return err
	}
	_, err = unix.Write(fd, block[:1024])
	unix.Close(fd)
	if err != nil {
		return err
	}
	return unix.Unlink(path)
}

func newWorkload(kind, dir string) (*workload, error) {
	var fd int
	var dir2 string
	switch kind {
	case "pwrite": // 4 KiB pwrite over a 1 MiB file
		return &workload{
			prepare: func(dir string) (err error) {
				fd, err = openFile(filepath.Join(dir, "pwrite"), unix.O_CREAT|unix.O_RDWR)
				return err
			},
			op: func(i int) error {
				_, err := unix.Pwrite(fd, block, int64(i%256)*4096)
				return err
			},
		}, nil
	case "append": // 4 KiB appends, fsync every 64
		return &workload{
			prepare: func(dir string) (err error) {
				fd, err = openFile(filepath.Join(dir, "append"), unix.O_CREAT|unix.O_WRONLY|unix.O_APPEND)
				return err
			},
			op: func(i int) error {
				if _, err := unix.Write(fd, block); err != nil {
					return err
				}
				if i%64 == 63 {
					return unix.Fsync(fd)
				}
				return nil
			},
		}, nil
	case "create": // create + write 1 KiB + unlink of a small file
		return &workload{
			prepare: func(string) error { return nil },
			op: func(i int) error {
				return createWriteUnlink(filepath.Join(dir, "c"+strconv.Itoa(i)))
			},
		}, nil
	case "createonly": // create empty files, 1000 per directory (for the big epoch)
		return &workload{
			prepare: func(string) error { return nil },
			op: func(i int) error {
				if i%1000 == 0 {
					dir2 = filepath.Join(dir, "d"+strconv.Itoa(i/1000))
					if err := unix.Mkdir(dir2, 0o755); err != nil {
						return err
					}
				}
				fd, err := openFile(filepath.Join(dir2, strconv.Itoa(i)), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY)
				if err != nil {
					return err
				}
				return unix.Close(fd)
			},
		}, nil
	case "rename": // one file renamed back and forth
		a, b := filepath.Join(dir, "ra"), filepath.Join(dir, "rb")
		return &workload{
			prepare: func(string) error {
				fd, err := openFile(a, unix.O_CREAT|unix.O_WRONLY)
				if err == nil {
					unix.Close(fd)
				}
				return err
			},
			op: func(i int) error {
				if i%2 == 0 {
					return unix.Rename(a, b)
				}
				return unix.Rename(b, a)
			},
		}, nil
	case "mixed": // 4 pwrites, 1 append, 1 small file, 1 rename, 1 chmod in 8 ops
		const files = 16
		fds := make([]int, files)
		var afd int
		a, b := filepath.Join(dir, "ma"), filepath.Join(dir, "mb")
		return &workload{
			prepare: func(dir string) error {
				for k := range fds {
					f, err := openFile(filepath.Join(dir, "m"+strconv.Itoa(k)), unix.O_CREAT|unix.O_RDWR)
					if err != nil {
						return err
					}
					fds[k] = f
				}
				var err error
				if afd, err = openFile(filepath.Join(dir, "mlog"), unix.O_CREAT|unix.O_WRONLY|unix.O_APPEND); err != nil {
					return err
				}
				f, err := openFile(a, unix.O_CREAT|unix.O_WRONLY)
				if err == nil {
					unix.Close(f)
				}
				return err
			},
			op: func(i int) error {
				switch i % 8 {
				case 0, 1, 2, 3:
					_, err := unix.Pwrite(fds[(i/8)%files], block, int64((i/8)%64)*4096)
					return err
				case 4:
					_, err := unix.Write(afd, block)
					return err
				case 5:
					return createWriteUnlink(filepath.Join(dir, "c"+strconv.Itoa(i)))
				case 6:
					if (i/8)%2 == 0 {
						return unix.Rename(a, b)
					}
					return unix.Rename(b, a)
				default:
					return unix.Fchmod(fds[(i/8)%files], uint32(0o600+(i/8)%2*0o44))
				}
			},
		}, nil
	}
	return nil, fmt.Errorf("unknown workload %q (want one of %v, createonly)", kind, loadKinds)
}
