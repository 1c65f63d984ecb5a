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
// segment was removed (by Purge) while it read them.
const readAttempts = 5

// readLog reads and validates every segment of the log at path. It returns
// the log, what a writer needs to append to its last segment, and that
// segment's contents.
func readLog(path string) (*Log, *tail, []byte, error) {
	for attempt := 1; ; attempt++ {
		segs, err := listSegments(path)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(segs) == 0 {
			return nil, nil, nil, fmt.Errorf("changelog: open %s: %w", path, fs.ErrNotExist)
		}
		var st parser
		var data []byte
		for _, s := range segs {
			data, err = os.ReadFile(s.path)
			if err != nil {
				break
			}
			if err = st.segment(data, s.path); err != nil {
				return nil, nil, nil, err
			}
			if h := st.t.header; h.Segment != s.n {
				return nil, nil, nil, &CorruptError{Path: s.path, Offset: 44,
					Reason: fmt.Sprintf("the header says segment %d", h.Segment)}
			}
		}
		if errors.Is(err, fs.ErrNotExist) && attempt < readAttempts {
			continue // purged while we read: list again
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("changelog: %w", err)
		}
		return st.l, &st.t, data, nil
	}
}

// readHeader reads the header of the file at path.
func readHeader(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, fmt.Errorf("changelog: %w", err)
	}
	defer f.Close()
	b := make([]byte, 16)
	if _, err := io.ReadFull(f, b); err != nil {
		return Header{}, fmt.Errorf("changelog: %s: header: %w", path, err)
	}
	size := int64(le.Uint32(b[12:]))
	if size > 1<<20 {
		size = 1 << 20 // decodeHeader reports the damage
	}
	b = make([]byte, size)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return Header{}, fmt.Errorf("changelog: %s: header: %w", path, err)
	}
	h, _, _, err := decodeHeader(b[:n], path)
	return h, err
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
		next, err := readHeader(segs[i+1].path)
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
