package changelog

import (
	"math"
	"slices"

	"github.com/wbarrier/wbarrier/record"
)

// Log is a log as read and validated by Open: the header of its first
// segment, its records and seals in order, and the torn tail if there was
// one. It is immutable and safe for concurrent use.
//
// OpenSince and Stream return a Log that holds less: see them.
type Log struct {
	header   Header // of the oldest segment
	start    Header // of the first segment read
	records  []record.Record
	seals    []Seal
	sealPos  []int // how many records precede each seal in the files
	recovery *Recovery
	segments []string // the files read, oldest first
	nextSeq  uint64
	gens     []Generation
	genPos   [][2]int // how many records and seals precede each generation
	last     uint64   // the last seal's epoch, if sealed
	sealed   bool
	held     bool   // a record, seal or generation frame was read
	since    uint64 // OpenSince: records and seals of later epochs only
	// The first generation read followed one in frames not read.
	priorUnknown bool
	partial      bool     // OpenSince or Stream: not every frame is kept
	unmount      *Unmount // the last frame read is an unmount frame
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
	l := new(Log)
	if _, err := readLog(path, 0, 0, l, l.keep(0, true)); err != nil {
		return nil, err
	}
	return l, nil
}

// OpenSince is Open for a reader of the epochs after since: it reads and
// validates only the segments that can hold their records and seals (from
// the last one whose header's Base is at most since), a frame at a time,
// and keeps only the records and seals of the epochs after since. Damage
// in the segments before is not seen (Open and Stream see it); docs/changes.md
// says why the answers stay right. The Log's Changes answers ranges that
// start at since or later; Segments lists the files read; Generations the
// generations in force in them; Header and Base are the oldest segment's.
func OpenSince(path string, since uint64) (*Log, error) {
	l := new(Log)
	if _, err := readLog(path, since, 0, l, l.keep(since, false)); err != nil {
		return nil, err
	}
	return l, nil
}

// Stream reads and validates every segment of the log at path as Open
// does, a frame at a time, and passes each frame to v as soon as it has
// passed its checks: memory stays small whatever the log's size. The Log
// it returns holds what Open's does except the records and seals (Records,
// Seals and EachFrame give none; Changes answers nothing).
//
// An error (corruption found further on, or v's) comes after v has had the
// frames before it.
func Stream(path string, v Visitor) (*Log, error) {
	l := &Log{partial: true, since: math.MaxUint64}
	if _, err := readLog(path, 0, 0, l, v); err != nil {
		return nil, err
	}
	return l, nil
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
func (l *Log) LastSealed() (uint64, bool) { return l.last, l.sealed }

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

// Unmount returns the clean unmount the log ends with: the state of the
// filesystem that the last frame of the log recorded (Writer.Unmount),
// and false if the last frame is not an unmount frame.
func (l *Log) Unmount() (Unmount, bool) {
	if l.unmount == nil {
		return Unmount{}, false
	}
	return *l.unmount, true
}

// empty reports whether the log never held anything: no record, seal or
// generation, and no segment removed.
func (l *Log) empty() bool { return !l.held && l.start.Segment == 0 }

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
