package changelog

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wbarrier/wbarrier/record"
)

// flushSize is how many bytes of frames Append buffers before writing them
// (without fsync) to the file.
const flushSize = 64 << 10

// Writer appends to a log. It holds an exclusive flock(2) on the log's
// last segment for as long as it is open, so there is at most one Writer
// per log. Its methods are safe for concurrent use.
//
// After a failed write or fsync the Writer is unusable: every later call
// returns the first error (retrying fsync after a failure can silently lose
// data). Close it and reopen the log with OpenWriter, which cuts off what
// the failure left behind.
type Writer struct {
	mu      sync.Mutex
	f       *os.File
	idx     *os.File // the segment's index, appended to at each seal; nil once that failed
	base    string   // the log's path: segment 0, and the prefix of the others
	path    string   // the segment being appended to
	header  Header   // its header
	segSize int64    // start a new segment at a seal past this size (0: never)
	off     int64    // file offset where buf goes
	buf     []byte   // frames appended but not yet written
	prev    uint32   // CRC of the last frame (in buf or in the file)
	durable bool     // nothing was written to f since it was last fsynced
	last    uint64   // last sealed epoch, if sealed
	sealed  bool
	nextSeq uint64      // one past the seq of the last record or sealed marker
	counts  epochCounts // records per epoch after the last seal
	err     error       // sticky I/O error
	closing bool
	gen     Generation // in force, if hasGen
	hasGen  bool
	empty   bool     // nothing appended ever: the next generation is no break
	unmount *Unmount // the last frame is an unmount frame
}

// Create creates a new, empty log at path for the watch that h describes.
// It fails if the log exists (errors.Is(err, fs.ErrExist)): path, or any
// later segment path.NNNNNN. The file gets mode 0600, a random salt (h.Salt
// is ignored) and the current format version; h.Created defaults to now.
//
// The header is written to a temporary file in the same directory, fsynced,
// then hard-linked to path and the directory fsynced, so that after a crash
// path is either absent or a complete log (a crash may leave the temporary
// file, named "."+base(path)+".tmp-*", behind). The directory must support
// hard links.
func Create(path string, h Header) (*Writer, error) {
	var salt [8]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, fmt.Errorf("changelog: salt: %w", err)
	}
	h.Version = FormatVersion
	h.Salt = binary.LittleEndian.Uint64(salt[:])
	h.Segment, h.Base, h.Sealed, h.NextSeq, h.PrevCRC = 0, 0, 0, 0, 0
	if segs, err := listSegments(path); err != nil && !errors.Is(err, ErrCorrupt) {
		return nil, fmt.Errorf("changelog: create %s: %w", path, err)
	} else if len(segs) > 0 || err != nil {
		return nil, fmt.Errorf("changelog: create %s: %w", path, fs.ErrExist)
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("changelog: create %s: %w", path, fs.ErrExist)
	}
	f, h, crc, err := createSegment(path, h)
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, base: path, path: path, header: h, off: int64(headerSize(h)), prev: crc, durable: true, empty: true}
	w.idx = newIndex(path, h)
	return w, nil
}

// newIndex starts the index of the new segment seg with header h, and
// returns it open for appending; nil if that fails: the index is a hint,
// readers do without it.
func newIndex(seg string, h Header) *os.File {
	if err := writeIndex(seg, h.Salt, h.Segment, nil); err != nil {
		return nil
	}
	return appendIndex(seg)
}

// appendIndex opens the index of segment seg for appending, or returns nil.
func appendIndex(seg string) *os.File {
	f, err := os.OpenFile(indexPath(seg), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil
	}
	return f
}

// indexSeal appends the seal of epoch at at to the segment's index. A
// failure ends the index where it is: readers find the later seals by
// reading the segment, and the next OpenWriter rebuilds it.
func (w *Writer) indexSeal(epoch uint64, at frameRef) {
	if w.idx == nil {
		return
	}
	if _, err := w.idx.Write(appendIndexEntry(nil, w.header.Salt, w.header.Segment, indexEntry{epoch, at})); err != nil {
		w.idx.Close()
		w.idx = nil
	}
}

