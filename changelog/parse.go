package changelog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/wbarrier/wbarrier/record"
)

// Visitor receives the frames of a log as they are read and validated, in
// file order. A nil field skips its frames. An error returned stops the
// read, which returns it.
//
// A frame is passed on once it has passed its checks; a read that fails
// later (corruption further on) has passed on the frames before it.
type Visitor struct {
	// Segment gets the header of each segment read, before its frames.
	Segment    func(Header) error
	Record     func(record.Record) error
	Seal       func(Seal) error
	Generation func(Generation) error
	Unmount    func(Unmount) error
}

// keep returns a Visitor that collects into l the records and seals of the
// epochs after since (every one if all).
func (l *Log) keep(since uint64, all bool) Visitor {
	l.since, l.partial = since, !all
	return Visitor{
		Record: func(r record.Record) error {
			if all || r.Epoch > since {
				l.records = append(l.records, r)
			}
			return nil
		},
		Seal: func(s Seal) error {
			if all || s.Epoch > since {
				l.seals = append(l.seals, s)
				l.sealPos = append(l.sealPos, len(l.records))
			}
			return nil
		},
	}
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
	st := parser{l: new(Log)}
	st.v = st.l.keep(0, true)
	size := func() (int64, error) { return int64(len(data)), nil }
	if err := st.segment(bytes.NewReader(data), size, path, nil); err != nil {
		return nil, nil, err
	}
	return st.l, &st.t, nil
}

// parser validates the segments of a log, oldest first, a frame at a time:
// it holds what the rules need (the last seal, the generation in force,
// the records of the epochs not sealed yet), never the frames themselves.
type parser struct {
	l      *Log
	t      tail
	v      Visitor
	prev   string // path of the previous segment
	base   uint64 // Base of the first segment read
	buf    []byte // the frame being checked
	reader *bufio.Reader
	onSeal func(path string, e indexEntry) // if not nil: every version 3 seal read
	stopAt int64                           // if not 0: the offset a read stops at
	sought bool                            // the read started at a seal its index found
}

// seekPoint is where a read of a segment starts, found by its index: the
// seal of epoch, at offset seal, and from, where the records of the later
// epochs that precede the seal start.
type seekPoint struct {
	from  frameRef
	seal  int64
	epoch uint64
}

// readBuffer is how much of a segment a parser reads at a time.
const readBuffer = 256 << 10

// segment validates one more segment, read from r. size returns the
// segment's size, which is needed only when a frame is invalid. With seek,
// the read starts at seek.from: the frames before the seal there are
// checked against the chain, and only the records of the epochs after the
// seal's are taken (see doc.go).
func (st *parser) segment(r io.ReaderAt, size func() (int64, error), path string, seek *seekPoint) error {
	h, p, prev, err := readHeaderAt(r, path)
	if err != nil {
		return err
	}
	frames := p
	corrupt := func(off int, format string, args ...any) error {
		return &CorruptError{Path: path, Offset: int64(off), Reason: fmt.Sprintf(format, args...)}
	}
	if st.l.segments == nil {
		if first := st.l.header; first.Version != 0 && !sameLog(h, first) {
			return corrupt(0, "the header is not of the log its oldest segment belongs to")
		}
		st.start(h)
	} else if err := st.follows(h, corrupt); err != nil {
		return err
	}
	l, t := st.l, &st.t
	t.counts.restart(frameRef{int64(p), prev})
	l.segments = append(l.segments, path)
	l.nextSeq = max(l.nextSeq, h.NextSeq)
	st.prev, t.header = path, h
	if st.v.Segment != nil {
		if err := st.v.Segment(h); err != nil {
			return err
		}
	}
	if seek != nil {
		p, prev, l.held, st.sought = int(seek.from.off), seek.from.prev, true, true
		// The records of the seal's epoch and those before are not read.
		st.base = max(st.base, seek.epoch)
	}
	if st.reader == nil {
		st.reader = bufio.NewReaderSize(nil, readBuffer)
	}
	st.reader.Reset(io.NewSectionReader(r, int64(p), math.MaxInt64-int64(p)))
	for st.stopAt == 0 || int64(p) < st.stopAt {
		f, err := st.readFrame()
		if err != nil {
			return fmt.Errorf("changelog: %s: %w", path, err)
		}
		if len(f) == 0 {
			break
		}
		n, why := checkFrame(f, h.Salt, prev)
		restated := p == frames && h.Segment > 0
		if seek != nil && int64(p) < seek.seal {
			if why == "" {
				why, err = st.catchUp(f, n, seek.epoch, restated, frameRef{int64(p), prev})
			}
			if why != "" {
				return corrupt(p, "%s; the valid seal of epoch %d at offset %d follows", why, seek.epoch, seek.seal)
			}
			if err != nil {
				return err
			}
			prev = le.Uint32(f[8:])
			p += len(f)
			if int64(p) > seek.seal {
				return corrupt(p, "the frames from where the seal of epoch %d says the later epochs start do not lead to it (at offset %d)", seek.epoch, seek.seal)
			}
			continue
		}
		if why != "" {
			end, err := size()
			if err != nil {
				return fmt.Errorf("changelog: %s: %w", path, err)
			}
			last, sealed := l.LastSealed()
			q, s, ok, err := findSealAt(r, end, int64(p), h.Salt, last, sealed)
			if err != nil {
				return fmt.Errorf("changelog: %s: %w", path, err)
			}
			if ok {
				return corrupt(p, "%s; the valid seal of epoch %d at offset %d follows, so this frame was durable", why, s.Epoch, q)
			}
			l.recovery = &Recovery{Path: path, Offset: int64(p), Bytes: end - int64(p), Reason: why}
			break
		}
		// The frame is what a writer wrote: any fault now is a hard error.
		why, err = st.frame(f, n, restated, frameRef{int64(p), prev})
		if why != "" {
			return corrupt(p, "%s", why)
		}
		if err != nil {
			return err
		}
		prev = le.Uint32(f[8:])
		p += len(f)
	}
	t.end, t.prev = int64(p), prev
	return nil
}

