package changelog

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/wbarrier/wbarrier/record"
)

// Damage is a range of a segment's bytes that Salvage could not verify.
type Damage struct {
	Path   string // the segment file
	Offset int64
	Bytes  int64
	Reason string // what is wrong with its first frame (or header)
}

// EpochRange is the epochs First..Last.
type EpochRange struct{ First, Last uint64 }

// Salvaged says what Salvage copied and what it could not.
type Salvaged struct {
	Source Header // of the source's first segment
	Header Header // of the new log
	// Damage are the byte ranges that could not be verified, in file
	// order; empty if the source was whole (a torn tail is damage too).
	Damage []Damage
	// Kept are the epochs sealed in the new log, with every record of
	// theirs: Records records and Seals seals in all.
	Kept    []EpochRange
	Records uint64
	Seals   uint64
	// Lost are the epochs, between the first and the last epoch of a
	// verified frame of the source, that the new log does not seal: their
	// seal or some of their records were in the damage (or the source did
	// not seal them either). Their DroppedRecords verified records are not
	// copied.
	Lost           []EpochRange
	DroppedRecords uint64
	// TailDamaged: the source's last segment ends in damage, so epochs
	// after the last one seen may have been sealed there.
	TailDamaged bool
}

// Salvage copies what can be proven intact of the log at src into a new
// log at dst, which must not exist (errors.Is(err, fs.ErrExist)). The
// source is only read.
//
// A frame is proven intact when its chained CRC is valid with, as the
// previous CRC, the one stored in the frame before it (or the segment
// header's): so the frames of the valid prefix, and, after a frame that
// fails its check, every frame from the first one that is chained to the
// frame before it (found as Open finds a seal after damage: at each 8-byte
// aligned offset, a plausible frame header followed by a frame whose CRC
// is valid with that header's CRC as the previous one), up to the next
// damage. The frame before the one found is counted as damage: only its
// CRC field is vouched for. A later segment's frames are chained to its
// header, so damage never runs past the end of a segment.
//
// An epoch is copied, sealed, if and only if its seal is proven intact
// and the proven records of its epoch are as many as the seal counts: no
// record of it was in the damage (nor in removed segments). Records of
// other epochs are not copied: a daemon resuming on the new log must not
// seal an epoch whose records are partly lost. The new log is one segment
// with a new salt, the source's identity and its frames' order.
//
// progress, if not nil, is called as the work goes on, at least once per
// MiB of the source: done bytes of total (the source is read twice, first
// to find the whole epochs, then to copy them: total is twice its size).
// On an error, dst is removed.
func Salvage(src, dst string, progress func(done, total int64)) (*Salvaged, error) {
	segs, err := listSegments(src)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("changelog: open %s: %w", src, os.ErrNotExist)
	}
	var total int64
	for _, s := range segs {
		fi, err := os.Stat(s.path)
		if err != nil {
			return nil, fmt.Errorf("changelog: %w", err)
		}
		total += 2 * fi.Size()
	}
	var done int64
	report := func(n int64) {
		if done += n; progress != nil {
			progress(done, total)
		}
	}
	// First pass: which epochs are whole.
	sv := &Salvaged{}
	counts := map[uint64]uint64{}
	var seals []Seal
	var span []EpochRange // the first and last epoch seen
	seen := func(epoch uint64) {
		if span == nil {
			span = []EpochRange{{epoch, epoch}}
		}
		span[0].First = min(span[0].First, epoch)
		span[0].Last = max(span[0].Last, epoch)
	}
	err = salvageScan(segs, sv, report, func(r *record.Record, s *Seal) error {
		if r != nil {
			counts[r.Epoch]++
			seen(r.Epoch)
		} else {
			seals = append(seals, *s)
			seen(s.Epoch)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	whole := map[uint64]bool{}
	for _, s := range seals {
		whole[s.Epoch] = counts[s.Epoch] == s.Records
	}

	// Second pass: copy them.
	w, err := Create(dst, sv.Source)
	if err != nil {
		return nil, err
	}
	sv.Header = w.Header()
	var scanned Salvaged // the damage again
	err = salvageScan(segs, &scanned, report, func(r *record.Record, s *Seal) error {
		switch {
		case r != nil && whole[r.Epoch]:
			sv.Records++
			return w.Append(*r)
		case r != nil:
			sv.DroppedRecords++
		case whole[s.Epoch]:
			sv.Seals++
			sv.Kept = addEpoch(sv.Kept, s.Epoch)
			return w.Seal(s.Epoch, s.Seq, s.Lossy)
		}
		return nil
	})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return nil, err
	}
	sv.Lost = lostEpochs(span, sv.Kept)
	return sv, nil
}

// addEpoch adds epoch, greater than every epoch in rs, to rs.
func addEpoch(rs []EpochRange, epoch uint64) []EpochRange {
	if n := len(rs); n > 0 && rs[n-1].Last+1 == epoch {
		rs[n-1].Last = epoch
		return rs
	}
	return append(rs, EpochRange{epoch, epoch})
}

// lostEpochs returns the epochs of span (one range, or none) not in kept.
func lostEpochs(span, kept []EpochRange) []EpochRange {
	if len(span) == 0 {
		return nil
	}
	var lost []EpochRange
	next := span[0].First
	for _, k := range kept {
		if k.First > next {
			lost = append(lost, EpochRange{next, k.First - 1})
		}
		next = k.Last + 1
	}
	if next <= span[0].Last {
		lost = append(lost, EpochRange{next, span[0].Last})
	}
	return lost
}

// salvageScan reads the segments in order and calls frame for every frame
// proven intact (see Salvage), in file order, with its record or its seal.
// It sets sv.Source, sv.TailDamaged and appends to sv.Damage; report gets
// the bytes read, a MiB or a segment's end at a time.
func salvageScan(segs []segmentFile, sv *Salvaged, report func(int64), frame func(*record.Record, *Seal) error) error {
	chained := false // prev is the CRC of the frame before p
	var prev uint32
	var fileEnd int // the size of the segment being read
	var salt uint64
	damage := func(path string, off, end int, why string) {
		sv.Damage = append(sv.Damage, Damage{Path: path, Offset: int64(off), Bytes: int64(end - off), Reason: why})
		chained = false
		sv.TailDamaged = path == segs[len(segs)-1].path && end > off && end == fileEnd
	}
	for i, s := range segs {
		data, err := os.ReadFile(s.path)
		if err != nil {
			return fmt.Errorf("changelog: %w", err)
		}
		fileEnd = len(data)
		reported := 0
		progress := func(p int) {
			if p-reported >= 1<<20 || (p == len(data) && p > reported) {
				report(int64(p - reported))
				reported = p
			}
		}
		h, p, hcrc, err := decodeHeader(data, s.path)
		if i == 0 {
			if err != nil {
				return fmt.Errorf("changelog: salvage: the header of the first segment is needed: %w", err)
			}
			sv.Source, salt = h, h.Salt
		} else if err == nil && h.Salt != salt {
			err = fmt.Errorf("the header is not of the log of %s", segs[0].path)
		}
		if err != nil {
			damage(s.path, 0, len(data), err.Error())
			progress(len(data))
			continue
		}
		if i > 0 && chained && h.PrevCRC != prev {
			damage(s.path, 0, 0, fmt.Sprintf("does not chain to the end of %s", segs[i-1].path))
		}
		prev, chained = hcrc, true
		for p < len(data) {
			n, why := checkFrame(data[p:], salt, prev)
			if why != "" {
				a, b, ok := resync(data, p, salt)
				if !ok {
					damage(s.path, p, len(data), why)
					break
				}
				damage(s.path, p, b, why)
				p, prev, chained = b, le.Uint32(data[a+8:]), true
				continue
			}
			f := data[p : p+frameSize(n)]
			r, seal, why := decodeFrame(f, n)
			if why != "" {
				damage(s.path, p, p+len(f), why)
			} else if r == nil && seal == nil {
				// a generation: nothing to count or copy
			} else if err := frame(r, seal); err != nil {
				return err
			}
			prev, chained = le.Uint32(f[8:]), true
			p += len(f)
			progress(p)
		}
		progress(len(data))
	}
	return nil
}

// decodeFrame decodes the valid frame f with an n-byte payload: a record, a
// seal, neither for a generation, or why it is none of them.
func decodeFrame(f []byte, n int) (*record.Record, *Seal, string) {
	if r := le.Uint16(f[6:]); r != 0 {
		return nil, nil, fmt.Sprintf("frame reserved field is %#x, not 0", r)
	}
	payload := f[frameHeaderSize : frameHeaderSize+n]
	switch typ := le.Uint16(f[4:]); typ {
	case frameRecord:
		r, err := decodeRecordPayload(payload)
		if err != nil {
			return nil, nil, err.Error()
		}
		return &r, nil, ""
	case frameSeal:
		s, _, _, err := decodeSealPayload(payload)
		if err != nil {
			return nil, nil, err.Error()
		}
		return nil, &s, ""
	case frameGeneration:
		// Intact, and not copied: the new log's epochs stand for
		// themselves, and a break's epoch, never sealed, stays a gap.
		if _, err := decodeGenerationPayload(payload); err != nil {
			return nil, nil, err.Error()
		}
		return nil, nil, ""
	case frameUnmount:
		// Intact, and not copied, like a generation.
		if _, err := decodeUnmountPayload(payload); err != nil {
			return nil, nil, err.Error()
		}
		return nil, nil, ""
	default:
		return nil, nil, fmt.Sprintf("unknown frame type %d", typ)
	}
}

// resync finds where a chain of valid frames starts again after damage at
// p: the first 8-byte aligned offset a >= p where a plausible frame header
// starts and the frame right after it, at b, is valid with a's stored CRC
// as the previous CRC.
func resync(data []byte, p int, salt uint64) (a, b int, ok bool) {
	for a = p; a+frameHeaderSize <= len(data); a += 8 {
		if b, _, ok = chainedAfter(data, a, salt, nil); ok {
			return a, b, true
		}
	}
	return 0, 0, false
}

// chainedAfter checks for a plausible frame header at a followed, at b, by
// a frame whose CRC is valid with a's stored CRC as the previous CRC and
// whose payload length want accepts (any if want is nil). It returns b and
// the payload length of the frame there.
func chainedAfter(data []byte, a int, salt uint64, want func(int) bool) (b, n int, ok bool) {
	plausible := func(q int) (int, bool) {
		if q+frameHeaderSize > len(data) {
			return 0, false
		}
		l := le.Uint32(data[q:])
		typ := le.Uint16(data[q+4:])
		return int(l), (typ == frameRecord || typ == frameSeal || typ == frameGeneration || typ == frameUnmount) && le.Uint16(data[q+6:]) == 0 && l <= MaxPayload
	}
	m, ok := plausible(a)
	if !ok {
		return 0, 0, false
	}
	b = a + frameSize(m)
	n, ok = plausible(b)
	if !ok || (want != nil && !want(n)) || b+frameSize(n) > len(data) {
		return 0, 0, false
	}
	f := data[b : b+frameSize(n)]
	if frameCRC(salt, le.Uint32(data[a+8:]), f) != le.Uint32(f[8:]) {
		return 0, 0, false
	}
	return b, n, true
}

// String returns "N", or "N..M" for more than one epoch.
func (r EpochRange) String() string {
	if r.First == r.Last {
		return fmt.Sprint(r.First)
	}
	return fmt.Sprintf("%d..%d", r.First, r.Last)
}

// MarshalText is its String.
func (r EpochRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (r *EpochRange) UnmarshalText(b []byte) error {
	first, last, found := strings.Cut(string(b), "..")
	var err error
	if r.First, err = strconv.ParseUint(first, 10, 64); err == nil {
		r.Last = r.First
		if found {
			r.Last, err = strconv.ParseUint(last, 10, 64)
		}
	}
	if err != nil || r.Last < r.First {
		return fmt.Errorf("changelog: %q is not an epoch range (N or N..M)", b)
	}
	return nil
}

// Contains reports whether epoch is in the range.
func (r EpochRange) Contains(epoch uint64) bool { return r.First <= epoch && epoch <= r.Last }
