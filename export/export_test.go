package export_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/changelog/changelogtest"
	"github.com/wbarrier/wbarrier/export"
	"github.com/wbarrier/wbarrier/record"
)

// memory is a sink that keeps what it stores in order, as a message log.
type memory struct {
	batches []*export.Batch
	seals   []*export.Seal
	order   []string // the IDs, in the order stored
}

func (m *memory) Position(_ context.Context, src export.Source) (export.Position, error) {
	var p export.Position
	for _, s := range m.seals {
		if s.Source == src {
			p.Sealed = s.Epoch
		}
	}
	for _, b := range m.batches {
		if b.Source == src && b.Epoch > p.Sealed {
			p.Epoch, p.Batches, p.Records = b.Epoch, b.Index+1, b.First+uint64(b.Count)
		}
	}
	return p, nil
}

func (m *memory) PublishBatch(_ context.Context, b *export.Batch) error {
	m.batches = append(m.batches, b)
	m.order = append(m.order, b.ID())
	return nil
}

func (m *memory) PublishSeal(_ context.Context, s *export.Seal) error {
	m.seals = append(m.seals, s)
	m.order = append(m.order, s.ID())
	return nil
}

func change(seq, epoch uint64, name string) record.Record {
	return record.Record{Type: record.TypeChange, Seq: seq, Epoch: epoch, Ops: record.OpCreate,
		Parent: &record.FileHandle{Type: 1, Bytes: []byte{2}}, Name: name}
}

func marker(seq, epoch uint64, lossy bool) record.Record {
	return record.Record{Type: record.TypeEpochClosed, Seq: seq, Epoch: epoch, Lossy: lossy}
}

func openLog(t testing.TB, recs ...record.Record) *changelog.Log {
	t.Helper()
	l, err := changelog.Open(changelogtest.Write(t, 0, recs...))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestExport(t *testing.T) {
	// Records of epoch 2 before the seal of 1; epoch 3 lossy; epoch 4 open.
	l := openLog(t, change(1, 1, "a"), change(2, 2, "b"), change(3, 1, "c"), marker(4, 1, false),
		change(5, 2, "d"), change(6, 2, "e"), marker(7, 2, false), marker(8, 3, true), change(9, 4, "f"))
	src := export.Source{Log: "0123456789abcdef", Host: "h", FS: "f"}
	for _, tc := range []struct {
		name  string
		start export.Position // what the sink holds already
		want  []string
	}{
		{"empty sink", export.Position{}, []string{
			"h.f.0123456789abcdef.0.1.0", "h.f.0123456789abcdef.0.1.seal",
			"h.f.0123456789abcdef.0.2.0", "h.f.0123456789abcdef.0.2.1", "h.f.0123456789abcdef.0.2.seal",
			"h.f.0123456789abcdef.0.3.seal"}},
		{"epoch 1 sealed, a batch of 2", export.Position{Sealed: 1, Epoch: 2, Batches: 1, Records: 2}, []string{
			"h.f.0123456789abcdef.0.2.1", "h.f.0123456789abcdef.0.2.seal", "h.f.0123456789abcdef.0.3.seal"}},
		{"all sealed", export.Position{Sealed: 3}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &memory{}
			if tc.start.Sealed > 0 {
				m.seals = append(m.seals, &export.Seal{Source: src, Epoch: tc.start.Sealed})
			}
			if tc.start.Batches > 0 {
				m.batches = append(m.batches, &export.Batch{Source: src, Epoch: tc.start.Epoch,
					Index: tc.start.Batches - 1, First: 0, Count: int(tc.start.Records)})
			}
			if _, err := export.Export(context.Background(), l, src, m, export.Options{BatchRecords: 2}); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(m.order, " "); got != strings.Join(tc.want, " ") {
				t.Errorf("published\n\t%s\nwant\n\t%s", got, strings.Join(tc.want, " "))
			}
		})
	}
}

func TestExportAhead(t *testing.T) {
	l := openLog(t, change(1, 1, "a"), marker(2, 1, false))
	src := export.Source{Log: "0123456789abcdef", Host: "h", FS: "f"}
	m := &memory{seals: []*export.Seal{{Source: src, Epoch: 5}}}
	if _, err := export.Export(context.Background(), l, src, m, export.Options{}); !errors.Is(err, export.ErrAhead) {
		t.Errorf("export to a sink ahead of the log: %v; want ErrAhead", err)
	}
}