// start sets the state of a read that begins with the segment whose header
// is h: the log's first, or a later one whose header tells what the
// segments before it hold.
func (st *parser) start(h Header) {
	l := st.l
	if l.header.Version == 0 {
		l.header = h
	}
	l.start, st.base = h, h.Base
	l.last, l.sealed = h.Sealed, h.Sealed != 0
}

// frame applies the valid frame f (payload length n) to the state and
// passes it on. restated: it is the first frame of a later segment; at:
// where it is. It returns why the frame breaks a rule, or the Visitor's
// error.
func (st *parser) frame(f []byte, n int, restated bool, at frameRef) (string, error) {
	l, t := st.l, &st.t
	corrupt := func(format string, args ...any) (string, error) {
		return fmt.Sprintf(format, args...), nil
	}
	if r := le.Uint16(f[6:]); r != 0 {
		return corrupt("frame reserved field is %#x, not 0", r)
	}
	payload := f[frameHeaderSize : frameHeaderSize+n]
	typ := le.Uint16(f[4:])
	// Only a new generation may follow an unmount frame.
	afterUnmount := l.unmount != nil
	if afterUnmount && (typ != frameGeneration || restated) {
		return corrupt("%s after an unmount frame: only a new generation may follow one", frameName(typ))
	}
	l.unmount = nil
	switch typ {
	case frameRecord:
		r, err := decodeRecordPayload(payload)
		if err != nil {
			return corrupt("%v", err)
		}
		if last, ok := l.LastSealed(); ok && r.Epoch <= last {
			return corrupt("record (seq %d) of epoch %d after epoch %d was sealed", r.Seq, r.Epoch, last)
		}
		if g, ok := l.Generation(); ok && r.Epoch <= g.Offset {
			return corrupt("record (seq %d) of epoch %d in the generation after epoch %d", r.Seq, r.Epoch, g.Offset)
		}
		l.held = true
		l.nextSeq = max(l.nextSeq, r.Seq+1)
		t.counts.add(r.Epoch, at)
		if st.v.Record != nil {
			return "", st.v.Record(r)
		}
	case frameSeal:
		s, start, known, err := decodeSealPayload(payload)
		if err != nil {
			return corrupt("%v", err)
		}
		if last, ok := l.LastSealed(); ok && s.Epoch <= last {
			return corrupt("seal of epoch %d after the seal of epoch %d", s.Epoch, last)
		}
		if g, ok := l.Generation(); ok && s.Epoch <= g.Offset {
			return corrupt("seal of epoch %d in the generation after epoch %d", s.Epoch, g.Offset)
		}
		// Records of an epoch up to base may be in segments not read.
		if c := t.counts.get(s.Epoch); c != s.Records && s.Epoch > st.base {
			return corrupt("seal of epoch %d counts %d records, the log holds %d", s.Epoch, s.Records, c)
		}
		if want := t.counts.start(s.Epoch, at); known && start != want && s.Epoch > st.base {
			return corrupt("seal of epoch %d says the records of the epochs after it start at offset %d (crc before %#08x), they start at %d (%#08x)",
				s.Epoch, start.off, start.prev, want.off, want.prev)
		}
		l.held, l.last, l.sealed = true, s.Epoch, true
		if st.onSeal != nil && known {
			st.onSeal(st.prev, indexEntry{s.Epoch, at})
		}
		if s.Seq != 0 {
			l.nextSeq = max(l.nextSeq, s.Seq+1)
		}
		t.counts.dropThrough(s.Epoch)
		if st.v.Seal != nil {
			return "", st.v.Seal(s)
		}
	case frameGeneration:
		g, err := decodeGenerationPayload(payload)
		if err != nil {
			return corrupt("%v", err)
		}
		n := len(l.gens)
		if err := l.addGeneration(g, restated, afterUnmount, &t.counts); err != "" {
			return corrupt("%s", err)
		}
		// The generation before it was in the frames a seek skipped.
		l.priorUnknown = l.priorUnknown || (st.sought && n == 0 && !restated)
		if restated {
			t.counts.restart(frameRef{at.off + int64(len(f)), le.Uint32(f[8:])})
		}
		l.held = true
		// A generation restated as it is in force is no news.
		if st.v.Generation != nil && len(l.gens) > n {
			return "", st.v.Generation(l.gens[len(l.gens)-1])
		}
	case frameUnmount:
		u, err := decodeUnmountPayload(payload)
		if err != nil {
			return corrupt("%v", err)
		}
		last, sealed := l.LastSealed()
		g, hasGen := l.Generation()
		// Records of epochs up to base may be in segments not read.
		if why := unmountRule(last, sealed, max(t.counts.max(), st.base), g, hasGen); why != "" {
			return corrupt("%s", why)
		}
		l.unmount, l.held = &u, true
		if st.v.Unmount != nil {
			return "", st.v.Unmount(u)
		}
	default:
		return corrupt("unknown frame type %d", typ)
	}
	return "", nil
}

