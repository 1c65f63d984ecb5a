package changelog

import (
	"errors"
	"fmt"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrNotLog: the file is not a wbarrier log (empty, or bad magic).
	ErrNotLog = errors.New("changelog: not a wbarrier log")
	// ErrCorrupt: the header or a frame before the tail is damaged, or a
	// frame that passes its CRC breaks the rules of the format. The error
	// is a *CorruptError carrying the byte offset.
	ErrCorrupt = errors.New("changelog: log is corrupt")
	// ErrVersion: the file is a wbarrier log of a format version this
	// package does not know.
	ErrVersion = errors.New("changelog: unsupported log format version")
	// ErrSealed: a record or seal for an epoch that is already closed (at
	// or before the last sealed epoch).
	ErrSealed = errors.New("changelog: epoch already sealed")
	// ErrUnmounted: a record or seal appended to a log that ends with an
	// unmount frame (Writer.Unmount): only a generation may follow one.
	ErrUnmounted = errors.New("changelog: the log ends with the filesystem's unmount")
	// ErrLocked: another Writer has the log open.
	ErrLocked = errors.New("changelog: log is locked by another writer")
)

// CorruptError reports damage that is not a torn tail: where and what.
// errors.Is(err, ErrCorrupt) is true for it.
type CorruptError struct {
	Path   string
	Offset int64 // byte offset in the file of the damaged frame or header field
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("changelog: %s: corrupt at byte offset %d: %s", e.Path, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Recovery describes a torn tail: bytes at the end of the file, after the
// last valid frame, that are not part of the log. Reading ignores them;
// OpenWriter cuts them off and keeps them in the Broken file.
type Recovery struct {
	Path   string // the segment file
	Offset int64  // where the valid log ends and the torn tail starts
	Bytes  int64  // length of the torn tail, to the end of the file
	Reason string // what is wrong with the first frame of the tail
	Broken string // OpenWriter only: the file the cut bytes were appended to
}

func (r *Recovery) String() string {
	s := fmt.Sprintf("torn tail of %d bytes at offset %d (%s)", r.Bytes, r.Offset, r.Reason)
	if r.Broken != "" {
		s += ", moved to " + r.Broken
	}
	return s
}
