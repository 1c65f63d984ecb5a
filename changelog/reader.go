package changelog

import (
	"container/heap"
	"fmt"
	"os"
	"slices"

	"github.com/wbarrier/wbarrier/record"
)

// Log is a log file as read and validated by Open: its header, its records
// and seals in file order, and the torn tail if there was one. It is
// immutable and safe for concurrent use.
type Log struct {
	header   Header
	records  []record.Record
	seals    []Seal
	recovery *Recovery
}

// Open reads and validates the whole log file at path.
//
// A torn tail (see doc.go for the exact rule) is not an error: Open stops
// before it and reports it in Recovery; the file is not modified. Damage
// before the tail is an error satisfying errors.Is(err, ErrCorrupt), a
// *CorruptError naming the byte offset; a file that is not a wbarrier log
// gives ErrNotLog, an unknown format version ErrVersion.
//
// Open may run while a Writer appends: frames still being written show up
// as a torn tail.
func Open(path string) (*Log, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("changelog: %w", err)
	}
	l, _, err := parse(data, path)
	return l, err
}

// Header returns the file header.
func (l *Log) Header() Header { return l.header }

// Records returns the change records in file order (which is the order the
// writer appended them). The slice is a copy; the records' handles are
// shared and must not be modified.
func (l *Log) Records() []record.Record { return slices.Clone(l.records) }

// Seals returns the seals in file order, which is increasing epoch order.
func (l *Log) Seals() []Seal { return slices.Clone(l.seals) }

// LastSealed returns the epoch of the last seal, and false if there is none.
func (l *Log) LastSealed() (uint64, bool) {
	if len(l.seals) == 0 {
		return 0, false
	}
	return l.seals[len(l.seals)-1].Epoch, true
}

// Recovery describes the torn tail that reading stopped at, or is nil if
// the file ends with a valid frame (or the header).
func (l *Log) Recovery() *Recovery {
	if l.recovery == nil {
		return nil
	}
	r := *l.recovery
	return &r
}

// tail is what a Writer needs to append after the valid part of a file.
type tail struct {
	end    int64  // end of the last valid frame
	prev   uint32 // its CRC (the header CRC if there is no frame)
	counts epochCounts
}

// parse validates a whole file image. It never panics on any input.
func parse(data []byte, path string) (*Log, *tail, error) {
	h, p, prev, err := decodeHeader(data, path)
	if err != nil {
		return nil, nil, err
	}
	l := &Log{header: h}
	t := &tail{}
	corrupt := func(off int, format string, args ...any) error {
		return &CorruptError{Path: path, Offset: int64(off), Reason: fmt.Sprintf(format, args...)}
	}
	for p < len(data) {
		n, why := checkFrame(data[p:], h.Salt, prev)
		if why != "" {
			last, sealed := l.LastSealed()
			if q, s, ok := findSeal(data, p, h.Salt, last, sealed); ok {
				return nil, nil, corrupt(p, "%s; the valid seal of epoch %d at offset %d follows, so this frame was durable", why, s.Epoch, q)
			}
			l.recovery = &Recovery{Offset: int64(p), Bytes: int64(len(data) - p), Reason: why}
			break
		}
		// The frame is what a writer wrote: any fault now is a hard error.
		f := data[p : p+frameSize(n)]
		if r := le.Uint16(f[6:]); r != 0 {
			return nil, nil, corrupt(p, "frame reserved field is %#x, not 0", r)
		}
		payload := f[frameHeaderSize : frameHeaderSize+n]
		switch typ := le.Uint16(f[4:]); typ {
		case frameRecord:
			r, err := decodeRecordPayload(payload)
			if err != nil {
				return nil, nil, corrupt(p, "%v", err)
			}
			if last, ok := l.LastSealed(); ok && r.Epoch <= last {
				return nil, nil, corrupt(p, "record (seq %d) of epoch %d after epoch %d was sealed", r.Seq, r.Epoch, last)
			}
			l.records = append(l.records, r)
			t.counts.add(r.Epoch)
		case frameSeal:
			s, err := decodeSealPayload(payload)
			if err != nil {
				return nil, nil, corrupt(p, "%v", err)
			}
			if last, ok := l.LastSealed(); ok && s.Epoch <= last {
				return nil, nil, corrupt(p, "seal of epoch %d after the seal of epoch %d", s.Epoch, last)
			}
			if c := t.counts.get(s.Epoch); c != s.Records {
				return nil, nil, corrupt(p, "seal of epoch %d counts %d records, the log holds %d", s.Epoch, s.Records, c)
			}
			l.seals = append(l.seals, s)
			t.counts.dropThrough(s.Epoch)
		default:
			return nil, nil, corrupt(p, "unknown frame type %d", typ)
		}
		prev = le.Uint32(f[8:])
		p += len(f)
	}
	t.end, t.prev = int64(p), prev
	if l.recovery != nil {
		t.end = l.recovery.Offset
	}
	return l, t, nil
}

