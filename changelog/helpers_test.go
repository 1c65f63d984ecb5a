package changelog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wbarrier/wbarrier/record"
	"github.com/wbarrier/wbarrier/record/recordtest"
)

var testHeader = Header{
	Created: time.Date(2025, 3, 1, 12, 30, 0, 123456789, time.UTC),
	FSType:  "ext4",
	Dev:     0x00800001,
	Mount:   "/srv/data",
	UUID:    "0f3c2a8e-5b7d-4c1e-9a2f-6d8e1b4c7a90",
}

// equate treats nil and empty handle bytes alike.
var equate = cmpopts.EquateEmpty()

// Records for the tests, handles written as short strings.
var (
	fh     = recordtest.Handle
	change = recordtest.Change
	write  = recordtest.Write
	closed = recordtest.Closed // Append turns it into a seal
)

// create is a create record: no handle, parent and name.
func create(seq, epoch uint64, parent, name string) record.Record {
	return recordtest.Named(seq, epoch, record.OpCreate, "", parent, name)
}

// writeLog creates a log at a new path in dir holding recs (markers become
// seals) and returns its path.
func writeLog(t testing.TB, dir string, recs ...record.Record) string {
	t.Helper()
	return segLog(t, dir, 0, recs...)
}

// logBytes returns the bytes of a log holding recs.
func logBytes(t testing.TB, recs ...record.Record) []byte {
	t.Helper()
	data, err := os.ReadFile(writeLog(t, t.TempDir(), recs...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// frameOffsets returns the offsets of the frames in a valid log image,
// and the end of the last.
func frameOffsets(t testing.TB, data []byte) []int {
	t.Helper()
	p := int(le.Uint32(data[12:]))
	var offs []int
	for p < len(data) {
		offs = append(offs, p)
		p += frameSize(int(le.Uint32(data[p:])))
	}
	if p != len(data) {
		t.Fatalf("frames end at %d, the file at %d", p, len(data))
	}
	return offs
}

// writeFile writes data to a new file in a temporary directory.
func writeFile(t testing.TB, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.wblog")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// splitRecords returns the change records and the seals that recs describe.
func splitRecords(recs []record.Record) ([]record.Record, []Seal) {
	var changes []record.Record
	var seals []Seal
	counts := map[uint64]uint64{}
	for _, r := range recs {
		if r.Type == record.TypeEpochClosed {
			seals = append(seals, Seal{Epoch: r.Epoch, Lossy: r.Lossy, Records: counts[r.Epoch], Seq: r.Seq})
			continue
		}
		changes = append(changes, r)
		counts[r.Epoch]++
	}
	return changes, seals
}

// sameRecords is a fast equality for records, nil and empty handle bytes
// alike.
func sameRecords(a, b []record.Record) bool {
	if len(a) != len(b) {
		return false
	}
	sameHandle := func(x, y *record.FileHandle) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Type == y.Type && bytes.Equal(x.Bytes, y.Bytes)
	}
	for i := range a {
		x, y := a[i], b[i]
		if !sameHandle(x.Handle, y.Handle) || !sameHandle(x.Parent, y.Parent) {
			return false
		}
		x.Handle, x.Parent, y.Handle, y.Parent = nil, nil, nil, nil
		if x != y {
			return false
		}
	}
	return true
}

// checkContents fails the test unless l holds recs.
func checkContents(t testing.TB, l *Log, recs []record.Record) {
	t.Helper()
	wantRecs, wantSeals := splitRecords(recs)
	if got := l.Records(); !sameRecords(wantRecs, got) {
		diff := cmp.Diff(wantRecs, got, equate) // slow on big logs: only on failure
		t.Errorf("Records() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSeals, l.Seals(), equate); diff != "" {
		t.Errorf("Seals() mismatch (-want +got):\n%s", diff)
	}
	// EachFrame: records and seals in the order they were appended.
	var want, got []string
	for _, r := range recs {
		if r.Type == record.TypeEpochClosed {
			want = append(want, fmt.Sprintf("seal %d", r.Epoch))
		} else {
			want = append(want, fmt.Sprintf("record %d", r.Seq))
		}
	}
	err := l.EachFrame(func(r record.Record) error {
		got = append(got, fmt.Sprintf("record %d", r.Seq))
		return nil
	}, func(s Seal) error {
		got = append(got, fmt.Sprintf("seal %d", s.Epoch))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, equate); diff != "" {
		t.Errorf("EachFrame order mismatch (-want +got):\n%s", diff)
	}
}
