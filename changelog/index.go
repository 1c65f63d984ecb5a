package changelog

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// The index of a segment, SEGMENT.idx, says where the segment's seals are,
// so that a reader of the epochs after N finds the seal of N, or the last
// one before it, without reading the segment up to there. It is a hint,
// never trusted over the log: an entry is used only if the frame at its
// offset is the seal of its epoch, valid with the crc the entry gives, and
// a seal version 3 (which says where the records of the later epochs
// before it start). Anything else (a missing, damaged or stale index, an
// entry that does not match) sends the reader to the start of the segment.
// doc.go describes the file.
const (
	indexMagic      = "WBLOGIX\x01"
	indexVersion    = 1
	indexHeaderSize = 32
	indexEntrySize  = 24
)

// indexPath is the index file of the segment file seg.
func indexPath(seg string) string { return seg + ".idx" }

// indexEntry is a seal: its epoch and where its frame is.
type indexEntry struct {
	epoch uint64
	seal  frameRef
}

// indexHeader returns the header of the index of a segment of the log
// with salt.
func indexHeader(salt, segment uint64) []byte {
	b := append([]byte(indexMagic), 0, 0, 0, 0, 0, 0, 0, 0)
	le.PutUint16(b[8:], indexVersion)
	b = le.AppendUint64(b, salt)
	return le.AppendUint64(b, segment)
}

// appendIndexEntry appends e. Its crc covers the header's salt and segment
// number, so that an entry of another log's or another segment's index
// never passes.
func appendIndexEntry(b []byte, salt, segment uint64, e indexEntry) []byte {
	start := len(b)
	b = le.AppendUint64(b, e.epoch)
	b = le.AppendUint64(b, uint64(e.seal.off))
	b = le.AppendUint32(b, e.seal.prev)
	return le.AppendUint32(b, indexEntryCRC(salt, segment, b[start:]))
}

func indexEntryCRC(salt, segment uint64, entry []byte) uint32 {
	c := crcUint(0, salt, 8)
	c = crcUint(c, segment, 8)
	return crc32.Update(c, castagnoli, entry[:20])
}

// writeIndex replaces the index of the segment seg with entries: a new
// file renamed into place, so that a reader sees the old index or the new
// one. It is not fsynced: a reader checks every entry it uses.
func writeIndex(seg string, salt, segment uint64, entries []indexEntry) error {
	b := indexHeader(salt, segment)
	for _, e := range entries {
		b = appendIndexEntry(b, salt, segment, e)
	}
	f, err := os.CreateTemp(filepath.Dir(seg), "."+filepath.Base(seg)+".idx-*")
	if err != nil {
		return fmt.Errorf("changelog: index of %s: %w", seg, err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), indexPath(seg))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("changelog: index of %s: %w", seg, err)
	}
	return nil
}

// errIndex: the index is missing, damaged or of another segment; rebuild it.
var errIndex = errors.New("changelog: no usable index")

// findIndexed returns the entry of the index of segment seg for the
// greatest epoch in [lo, hi], and false if there is none. Entries are
// found by binary search, read one at a time: the index is never read
// whole. A damaged entry met, or entries out of order, are errIndex.
func findIndexed(seg string, salt, segment, lo, hi uint64) (indexEntry, bool, error) {
	f, err := os.Open(indexPath(seg))
	if err != nil {
		return indexEntry{}, false, fmt.Errorf("%w: %w", errIndex, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return indexEntry{}, false, fmt.Errorf("%w: %w", errIndex, err)
	}
	hdr := make([]byte, indexHeaderSize)
	if _, err := f.ReadAt(hdr, 0); err != nil || string(hdr) != string(indexHeader(salt, segment)) {
		return indexEntry{}, false, fmt.Errorf("%w: %s: not the index of this segment", errIndex, indexPath(seg))
	}
	// A partial last entry (a writer appending) is not one.
	n := (fi.Size() - indexHeaderSize) / indexEntrySize
	b := make([]byte, indexEntrySize)
	entry := func(i int64) (indexEntry, error) {
		if _, err := f.ReadAt(b, indexHeaderSize+i*indexEntrySize); err != nil {
			return indexEntry{}, fmt.Errorf("%w: %w", errIndex, err)
		}
		if le.Uint32(b[20:]) != indexEntryCRC(salt, segment, b) {
			return indexEntry{}, fmt.Errorf("%w: %s: entry %d is damaged", errIndex, indexPath(seg), i)
		}
		return indexEntry{le.Uint64(b), frameRef{int64(le.Uint64(b[8:])), le.Uint32(b[16:])}}, nil
	}
	// The last entry with epoch <= hi. Should the entries be out of
	// order, the one found is still a seal in [lo, hi], or none: the
	// reader reads more, never less.
	i, j := int64(0), n
	for i < j {
		m := i + (j-i)/2
		e, err := entry(m)
		if err != nil {
			return indexEntry{}, false, err
		}
		if e.epoch <= hi {
			i = m + 1
		} else {
			j = m
		}
	}
	if i == 0 {
		return indexEntry{}, false, nil
	}
	e, err := entry(i - 1)
	if err != nil || e.epoch < lo {
		return indexEntry{}, false, err
	}
	return e, true, nil
}

// indexedSeal reads the seal frame e names from the segment r, checks it
// against e and returns where the records of the epochs after it start.
// Any mismatch is errIndex: the index is stale or damaged.
func indexedSeal(r io.ReaderAt, path string, salt uint64, frames int64, e indexEntry) (frameRef, error) {
	b := make([]byte, frameSize(sealPayloadSize))
	n, err := r.ReadAt(b, e.seal.off)
	if err != nil && !errors.Is(err, io.EOF) {
		return frameRef{}, fmt.Errorf("changelog: %s: %w", path, err)
	}
	stale := func(why string) (frameRef, error) {
		return frameRef{}, fmt.Errorf("%w: %s: the entry for epoch %d at offset %d: %s", errIndex, indexPath(path), e.epoch, e.seal.off, why)
	}
	if e.seal.off < frames || e.seal.off%8 != 0 {
		return stale("not a frame's offset")
	}
	size, why := checkFrame(b[:n], salt, e.seal.prev)
	if why != "" {
		return stale(why)
	}
	if le.Uint16(b[4:]) != frameSeal || le.Uint16(b[6:]) != 0 {
		return stale("not a seal frame")
	}
	s, start, known, err := decodeSealPayload(b[frameHeaderSize : frameHeaderSize+size])
	switch {
	case err != nil:
		return stale(err.Error())
	case s.Epoch != e.epoch:
		return stale(fmt.Sprintf("the seal there is of epoch %d", s.Epoch))
	case !known:
		return stale("a seal of an older version, which does not say where the later epochs start")
	case start.off < frames || start.off > e.seal.off:
		return stale(fmt.Sprintf("the seal says the later epochs start at offset %d", start.off))
	}
	return start, nil
}
