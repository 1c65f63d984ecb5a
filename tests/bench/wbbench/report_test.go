package main

import (
	"math"
	"testing"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		v    []float64
		p    float64
		want float64
	}{
		{[]float64{3, 1, 2}, 50, 2},
		{[]float64{4, 1, 3, 2}, 50, 2.5},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
		{[]float64{5, 1}, 100, 5},
		{[]float64{7}, 99, 7},
	}
	for _, tt := range tests {
		if got := percentile(tt.v, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.v, tt.p, got, tt.want)
		}
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("percentile of nothing is not NaN")
	}
}

func TestEvaluateFanotify(t *testing.T) {
	r := func(fs, wl, c string, ratio float64) *Result {
		return &Result{FS: fs, Workload: wl, Condition: c, Ratio: ratio}
	}
	o := &Output{Clock: "icount", Results: []*Result{
		r("tmpfs", "pwrite", "daemon", 1.3), r("tmpfs", "pwrite", "fanotify", 1.7),
		// fsync-bound: meaningless with icount, left out of the comparison
		r("ext4", "append", "daemon", 2), r("ext4", "append", "fanotify", 1),
	}}
	for _, g := range evaluate(o) {
		if g.Goal == "watched + draining costs less than fanotify on every workload" && !g.Met {
			t.Errorf("goal missed: %s", g.Measured)
		}
	}
	o.Clock = "wall"
	for _, g := range evaluate(o) {
		if g.Goal == "watched + draining costs less than fanotify on every workload" && g.Met {
			t.Error("goal met although ext4/append is dearer than fanotify")
		}
	}
}

func TestFloorGoal(t *testing.T) {
	r := func(c string, ratio float64) *Result {
		return &Result{FS: "tmpfs", Workload: "pwrite", Condition: c, Ratio: ratio}
	}
	tests := []struct {
		watched, floor float64
		met            bool
	}{
		{1.14, 1.10, true},
		{1.149, 1.10, true},
		{1.17, 1.10, false},
		{1.01, 0.99, false}, // a floor below the baseline: no overhead to compare with
	}
	for _, tt := range tests {
		o := &Output{Results: []*Result{r("watched", tt.watched), r("floor", tt.floor)}}
		g, ok := floorGoal(o, "tmpfs")
		if !ok || g.Met != tt.met {
			t.Errorf("watched %v, floor %v: got %v (%s), want met %v", tt.watched, tt.floor, g.Met, g.Measured, tt.met)
		}
	}
	if _, ok := floorGoal(&Output{Results: []*Result{r("watched", 1.1)}}, "tmpfs"); ok {
		t.Error("a goal without a floor")
	}
}
