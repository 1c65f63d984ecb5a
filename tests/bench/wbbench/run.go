package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wbarrier/wbarrier/genl"
	"golang.org/x/sys/unix"
)

// A condition is one way of running the workloads.
type condition struct {
	Name     string
	module   bool     // wbarrier.ko loaded
	params   []string // ... with these parameters (the hook mechanism)
	watch    bool     // the benchmark filesystems watched
	beside   bool     // another filesystem watched, not the benchmark's
	consumer string   // "", "daemon" or "fanotify"
}

var conditions = []condition{
	{Name: "unloaded"},
	{Name: "loaded", module: true},
	{Name: "beside", module: true, beside: true},
	{Name: "watched", module: true, watch: true},
	// The mechanism with nothing in it (WB_TESTING builds, kmod/floor.c):
	// the direct-called hooks only enter and leave the watch's SRCU
	// section (floor), or decline every call at once (null).
	{Name: "floor", module: true, params: []string{"hook_body=floor"}, watch: true},
	{Name: "null", module: true, params: []string{"hook_body=null"}, watch: true},
	{Name: "wrapper", module: true, params: []string{"wrapper=1"}, watch: true},
	{Name: "kretprobe", module: true, params: []string{"direct_calls=0"}, watch: true},
	// The direct calls as under indirect branch tracking (WB_TESTING
	// builds): the stubs reach bodies by a return, not through a register.
	{Name: "ibt", module: true, params: []string{"ibt_calls=1"}, watch: true},
	{Name: "daemon", module: true, watch: true, consumer: "daemon"},
	{Name: "fanotify", consumer: "fanotify"},
}

// besideMnt is the filesystem watched in condition "beside".
const besideMnt = "/mnt/bench-beside"

// A benchmark filesystem.
type benchFS struct {
	Name string
	Mnt  string
}

// opsFor is N per workload at scale 1: each run takes a few tenths of a
// second in the TCG guest.
var opsFor = map[string]int{
	"pwrite": 20000,
	"append": 2048,
	"create": 1000,
	"rename": 4000,
	"mixed":  3000,
}

type bench struct {
	reps       int
	scale      float64
	objects    int
	barriers   int
	module     string
	maxRecords int
	self       string
	wbctl      string
	logDir     string
	logFS      string
	fss        []benchFS
	kinds      []string // the workloads to run

	c       *genl.Client
	watches []genl.Watch
	procs   []*proc
	lastCPU float64  // CPU seconds of the consumers stopProcs stopped
	logs    []string // the daemons' logs
	out     Output
}

type proc struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	lines  *bufio.Scanner
	name   string
}

