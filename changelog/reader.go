package changelog

import (
	"container/heap"
	"fmt"
	"slices"

	"github.com/wbarrier/wbarrier/record"
)

// Log is a log as read and validated by Open: the header of its first
// segment, its records and seals in order, and the torn tail if there was
// one. It is immutable and safe for concurrent use.
type Log struct {
	header   Header
	records  []record.Record
	seals    []Seal
	sealPos  []int // how many records precede each seal in the files
	recovery *Recovery
	segments []string // the files read, oldest first
	nextSeq  uint64
	gens     []Generation
	genPos   [][2]int // how many records and seals precede each generation
}

// Open reads and validates every segment of the log at path: path itself
// and the later segments path.NNNNNN, or what is left of them once the
// oldest were removed (see Purge).
//
// A torn tail of the last segment (see doc.go for the exact rule) is not
// an error: Open stops before it and reports it in Recovery; the files are
// not modified. Damage before the tail is an error satisfying
// errors.Is(err, ErrCorrupt), a *CorruptError naming the file and the
// byte offset: so is a segment missing between two others, a segment that
// does not chain to the one before it, or a torn tail in a segment that is
// not the last. A file that is not a wbarrier log gives ErrNotLog, an
// unknown format version ErrVersion, a log without any segment
// fs.ErrNotExist.
//
// Open may run while a Writer appends: frames still being written show up
// as a torn tail. It may run while segments are rotated or removed.
func Open(path string) (*Log, error) {
	l, _, _, err := readLog(path)
	return l, err
}

// Header returns the header of the log's first (oldest remaining) segment.
func (l *Log) Header() Header { return l.header }

// Records returns the change records in file order (which is the order the
// writer appended them). The slice is a copy; the records' handles are
// shared and must not be modified.
func (l *Log) Records() []record.Record { return slices.Clone(l.records) }

// Seals returns the seals in file order, which is increasing epoch order.
func (l *Log) Seals() []Seal { return slices.Clone(l.seals) }

// EachFrame calls record for every change record and seal for every seal,
// in file order (records of later epochs may come before the seal of an
// earlier one), and stops at the first error either returns.
func (l *Log) EachFrame(record func(record.Record) error, seal func(Seal) error) error {
	return l.EachFrameGen(record, seal, nil)
}

// EachFrameGen is EachFrame that also calls gen (if not nil) for every
// generation (Generations), where its frame is.
func (l *Log) EachFrameGen(record func(record.Record) error, seal func(Seal) error, gen func(Generation) error) error {
	ri, si, gi := 0, 0, 0
	for ri < len(l.records) || si < len(l.seals) || gi < len(l.gens) {
		// The generation frame comes first if no record or seal that
		// preceded it is left; then the seal, if no record preceded it.
		if gi < len(l.gens) && l.genPos[gi][0] <= ri && l.genPos[gi][1] <= si {
			if gen != nil {
				if err := gen(l.gens[gi]); err != nil {
					return err
				}
			}
			gi++
			continue
		}
		if si < len(l.seals) && l.sealPos[si] <= ri {
			if err := seal(l.seals[si]); err != nil {
				return err
			}
			si++
			continue
		}
		if ri == len(l.records) {
			break // cannot happen: every frame is counted
		}
		if err := record(l.records[ri]); err != nil {
			return err
		}
		ri++
	}
	return nil
}

// Segments returns the files of the log, oldest first.
func (l *Log) Segments() []string { return slices.Clone(l.segments) }

// Base returns the last epoch the log can no longer answer because its
// segments were removed: 0 if the log has all its segments. Changes since
// an epoch before Base are a rescan.
func (l *Log) Base() uint64 { return l.header.Base }

// LastSealed returns the epoch of the last seal, and false if there is none.
// The seal may be in a segment that was removed.
func (l *Log) LastSealed() (uint64, bool) {
	if len(l.seals) == 0 {
		return l.header.Sealed, l.header.Sealed != 0
	}
	return l.seals[len(l.seals)-1].Epoch, true
}

// Generations returns the watches the log followed, oldest first (those
// whose frames are in removed segments excepted). A log written before
// generations existed has none until a daemon appends one.
func (l *Log) Generations() []Generation { return slices.Clone(l.gens) }

// Generation returns the watch the log follows now, and false if the log
// has no generation frame.
func (l *Log) Generation() (Generation, bool) {
	if len(l.gens) == 0 {
		return Generation{}, false
	}
	return l.gens[len(l.gens)-1], true
}

