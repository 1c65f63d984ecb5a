package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"
)

// Output is build/bench.json.
type Output struct {
	Clock             string         `json:"clock"` // wall or icount
	Kernel            string         `json:"kernel"`
	CPUs              int            `json:"cpus"`
	MemMB             int64          `json:"mem_mb"`
	Reps              int            `json:"reps"`
	Scale             float64        `json:"scale"`
	Ops               map[string]int `json:"ops_per_run"`
	LogFS             string         `json:"daemon_log_fs"`
	WorkloadSeconds   float64        `json:"workload_seconds"`
	Results           []*Result      `json:"results"`
	RecordsEmitted    uint64         `json:"records_emitted"`
	RecordsLost       uint64         `json:"records_lost"`
	LossyEpochs       int            `json:"lossy_epochs"`
	FanotifyEvents    int64          `json:"fanotify_events"`
	FanotifyOverflows int64          `json:"fanotify_overflows"`
	// CPU seconds (user+system) of the consumer processes, summed over the
	// repetitions, per condition.
	ConsumerCPUSeconds map[string]float64 `json:"consumer_cpu_seconds"`
	// Records emitted, summed over the repetitions, per condition.
	RecordsByCondition map[string]uint64 `json:"records_by_condition"`
	Barrier            []BarrierResult   `json:"barrier"`
	BigEpoch           *BigEpoch         `json:"big_epoch,omitempty"`
	Goals              []Goal            `json:"goals"`
}

// Result is one workload on one filesystem in one condition.
type Result struct {
	FS        string `json:"fs"`
	Workload  string `json:"workload"`
	Condition string `json:"condition"`
	// Per repetition: wall clock of the run, its median chunk, its fastest
	// chunk (see loadResult). The ratios below use ChunkMedNs.
	WallNs     []float64 `json:"wall_ns_op"`
	ChunkMedNs []float64 `json:"chunk_median_ns_op"`
	ChunkMinNs []float64 `json:"chunk_min_ns_op"`
	MedianNs   float64   `json:"median_ns_op"` // median over repetitions of ChunkMedNs
	SpreadPct  float64   `json:"spread_pct"`   // (max-min)/median of ChunkMedNs
	// Wall clock: ratio of the median wall times, for comparison.
	WallRatio float64 `json:"wall_ratio"`
	// Ratio to "unloaded" in the same repetition: median, min, max.
	Ratio    float64 `json:"ratio"`
	RatioMin float64 `json:"ratio_min"`
	RatioMax float64 `json:"ratio_max"`
	// Fastest repetition against the fastest "unloaded": the host's noise
	// only ever adds time, so the minimum is a robust estimate too.
	BestRatio float64 `json:"best_ratio"`
}

type BarrierResult struct {
	FS            string  `json:"fs"`
	Load          bool    `json:"load"`
	Writers       int     `json:"writers"`
	N             int     `json:"n"`
	P50us         float64 `json:"p50_us"`
	P99us         float64 `json:"p99_us"`
	MaxUs         float64 `json:"max_us"`
	WriterMaxOpUs float64 `json:"writer_max_op_us"` // longest pwrite seen by the writers
	Writes        int64   `json:"writes"`
}

type BigEpoch struct {
	Objects            int     `json:"objects"`
	MaxRecords         int     `json:"max_records"`
	RingBytes          int64   `json:"ring_bytes"`
	CreateSeconds      float64 `json:"create_seconds"`
	CreateNsOp         float64 `json:"create_ns_op"`
	Records            uint64  `json:"records"`
	Expected           uint64  `json:"expected"`
	Lost               uint64  `json:"lost"`
	Lossy              bool    `json:"lossy"`
	Lossless           bool    `json:"lossless"`
	BarrierUs          float64 `json:"barrier_us"`   // the barrier closing the big epoch
	DumpSeconds        float64 `json:"dump_seconds"` // genl dump into Go, no log
	DumpRecordsPerSec  float64 `json:"dump_records_per_sec"`
	DrainSeconds       float64 `json:"drain_seconds"` // wbctl daemon --once, process start to exit
	DrainRecordsPerSec float64 `json:"drain_records_per_sec"`
	// The same drain to a log in memory, without syncfs: its CPU cost,
	// which the icount clock measures where it skips disk waits.
	DrainMemSeconds       float64 `json:"drain_mem_seconds"`
	DrainMemRecordsPerSec float64 `json:"drain_mem_records_per_sec"`
	LogBytes              int64   `json:"log_bytes"`
	SlabBeforeKB          int64   `json:"slab_before_kb"`
	SlabAfterKB           int64   `json:"slab_after_kb"`
	SlabDrainedKB         int64   `json:"slab_drained_kb"`
	SUnreclaimBeforeKB    int64   `json:"sunreclaim_before_kb"`
	SUnreclaimAfterKB     int64   `json:"sunreclaim_after_kb"`
	SUnreclaimDrainedKB   int64   `json:"sunreclaim_drained_kb"`
	RecordKB              int64   `json:"record_kb"` // SUnreclaim freed by the drain
	BytesPerRecord        float64 `json:"bytes_per_record"`
}

