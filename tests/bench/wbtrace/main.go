// Command wbtrace is the host's half of ci/trace (docs/bench.md,
// "Instruction by instruction"): it connects to the guest's qemu as a
// debugger, waits for "wbbench trace" to say it is ready, breaks on
// __x64_sys_pwrite64, and single-steps each traced write (4096 bytes at a
// whole MiB) from that function's first instruction to its return. It
// names every instruction by the symbols the guest printed and reports,
// per filesystem, how many instructions each condition's write executed
// in each function: a table on stdout, every write's path in JSON.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"time"
)

const entrySymbol = "__x64_sys_pwrite64"

// maxSteps bounds one write's trace (about 3,000 instructions unwatched).
const maxSteps = 200000

func main() {
	addr := flag.String("addr", "", "qemu's gdbstub, host:port")
	logPath := flag.String("log", "", "the guest's job log (build/KVER/job.log)")
	jsonPath := flag.String("json", "", "where to write the JSON report")
	wait := flag.Duration("wait", 10*time.Minute, "how long to wait for the guest to connect and be ready")
	flag.Parse()
	if *addr == "" || *logPath == "" || *jsonPath == "" {
		fmt.Fprintln(os.Stderr, "usage: wbtrace -addr HOST:PORT -log JOBLOG -json OUT")
		os.Exit(2)
	}
	if err := run(*addr, *logPath, *jsonPath, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "wbtrace:", err)
		os.Exit(1)
	}
}

// A trace is the instructions one traced write executed, in order.
type trace struct {
	pos uint64
	pcs []uint64
}

func run(addr, logPath, jsonPath string, wait time.Duration) error {
	rm, err := dial(addr, time.Now().Add(wait))
	if err != nil {
		return err
	}
	defer rm.close()
	jl, err := untilReady(rm, logPath, wait)
	if err != nil {
		return err
	}
	entry, ok := jl.kernel.lookup(entrySymbol)
	if !ok {
		return fmt.Errorf("the guest's kernel has no symbol %s", entrySymbol)
	}
	if err := rm.breakpoint(entry, true); err != nil {
		return err
	}
	var traces []trace
	for {
		t, err := nextTrace(rm, entry)
		if err == errClosed {
			break
		}
		if err != nil {
			return err
		}
		if t != nil {
			traces = append(traces, *t)
			fmt.Fprintf(os.Stderr, "wbtrace: the write at %d MiB: %d instructions\n", t.pos/traceStep, len(t.pcs))
		}
	}
	buf, err := os.ReadFile(logPath)
	if err != nil {
		return err
	}
	if jl, err = parseJobLog(bytes.NewReader(buf)); err != nil {
		return err
	}
	if !jl.end {
		return fmt.Errorf("the guest did not finish its writes (no %s in %s)", markEnd, logPath)
	}
	rep, err := newReport(jl, traces)
	if err != nil {
		return err
	}
	rep.print(os.Stdout)
	return rep.writeJSON(jsonPath)
}

// untilReady lets the guest run until the job log says it is ready, then
// stops it, and returns what the log holds then.
func untilReady(rm *remote, logPath string, wait time.Duration) (*jobLog, error) {
	ready := make(chan struct{})
	var jl *jobLog
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		for {
			select {
			case <-quit:
				return
			case <-time.After(200 * time.Millisecond):
			}
			buf, err := os.ReadFile(logPath)
			if err != nil || !bytes.Contains(buf, []byte(markReady)) {
				continue
			}
			if j, err := parseJobLog(bytes.NewReader(buf)); err == nil && j.ready && j.kernel != nil {
				jl = j
				close(ready)
				return
			}
		}
	}()
	timer := time.AfterFunc(wait, func() { rm.close() })
	defer timer.Stop()
	if err := rm.cont(ready); err != nil {
		if err == errClosed {
			return nil, fmt.Errorf("the guest ended before it was ready (see %s)", logPath)
		}
		return nil, err
	}
	if jl == nil {
		return nil, fmt.Errorf("the guest stopped before it was ready")
	}
	return jl, nil
}

// nextTrace lets the guest run to the next call of the entry and traces
// it if it is a traced write; nil for another pwrite64.
func nextTrace(rm *remote, entry uint64) (*trace, error) {
	if err := rm.cont(nil); err != nil {
		return nil, err
	}
	pc, err := rm.reg(regRIP)
	if err != nil {
		return nil, err
	}
	if pc != entry {
		return nil, fmt.Errorf("stopped at %#x, not at the breakpoint %#x", pc, entry)
	}
	// __x64_sys_pwrite64(const struct pt_regs *regs): count in regs->dx,
	// the offset in regs->r10.
	regs, err := rm.reg(regRDI)
	if err != nil {
		return nil, err
	}
	count, err := rm.read64(regs + ptRegsDX)
	if err != nil {
		return nil, err
	}
	pos, err := rm.read64(regs + ptRegsR10)
	if err != nil {
		return nil, err
	}
	// Off while it steps: continuing from a breakpoint's own address
	// would stop there again.
	if err := rm.breakpoint(entry, false); err != nil {
		return nil, err
	}
	var t *trace
	if count == traceCount && pos != 0 && pos%traceStep == 0 {
		pcs, err := stepToReturn(rm, pc)
		if err != nil {
			return nil, err
		}
		t = &trace{pos: pos, pcs: pcs}
		// The writer's sign that this write was traced: one byte more.
		ret, err := rm.reg(regRAX)
		if err != nil {
			return nil, err
		}
		if ret == traceCount {
			if err := rm.setReg(regRAX, traceCount+1); err != nil {
				return nil, err
			}
		}
	} else if err := rm.step(); err != nil {
		return nil, err
	}
	return t, rm.breakpoint(entry, true)
}

// Offsets in x86-64's struct pt_regs.
const (
	ptRegsR10 = 7 * 8
	ptRegsDX  = 12 * 8
)

// stepToReturn single-steps from pc, a function's first instruction, to
// its return, and returns the instructions executed.
func stepToReturn(rm *remote, pc uint64) ([]uint64, error) {
	sp, err := rm.reg(regRSP)
	if err != nil {
		return nil, err
	}
	ret, err := rm.read64(sp)
	if err != nil {
		return nil, err
	}
	pcs := []uint64{pc}
	for len(pcs) < maxSteps {
		if err := rm.step(); err != nil {
			return nil, err
		}
		if pc, err = rm.reg(regRIP); err != nil {
			return nil, err
		}
		if pc == ret {
			now, err := rm.reg(regRSP)
			if err != nil {
				return nil, err
			}
			if now > sp {
				return pcs, nil
			}
		}
		pcs = append(pcs, pc)
	}
	return nil, fmt.Errorf("no return after %d instructions", maxSteps)
}
