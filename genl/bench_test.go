package genl

import (
	"fmt"
	"testing"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

	"github.com/wbarrier/wbarrier/record"
)

// benchRecords is what the big epoch of the benchmark queues: a create
// record per file, with the parent's handle and the name.
func benchRecords(n int) []record.Record {
	rs := make([]record.Record, n)
	for i := range rs {
		rs[i] = record.Record{
			Type: record.TypeChange, Seq: uint64(i + 1), Epoch: 1, Ops: record.OpCreate,
			Parent: &record.FileHandle{Type: 1, Bytes: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
			Name:   fmt.Sprintf("f%d", i),
		}
	}
	return rs
}

// BenchmarkRecords measures Client.Records on a fake kernel's dump of
// 10 000 create records, as the module packs them: the decoding, the
// allocations, not the kernel.
func BenchmarkRecords(b *testing.B) {
	const n = 10000
	reply := dump(packRecords(benchRecords(n)), 0, 0)
	conn := dialRaw(func(genetlink.Message, netlink.Message) ([]netlink.Message, error) {
		return reply, nil
	})
	c, err := newClient(conn, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rs, err := c.Records(3, 1)
		if err != nil || len(rs) != n {
			b.Fatalf("got %d records, %v", len(rs), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

// BenchmarkParseRecords measures the decoding alone.
func BenchmarkParseRecords(b *testing.B) {
	const n = 10000
	msgs := packRecords(benchRecords(n))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseMessages(msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}