// createSegment creates the segment file path with header h, locked: the
// header goes to a temporary file, which is fsynced, then linked to path,
// and the directory is fsynced. It returns the open file, the header as a
// reader sees it and its CRC.
func createSegment(path string, h Header) (*os.File, Header, uint32, error) {
	return createSegmentWith(path, h, nil)
}

// createSegmentWith is createSegment whose file also holds, after the
// header, the frame that frame builds (given the header's CRC, it returns
// the frame and the frame's CRC, which is then returned).
func createSegmentWith(path string, h Header, frame func(prev uint32) ([]byte, uint32)) (*os.File, Header, uint32, error) {
	if h.Created.IsZero() {
		h.Created = time.Now()
	}
	h.Created = time.Unix(0, h.Created.UnixNano()).UTC() // what a reader sees
	hdr, crc, err := encodeHeader(&h)
	if err != nil {
		return nil, h, 0, err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, h, 0, fmt.Errorf("changelog: create %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return nil, h, 0, fmt.Errorf("changelog: create %s: %w", path, err)
	}
	if err := lockFile(f); err != nil {
		return nil, h, 0, fmt.Errorf("changelog: create %s: %w", path, err)
	}
	if frame != nil {
		var b []byte
		b, crc = frame(crc)
		hdr = append(hdr, b...)
	}
	if _, err := f.Write(hdr); err != nil {
		return nil, h, 0, fmt.Errorf("changelog: create %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, h, 0, fmt.Errorf("changelog: create %s: fsync: %w", path, err)
	}
	if err := os.Link(f.Name(), path); err != nil {
		return nil, h, 0, fmt.Errorf("changelog: create %s: %w", path, err)
	}
	ok = true
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, h, 0, fmt.Errorf("changelog: create %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, h, 0, fmt.Errorf("changelog: create %s: %w", path, err)
	}
	return f, h, crc, nil
}

// headerSize is the length of h's encoding.
func headerSize(h Header) int {
	b, _, _ := encodeHeader(&h)
	return len(b)
}

// openAttempts bounds how often OpenWriter retries because the writer it
// raced with started a new segment.
const openAttempts = 5

// OpenWriter opens an existing log for appending to its last segment. It
// reads and validates the last two segments (the last one only if the log
// has one), a frame at a time, as Open does: what the segments before hold
// is summed up in the header of the first segment read. If the last
// segment has a torn tail, it appends the torn bytes to SEGMENT.broken
// (creating it with mode 0600 if needed) and fsyncs it, then truncates the
// segment to the end of its last valid frame and fsyncs it, and returns a
// Recovery describing what it cut. The Recovery is nil if nothing was cut.
//
// Damage in the segments read (ErrCorrupt), ErrNotLog and ErrVersion are
// errors, and the files are left untouched. ErrLocked means another
// Writer has it open.
func OpenWriter(path string) (*Writer, *Recovery, error) {
	return OpenWriterVisit(path, Visitor{})
}

// OpenWriterVisit is OpenWriter that also passes the frames it reads to v:
// those of the segments it reads (see OpenWriter), in file order. A daemon
// that resumes learns from them what it needs of the log in the same read.
// v gets each frame once; if it returns an error, so does
// OpenWriterVisit, and the log is left untouched.
func OpenWriterVisit(path string, v Visitor) (*Writer, *Recovery, error) {
	for attempt := 1; ; attempt++ {
		w, rec, err := openLast(path, v)
		if !errors.Is(err, errNotLast) || attempt == openAttempts {
			return w, rec, err
		}
	}
}

// errNotLast: a new segment was started while OpenWriter took the lock.
var errNotLast = errors.New("changelog: a new segment was started meanwhile")

func openLast(path string, v Visitor) (*Writer, *Recovery, error) {
	segs, err := listSegments(path)
	if err != nil {
		return nil, nil, err
	}
	if len(segs) == 0 {
		return nil, nil, fmt.Errorf("changelog: open %s: %w", path, fs.ErrNotExist)
	}
	seg := segs[len(segs)-1].path
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("changelog: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	if err := lockFile(f); err != nil {
		return nil, nil, fmt.Errorf("changelog: %s: %w", seg, err)
	}
	// A writer that held the lock may have started a segment and let go.
	if segs, err := listSegments(path); err != nil {
		return nil, nil, err
	} else if segs[len(segs)-1].path != seg {
		return nil, nil, errNotLast
	}
	l := new(Log)
	t, err := readLog(path, math.MaxUint64, 1, l, v)
	if err != nil {
		return nil, nil, err
	}
	rec := l.Recovery()
	if rec != nil {
		rec.Broken = seg + ".broken"
		if err := appendBroken(rec.Broken, io.NewSectionReader(f, rec.Offset, rec.Bytes)); err != nil {
			return nil, nil, err
		}
		if err := f.Truncate(rec.Offset); err != nil {
			return nil, nil, fmt.Errorf("changelog: truncate %s: %w", seg, err)
		}
		if err := f.Sync(); err != nil {
			return nil, nil, fmt.Errorf("changelog: fsync %s: %w", seg, err)
		}
	}
	// Without a torn tail to cut, what the last writer wrote may not be
	// durable yet: the next sync fsyncs.
	w := &Writer{f: f, base: path, path: seg, header: t.header, off: t.end, prev: t.prev, durable: rec != nil, counts: t.counts, nextSeq: l.NextSeq(), empty: l.empty()}
	w.idx = appendIndex(seg) // readLog rebuilt it
	w.last, w.sealed = l.LastSealed()
	w.gen, w.hasGen = l.Generation()
	if u, ok := l.Unmount(); ok {
		w.unmount = &u
	}
	ok = true
	return w, rec, nil
}

// SetSegmentSize makes the Writer start a new segment at a seal once the
// current one holds n bytes or more; 0 (the default) never does.
func (w *Writer) SetSegmentSize(n int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.segSize = n
}

// rotate starts segment N+1 after the segment N just sealed: its header
// chains to the last frame of N and is durable (fsynced, linked, directory
// fsynced) before anything is appended to it.
func (w *Writer) rotate() error {
	h := w.header
	h.Version = SegmentVersion
	h.Created = time.Time{}
	h.Segment++
	h.Sealed = w.last
	h.Base = max(w.last, w.counts.max())
	h.NextSeq = w.nextSeq
	h.PrevCRC = w.prev
	path := SegmentPath(w.base, h.Segment)
	// The generation in force goes into the new segment as its first
	// frame: it must outlive the removal of the segment that started it.
	var restate func(uint32) ([]byte, uint32)
	if w.hasGen {
		restate = func(prev uint32) ([]byte, uint32) {
			return appendFrame(nil, frameGeneration, h.Salt, prev, func(b []byte) []byte {
				return appendGenerationPayload(b, w.gen)
			})
		}
	}
	f, h, crc, err := createSegmentWith(path, h, restate)
	if err != nil {
		w.err = fmt.Errorf("changelog: starting segment %s (writer now unusable, reopen the log): %w", path, err)
		return w.err
	}
	old := w.f
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		w.err = fmt.Errorf("changelog: starting segment %s (writer now unusable, reopen the log): %w", path, err)
		return w.err
	}
	w.f, w.path, w.header, w.off, w.prev, w.durable = f, path, h, off, crc, true
	w.counts.restart(frameRef{off, crc})
	if w.idx != nil {
		w.idx.Close()
	}
	w.idx = newIndex(path, h)
	if err := old.Close(); err != nil {
		return fmt.Errorf("changelog: close the previous segment of %s: %w", path, err)
	}
	return nil
}

// appendBroken appends what b reads to the file at path and makes it
// durable.
func appendBroken(path string, b io.Reader) error {
	_, statErr := os.Lstat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("changelog: keep torn tail: %w", err)
	}
	_, err = io.Copy(f, b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && errors.Is(statErr, fs.ErrNotExist) {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("changelog: keep torn tail in %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// Header returns the header of the segment being appended to.
func (w *Writer) Header() Header { return w.header }

// LastSealed returns the last sealed epoch, and false if none is.
func (w *Writer) LastSealed() (uint64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.sealed
}

// Generation returns the generation in force, and false if there is none.
func (w *Writer) Generation() (Generation, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gen, w.hasGen
}

// NextSeq returns one past the greatest seq of the generation in force:
// of its records and of the markers of its seals (0: none yet).
func (w *Writer) NextSeq() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nextSeq
}

// StartGeneration records that the log follows the watch g names from now
// on (g.Offset and g.Break are ignored), and makes it durable. In a log
// that never held anything, the generation maps the watch's epochs as they
// are (Offset 0). Otherwise it is a break: its Offset is one past every
// epoch the log holds (sealed, of a record, or an earlier break), and that
// epoch is never sealed, so that changes across it are a rescan; the seqs
// start again (NextSeq is 0). It returns the generation as written.
//
// With g.Continuous, the break epoch is known to be empty instead (see
// Generation.Continuous): that is for a log that ends with an unmount
// frame (Unmount), and an error otherwise. The caller vouches that the
// filesystem did not change since.
func (w *Writer) StartGeneration(g Generation) (Generation, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return Generation{}, err
	}
	if g.Continuous && w.unmount == nil {
		return Generation{}, fmt.Errorf("changelog: %s: a continuous generation must follow an unmount frame, and the log does not end with one", w.path)
	}
	g.Offset, g.Break = 0, false
	if !w.empty {
		g.Offset = max(w.last, w.counts.max())
		if w.hasGen {
			g.Offset = max(g.Offset, w.gen.Offset)
		}
		g.Offset++
		g.Break = true
	}
	w.buf, w.prev = appendFrame(w.buf, frameGeneration, w.header.Salt, w.prev, func(b []byte) []byte {
		return appendGenerationPayload(b, g)
	})
	if err := w.sync(); err != nil {
		return Generation{}, err
	}
	w.gen, w.hasGen, w.empty, w.unmount = g, true, false, nil
	if g.Break {
		w.nextSeq = 0
	}
	return g, nil
}

// Unmount records the clean unmount of the watched filesystem after the
// last seal of the generation in force, and makes it durable: the state u
// that a later watch compares the filesystem with (StartGeneration with
// Continuous). Every epoch the log holds must be sealed, one of them of
// the generation in force. Only a generation may follow (ErrUnmounted).
func (w *Writer) Unmount(u Unmount) error {
	if err := checkUnmount(u); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if w.unmount != nil {
		return fmt.Errorf("%w: %s: an unmount is recorded already", ErrUnmounted, w.path)
	}
	if why := unmountRule(w.last, w.sealed, w.counts.max(), w.gen, w.hasGen); why != "" {
		return fmt.Errorf("changelog: %s: cannot record the unmount: %s", w.path, why)
	}
	w.buf, w.prev = appendFrame(w.buf, frameUnmount, w.header.Salt, w.prev, func(b []byte) []byte {
		return appendUnmountPayload(b, u)
	})
	if err := w.sync(); err != nil {
		return err
	}
	w.unmount = &u
	return nil
}

// LastUnmount returns the clean unmount the log ends with (see Unmount),
// and false if its last frame is not an unmount frame.
func (w *Writer) LastUnmount() (Unmount, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unmount == nil {
		return Unmount{}, false
	}
	return *w.unmount, true
}

// Append adds a record to the log. A record of type record.TypeChange is
// buffered as a record frame (written to the file when the buffer fills,
// made durable by Sync, Seal or Close). A record of type
// record.TypeEpochClosed is the kernel's epoch-closed marker: Append seals
// its epoch, as Seal(r.Epoch, r.Seq, r.Lossy).
//
// A change record of an epoch at or before the last sealed epoch is an
// error (ErrSealed).
func (w *Writer) Append(r record.Record) error {
	if r.Type == record.TypeEpochClosed {
		return w.Seal(r.Epoch, r.Seq, r.Lossy)
	}
	if err := checkRecord(&r); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if w.unmount != nil {
		return fmt.Errorf("%w: record (seq %d) of epoch %d: start a generation first", ErrUnmounted, r.Seq, r.Epoch)
	}
	if w.sealed && r.Epoch <= w.last {
		return fmt.Errorf("%w: record (seq %d) of epoch %d, epoch %d is sealed", ErrSealed, r.Seq, r.Epoch, w.last)
	}
	if w.hasGen && r.Epoch <= w.gen.Offset {
		return fmt.Errorf("%w: record (seq %d) of epoch %d, the generation starts after epoch %d", ErrSealed, r.Seq, r.Epoch, w.gen.Offset)
	}
	w.empty = false
	at := frameRef{w.off + int64(len(w.buf)), w.prev}
	w.buf, w.prev = appendFrame(w.buf, frameRecord, w.header.Salt, w.prev, func(b []byte) []byte {
		return appendRecordPayload(b, &r)
	})
	w.counts.add(r.Epoch, at)
	w.nextSeq = max(w.nextSeq, r.Seq+1)
	if len(w.buf) >= flushSize {
		return w.flush()
	}
	return nil
}

// Seal marks epoch as complete: the durable checkpoint. seq is the seq of
// the kernel's epoch-closed marker of epoch (0 if unknown): the seal keeps
// it, so that a drain resumes after the marker (Log.NextSeq). Seal writes
// and fsyncs every frame appended so far, then writes the seal frame (with
// the number of records of epoch in the log) and fsyncs again. When it returns
// nil, the epoch and all its records survive a crash. If the segment has
// reached the segment size (SetSegmentSize), Seal then starts the next
// segment; if that fails, the seal is durable but the Writer is unusable.
//
// Epochs are sealed in increasing order: sealing an epoch at or before the
// last sealed one is an error (ErrSealed). Sealing epoch N closes every
// epoch up to N: an earlier epoch that was not sealed stays unsealed for
// good, and readers report it as unknown.
func (w *Writer) Seal(epoch, seq uint64, lossy bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if w.unmount != nil {
		return fmt.Errorf("%w: cannot seal epoch %d: start a generation first", ErrUnmounted, epoch)
	}
	if w.sealed && epoch <= w.last {
		return fmt.Errorf("%w: cannot seal epoch %d, epoch %d is sealed", ErrSealed, epoch, w.last)
	}
	if w.hasGen && epoch <= w.gen.Offset {
		return fmt.Errorf("%w: cannot seal epoch %d, the generation starts after epoch %d", ErrSealed, epoch, w.gen.Offset)
	}
	if err := w.sync(); err != nil {
		return err
	}
	s := Seal{Epoch: epoch, Lossy: lossy, Records: w.counts.get(epoch), Seq: seq}
	at := frameRef{w.off, w.prev}
	start := w.counts.start(epoch, at)
	w.buf, w.prev = appendFrame(w.buf, frameSeal, w.header.Salt, w.prev, func(b []byte) []byte {
		return appendSealPayload(b, s, start)
	})
	if err := w.sync(); err != nil {
		return err
	}
	w.last, w.sealed, w.empty = epoch, true, false
	w.indexSeal(epoch, at)
	if seq != 0 {
		w.nextSeq = max(w.nextSeq, seq+1)
	}
	w.counts.dropThrough(epoch)
	if w.segSize > 0 && w.off >= w.segSize {
		return w.rotate()
	}
	return nil
}

// Sync writes the buffered frames and fsyncs the file.
func (w *Writer) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.sync()
}

// Close syncs and closes the log. Records appended after the last seal are
// kept in the file but belong to unsealed epochs.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return fmt.Errorf("changelog: close %s: %w", w.path, fs.ErrClosed)
	}
	w.closing = true
	err := w.err
	if err == nil {
		err = w.sync()
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("changelog: close %s: %w", w.path, cerr)
	}
	if w.idx != nil {
		w.idx.Close() // a hint: its errors do not matter
	}
	return err
}

func (w *Writer) usable() error {
	if w.closing {
		return fmt.Errorf("changelog: %s: %w", w.path, fs.ErrClosed)
	}
	return w.err
}

// flush writes the buffer to the file, without fsync.
func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.f.WriteAt(w.buf, w.off)
	w.off += int64(n)
	w.durable = false
	if err != nil {
		w.err = fmt.Errorf("changelog: write %s (writer now unusable, reopen the log): %w", w.path, err)
		return w.err
	}
	w.buf = w.buf[:0]
	return nil
}

// sync flushes the buffer and fsyncs the file, unless nothing was written
// to it since the last fsync (a drain pass right after a seal): the daemon
// spends as much CPU on an fsync as on hundreds of records.
func (w *Writer) sync() error {
	if err := w.flush(); err != nil {
		return err
	}
	if w.durable {
		return nil
	}
	if err := w.f.Sync(); err != nil {
		w.err = fmt.Errorf("changelog: fsync %s (writer now unusable, reopen the log): %w", w.path, err)
		return w.err
	}
	w.durable = true
	return nil
}