func runBench(args []string) error {
	fl := flag.NewFlagSet("run", flag.ContinueOnError)
	b := &bench{}
	fl.IntVar(&b.reps, "reps", 3, "repetitions of every condition, interleaved")
	fl.Float64Var(&b.scale, "scale", 0.5, "multiplies the operation count of every workload")
	fl.IntVar(&b.objects, "objects", 200000, "distinct objects created in the one big epoch (0: skip)")
	fl.IntVar(&b.barriers, "barriers", 200, "barriers timed per latency measurement")
	fl.IntVar(&b.maxRecords, "max-records", 1100000, "the module's max_records for the workload runs")
	fl.StringVar(&b.out.Clock, "clock", "wall", "the guest's clock: wall, or icount (ci/vm with WB_VM_ICOUNT)")
	kinds := fl.String("workloads", strings.Join(loadKinds, ","), "the workloads to run, comma-separated")
	if err := fl.Parse(args); err != nil {
		return err
	}
	for _, k := range strings.Split(*kinds, ",") {
		if !slices.Contains(loadKinds, k) {
			return fmt.Errorf("-workloads: unknown workload %q (want some of %v)", k, loadKinds)
		}
		b.kinds = append(b.kinds, k)
	}
	b.module = os.Getenv("WB_MODULE")
	if b.module == "" {
		b.module = "/wb/wbarrier.ko"
	}
	var err error
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	if b.wbctl, err = exec.LookPath("wbctl"); err != nil {
		return err
	}
	defer b.cleanup()
	if err := b.setup(); err != nil {
		return err
	}
	if err := b.workloads(); err != nil {
		return err
	}
	if err := b.barrierLatency(); err != nil {
		return err
	}
	if b.objects > 0 {
		if err := b.bigEpoch(); err != nil {
			return err
		}
	}
	b.out.Goals = evaluate(&b.out)
	printTable(os.Stdout, &b.out)
	fmt.Println("==WBBENCH-JSON-BEGIN==")
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(&b.out); err != nil {
		return err
	}
	fmt.Println("==WBBENCH-JSON-END==")
	return nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (b *bench) setup() error {
	var u unix.Utsname
	unix.Uname(&u)
	b.out.Kernel = unix.ByteSliceToString(u.Release[:])
	b.out.CPUs = countCPUs()
	b.out.MemMB = meminfo()["MemTotal"] / 1024
	b.out.Reps, b.out.Scale = b.reps, b.scale
	b.out.Ops = map[string]int{}
	b.out.ConsumerCPUSeconds = map[string]float64{}
	b.out.RecordsByCondition = map[string]uint64{}
	for _, k := range b.kinds {
		b.out.Ops[k] = max(1, int(float64(opsFor[k])*b.scale))
	}
	if b.out.Clock == "icount" {
		// The instruction-counting clock jumps ahead while the guest waits
		// for its disks: the hung task detector would take a journal
		// commit for a hang.
		os.WriteFile("/proc/sys/kernel/hung_task_timeout_secs", []byte("0"), 0)
	}
	// Left over from an earlier run in this boot.
	exec.Command("rmmod", "wbarrier").Run()

	os.MkdirAll(besideMnt, 0o755)
	if err := run("mount", "-t", "tmpfs", "-o", "size=1m", "benchbeside", besideMnt); err != nil {
		return err
	}
	tm := "/mnt/bench-tmpfs"
	os.MkdirAll(tm, 0o755)
	if err := run("mount", "-t", "tmpfs", "-o", "size=512m", "benchtmpfs", tm); err != nil {
		return err
	}
	b.fss = append(b.fss, benchFS{"tmpfs", tm})
	if dev := os.Getenv("WB_EXT4_DEV"); dev != "" {
		em := "/mnt/bench-ext4"
		os.MkdirAll(em, 0o755)
		if err := run("mount", "-t", "ext4", dev, em); err != nil {
			return err
		}
		b.fss = append(b.fss, benchFS{"ext4", em})
	} else {
		fmt.Println("wbbench: no WB_EXT4_DEV: tmpfs only")
	}
	// The daemon's log goes to a disk of its own (fsync costs what it
	// costs there), else to /tmp.
	b.logDir, b.logFS = "/tmp/bench-log", "tmpfs"
	if dev := os.Getenv("WB_XFS_DEV"); dev != "" {
		exec.Command("modprobe", "xfs").Run()
		os.MkdirAll("/mnt/bench-log", 0o755)
		if err := run("mount", "-t", "xfs", dev, "/mnt/bench-log"); err == nil {
			b.logDir, b.logFS = "/mnt/bench-log", "xfs"
		} else {
			fmt.Println("wbbench: log on /tmp:", err)
		}
	}
	b.out.LogFS = b.logFS
	return os.MkdirAll(b.logDir, 0o755)
}

func (b *bench) cleanup() {
	b.stopProcs()
	if b.c != nil {
		b.c.Close()
		b.c = nil
	}
	exec.Command("rmmod", "wbarrier").Run()
}

func (b *bench) insmod(maxRecords int, params ...string) error {
	args := append([]string{b.module, "max_records=" + strconv.Itoa(maxRecords)}, params...)
	if err := run("insmod", args...); err != nil {
		return err
	}
	c, err := genl.Dial()
	if err != nil {
		return err
	}
	b.c = c
	return nil
}

func (b *bench) rmmod() error {
	if b.c != nil {
		b.c.Close()
		b.c = nil
	}
	return run("rmmod", "wbarrier")
}

func (b *bench) startProc(stderr io.Writer, name string, args ...string) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, stdout: out, lines: bufio.NewScanner(out), name: filepath.Base(name) + " " + strings.Join(args, " ")}
	b.procs = append(b.procs, p)
	return p, nil
}

