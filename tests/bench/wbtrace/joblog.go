package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// What "wbbench trace" prints on the job log (tests/bench/wbbench/trace.go).
const (
	markReady     = "==WBTRACE-READY=="
	markEnd       = "==WBTRACE-END=="
	markSymsBegin = "==WBTRACE-KALLSYMS-BEGIN=="
	markSymsEnd   = "==WBTRACE-KALLSYMS-END=="
	prefixModule  = "WBTRACE-MODULE"
	prefixSym     = "WBTRACE-SYM "
	prefixLabel   = "WBTRACE-LABEL "
	traceCount    = 4096
	traceStep     = 1 << 20
)

type symbol struct {
	addr uint64
	name string
}

// A symtab is sorted by address.
type symtab []symbol

// farthest a pc may lie beyond the symbol it is attributed to.
const farthest = 64 << 10

// name is the symbol pc lies in, "?" if none.
func (t symtab) name(pc uint64) string {
	i := sort.Search(len(t), func(i int) bool { return t[i].addr > pc }) - 1
	if i < 0 || pc-t[i].addr > farthest {
		return "?"
	}
	return t[i].name
}

func (t symtab) lookup(name string) (uint64, bool) {
	for _, s := range t {
		if s.name == name {
			return s.addr, true
		}
	}
	return 0, false
}

// A label is what a traced write's offset stands for, and the symbols
// that name its instructions (the kernel's and the modules' as loaded
// then).
type label struct {
	FS, Condition string
	syms          symtab
}

type jobLog struct {
	ready, end bool
	kernel     symtab
	labels     map[uint64]label
}

// parseJobLog reads what the guest's half printed so far.
func parseJobLog(r io.Reader) (*jobLog, error) {
	jl := &jobLog{labels: map[uint64]label{}}
	var b64 strings.Builder
	var modules symtab
	inSyms := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case line == markReady:
			jl.ready = true
		case line == markEnd:
			jl.end = true
		case line == markSymsBegin:
			inSyms = true
		case line == markSymsEnd:
			inSyms = false
			syms, err := decodeKernelSymbols(b64.String())
			if err != nil {
				return nil, err
			}
			jl.kernel = syms
		case inSyms:
			b64.WriteString(line)
		case line == prefixModule:
			modules = nil
		case strings.HasPrefix(line, prefixSym):
			f := strings.Fields(line[len(prefixSym):])
			if len(f) != 3 {
				return nil, fmt.Errorf("bad symbol line %q", line)
			}
			addr, err := strconv.ParseUint(f[0], 16, 64)
			if err != nil {
				return nil, fmt.Errorf("bad symbol line %q: %w", line, err)
			}
			modules = append(modules, symbol{addr, f[1] + " " + f[2]})
		case strings.HasPrefix(line, prefixLabel):
			f := strings.Fields(line[len(prefixLabel):])
			if len(f) != 3 {
				return nil, fmt.Errorf("bad label line %q", line)
			}
			pos, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bad label line %q: %w", line, err)
			}
			syms := append(append(symtab{}, jl.kernel...), modules...)
			sort.Slice(syms, func(i, j int) bool { return syms[i].addr < syms[j].addr })
			jl.labels[pos] = label{FS: f[1], Condition: f[2], syms: syms}
		}
	}
	return jl, sc.Err()
}

// decodeKernelSymbols reads "ADDR NAME" lines, gzipped, in base64.
func decodeKernelSymbols(b64 string) (symtab, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("kernel symbols: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("kernel symbols: %w", err)
	}
	var t symtab
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		addr, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			return nil, fmt.Errorf("kernel symbols: %q: %w", sc.Text(), err)
		}
		t = append(t, symbol{addr, f[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kernel symbols: %w", err)
	}
	sort.Slice(t, func(i, j int) bool { return t[i].addr < t[j].addr })
	return t, nil
}