// catchUp checks a valid frame f (payload length n) that comes before the
// seal of epoch a read started at (see seekPoint): it must follow the rules
// as far as they can be checked without the frames before it. A record of
// a later epoch is taken as in a read from the start; the rest is skipped.
func (st *parser) catchUp(f []byte, n int, epoch uint64, restated bool, at frameRef) (string, error) {
	payload := f[frameHeaderSize : frameHeaderSize+n]
	switch le.Uint16(f[4:]) {
	case frameRecord:
		r, err := decodeRecordPayload(payload)
		if err == nil && r.Epoch <= epoch {
			st.l.nextSeq = max(st.l.nextSeq, r.Seq+1)
			return "", nil
		}
	case frameSeal:
		s, _, _, err := decodeSealPayload(payload)
		if err == nil && s.Epoch >= epoch {
			return fmt.Sprintf("seal of epoch %d before the seal of epoch %d", s.Epoch, epoch), nil
		}
		if err == nil {
			if s.Seq != 0 {
				st.l.nextSeq = max(st.l.nextSeq, s.Seq+1)
			}
			return "", nil
		}
	case frameGeneration:
		if !restated {
			return fmt.Sprintf("a generation between the start of the epochs after epoch %d and its seal", epoch), nil
		}
	case frameUnmount:
		return fmt.Sprintf("an unmount frame between the start of the epochs after epoch %d and its seal", epoch), nil
	}
	return st.frame(f, n, restated, at)
}

// frameName names a frame type in messages.
func frameName(typ uint16) string {
	switch typ {
	case frameRecord:
		return "a record"
	case frameSeal:
		return "a seal"
	case frameGeneration:
		return "a restated generation"
	case frameUnmount:
		return "an unmount frame"
	}
	return fmt.Sprintf("a frame of type %d", typ)
}

