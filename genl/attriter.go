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
type attrIter struct {
	b   []byte // what is left to walk
	typ uint16 // the current attribute's type
	val []byte // its payload, in b's memory
	err error
}

// next moves to the next attribute; false at the end or on an error.
func (it *attrIter) next() bool {
	if it.err != nil || len(it.b) == 0 {
		return false
	}
	if len(it.b) < 4 {
		it.err = fmt.Errorf("truncated attribute header: %d bytes", len(it.b))
		return false
	}
	l := int(binary.NativeEndian.Uint16(it.b))
	if l < 4 || l > len(it.b) {
		it.err = fmt.Errorf("attribute length %d out of range: %d bytes left", l, len(it.b))
		return false
	}
	it.typ = binary.NativeEndian.Uint16(it.b[2:]) & nlaTypeMask
	it.val = it.b[4:l]
	it.b = it.b[min((l+3)&^3, len(it.b)):]
	return true
}

// fail stops the walk: the current attribute is not a want.
func (it *attrIter) fail(want string) {
	it.err = fmt.Errorf("attribute %d is not %s: %d bytes", it.typ, want, len(it.val))
}

func (it *attrIter) uint32() uint32 {
	if len(it.val) != 4 {
		it.fail("a u32")
		return 0
	}
	return binary.NativeEndian.Uint32(it.val)
}

func (it *attrIter) uint64() uint64 {
	if len(it.val) != 8 {
		it.fail("a u64")
		return 0
	}
	return binary.NativeEndian.Uint64(it.val)
}

func (it *attrIter) flag() bool {
	if len(it.val) != 0 {
		it.fail("a flag")
		return false
	}
	return true
}

// cstring returns the payload without its NUL terminators, as
// netlink.AttributeDecoder.String does, in b's memory.
func (it *attrIter) cstring() []byte {
	v := it.val
	for len(v) > 0 && v[len(v)-1] == 0 {
		v = v[:len(v)-1]
	}
	return v
}