type Goal struct {
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

func median(v []float64) float64 { return percentile(v, 50) }

// percentile by nearest rank; 100 is the maximum.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if p == 50 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func minMax(v []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

func spreadPct(v []float64) float64 {
	lo, hi := minMax(v)
	return (hi - lo) / median(v) * 100
}

// ioBound: with the icount clock, time spent waiting for a disk is not
// measured (the clock skips ahead), so fsync-bound results mean nothing.
func (o *Output) ioBound(r *Result) bool {
	return o.Clock == "icount" && r.FS != "tmpfs" && r.Workload == "append"
}

func (o *Output) find(fs, wl, cond string) *Result {
	for _, r := range o.Results {
		if r.FS == fs && r.Workload == wl && r.Condition == cond {
			return r
		}
	}
	return nil
}

func pct(r float64) string { return fmt.Sprintf("%+.1f %%", (r-1)*100) }

// ratioText is the median paired ratio, its range and the best-of ratio.
func ratioText(r *Result) string {
	return fmt.Sprintf("%s [%+.1f, %+.1f], best-of %s", pct(r.Ratio), (r.RatioMin-1)*100, (r.RatioMax-1)*100, pct(r.BestRatio))
}

func evaluate(o *Output) []Goal {
	var g []Goal
	fss := []string{}
	for _, r := range o.Results {
		if r.Workload == "pwrite" && r.Condition == "unloaded" {
			fss = append(fss, r.FS)
		}
	}
	for _, fs := range fss {
		if r := o.find(fs, "pwrite", "loaded"); r != nil {
			g = append(g, Goal{fs + ": 4 KiB pwrite, loaded and unwatched, ≤ +2 %", ratioText(r), r.Ratio <= 1.02})
		}
		if r := o.find(fs, "pwrite", "beside"); r != nil {
			g = append(g, Goal{fs + ": 4 KiB pwrite, unwatched beside a watched filesystem, ≤ +2 %", ratioText(r), r.Ratio <= 1.02})
		}
		if g1, ok := floorGoal(o, fs); ok {
			g = append(g, g1)
		}
		if r := o.find(fs, "pwrite", "daemon"); r != nil {
			g = append(g, Goal{fs + ": 4 KiB pwrite, watched + draining, ≤ +3 %", ratioText(r), r.Ratio <= 1.03})
		}
		if r := o.find(fs, "create", "daemon"); r != nil {
			g = append(g, Goal{fs + ": create+write+unlink, watched + draining, ≤ +10 %", ratioText(r), r.Ratio <= 1.10})
		}
	}
	worse := ""
	all := true
	for _, r := range o.Results {
		if r.Condition != "daemon" || o.ioBound(r) {
			continue
		}
		fa := o.find(r.FS, r.Workload, "fanotify")
		if fa == nil {
			continue
		}
		if r.Ratio >= fa.Ratio {
			all = false
			worse += fmt.Sprintf(" %s/%s (%s vs %s)", r.FS, r.Workload, pct(r.Ratio), pct(fa.Ratio))
		}
	}
	m := "lower on every workload"
	if !all {
		m = "not lower on:" + worse
	}
	if len(o.Results) > 0 {
		g = append(g, Goal{"watched + draining costs less than fanotify on every workload", m, all})
	}
	for _, b := range o.Barrier {
		if !b.Load {
			g = append(g, Goal{b.FS + ": barrier idle p99 ≤ 1 ms", fmt.Sprintf("p50 %.0f µs, p99 %.0f µs, max %.0f µs", b.P50us, b.P99us, b.MaxUs), b.P99us <= 1000})
		} else {
			lim := b.WriterMaxOpUs + 1000
			g = append(g, Goal{b.FS + ": barrier under 2 writers: p99 ≤ longest write + 1 ms",
				fmt.Sprintf("p50 %.0f µs, p99 %.0f µs, max %.0f µs; longest write %.0f µs", b.P50us, b.P99us, b.MaxUs, b.WriterMaxOpUs), b.P99us <= lim})
		}
	}
	if e := o.BigEpoch; e != nil {
		rate, secs, where := e.DrainRecordsPerSec, e.DrainSeconds, "log on disk"
		if o.Clock == "icount" {
			rate, secs, where = e.DrainMemRecordsPerSec, e.DrainMemSeconds, "log in memory: icount skips disk waits"
		}
		g = append(g, Goal{"drain kernel → log ≥ 200 k records/s", fmt.Sprintf("%.0f k records/s (%d records in %.2f s, %s)", rate/1e3, e.Records, secs, where), rate >= 200e3})
		g = append(g, Goal{fmt.Sprintf("%d objects in one epoch, no loss", e.Objects),
			fmt.Sprintf("%d of %d records, lost %d, lossy %v; records used %d KiB (%.0f B each) + ring %d KiB", e.Records, e.Expected, e.Lost, e.Lossy, e.RecordKB, e.BytesPerRecord, e.RingBytes/1024), e.Lossless})
	}
	return g
}

// floorGoal is issue 17's: a watched 4 KiB pwrite's overhead at most 1.5
// times the floor's, the direct-call stub that only enters and leaves the
// watch's SRCU section.
func floorGoal(o *Output, fs string) (Goal, bool) {
	w, f := o.find(fs, "pwrite", "watched"), o.find(fs, "pwrite", "floor")
	if w == nil || f == nil {
		return Goal{}, false
	}
	m := fmt.Sprintf("watched %s, floor %s", pct(w.Ratio), pct(f.Ratio))
	if n := o.find(fs, "pwrite", "null"); n != nil {
		m += ", null " + pct(n.Ratio)
	}
	ok := w.Ratio-1 <= 1.5*(f.Ratio-1)
	if f.Ratio > 1 {
		m += fmt.Sprintf(": %.2f × the floor's overhead", (w.Ratio-1)/(f.Ratio-1))
	}
	return Goal{fs + ": 4 KiB pwrite, watched overhead ≤ 1.5 × the floor's", m, ok}, true
}

func printTable(w io.Writer, o *Output) {
	fmt.Fprintf(w, "\nwbbench: clock %s, kernel %s, %d CPUs, %d MiB, %d repetitions, ops per run %v, daemon log on %s\n",
		o.Clock, o.Kernel, o.CPUs, o.MemMB, o.Reps, o.Ops, o.LogFS)
	fmt.Fprintln(w, "Overhead against \"unloaded\": median [min,max] of the ratios within each repetition; b: fastest run against fastest \"unloaded\".")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "fs\tworkload\tunloaded ns/op (spread)")
	for _, c := range conditions[1:] {
		fmt.Fprintf(tw, "\t%s", c.Name)
	}
	fmt.Fprintln(tw)
	for _, r := range o.Results {
		if r.Condition != "unloaded" {
			continue
		}
		wl := r.Workload
		if o.ioBound(r) {
			wl += " (I/O: skipped by icount)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f (%.0f %%)", r.FS, wl, r.MedianNs, r.SpreadPct)
		for _, c := range conditions[1:] {
			x := o.find(r.FS, r.Workload, c.Name)
			fmt.Fprintf(tw, "\t%+.0f%% [%+.0f,%+.0f] b%+.0f%%", (x.Ratio-1)*100, (x.RatioMin-1)*100, (x.RatioMax-1)*100, (x.BestRatio-1)*100)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintf(w, "records emitted %d %v, lost %d, lossy epochs %d; fanotify events %d, overflows %d; consumer CPU s %v\n\n",
		o.RecordsEmitted, o.RecordsByCondition, o.RecordsLost, o.LossyEpochs, o.FanotifyEvents, o.FanotifyOverflows, o.ConsumerCPUSeconds)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "barrier\tload\tn\tp50 µs\tp99 µs\tmax µs\tlongest write µs")
	for _, b := range o.Barrier {
		l := "idle"
		if b.Load {
			l = "2 writers"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\n", b.FS, l, b.N, b.P50us, b.P99us, b.MaxUs, b.WriterMaxOpUs)
	}
	tw.Flush()
	if e := o.BigEpoch; e != nil {
		fmt.Fprintf(w, "\nbig epoch: %d objects (%.0f ns per create), %d/%d records, lossless %v; its barrier %.0f µs;\n  genl dump alone %.0f records/s; wbctl daemon --once %.0f records/s (%.1f s, log %d MiB), to memory %.0f records/s;\n"+
			"  SUnreclaim %d → %d → %d KiB (before, full, drained): records %d KiB, %.0f B each; ring %d KiB\n",
			e.Objects, e.CreateNsOp, e.Records, e.Expected, e.Lossless, e.BarrierUs, e.DumpRecordsPerSec, e.DrainRecordsPerSec, e.DrainSeconds, e.LogBytes>>20, e.DrainMemRecordsPerSec,
			e.SUnreclaimBeforeKB, e.SUnreclaimAfterKB, e.SUnreclaimDrainedKB, e.RecordKB, e.BytesPerRecord, e.RingBytes/1024)
	}
	fmt.Fprintln(w, "\ngoals:")
	for _, g := range o.Goals {
		v := "MISSED"
		if g.Met {
			v = "met"
		}
		fmt.Fprintf(w, "  %-6s %s: %s\n", v, g.Goal, g.Measured)
	}
}
