// Command logbench measures reading a big change log on the host (no VM):
// it writes a log with the changelog Writer, then runs, each in a child
// process, what reads it: `wbctl changes --since` a recent epoch, `wbctl
// log verify`, and the daemon's start (drain.OpenLog, the code path
// `wbctl daemon` runs before it talks to the module), and reports the wall
// time and the peak RSS (getrusage of the child) of each as JSON.
//
//	logbench write [-records N] [-epoch K] [-segment-size BYTES] LOG
//	logbench run -wbctl WBCTL [-reps R] [-daemon-start CMD] LOG
//	logbench resume LOG
//
// ci/logbench runs them; docs/bench.md has the results.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
	"github.com/wbarrier/wbarrier/tools/internal/drain"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "logbench: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: logbench write|run|resume [flags] LOG")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	records := fs.Int("records", 10_000_000, "change records to write")
	epoch := fs.Int("epoch", 1000, "records per epoch")
	segSize := fs.Int64("segment-size", 64<<20, "segment size (the daemon's default)")
	wbctl := fs.String("wbctl", "", "the wbctl binary to measure")
	reps := fs.Int("reps", 3, "runs of each measurement")
	start := fs.String("daemon-start", "", "a command (given LOG) to measure as the daemon's start instead of drain.OpenLog: an older build's, to compare")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%s: expected one LOG", args[0])
	}
	path := fs.Arg(0)
	switch args[0] {
	case "write":
		return write(path, *records, *epoch, *segSize)
	case "run":
		if *wbctl == "" {
			return errors.New("run: -wbctl is required")
		}
		return measure(path, *wbctl, *start, *reps)
	case "resume":
		return resume(path)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// generation is the watch the benchmark's log follows.
var generation = changelog.Generation{LoadID: 0x10cb, WatchID: 1, Dev: 42}

// write writes a log of n records as the daemon would: epochs of k
// records, a few of the next epoch's records before each seal (the kernel
// opens N+1 before it closes N), data writes to a working set of files with
// ranges, creates with names, the segment size of the daemon.
func write(path string, n, k int, segSize int64) error {
	w, err := changelog.Create(path, changelog.Header{FSType: "ext4", Dev: 42, Mount: "/srv/data"})
	if err != nil {
		return err
	}
	w.SetSegmentSize(segSize)
	if _, err := w.StartGeneration(generation); err != nil {
		return err
	}
	handle := func(i int) *record.FileHandle {
		return &record.FileHandle{Type: 0x81, Bytes: []byte(fmt.Sprintf("%012d", i%100_000))}
	}
	dir := &record.FileHandle{Type: 0x81, Bytes: []byte("directory!!!")}
	seq, e := uint64(0), uint64(1)
	for i := range n {
		seq++
		r := record.Record{Type: record.TypeChange, Seq: seq, Epoch: e, Ops: record.OpData, Handle: handle(i), HasRange: true, Offset: uint64(i) * 4096, Length: 4096}
		if i%10 == 0 {
			r = record.Record{Type: record.TypeChange, Seq: seq, Epoch: e, Ops: record.OpCreate, Parent: dir, Name: "file-" + strconv.Itoa(i)}
		}
		// The last few records of each epoch's slot belong to the next.
		if i%k >= k-3 {
			r.Epoch = e + 1
		}
		if err := w.Append(r); err != nil {
			return err
		}
		if i%k == k-1 || i == n-1 {
			seq++
			if err := w.Seal(e, seq, false); err != nil {
				return err
			}
			e++
		}
	}
	return w.Close()
}

// result is one measurement: a command's wall time and peak RSS.
type result struct {
	Name     string    `json:"name"`
	Command  []string  `json:"command"`
	WallMS   []float64 `json:"wall_ms"`
	CPUMS    []float64 `json:"cpu_ms"` // user + system: the host is shared, its wall clock noisy
	MaxRSSKB []int64   `json:"max_rss_kib"`
}

// report is what run prints.
type report struct {
	Date       string   `json:"date"`
	Commit     string   `json:"commit,omitempty"`
	Log        string   `json:"log"`
	Bytes      int64    `json:"bytes"`
	Segments   int      `json:"segments"`
	LastSealed uint64   `json:"last_sealed"`
	GoVersion  string   `json:"go"`
	CPUs       int      `json:"cpus"`
	Results    []result `json:"results"`
}

// measure runs each reading reps times in a child process.
func measure(path, wbctl, start string, reps int) error {
	l, err := changelog.OpenSince(path, ^uint64(0))
	if err != nil {
		return err
	}
	last, _ := l.LastSealed()
	rep := report{Date: time.Now().UTC().Format(time.RFC3339), Commit: os.Getenv("WB_COMMIT"), Log: path, LastSealed: last, GoVersion: runtime.Version(), CPUs: runtime.NumCPU()}
	segs, err := filepath.Glob(path + ".[0-9][0-9][0-9][0-9][0-9][0-9]")
	if err != nil {
		return err
	}
	segs = append(segs, path)
	for _, s := range segs {
		fi, err := os.Stat(s)
		if err != nil {
			return err
		}
		rep.Bytes += fi.Size()
	}
	rep.Segments = len(segs)
	startCmd := []string{start, path}
	if start == "" {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		startCmd = []string{self, "resume", path}
	}
	since := strconv.FormatUint(last-10, 10)
	runs := []result{
		{Name: "changes --since a recent epoch (10 epochs)", Command: []string{wbctl, "changes", "--json", "--log", path, "--since", since}},
		{Name: "log verify", Command: []string{wbctl, "log", "verify", path}},
		{Name: "daemon start", Command: startCmd},
	}
	for range reps {
		for i := range runs {
			r := &runs[i]
			cmd := exec.Command(r.Command[0], r.Command[1:]...)
			cmd.Stderr = os.Stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: %w", r.Name, err)
			}
			r.WallMS = append(r.WallMS, float64(time.Since(start).Microseconds())/1000)
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			r.MaxRSSKB = append(r.MaxRSSKB, ru.Maxrss)
			r.CPUMS = append(r.CPUMS, float64((ru.Utime.Nano()+ru.Stime.Nano())/1000)/1000)
		}
	}
	rep.Results = runs
	for _, r := range runs {
		fmt.Fprintf(os.Stderr, "%-45s median %8.1f ms wall, %8.1f ms CPU, max RSS %7.1f MiB\n", r.Name, median(r.WallMS), median(r.CPUMS), float64(slices.Max(r.MaxRSSKB))/1024)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// resume is what the daemon does with its log at start, up to the first
// request to the module: open it for appending, and set up the drain's
// gap state from the same read.
func resume(path string) error {
	w, _, seqs, err := drain.OpenLog(path)
	if err != nil {
		return err
	}
	defer w.Close()
	g, ok := w.Generation()
	if !ok {
		return errors.New("resume: the log has no generation")
	}
	d := drain.Drainer{Log: w, Cursor: max(w.NextSeq(), 1), Offset: g.Offset}
	d.LastSealed, _ = w.LastSealed()
	d.ResumeAfter(seqs, g)
	return nil
}
