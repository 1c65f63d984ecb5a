// Package consumer is the library a consumer of a wbarrier change log is
// built on (a backup job, a sync engine, an indexer): it asks the log what
// changed since its cursor, resolves the changed objects' file handles to
// paths, and keeps its cursor registered beside the log. wbctl's changes
// and consumer commands are built on it; docs/changes.md states the
// contract.
//
// The contract: Log.Changes answers the epochs after a cursor only if the
// log vouches for every one of them (sealed, not lossy, not purged). If it
// cannot, the error is a *RescanError: the consumer must find the changes
// another way (a full scan), never take it as "nothing changed". Having
// processed an answer, the consumer keeps its Cursor (the log's ID and the
// last epoch answered) and passes it next time; a cursor of another log is
// a rescan too.
//
// A log that wbctl export published to a NATS JetStream stream is read
// with ReadStream or ReadStreamSince: Stream.Changes keeps the same
// contract, for a consumer on another machine. A StreamConsumer is a
// consumer whose cursor the NATS server keeps (a durable JetStream
// consumer), acknowledged epoch by epoch once processed.
//
// Reading the log needs only read access to its files; resolving handles
// (Mount) needs CAP_DAC_READ_SEARCH; registering consumers needs write
// access to the log's directory.
package consumer

import (
	"errors"
	"fmt"
	"math"

	"github.com/wbarrier/wbarrier/changelog"
)

// lazytimeNote goes with every "rescan required": a rescan by ctime alone
// can miss changes on a lazytime mount after a crash (docs/changes.md).
const lazytimeNote = "on a lazytime mount, timestamps may be stale on disk after a crash: the rescan must not trust ctime alone (compare size and content, or rescan everything)"

// ErrReversed: the range asked for ends before it starts (until < since).
var ErrReversed = errors.New("consumer: the range ends before it starts")

// Log is a change log as a consumer reads it: what Open found at its end
// (its last sealed epoch, its torn tail), and the path its records,
// consumers' registry and segments are found by. Each answer reads the
// log again from where it starts (changelog.OpenSince): memory and time
// follow the answer, not the log's size. It is safe for concurrent use.
type Log struct {
	path    string
	log     *changelog.Log
	salvage *SalvageReport // if the log was made by Salvage
}

// Open reads the end of the log at path: its frames from its last seal on
// (changelog.OpenSince, which the segments' indexes take there): errors
// satisfy errors.Is(err, changelog.ErrCorrupt) for damage in what it
// reads. A torn tail is not an error; Changelog().Recovery() describes it.
// Damage in the frames an answer does not need is not seen: `wbctl log
// verify` reads them all. A log made by Salvage takes the cursors of the
// log it was salvaged from, and its rescans name the damage.
func Open(path string) (*Log, error) {
	l, err := changelog.OpenSince(path, math.MaxUint64)
	if err != nil {
		return nil, err
	}
	sv, err := readSalvage(path)
	if err != nil {
		return nil, err
	}
	return &Log{path: path, log: l, salvage: sv}, nil
}

// Changelog returns the log as Open read it: its header, last seal, base,
// generation and torn tail (not its records or seals).
func (l *Log) Changelog() *changelog.Log { return l.log }

// ID returns the log's ID (LogID of its header): a log made anew at the
// same path has another.
func (l *Log) ID() string { return LogID(l.log.Header()) }

// LogID returns the ID of the log with header h: its random salt, in 16
// hex digits.
func LogID(h changelog.Header) string { return fmt.Sprintf("%016x", h.Salt) }

// Cursor returns the cursor of the log's last sealed epoch: where a
// consumer goes on from once it has scanned everything. Take it before the
// scan starts: what changes during the scan is in later epochs.
func (l *Log) Cursor() Cursor {
	last, _ := l.log.LastSealed()
	return Cursor{Log: l.ID(), Epoch: last}
}

// Changes is a complete answer: what changed in the epochs (Since, Until]
// of a log, every one of them sealed and not lossy. An empty Objects
// really means that nothing changed.
type Changes struct {
	Since uint64 // the cursor's epoch: the range starts after it
	Until uint64 // the last epoch of the range
	// Objects are the changed objects, one per object, their records
	// merged, in the order of their first record (changelog.Changes).
	Objects []changelog.Object
	// Cursor is the log's ID and Until: once the changes are processed,
	// the cursor to keep and pass next time.
	Cursor Cursor
}

// Changes answers the epochs after since up to the log's last sealed
// epoch. See ChangesUntil.
func (l *Log) Changes(since Cursor) (*Changes, error) {
	last, _ := l.log.LastSealed()
	return l.ChangesUntil(since, last)
}