// stopProcs ends the consumers with SIGTERM and returns the last line each
// printed.
func (b *bench) stopProcs() []string {
	var last []string
	var cpu float64
	for _, p := range b.procs {
		p.cmd.Process.Signal(unix.SIGTERM)
		l := ""
		for p.lines.Scan() {
			l = p.lines.Text()
		}
		if err := p.cmd.Wait(); err != nil {
			fmt.Printf("wbbench: %s: %v\n", p.name, err)
		}
		if ps := p.cmd.ProcessState; ps != nil {
			cpu += (ps.UserTime() + ps.SystemTime()).Seconds()
		}
		last = append(last, l)
	}
	b.procs = nil
	b.lastCPU = cpu
	return last
}

// start puts the system in condition c.
func (b *bench) start(c condition, rep int) error {
	if c.module {
		if err := b.insmod(b.maxRecords, c.params...); err != nil {
			return err
		}
	}
	b.watches = nil
	var mnts []string
	if c.watch {
		for _, f := range b.fss {
			mnts = append(mnts, f.Mnt)
		}
	}
	if c.beside {
		mnts = append(mnts, besideMnt)
	}
	for _, m := range mnts {
		w, err := b.c.Watch(m)
		if err != nil {
			return fmt.Errorf("watch %s: %w", m, err)
		}
		b.watches = append(b.watches, w)
	}
	b.logs = nil
	switch c.consumer {
	case "daemon":
		defer b.settle()
		for i, w := range b.watches {
			log := filepath.Join(b.logDir, fmt.Sprintf("%s-%d.log", b.fss[i].Name, rep))
			os.Remove(log)
			b.logs = append(b.logs, log)
			// Its "sealed epoch N" lines would drown the report.
			if _, err := b.startProc(io.Discard, b.wbctl, "daemon", "--log", log, strconv.Itoa(int(w.ID))); err != nil {
				return err
			}
		}
	case "fanotify":
		args := []string{"fanotify"}
		for _, f := range b.fss {
			args = append(args, f.Mnt)
		}
		p, err := b.startProc(os.Stderr, b.self, args...)
		if err != nil {
			return err
		}
		if !p.lines.Scan() || p.lines.Text() != "ready" {
			return fmt.Errorf("the fanotify listener did not start")
		}
	}
	return nil
}

// between runs, outside the timed region: close the epoch; without a
// consumer, acknowledge its records so that the ring never fills.
func (b *bench) between(c condition) error {
	for _, w := range b.watches {
		br, err := b.c.Barrier(w.ID)
		if err != nil {
			return fmt.Errorf("barrier: %w", err)
		}
		if br.Lossy {
			b.out.LossyEpochs++
		}
		if c.consumer == "" {
			if _, err := b.c.Records(w.ID, br.NextSeq); err != nil {
				return fmt.Errorf("records: %w", err)
			}
		}
	}
	b.settle()
	return nil
}

