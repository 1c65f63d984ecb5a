// Package changelogtest writes logs for tests.
package changelogtest

import (
	"path/filepath"
	"testing"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
)

// Write creates the log test.log in a temporary directory of t holding
// recs (epoch-closed markers become seals), a segment per segSize bytes
// (changelog.Writer.SetSegmentSize; 0: one segment), and returns its path.
// Its header says tmpfs on /mnt/t.
func Write(t testing.TB, segSize int64, recs ...record.Record) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.log")
	w, err := changelog.Create(path, changelog.Header{FSType: "tmpfs", Dev: 42, Mount: "/mnt/t"})
	if err != nil {
		t.Fatal(err)
	}
	w.SetSegmentSize(segSize)
	for _, r := range recs {
		if err := w.Append(r); err != nil {
			t.Fatalf("writing %+v: %v", r, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
