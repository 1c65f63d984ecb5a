package export

import (
	"encoding/binary"
	"fmt"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
)

// appendRecord appends r to a batch's data: its length, then its payload.
func appendRecord(b []byte, r *record.Record) ([]byte, error) {
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	b, err := changelog.AppendRecord(b, r)
	if err != nil {
		return b[:at], err
	}
	binary.LittleEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return b, nil
}

// DecodeRecords returns the records of a batch's Data.
func DecodeRecords(data []byte) ([]record.Record, error) {
	var recs []record.Record
	for off := 0; off < len(data); {
		if len(data)-off < 4 {
			return nil, fmt.Errorf("export: batch data: %d bytes left at offset %d, too few for a length", len(data)-off, off)
		}
		n := int(binary.LittleEndian.Uint32(data[off:]))
		if n > len(data)-off-4 {
			return nil, fmt.Errorf("export: batch data: record of %d bytes at offset %d runs past the end", n, off)
		}
		r, err := changelog.DecodeRecord(data[off+4 : off+4+n])
		if err != nil {
			return nil, fmt.Errorf("export: batch data: record at offset %d: %w", off, err)
		}
		recs = append(recs, r)
		off += 4 + n
	}
	return recs, nil
}
