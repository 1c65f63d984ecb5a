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

func closeFiles(files []openFile) {
	for _, f := range files {
		f.f.Close()
	}
}

// readLog reads and validates the segments of the log at path into l, a
// frame at a time, passing the frames to v. It reads the segments from the
// last one whose header's Base is at most since (every segment if since is
// 0: see doc.go for why the others hold nothing of the epochs after since),
// and extra segments before that one. It returns what a writer needs to
// append to the last segment.
func readLog(path string, since uint64, extra int, l *Log, v Visitor) (*tail, error) {
	files, err := openSegments(path)
	if err != nil {
		return nil, err
	}
	defer closeFiles(files)
	j := 0
	if since > 0 {
		for j = len(files) - 1; j > 0; j-- {
			h, _, _, err := readHeaderAt(files[j].f, files[j].path)
			if err != nil {
				return nil, err
			}
			if h.Base <= since {
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
	for _, s := range files[j:] {
		size := func() (int64, error) {
			fi, err := s.f.Stat()
			if err != nil {
				return 0, err
			}
			return fi.Size(), nil
		}
		if err := st.segment(s.f, size, s.path); err != nil {
			return nil, err
		}
		if h := st.t.header; h.Segment != s.n {
			return nil, &CorruptError{Path: s.path, Offset: 44,
				Reason: fmt.Sprintf("the header says segment %d", h.Segment)}
		}
	}
	return &st.t, nil
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
