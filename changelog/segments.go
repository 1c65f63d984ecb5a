package changelog

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// segmentFile is one file of a log.
type segmentFile struct {
	n    uint64 // segment number
	path string
}

// SegmentPath is the file of segment n of the log at path: path itself for
// segment 0, path.NNNNNN (at least six digits) for the others.
func SegmentPath(path string, n uint64) string {
	if n == 0 {
		return path
	}
	return fmt.Sprintf("%s.%06d", path, n)
}

// listSegments returns the segment files of the log at path, in order. A
// number missing between two files is corruption, reported on the later
// one.
func listSegments(path string) ([]segmentFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("changelog: %w", err)
	}
	var segs []segmentFile
	for _, e := range ents {
		name := e.Name()
		if name == base {
			segs = append(segs, segmentFile{0, path})
			continue
		}
		num, ok := strings.CutPrefix(name, base+".")
		if !ok || len(num) < 6 || strings.Trim(num, "0123456789") != "" {
			continue
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil || n == 0 || fmt.Sprintf("%06d", n) != num {
			continue // FILE.000000, or extra leading zeros: not ours
		}
		segs = append(segs, segmentFile{n, SegmentPath(path, n)})
	}
	slices.SortFunc(segs, func(a, b segmentFile) int { return cmp.Compare(a.n, b.n) })
	for i := 1; i < len(segs); i++ {
		if segs[i].n != segs[i-1].n+1 {
			return nil, &CorruptError{Path: segs[i].path, Offset: 0,
				Reason: fmt.Sprintf("segments missing between %s and this one", segs[i-1].path)}
		}
	}
	return segs, nil
}

// readAttempts bounds how often readLog lists the segments again because a
// segment was removed (by Purge) while it opened them.
const readAttempts = 5

// openFile is an open segment file.
type openFile struct {
	segmentFile
	f *os.File
}

// openSegments opens the segment files of the log at path, oldest first.
// Once open, a segment removed by Purge can still be read.
func openSegments(path string) ([]openFile, error) {
	for attempt := 1; ; attempt++ {
		segs, err := listSegments(path)
		if err != nil {
			return nil, err
		}
		if len(segs) == 0 {
			return nil, fmt.Errorf("changelog: open %s: %w", path, fs.ErrNotExist)
		}
		files := make([]openFile, 0, len(segs))
		for _, s := range segs {
			var f *os.File
			if f, err = os.Open(s.path); err != nil {
				break
			}
			files = append(files, openFile{s, f})
		}
		if err == nil {
			return files, nil
		}
		closeFiles(files)
		if !errors.Is(err, fs.ErrNotExist) || attempt == readAttempts {
			return nil, fmt.Errorf("changelog: %w", err)
		}
		// purged while we listed: list again
	}
}