// settle waits until the consumers have caught up (the daemons' logs stop
// growing; the fanotify listener gets a moment), so that a run does not pay
// for draining what the previous run's clean-up left, nor for a daemon's
// start.
func (b *bench) settle() {
	if len(b.procs) == 0 {
		return
	}
	if len(b.logs) == 0 {
		time.Sleep(50 * time.Millisecond)
		return
	}
	size := func() (n int64) {
		for _, l := range b.logs {
			if fi, err := os.Stat(l); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	// Unchanged for 200 ms: longer than the daemon's --min-interval.
	last, same := size(), 0
	for deadline := time.Now().Add(3 * time.Second); same < 10 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if n := size(); n == last && n > 0 {
			same++
		} else {
			last, same = n, 0
		}
	}
}

func (b *bench) stop(c condition) error {
	last := b.stopProcs()
	if c.consumer != "" {
		b.out.ConsumerCPUSeconds[c.Name] += b.lastCPU
	}
	if c.consumer == "fanotify" && len(last) == 1 {
		var ev struct{ Events, Overflows int64 }
		if err := json.Unmarshal([]byte(last[0]), &ev); err == nil {
			b.out.FanotifyEvents += ev.Events
			b.out.FanotifyOverflows += ev.Overflows
		}
	}
	for _, w := range b.watches {
		st, err := b.c.Status(w.ID)
		if err != nil {
			return err
		}
		b.out.RecordsEmitted += st.Emitted
		b.out.RecordsByCondition[c.Name] += st.Emitted
		b.out.RecordsLost += st.Lost
		if err := b.c.Unwatch(w.ID); err != nil {
			return fmt.Errorf("unwatch: %w", err)
		}
	}
	b.watches = nil
	if c.module {
		return b.rmmod()
	}
	return nil
}

func (b *bench) load(kind, dir string, n int) (loadResult, error) {
	var r loadResult
	out, err := exec.Command(b.self, "load", kind, dir, strconv.Itoa(n)).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return r, fmt.Errorf("load %s %s: %v: %s", kind, dir, err, ee.Stderr)
		}
		return r, err
	}
	err = json.Unmarshal(out, &r)
	return r, err
}

func (b *bench) workloads() error {
	t0 := time.Now()
	res := map[string]*Result{}
	for rep := 0; rep < b.reps; rep++ {
		for k := range conditions {
			c := conditions[(k+rep)%len(conditions)]
			if err := b.start(c, rep); err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
			for _, f := range b.fss {
				for _, kind := range b.kinds {
					dir := filepath.Join(f.Mnt, fmt.Sprintf("%s-%d", c.Name, rep))
					if err := os.Mkdir(dir, 0o755); err != nil {
						return err
					}
					unix.Sync()
					r, err := b.load(kind, dir, b.out.Ops[kind])
					if err != nil {
						return fmt.Errorf("%s: %w", c.Name, err)
					}
					if err := os.RemoveAll(dir); err != nil {
						return err
					}
					key := f.Name + "/" + kind + "/" + c.Name
					if res[key] == nil {
						res[key] = &Result{FS: f.Name, Workload: kind, Condition: c.Name}
						b.out.Results = append(b.out.Results, res[key])
					}
					x := res[key]
					x.WallNs = append(x.WallNs, r.NsOp)
					x.ChunkMedNs = append(x.ChunkMedNs, r.ChunkMedNs)
					x.ChunkMinNs = append(x.ChunkMinNs, r.ChunkMinNs)
					if err := b.between(c); err != nil {
						return fmt.Errorf("%s: %w", c.Name, err)
					}
				}
			}
			if err := b.stop(c); err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
		}
		fmt.Printf("wbbench: repetition %d of %d done after %.0f s\n", rep+1, b.reps, time.Since(t0).Seconds())
	}
	// Ratios against "unloaded" of the same repetition: neighbours in time,
	// so that slow phases of the host cancel out.
	for _, r := range b.out.Results {
		base := res[r.FS+"/"+r.Workload+"/unloaded"]
		var ratios []float64
		for i := range r.ChunkMedNs {
			ratios = append(ratios, r.ChunkMedNs[i]/base.ChunkMedNs[i])
		}
		r.MedianNs = median(r.ChunkMedNs)
		r.SpreadPct = spreadPct(r.ChunkMedNs)
		r.Ratio = median(ratios)
		r.RatioMin, r.RatioMax = minMax(ratios)
		lo, _ := minMax(r.ChunkMedNs)
		blo, _ := minMax(base.ChunkMedNs)
		r.BestRatio = lo / blo
		r.WallRatio = median(r.WallNs) / median(base.WallNs)
	}
	b.out.WorkloadSeconds = time.Since(t0).Seconds()
	return nil
}

func countCPUs() int {
	var s unix.CPUSet
	if unix.SchedGetaffinity(0, &s) != nil {
		return 0
	}
	return s.Count()
}

// meminfo returns /proc/meminfo in KiB.
func meminfo() map[string]int64 {
	m := map[string]int64{}
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return m
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			m[strings.TrimSuffix(f[0], ":")] = v
		}
	}
	return m
}
