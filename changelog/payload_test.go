package changelog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wbarrier/wbarrier/record"
)

func TestAppendDecodeRecord(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       record.Record
		wantErr string
	}{
		{"data", record.Record{Type: record.TypeChange, Seq: 7, Epoch: 2, Ops: record.OpData,
			Handle: &record.FileHandle{Type: 1, Bytes: []byte{1, 2}}, HasRange: true, Offset: 4, Length: 8}, ""},
		{"create", record.Record{Type: record.TypeChange, Seq: 8, Epoch: 2, Ops: record.OpCreate,
			Parent: &record.FileHandle{Type: 1, Bytes: []byte{3}}, Name: "a"}, ""},
		{"marker", record.Record{Type: record.TypeEpochClosed, Seq: 9, Epoch: 2}, "cannot store a record of type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := AppendRecord([]byte{0xff}, &tc.r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || len(b) != 1 {
					t.Fatalf("AppendRecord = %d bytes, %v; want the prefix alone and %q", len(b), err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeRecord(b[1:])
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.r, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := DecodeRecord([]byte{1, 2}); err == nil || !strings.HasPrefix(err.Error(), "changelog: ") {
		t.Errorf("DecodeRecord of 2 bytes: %v; want a changelog error", err)
	}
}