// checkFrame checks that b starts with a whole frame whose chained CRC is
// valid. It returns the payload length, or a reason why there is no valid
// frame.
func checkFrame(b []byte, salt uint64, prev uint32) (int, string) {
	if len(b) < frameHeaderSize {
		return 0, fmt.Sprintf("partial frame header (%d bytes)", len(b))
	}
	if le.Uint64(b) == 0 {
		return 0, "zeroed bytes"
	}
	n := le.Uint32(b)
	if n > MaxPayload {
		return 0, fmt.Sprintf("implausible frame length %d", n)
	}
	size := frameSize(int(n))
	if size > len(b) {
		return 0, fmt.Sprintf("partial frame (%d of %d bytes)", len(b), size)
	}
	if stored, got := le.Uint32(b[8:]), frameCRC(salt, prev, b[:size]); stored != got {
		return 0, fmt.Sprintf("CRC mismatch (stored %#08x, computed %#08x)", stored, got)
	}
	return int(n), ""
}

// findSeal looks for evidence that the invalid frame at offset p had been
// made durable: a valid seal frame anywhere after it. A seal is written only
// after every frame before it was fsynced. Since the chain is broken at p, a
// seal is validated against the CRC stored in the frame just before it: for
// every 8-byte aligned offset q >= p where a plausible frame header A
// starts, the frame B right after A must be a seal whose CRC matches with
// A's stored CRC as the previous CRC, and whose epoch is after the last
// sealed epoch before p. It returns B's offset and seal.
func findSeal(data []byte, p int, salt uint64, last uint64, sealed bool) (int, Seal, bool) {
	for q := p; q+frameHeaderSize <= len(data); q += 8 {
		n := le.Uint32(data[q:])
		if typ := le.Uint16(data[q+4:]); (typ != frameRecord && typ != frameSeal) || le.Uint16(data[q+6:]) != 0 || n > MaxPayload {
			continue
		}
		b := q + frameSize(int(n))
		if b+sealFrameSize > len(data) {
			continue
		}
		f := data[b : b+sealFrameSize]
		if le.Uint32(f) != sealPayloadSize || le.Uint16(f[4:]) != frameSeal || le.Uint16(f[6:]) != 0 {
			continue
		}
		if frameCRC(salt, le.Uint32(data[q+8:]), f) != le.Uint32(f[8:]) {
			continue
		}
		s, err := decodeSealPayload(f[frameHeaderSize : frameHeaderSize+sealPayloadSize])
		if err != nil || (sealed && s.Epoch <= last) {
			continue
		}
		return b, s, true
	}
	return 0, Seal{}, false
}

// epochCounts counts records per epoch for the epochs after the last seal.
type epochCounts struct {
	n map[uint64]uint64
	h epochHeap // the keys of n, to drop the sealed ones in order
}

func (c *epochCounts) add(epoch uint64) {
	if c.n == nil {
		c.n = make(map[uint64]uint64)
	}
	if _, ok := c.n[epoch]; !ok {
		heap.Push(&c.h, epoch)
	}
	c.n[epoch]++
}

func (c *epochCounts) get(epoch uint64) uint64 { return c.n[epoch] }

// dropThrough forgets the epochs up to and including epoch.
func (c *epochCounts) dropThrough(epoch uint64) {
	for len(c.h) > 0 && c.h[0] <= epoch {
		delete(c.n, heap.Pop(&c.h).(uint64))
	}
}

type epochHeap []uint64

func (h epochHeap) Len() int           { return len(h) }
func (h epochHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h epochHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *epochHeap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *epochHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