// empty reports whether the log never held anything: no record, seal or
// generation, and no segment removed.
func (l *Log) empty() bool {
	return len(l.records) == 0 && len(l.seals) == 0 && len(l.gens) == 0 && l.header.Segment == 0
}

// NextSeq returns one past the greatest seq the log holds or held: of its
// records, of the epoch-closed markers its seals were made of (version 2
// seals keep it), and of those a segment header tells of (0 if none):
// where a drain resumes. It counts the current generation only (the
// kernel numbers each watch's records from 1).
func (l *Log) NextSeq() uint64 { return l.nextSeq }

// Recovery describes the torn tail that reading stopped at, or is nil if
// the file ends with a valid frame (or the header).
func (l *Log) Recovery() *Recovery {
	if l.recovery == nil {
		return nil
	}
	r := *l.recovery
	return &r
}

// tail is what a Writer needs to append after the valid part of a log.
type tail struct {
	header Header // of the last segment
	end    int64  // end of the last valid frame in the last segment
	prev   uint32 // its CRC (the header CRC if there is no frame)
	counts epochCounts
}

// parse validates a whole file image as a log of one segment. It never
// panics on any input.
func parse(data []byte, path string) (*Log, *tail, error) {
	var st parser
	if err := st.segment(data, path); err != nil {
		return nil, nil, err
	}
	return st.l, &st.t, nil
}

// parser validates the segments of a log, oldest first.
type parser struct {
	l    *Log
	t    tail
	prev string // path of the previous segment
}

// segment validates one more segment, whose file holds data.
func (st *parser) segment(data []byte, path string) error {
	h, p, prev, err := decodeHeader(data, path)
	if err != nil {
		return err
	}
	corrupt := func(off int, format string, args ...any) error {
		return &CorruptError{Path: path, Offset: int64(off), Reason: fmt.Sprintf(format, args...)}
	}
	if st.l == nil {
		st.l = &Log{header: h}
	} else if err := st.follows(h, corrupt); err != nil {
		return err
	}
	l, t := st.l, &st.t
	l.segments = append(l.segments, path)
	l.nextSeq = max(l.nextSeq, h.NextSeq)
	st.prev, t.header = path, h
	first := true
	for p < len(data) {
		n, why := checkFrame(data[p:], h.Salt, prev)
		if why != "" {
			last, sealed := l.LastSealed()
			if q, s, ok := findSeal(data, p, h.Salt, last, sealed); ok {
				return corrupt(p, "%s; the valid seal of epoch %d at offset %d follows, so this frame was durable", why, s.Epoch, q)
			}
			l.recovery = &Recovery{Path: path, Offset: int64(p), Bytes: int64(len(data) - p), Reason: why}
			break
		}
		// The frame is what a writer wrote: any fault now is a hard error.
		f := data[p : p+frameSize(n)]
		if r := le.Uint16(f[6:]); r != 0 {
			return corrupt(p, "frame reserved field is %#x, not 0", r)
		}
		payload := f[frameHeaderSize : frameHeaderSize+n]
		switch typ := le.Uint16(f[4:]); typ {
		case frameRecord:
			r, err := decodeRecordPayload(payload)
			if err != nil {
				return corrupt(p, "%v", err)
			}
			if last, ok := l.LastSealed(); ok && r.Epoch <= last {
				return corrupt(p, "record (seq %d) of epoch %d after epoch %d was sealed", r.Seq, r.Epoch, last)
			}
			if g, ok := l.Generation(); ok && r.Epoch <= g.Offset {
				return corrupt(p, "record (seq %d) of epoch %d in the generation after epoch %d", r.Seq, r.Epoch, g.Offset)
			}
			l.records = append(l.records, r)
			l.nextSeq = max(l.nextSeq, r.Seq+1)
			t.counts.add(r.Epoch)
		case frameSeal:
			s, err := decodeSealPayload(payload)
			if err != nil {
				return corrupt(p, "%v", err)
			}
			if last, ok := l.LastSealed(); ok && s.Epoch <= last {
				return corrupt(p, "seal of epoch %d after the seal of epoch %d", s.Epoch, last)
			}
			if g, ok := l.Generation(); ok && s.Epoch <= g.Offset {
				return corrupt(p, "seal of epoch %d in the generation after epoch %d", s.Epoch, g.Offset)
			}
			// Records of an epoch up to Base may be in removed segments.
			if c := t.counts.get(s.Epoch); c != s.Records && s.Epoch > l.header.Base {
				return corrupt(p, "seal of epoch %d counts %d records, the log holds %d", s.Epoch, s.Records, c)
			}
			l.seals = append(l.seals, s)
			l.sealPos = append(l.sealPos, len(l.records))
			if s.Seq != 0 {
				l.nextSeq = max(l.nextSeq, s.Seq+1)
			}
			t.counts.dropThrough(s.Epoch)
		case frameGeneration:
			g, err := decodeGenerationPayload(payload)
			if err != nil {
				return corrupt(p, "%v", err)
			}
			if err := l.addGeneration(g, first && h.Segment > 0, &t.counts); err != "" {
				return corrupt(p, "%s", err)
			}
		default:
			return corrupt(p, "unknown frame type %d", typ)
		}
		prev = le.Uint32(f[8:])
		p += len(f)
		first = false
	}
	t.end, t.prev = int64(p), prev
	if l.recovery != nil {
		t.end = l.recovery.Offset
	}
	return nil
}

