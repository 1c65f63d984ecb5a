package jetstream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wbarrier/wbarrier/export"
)

// BenchmarkExport publishes a log of 100 epochs of 1000 records each to a
// server in the same process (file storage), a new host name per round so
// that every round publishes the whole log; records/s is the figure
// docs/bench.md quotes.
func BenchmarkExport(b *testing.B) {
	_, _, sink := newSink(b)
	l := makeLog(b, 101, 1000) // epochs 1-100 sealed
	src := source(l, "")
	var records uint64
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		src.Host = fmt.Sprintf("bench%d", i)
		p, err := export.Export(context.Background(), l, src, sink, export.Options{})
		if err != nil {
			b.Fatal(err)
		}
		records += p.Records
	}
	b.ReportMetric(float64(records)/time.Since(start).Seconds(), "records/s")
}
