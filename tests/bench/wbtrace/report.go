package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// A segment is consecutive instructions in one function.
type segment struct {
	Function     string `json:"fn"`
	Instructions int    `json:"n"`
}

// A write is one condition's traced write on one filesystem: how many
// instructions each of its writes executed, and the path of the one that
// executed fewest (another may have had more to do: a timestamp's tick
// that makes ext4 log the inode).
type write struct {
	FS           string         `json:"fs"`
	Condition    string         `json:"condition"`
	Instructions []int          `json:"instructions"`
	Functions    map[string]int `json:"functions"`
	Path         []segment      `json:"path"`
}

type report struct {
	Entry  string  `json:"entry"`
	Writes []write `json:"writes"`
}

func newReport(jl *jobLog, traces []trace) (*report, error) {
	rep := &report{Entry: entrySymbol}
	index := map[uint64]int{}
	for _, t := range traces {
		l, ok := jl.labels[t.pos]
		if !ok {
			return nil, fmt.Errorf("a traced write at %d has no label in the job log", t.pos)
		}
		i, seen := index[t.pos]
		if !seen {
			i = len(rep.Writes)
			index[t.pos] = i
			rep.Writes = append(rep.Writes, write{FS: l.FS, Condition: l.Condition})
		}
		w := &rep.Writes[i]
		w.Instructions = append(w.Instructions, len(t.pcs))
		if slices.Min(w.Instructions) < len(t.pcs) {
			continue
		}
		w.Functions, w.Path = map[string]int{}, nil
		for _, pc := range t.pcs {
			fn := l.syms.name(pc)
			w.Functions[fn]++
			if n := len(w.Path); n > 0 && w.Path[n-1].Function == fn {
				w.Path[n-1].Instructions++
			} else {
				w.Path = append(w.Path, segment{fn, 1})
			}
		}
	}
	if len(rep.Writes) == 0 {
		return nil, fmt.Errorf("no write was traced")
	}
	return rep, nil
}

func (r *report) writeJSON(path string) error {
	buf, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(buf, '\n'), 0o644)
}

// print writes, per filesystem, the instructions of each condition's
// shortest write in all and in every function whose count differs between the
// conditions, the largest differences first.
func (r *report) print(out io.Writer) {
	var fss []string
	byFS := map[string][]write{}
	for _, w := range r.Writes {
		if byFS[w.FS] == nil {
			fss = append(fss, w.FS)
		}
		byFS[w.FS] = append(byFS[w.FS], w)
	}
	for _, fs := range fss {
		ws := byFS[fs]
		fmt.Fprintf(out, "%s: instructions of a 4 KiB rewrite, %s to its return\n", fs, r.Entry)
		fmt.Fprintf(out, "%-40s", "")
		for _, w := range ws {
			fmt.Fprintf(out, " %10s", w.Condition)
		}
		fmt.Fprintf(out, "\n%-40s", "all (each write)")
		for _, w := range ws {
			fmt.Fprintf(out, " %10s", each(w.Instructions))
		}
		fmt.Fprintln(out)
		for _, fn := range differing(ws) {
			fmt.Fprintf(out, "%-40s", fn)
			for _, w := range ws {
				fmt.Fprintf(out, " %10d", w.Functions[fn])
			}
			fmt.Fprintln(out)
		}
		fmt.Fprintln(out)
	}
}

// each is a write's counts: one number if all its writes agree, else
// the range.
func each(n []int) string {
	lo, hi := n[0], n[0]
	for _, v := range n {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// differing is the functions whose counts are not the same in all of ws,
// the largest spread first.
func differing(ws []write) []string {
	spread := map[string]int{}
	for _, w := range ws {
		for fn := range w.Functions {
			spread[fn] = 0
		}
	}
	for fn := range spread {
		lo, hi := w0(ws, fn), w0(ws, fn)
		for _, w := range ws {
			lo, hi = min(lo, w.Functions[fn]), max(hi, w.Functions[fn])
		}
		spread[fn] = hi - lo
	}
	var fns []string
	for fn, s := range spread {
		if s > 0 {
			fns = append(fns, fn)
		}
	}
	sort.Slice(fns, func(i, j int) bool {
		if spread[fns[i]] != spread[fns[j]] {
			return spread[fns[i]] > spread[fns[j]]
		}
		return strings.Compare(fns[i], fns[j]) < 0
	})
	return fns
}

func w0(ws []write, fn string) int { return ws[0].Functions[fn] }