// size returns the file's size now.
func (s openFile) size() (int64, error) {
	fi, err := s.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func closeFiles(files []openFile) {
	for _, f := range files {
		f.f.Close()
	}
}

// readLog reads and validates the segments of the log at path into l, a
// frame at a time, passing the frames to v. It reads the segments from the
// last one whose header's Base is at most since (every segment if since is
// 0: see doc.go for why the others hold nothing of the epochs after since),
// and extra segments before that one. Without extra, it starts at the
// last seal of an epoch up to since that the segment's index finds, and
// rebuilds the index of a segment before the last that it read whole
// because its index was missing or stale. With extra, it rebuilds the
// indexes of the segments it read. It returns what a writer needs to
// append to the last segment.
func readLog(path string, since uint64, extra int, l *Log, v Visitor) (*tail, error) {
	files, err := openSegments(path)
	if err != nil {
		return nil, err
	}
	defer closeFiles(files)
	j := 0
	var h Header
	if since > 0 {
		for j = len(files) - 1; j >= 0; j-- {
			if h, _, _, err = readHeaderAt(files[j].f, files[j].path); err != nil {
				return nil, err
			}
			if h.Base <= since || j == 0 {
				break
			}
		}
	}
	if j = max(j-extra, 0); j > 0 {
		// The log's identity and its purged epochs are the oldest segment's.
		if l.header, _, _, err = readHeaderAt(files[0].f, files[0].path); err != nil {
			return nil, err
		}
	}
	st := parser{l: l, v: v}
	var seek, sought *seekPoint
	rebuild := map[string][]indexEntry{}
	switch {
	case extra > 0:
		for _, s := range files[j:] {
			rebuild[s.path] = []indexEntry{}
		}
	case since > 0 && h.Base <= since:
		seek, err = seekIndexed(files[j], h, since)
		sought = seek
		if errors.Is(err, errIndex) && j < len(files)-1 {
			rebuild[files[j].path] = []indexEntry{}
		} else if err != nil && !errors.Is(err, errIndex) {
			return nil, err
		}
	}
	st.onSeal = func(seg string, e indexEntry) {
		if es, ok := rebuild[seg]; ok {
			rebuild[seg] = append(es, e)
		}
	}
	for _, s := range files[j:] {
		if err := st.segment(s.f, s.size, s.path, seek); err != nil {
			return nil, err
		}
		seek = nil
		if h := st.t.header; h.Segment != s.n {
			return nil, &CorruptError{Path: s.path, Offset: 44,
				Reason: fmt.Sprintf("the header says segment %d", h.Segment)}
		}
	}
	if l.priorUnknown {
		// The generation a break follows names the break's cause.
		if err := l.priorGeneration(files[j], sought.seal); err != nil {
			return nil, err
		}
	}
	for _, s := range files[j:] {
		if es, ok := rebuild[s.path]; ok {
			// A hint: a reader without write access goes on without it.
			writeIndex(s.path, l.header.Salt, s.n, es)
		}
	}
	return &st.t, nil
}

// priorGeneration puts first in l's generations the one in force at
// offset upTo of segment s, where a read that found l's first generation
// started: the segment is read from its start up to there, once, when a
// generation follows that point.
func (l *Log) priorGeneration(s openFile, upTo int64) error {
	st := parser{l: new(Log), stopAt: upTo}
	if err := st.segment(s.f, s.size, s.path, nil); err != nil {
		return err
	}
	g, ok := st.l.Generation()
	if !ok {
		return nil
	}
	l.gens = append([]Generation{g}, l.gens...)
	l.genPos = append([][2]int{{0, 0}}, l.genPos...)
	return nil
}

// seekIndexed returns where a reader of the epochs after since starts in
// the segment s whose header is h: at the last seal of an epoch in
// [h.Base, since] that the segment's index names, if the log confirms it.
// It returns nil if the index names none; errIndex if the index is missing,
// damaged or stale.
func seekIndexed(s openFile, h Header, since uint64) (*seekPoint, error) {
	e, ok, err := findIndexed(s.path, h.Salt, h.Segment, h.Base, since)
	if !ok || err != nil {
		return nil, err
	}
	frames := int64(headerSize(h))
	from, err := indexedSeal(s.f, s.path, h.Salt, frames, e)
	if err != nil {
		return nil, err
	}
	return &seekPoint{from: from, seal: e.seal.off, epoch: e.epoch}, nil
}

// readHeaderAt reads the header at the start of a segment.
func readHeaderAt(r io.ReaderAt, path string) (Header, int, uint32, error) {
	b := make([]byte, 16)
	n, err := r.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return Header{}, 0, 0, fmt.Errorf("changelog: %s: header: %w", path, err)
	}
	if n == len(b) {
		size := min(max(int(le.Uint32(b[12:])), headerMinSize), 1<<20) // decodeHeader judges it
		b = make([]byte, size)
		if n, err = r.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
			return Header{}, 0, 0, fmt.Errorf("changelog: %s: header: %w", path, err)
		}
	}
	return decodeHeader(b[:n], path)
}

// Purge removes the oldest segments of the log at path that hold nothing
// after epoch upTo: segment K goes when segment K+1 exists and its Base is
// at most upTo, so that every epoch after upTo stays answerable. The last
// segment, which the writer appends to, is never removed. Segments are
// removed oldest first, the directory fsynced after each, so that a crash
// leaves the newest ones, in order, without a gap. It returns the files
// removed.
//
// The caller decides upTo: the slowest consumer's acknowledged epoch, made
// durable before calling Purge.
func Purge(path string, upTo uint64) ([]string, error) {
	segs, err := listSegments(path)
	if err != nil {
		return nil, err
	}
	var removed []string
	for i := 0; i+1 < len(segs); i++ {
		next, err := headerOf(segs[i+1].path)
		if err != nil {
			return removed, err
		}
		if next.Base > upTo {
			break
		}
		if err := os.Remove(segs[i].path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("changelog: purge: %w", err)
		}
		os.Remove(indexPath(segs[i].path)) // a hint, gone with its segment
		removed = append(removed, segs[i].path)
		if err := syncDir(filepath.Dir(path)); err != nil {
			return removed, fmt.Errorf("changelog: purge: %w", err)
		}
	}
	return removed, nil
}

// headerOf reads the header of the segment file at path.
func headerOf(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, fmt.Errorf("changelog: %w", err)
	}
	defer f.Close()
	h, _, _, err := readHeaderAt(f, path)
	return h, err
}