// readFrame reads the next frame, or as much of it as the segment holds:
// its 12-byte header, and its rest if the header is plausible. It returns
// nothing at the end of the segment; checkFrame says what is wrong with a
// short or implausible frame.
func (st *parser) readFrame() ([]byte, error) {
	st.buf = st.buf[:cap(st.buf)]
	if len(st.buf) < frameHeaderSize {
		st.buf = make([]byte, 64<<10)
	}
	got, err := io.ReadFull(st.reader, st.buf[:frameHeaderSize])
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return st.buf[:got], nil
		}
		return nil, err
	}
	n := le.Uint32(st.buf)
	if le.Uint64(st.buf) == 0 || n > MaxPayload {
		return st.buf[:frameHeaderSize], nil
	}
	size := frameSize(int(n))
	if size > len(st.buf) {
		st.buf = append(st.buf, make([]byte, size-len(st.buf))...)
	}
	got, err = io.ReadFull(st.reader, st.buf[frameHeaderSize:size])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return st.buf[:frameHeaderSize+got], nil
}

// addGeneration applies a generation frame. The first frame of a later
// segment restates the generation in force (so that it survives the removal
// of the segment that started it); any other is a new generation, a break
// if the log held anything before it. A continuous one must directly follow
// an unmount frame (afterUnmount) and start right after the last sealed
// epoch. It returns why the frame is invalid.
func (l *Log) addGeneration(g Generation, restated, afterUnmount bool, counts *epochCounts) string {
	cur, ok := l.Generation()
	if restated {
		if ok {
			if g.LoadID != cur.LoadID || g.WatchID != cur.WatchID || g.Dev != cur.Dev || g.Offset != cur.Offset || g.Continuous != cur.Continuous {
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
		if g.Continuous && g.Offset != floor+1 {
			return fmt.Sprintf("continuous generation at epoch %d, not right after epoch %d, the last the log holds", g.Offset, floor)
		}
		g.Break = true
		l.nextSeq = 0
	}
	if g.Continuous && !afterUnmount {
		return "a continuous generation that does not directly follow an unmount frame"
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
	if !sameLog(h, l.start) {
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

// sameLog reports whether two segment headers are of the same log.
func sameLog(a, b Header) bool {
	return a.Salt == b.Salt && a.Dev == b.Dev && a.FSType == b.FSType && a.Mount == b.Mount && a.UUID == b.UUID
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

// findSealAt looks for evidence that the invalid frame at offset p of a
// segment of size bytes had been made durable: a valid seal frame anywhere
// after it. A seal is written only after every frame before it was
// fsynced. Since the chain is broken at p, a seal is validated against the
// CRC stored in the frame just before it: for every 8-byte aligned offset
// q >= p where a plausible frame header A starts, the frame B right after A
// must be a seal whose CRC matches with A's stored CRC as the previous CRC,
// and whose epoch is after the last sealed epoch before p. It returns B's
// offset and seal.
//
// The segment is read a window at a time, so that this takes little memory
// whatever its size: A and B together span at most frameSize(MaxPayload)
// plus a seal frame, so windows that much longer than the step between them
// see every pair.
func findSealAt(r io.ReaderAt, size, p int64, salt uint64, last uint64, sealed bool) (int64, Seal, bool, error) {
	const step = MaxPayload
	buf := make([]byte, step+frameSize(MaxPayload)+frameSize(sealPayloadSize))
	for w := p; w < size; w += step {
		n, err := r.ReadAt(buf[:min(int64(len(buf)), size-w)], w)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, Seal{}, false, err
		}
		if b, s, ok := findSeal(buf[:n], 0, step, salt, last, sealed); ok {
			return w + int64(b), s, true, nil
		}
	}
	return 0, Seal{}, false, nil
}

// findSeal is findSealAt in data, for the A frames at offsets p <= q < end.
func findSeal(data []byte, p, end int, salt uint64, last uint64, sealed bool) (int, Seal, bool) {
	isSeal := func(n int) bool { return n == sealPayloadSizeV1 || n == sealPayloadSizeV2 || n == sealPayloadSize }
	for q := p; q < end && q+frameHeaderSize <= len(data); q += 8 {
		b, n, ok := chainedAfter(data, q, salt, isSeal)
		if !ok || le.Uint16(data[b+4:]) != frameSeal {
			continue
		}
		s, _, _, err := decodeSealPayload(data[b+frameHeaderSize : b+frameHeaderSize+n])
		if err != nil || (sealed && s.Epoch <= last) {
			continue
		}
		return b, s, true
	}
	return 0, Seal{}, false
}
