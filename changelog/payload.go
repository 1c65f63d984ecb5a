package changelog

import (
	"fmt"

	"github.com/wbarrier/wbarrier/record"
)

// AppendRecord appends r to b as the payload of a record frame (the
// layout in "Record payload" above), the form the log stores a change
// record in: the exporters send records in it, so that a reader on another
// machine decodes them with DecodeRecord. r must be a change record whose
// variable fields fit the format.
func AppendRecord(b []byte, r *record.Record) ([]byte, error) {
	if err := checkRecord(r); err != nil {
		return b, err
	}
	return appendRecordPayload(b, r), nil
}

// DecodeRecord parses a record payload that AppendRecord made; p must be
// exactly one payload. The record's handles and name are copies.
func DecodeRecord(p []byte) (record.Record, error) {
	r, err := decodeRecordPayload(p)
	if err != nil {
		return r, fmt.Errorf("changelog: %w", err)
	}
	return r, nil
}