// ChangesUntil answers the epochs after since up to until. A range the log
// cannot vouch for is a *RescanError: an epoch in it not sealed (until
// beyond the last sealed epoch, one lost in a crash), lossy or purged, a
// cursor of another log (since.Log is not "" and not the log's ID) or
// beyond the last sealed epoch. until before since.Epoch is ErrReversed.
func (l *Log) ChangesUntil(since Cursor, until uint64) (*Changes, error) {
	id := l.ID()
	last, _ := l.log.LastSealed()
	if l.salvage != nil && since.Log == l.salvage.SourceLog {
		since.Log = id // the salvaged log has the same epochs
	}
	if since.Log != "" && since.Log != id {
		return nil, &RescanError{From: last, Reason: OtherLog,
			Detail: fmt.Sprintf("the cursor %s belongs to log %s, not to this log (%s): it was made anew; after the rescan, go on from %s:%d", since, since.Log, id, id, last)}
	}
	if since.Epoch > last {
		return nil, &RescanError{From: last, Reason: BeyondLastSealed,
			Detail: l.damage(since.Epoch, fmt.Sprintf("the cursor %d is beyond the last sealed epoch %d of the log: it belongs to another log or watch", since.Epoch, last))}
	}
	if until < since.Epoch {
		return nil, fmt.Errorf("%w: until epoch %d, since epoch %d", ErrReversed, until, since.Epoch)
	}
	// The epochs after since, read again: the log may have grown, never
	// before until.
	log, err := changelog.OpenSince(l.path, since.Epoch)
	if err != nil {
		return nil, err
	}
	c, err := log.Changes(since.Epoch, until)
	if err != nil {
		return nil, err
	}
	if c.Rescan {
		return nil, &RescanError{From: c.RescanFrom, Reason: why(log, since.Epoch, c.RescanFrom), Detail: l.damage(c.RescanFrom, c.Reason)}
	}
	return &Changes{Since: c.Since, Until: c.Until, Objects: c.Objects, Cursor: Cursor{Log: id, Epoch: c.Until}}, nil
}

// damage returns detail, followed by what lost epoch to damage if the log
// was salvaged without it.
func (l *Log) damage(epoch uint64, detail string) string {
	if l.salvage == nil {
		return detail
	}
	if why := l.salvage.explains(epoch); why != "" {
		return detail + "; " + why
	}
	return detail
}

// why tells why log (read since) could not vouch for epoch from: purged if
// the range starts before the log's oldest epoch, lossy if from has a lossy
// seal, else not sealed.
func why(log *changelog.Log, since, from uint64) Reason {
	if since < log.Base() {
		return Purged
	}
	for _, s := range log.Seals() {
		if s.Epoch == from && s.Lossy {
			return Lossy
		}
	}
	return Unsealed
}

// Reason is why a log cannot vouch for a range.
type Reason int

// The reasons for a rescan.
const (
	// Unsealed: an epoch in the range is not sealed: not closed yet, lost
	// in a crash, or before the log began.
	Unsealed Reason = iota + 1
	// Lossy: an epoch in the range is sealed as lossy: the kernel could
	// not queue all its records.
	Lossy
	// Purged: the range starts before the oldest epoch the log still
	// holds: its segments were removed once every consumer acknowledged
	// them.
	Purged
	// OtherLog: the cursor is of another log (made anew at the same path).
	OtherLog
	// BeyondLastSealed: the cursor is beyond the last sealed epoch: it
	// belongs to another log or watch.
	BeyondLastSealed
)

// String returns the reason's name: "unsealed", "lossy", "purged",
// "other log", "beyond the last sealed epoch".
func (r Reason) String() string {
	switch r {
	case Unsealed:
		return "unsealed"
	case Lossy:
		return "lossy"
	case Purged:
		return "purged"
	case OtherLog:
		return "other log"
	case BeyondLastSealed:
		return "beyond the last sealed epoch"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// RescanError is "the log cannot vouch for the range": the consumer must
// find what changed another way (a full scan, or one by ctime from the
// time of epoch From; on a lazytime mount not by ctime alone), never take
// it as "nothing changed". Test with errors.As.
type RescanError struct {
	// From is the first epoch the log cannot vouch for. For OtherLog and
	// BeyondLastSealed it is the log's last sealed epoch: after a full
	// scan, go on from Log.Cursor.
	From   uint64
	Reason Reason
	// Detail says why, for people: "epoch 3 is lossy: records of it were
	// lost".
	Detail string
}

// Error says from which epoch to rescan and why, with the lazytime note.
func (e *RescanError) Error() string {
	return fmt.Sprintf("rescan required from epoch %d: %s; %s", e.From, e.Detail, lazytimeNote)
}
