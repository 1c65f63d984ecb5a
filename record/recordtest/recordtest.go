// Package recordtest builds records for tests, with handles written as
// short strings.
package recordtest

import "github.com/wbarrier/wbarrier/record"

// Handle is a file handle of type typ whose bytes are b.
func Handle(typ uint32, b string) *record.FileHandle {
	return &record.FileHandle{Type: typ, Bytes: []byte(b)}
}

// Change is a change record of the object with that handle.
func Change(seq, epoch uint64, ops record.Op, handle string) record.Record {
	return record.Record{Type: record.TypeChange, Seq: seq, Epoch: epoch, Ops: ops, Handle: Handle(1, handle)}
}

// Write is a data write of n bytes at off.
func Write(seq, epoch uint64, handle string, off, n uint64) record.Record {
	r := Change(seq, epoch, record.OpData, handle)
	r.HasRange, r.Offset, r.Length = true, off, n
	return r
}

// Named is a namespace record: parent and name, and the object's handle
// unless it is "" (a create has none).
func Named(seq, epoch uint64, ops record.Op, handle, parent, name string) record.Record {
	r := record.Record{Type: record.TypeChange, Seq: seq, Epoch: epoch, Ops: ops, Parent: Handle(1, parent), Name: name}
	if handle != "" {
		r.Handle = Handle(1, handle)
	}
	return r
}

// Closed is an epoch-closed marker.
func Closed(epoch uint64, lossy bool) record.Record {
	return record.Record{Type: record.TypeEpochClosed, Epoch: epoch, Lossy: lossy}
}
