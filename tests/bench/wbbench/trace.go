package main

import (
	"bufio"
	"compress/gzip"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The guest's half of ci/trace (docs/bench.md, "Instruction by
// instruction"): the bench's 4 KiB rewrite under each condition, for a
// debugger on the host that single-steps the pwrite64 system calls whose
// count is traceCount at a whole MiB. The job log carries what the host
// needs to name the instructions: the kernel's text symbols (gzip, base64),
// the module's after each load, and which condition and filesystem each
// write's offset stands for.
const (
	traceCount = 4096
	traceStep  = 1 << 20 // the offsets of traced writes: 1 MiB, 2 MiB...
	// writes a writer makes before it gives up on the debugger: some
	// minutes of the guest's time.
	maxUntraced = 20000000
)

func runTrace(args []string) error {
	fl := flag.NewFlagSet("trace", flag.ContinueOnError)
	names := fl.String("conditions", "unloaded,null,floor,watched", "the conditions traced, comma-separated")
	writes := fl.Int("writes", 3, "traced rewrites per condition and filesystem")
	if err := fl.Parse(args); err != nil {
		return err
	}
	var conds []condition
	for _, n := range strings.Split(*names, ",") {
		i := indexCondition(n)
		if i < 0 {
			return fmt.Errorf("-conditions: unknown condition %q", n)
		}
		if conditions[i].consumer != "" {
			return fmt.Errorf("-conditions: %q runs a consumer, which the trace would step through too", n)
		}
		conds = append(conds, conditions[i])
	}
	b := &bench{maxRecords: 1100000, module: os.Getenv("WB_MODULE")}
	if b.module == "" {
		b.module = "/wb/wbarrier.ko"
	}
	var err error
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	defer b.cleanup()
	if err := b.setup(); err != nil {
		return err
	}
	if err := printKernelSymbols(); err != nil {
		return err
	}
	// Stepping stops the guest's tasks for as long as it takes.
	os.WriteFile("/proc/sys/kernel/hung_task_timeout_secs", []byte("0"), 0)
	fmt.Println("==WBTRACE-READY==")
	for i, c := range conds {
		if err := b.start(c, 0); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		if err := printModuleSymbols(); err != nil {
			return err
		}
		for j, f := range b.fss {
			pos := int64(i*len(b.fss)+j+1) * traceStep
			fmt.Printf("WBTRACE-LABEL %d %s %s\n", pos, f.Name, c.Name)
			// In a child, as the bench's writers: the module ends a
			// dead writer's opens by itself, which under floor and
			// null, whose hooks never see the close, unwatch waits
			// for.
			if err := run(b.self, "trace-writes", filepath.Join(f.Mnt, "trace-"+c.Name),
				strconv.FormatInt(pos, 10), strconv.Itoa(*writes)); err != nil {
				return err
			}
		}
		if err := b.stop(c); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
	}
	fmt.Println("==WBTRACE-END==")
	return nil
}

func indexCondition(name string) int {
	for i, c := range conditions {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// runTraceWrites writes the page at POS of PATH once untraced (it
// allocates the page and, watched, records the file) and then rewrites it
// as the bench's pwrite does, a rewrite the epoch's record already covers,
// until N have been traced: the debugger returns one byte more than
// written from a write it traced. That is the only signal it has: until
// it has set its breakpoint, the writes are not traced.
func runTraceWrites(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: wbbench trace-writes PATH POS N")
	}
	path := args[0]
	pos, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		return fmt.Errorf("POS: %w", err)
	}
	n, err := strconv.Atoi(args[2])
	if err != nil {
		return fmt.Errorf("N: %w", err)
	}
	fd, err := openFile(path, unix.O_CREAT|unix.O_RDWR)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, err := unix.Pwrite(fd, block[:traceCount-1], pos); err != nil {
		return fmt.Errorf("pwrite %s: %w", path, err)
	}
	for traced, k := 0, 0; traced < n; k++ {
		if k == maxUntraced {
			return fmt.Errorf("%d writes, %d traced: is the debugger attached? (ci/trace)", k, traced)
		}
		w, err := unix.Pwrite(fd, block[:traceCount], pos)
		if err != nil {
			return fmt.Errorf("pwrite %s: %w", path, err)
		}
		if w == traceCount+1 {
			traced++
		}
	}
	return nil
}

// printKernelSymbols prints the kernel's text symbols from /proc/kallsyms
// (addresses after KASLR), gzipped and in base64, between markers.
func printKernelSymbols() error {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Println("==WBTRACE-KALLSYMS-BEGIN==")
	enc := base64.NewEncoder(base64.StdEncoding, &lineWriter{w: os.Stdout, n: 76})
	zw := gzip.NewWriter(enc)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 3 && (fs[1] == "t" || fs[1] == "T") {
			fmt.Fprintf(zw, "%s %s\n", fs[0], fs[2])
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	fmt.Println("\n==WBTRACE-KALLSYMS-END==")
	return nil
}

// printModuleSymbols prints the text symbols of modules (wbarrier's where
// this load put it, ftrace's trampolines), one "WBTRACE-SYM ADDR NAME
// [MODULE]" line each.
func printModuleSymbols() error {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Println("WBTRACE-MODULE")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 4 && (fs[1] == "t" || fs[1] == "T") {
			fmt.Printf("WBTRACE-SYM %s %s %s\n", fs[0], fs[2], fs[3])
		}
	}
	return sc.Err()
}

// lineWriter breaks what it writes into lines of n bytes.
type lineWriter struct {
	w   *os.File
	n   int
	col int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	for done := 0; done < len(p); {
		k := min(len(p)-done, l.n-l.col)
		if _, err := l.w.Write(p[done : done+k]); err != nil {
			return done, err
		}
		done += k
		if l.col += k; l.col == l.n {
			if _, err := l.w.Write([]byte{'\n'}); err != nil {
				return done, err
			}
			l.col = 0
		}
	}
	return len(p), nil
}
