// Package record holds the change records that wbarrier produces: the plain
// types shared by the netlink client (package genl) and the change log
// (package changelog), with no netlink or file format in them.
package record

import (
	"fmt"
	"strings"
)

// Type says what a record is.
type Type uint32

// The record types, as in kmod/uapi/wbarrier.h (enum wbarrier_rec_type).
const (
	TypeChange      Type = 1 // an object changed
	TypeEpochClosed Type = 2 // a barrier closed the epoch; no record of it follows
)

func (t Type) String() string {
	switch t {
	case TypeChange:
		return "change"
	case TypeEpochClosed:
		return "epoch-closed"
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Op is a reasons mask: what happened to an object.
type Op uint32

// The op bits, as in kmod/uapi/wbarrier.h (WBARRIER_OP_*).
const (
	OpData       Op = 1 << 0
	OpSize       Op = 1 << 1
	OpAttr       Op = 1 << 2
	OpXattr      Op = 1 << 3
	OpCreate     Op = 1 << 4
	OpRemove     Op = 1 << 5
	OpRenameFrom Op = 1 << 6
	OpRenameTo   Op = 1 << 7
	OpLink       Op = 1 << 8
	OpMmap       Op = 1 << 9
)

var opNames = []struct {
	op   Op
	name string
}{
	{OpData, "data"},
	{OpSize, "size"},
	{OpAttr, "attr"},
	{OpXattr, "xattr"},
	{OpCreate, "create"},
	{OpRemove, "remove"},
	{OpRenameFrom, "rename-from"},
	{OpRenameTo, "rename-to"},
	{OpLink, "link"},
	{OpMmap, "mmap"},
}

// String lists the bits by name, joined by '|', unknown bits in hex.
func (o Op) String() string {
	if o == 0 {
		return "none"
	}
	var names []string
	for _, n := range opNames {
		if o&n.op != 0 {
			names = append(names, n.name)
			o &^= n.op
		}
	}
	if o != 0 {
		names = append(names, fmt.Sprintf("%#x", uint32(o)))
	}
	return strings.Join(names, "|")
}

// ParseOp is the inverse of Op.String.
func ParseOp(s string) (Op, error) {
	if s == "none" {
		return 0, nil
	}
	var o Op
	for _, part := range strings.Split(s, "|") {
		found := false
		for _, n := range opNames {
			if part == n.name {
				o |= n.op
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("record: unknown op %q", part)
		}
	}
	return o, nil
}

// FileHandle identifies an object on its filesystem, as open_by_handle_at(2)
// takes it.
type FileHandle struct {
	Type  uint32
	Bytes []byte
}

// String is "type:hex".
func (h FileHandle) String() string {
	return fmt.Sprintf("%d:%x", h.Type, h.Bytes)
}

// Record is one change record or one epoch-closed marker.
type Record struct {
	Type  Type
	Seq   uint64 // per watch, assigned when queued; no gaps
	Epoch uint64
	Ops   Op

	Handle *FileHandle // the changed object; nil for a create
	Parent *FileHandle // its directory, for namespace operations
	Name   string      // the name in Parent, for namespace operations

	HasRange bool // Offset and Length are set (data writes)
	Offset   uint64
	Length   uint64

	Lossy bool // for TypeEpochClosed: records of the epoch were lost
}
