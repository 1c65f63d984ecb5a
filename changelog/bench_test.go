package changelog

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/wbarrier/wbarrier/record"
)

// BenchmarkAppend measures Writer.Append of create records as the drain
// appends them (the parent's handle and a name): the encoding, the CRC and
// the buffered writes, with no fsync.
func BenchmarkAppend(b *testing.B) {
	w, err := Create(filepath.Join(b.TempDir(), "wb.log"), Header{FSType: "tmpfs", Mount: "/mnt/t"})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("f%d", i)
	}
	parent := &record.FileHandle{Type: 1, Bytes: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		seq++
		r := record.Record{Type: record.TypeChange, Seq: seq, Epoch: 1, Ops: record.OpCreate,
			Parent: parent, Name: names[seq%1000]}
		if err := w.Append(r); err != nil {
			b.Fatal(err)
		}
	}
}
