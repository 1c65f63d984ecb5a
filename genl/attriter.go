package genl

import (
	"encoding/binary"
	"fmt"
)

// nlaTypeMask keeps an attribute's type without NLA_F_NESTED and
// NLA_F_NET_BYTEORDER.
const nlaTypeMask = 0x3fff

// attrIter walks the netlink attributes of b in place, for the records
// dump, where netlink.AttributeDecoder's allocations per attribute would
// cost more than the rest of the decoding. Integers are host endian. A
// malformed attribute or a value of the wrong length stops the walk with
// err set.
//
// Walking moves offsets only: storing slices (pointers) in the iterator
// costs a write barrier per attribute while the garbage collector runs
// (write barriers were a sixth of the daemon's CPU per record,
// BenchmarkDaemonRecords; decoding is 37 % faster without them).
type attrIter struct {
	b      []byte // the attributes
	off    int    // where the next one starts
	typ    uint16 // the current attribute's type
	lo, hi int    // its payload: b[lo:hi]
	err    error
}

// next moves to the next attribute; false at the end or on an error.
func (it *attrIter) next() bool {
	left := len(it.b) - it.off
	if it.err != nil || left <= 0 {
		return false
	}
	if left < 4 {
		it.err = fmt.Errorf("truncated attribute header: %d bytes", left)
		return false
	}
	l := int(binary.NativeEndian.Uint16(it.b[it.off:]))
	if l < 4 || l > left {
		it.err = fmt.Errorf("attribute length %d out of range: %d bytes left", l, left)
		return false
	}
	it.typ = binary.NativeEndian.Uint16(it.b[it.off+2:]) & nlaTypeMask
	it.lo, it.hi = it.off+4, it.off+l
	it.off += min((l+3)&^3, left)
	return true
}

// val is the current attribute's payload, in b's memory.
func (it *attrIter) val() []byte { return it.b[it.lo:it.hi] }

// fail stops the walk: the current attribute is not a want.
func (it *attrIter) fail(want string) {
	it.err = fmt.Errorf("attribute %d is not %s: %d bytes", it.typ, want, it.hi-it.lo)
}

func (it *attrIter) uint32() uint32 {
	if it.hi-it.lo != 4 {
		it.fail("a u32")
		return 0
	}
	return binary.NativeEndian.Uint32(it.b[it.lo:])
}

func (it *attrIter) uint64() uint64 {
	if it.hi-it.lo != 8 {
		it.fail("a u64")
		return 0
	}
	return binary.NativeEndian.Uint64(it.b[it.lo:])
}

func (it *attrIter) flag() bool {
	if it.hi != it.lo {
		it.fail("a flag")
		return false
	}
	return true
}

// cstring returns the payload without its NUL terminators, as
// netlink.AttributeDecoder.String does, in b's memory.
func (it *attrIter) cstring() []byte {
	v := it.val()
	for len(v) > 0 && v[len(v)-1] == 0 {
		v = v[:len(v)-1]
	}
	return v
}