// addGeneration applies a generation frame. The first frame of a later
// segment restates the generation in force (so that it survives the removal
// of the segment that started it); any other is a new generation, a break
// if the log held anything before it. It returns why the frame is invalid.
func (l *Log) addGeneration(g Generation, restated bool, counts *epochCounts) string {
	cur, ok := l.Generation()
	if restated {
		if ok {
			if g.LoadID != cur.LoadID || g.WatchID != cur.WatchID || g.Dev != cur.Dev || g.Offset != cur.Offset {
				return fmt.Sprintf("the generation restated at the start of the segment (%v) is not the one in force (%v)", g, cur)
			}
			return ""
		}
		g.Break = g.Offset > 0
		l.appendGen(g)
		return ""
	}
	if !l.empty() {
		last, _ := l.LastSealed()
		floor := max(last, counts.max())
		if ok {
			floor = max(floor, cur.Offset)
		}
		if g.Offset <= floor {
			return fmt.Sprintf("generation at epoch %d, not after epoch %d, the last the log holds", g.Offset, floor)
		}
		g.Break = true
		l.nextSeq = 0
	}
	l.appendGen(g)
	return ""
}

func (l *Log) appendGen(g Generation) {
	l.gens = append(l.gens, g)
	l.genPos = append(l.genPos, [2]int{len(l.records), len(l.seals)})
}

// follows checks that a segment with header h may follow the segments read
// so far: same log, next number, chained to the last frame before it.
func (st *parser) follows(h Header, corrupt func(int, string, ...any) error) error {
	l, t := st.l, &st.t
	if r := l.recovery; r != nil {
		return &CorruptError{Path: r.Path, Offset: r.Offset,
			Reason: fmt.Sprintf("%s, but the segment is not the last", r.Reason)}
	}
	first := l.header
	if h.Salt != first.Salt || h.Dev != first.Dev || h.FSType != first.FSType || h.Mount != first.Mount || h.UUID != first.UUID {
		return corrupt(0, "the header is not of the log of %s", st.prev)
	}
	if want := t.header.Segment + 1; h.Segment != want {
		return corrupt(44, "header says segment %d, want %d (after %s)", h.Segment, want, st.prev)
	}
	if h.PrevCRC != t.prev {
		return corrupt(76, "does not chain to the end of %s (previous crc %#08x, the segment ends with %#08x)", st.prev, h.PrevCRC, t.prev)
	}
	last, _ := l.LastSealed()
	if h.Sealed != last || h.NextSeq < l.NextSeq() || h.Base != max(last, t.counts.max()) {
		return corrupt(52, "header says base %d, sealed %d, next seq %d; %s ends with sealed %d, next seq %d or more, epochs up to %d",
			h.Base, h.Sealed, h.NextSeq, st.prev, last, l.NextSeq(), max(last, t.counts.max()))
	}
	return nil
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
	isSeal := func(n int) bool { return n == sealPayloadSizeV1 || n == sealPayloadSize }
	for q := p; q+frameHeaderSize <= len(data); q += 8 {
		b, n, ok := chainedAfter(data, q, salt, isSeal)
		if !ok || le.Uint16(data[b+4:]) != frameSeal {
			continue
		}
		s, err := decodeSealPayload(data[b+frameHeaderSize : b+frameHeaderSize+n])
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

// max returns the greatest epoch counted, 0 if none.
func (c *epochCounts) max() uint64 {
	var m uint64
	for e := range c.n {
		m = max(m, e)
	}
	return m
}

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