func TestDecodeRecordsDamaged(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"short length", []byte{1, 0}, "too few for a length"},
		{"past the end", []byte{9, 0, 0, 0, 1}, "runs past the end"},
		{"not a record", []byte{1, 0, 0, 0, 7}, "record at offset 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := export.DecodeRecords(tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeRecords = %v; want %q", err, tc.want)
			}
		})
	}
}

// printer is a sink that prints what it is given: a sink for another
// engine (Kafka, say) implements the same three methods.
type printer struct{}

func (printer) Position(context.Context, export.Source) (export.Position, error) {
	return export.Position{}, nil // holds nothing: export everything
}

func (printer) PublishBatch(_ context.Context, b *export.Batch) error {
	recs, err := export.DecodeRecords(b.Data)
	if err != nil {
		return err
	}
	fmt.Printf("batch %s: %d records, seqs %d-%d, first %q\n", b.ID(), len(recs), b.FirstSeq, b.LastSeq, recs[0].Name)
	return nil
}

func (printer) PublishSeal(_ context.Context, s *export.Seal) error {
	fmt.Printf("seal %s: %d records in %d batches, lossy %v\n", s.ID(), s.Records, s.Batches, s.Lossy)
	return nil
}

func Example() {
	dir, err := os.MkdirTemp("", "export")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "data.log")
	w, err := changelog.Create(path, changelog.Header{FSType: "ext4", Mount: "/srv/data"})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range []record.Record{change(1, 1, "a"), change(2, 1, "b"), change(3, 1, "c"), marker(4, 1, false), change(5, 2, "d")} {
		if err := w.Append(r); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	l, err := changelog.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	src := export.Source{Log: "0123456789abcdef", Host: "web1", FS: "data"}
	p, err := export.Export(context.Background(), l, src, printer{}, export.Options{BatchRecords: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d epochs, %d records: epoch 2 is not sealed\n", p.Epochs, p.Records)
	// Output:
	// batch web1.data.0123456789abcdef.0.1.0: 2 records, seqs 1-2, first "a"
	// batch web1.data.0123456789abcdef.0.1.1: 1 records, seqs 3-3, first "c"
	// seal web1.data.0123456789abcdef.0.1.seal: 3 records in 2 batches, lossy false
	// 1 epochs, 3 records: epoch 2 is not sealed
}

// TestExportFile exports a log of many segments as it grows: each call
// reads the segments from the sink's last seal on, and publishes each
// epoch once.
func TestExportFile(t *testing.T) {
	var recs []record.Record
	for e := uint64(1); e <= 6; e++ {
		recs = append(recs, change(2*e-1, e, fmt.Sprint("f", e)), marker(2*e, e, false))
	}
	path := changelogtest.Write(t, 200, recs[:6]...) // epochs 1-3, a segment every 200 bytes
	src := export.Source{Log: "0123456789abcdef", Host: "h", FS: "f"}
	m := &memory{}
	if p, err := export.ExportFile(context.Background(), path, src, m, export.Options{}); err != nil || p.Epochs != 3 {
		t.Fatalf("ExportFile = %+v, %v; want 3 epochs", p, err)
	}
	w, _, err := changelog.OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	w.SetSegmentSize(200)
	for _, r := range recs[6:] {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if p, err := export.ExportFile(context.Background(), path, src, m, export.Options{}); err != nil || p.Epochs != 3 {
		t.Fatalf("ExportFile after three more epochs = %+v, %v; want 3 epochs", p, err)
	}
	var want []string
	for e := 1; e <= 6; e++ {
		want = append(want, fmt.Sprintf("h.f.0123456789abcdef.0.%d.0", e), fmt.Sprintf("h.f.0123456789abcdef.0.%d.seal", e))
	}
	if got := strings.Join(m.order, " "); got != strings.Join(want, " ") {
		t.Errorf("published\n\t%s\nwant\n\t%s", got, strings.Join(want, " "))
	}
	l, err := changelog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Segments()) < 3 {
		t.Errorf("the log has %d segments, want several", len(l.Segments()))
	}
}
