package genl

import "fmt"

// A Watch is the state of one watched filesystem, as WBARRIER_CMD_STATUS
// reports it.
type Watch struct {
	// ID names the watch in every other request.
	ID uint32

	// Path is the path given to Client.Watch, as the kernel stored it.
	Path string

	// Dev is the watched superblock's device number, encoded as stat(2)'s
	// st_dev.
	Dev uint32

	// FSType is the filesystem's type name, such as "ext4".
	FSType string

	// Epoch is the open epoch: the one new records go into.
	Epoch uint64

	// Lossy reports that the open epoch has lost records.
	Lossy bool

	// NextSeq is the sequence number the next queued record will get.
	NextSeq uint64

	// FirstSeq is the sequence number of the oldest record still queued.
	FirstSeq uint64

	// Queued is the number of records queued and not yet acknowledged.
	Queued uint32

	// Emitted counts the records queued since the watch began.
	Emitted uint64

	// Lost counts the records that could not be queued.
	Lost uint64

	// Unmounted reports that the filesystem was unmounted: the watch has
	// closed its last epoch and tracks nothing more. Its last records can
	// still be read; Client.Unwatch removes it.
	Unmounted bool

	// LoadID is drawn at random when the module is loaded (never 0; 0
	// from a module that does not report it). LoadID and ID together name
	// this watch for ever: a reboot, a module reload, or an unwatch and a
	// new watch give another pair, and records numbered from 1 again.
	LoadID uint64

	// AtMount reports that the watch began when the filesystem was
	// mounted, before anything could change it (the module parameter
	// watch_at_mount named the filesystem's uuid). Only such a watch can
	// continue a log across a clean unmount without a rescan.
	AtMount bool

	// Waiting reports a watch of watch_at_mount whose filesystem is not
	// mounted yet: Path is "UUID=" and the uuid, and nothing is tracked.
	Waiting bool
}

// Identity returns what names the watch for ever: LoadID and ID.
func (w Watch) Identity() Identity { return Identity{LoadID: w.LoadID, WatchID: w.ID} }

// An Identity names one watch for ever (see Watch.LoadID).
type Identity struct {
	LoadID  uint64
	WatchID uint32
}

func (i Identity) String() string { return fmt.Sprintf("%016x:%d", i.LoadID, i.WatchID) }

// A Barrier is the result of Client.Barrier: the epoch it closed.
type Barrier struct {
	// WatchID is the watch the barrier was taken on.
	WatchID uint32

	// Epoch is the epoch the barrier closed. Every operation that recorded
	// into it has finished.
	Epoch uint64

	// Lossy reports that the closed epoch lost records: its record list is
	// incomplete.
	Lossy bool

	// NextSeq is the sequence number after the epoch's closing marker
	// (a record.TypeEpochClosed record): once Client.Records has returned
	// every record below NextSeq, the epoch is complete.
	NextSeq uint64
}

// A Synced is the result of Client.Sync.
type Synced struct {
	// WatchID is the watch whose filesystem was synced.
	WatchID uint32

	// Unmounted reports that there was nothing to sync: the filesystem was
	// unmounted, and the kernel synced it when it shut it down, before the
	// watch closed its last epoch.
	Unmounted bool
}

// An EventKind says what an Event reports.
type EventKind int

// The kinds of Event, one per WBARRIER_CMD_NOTIFY_* command.
const (
	// EventRecords: records are waiting, up to Event.NextSeq.
	EventRecords EventKind = iota + 1

	// EventOverflow: a record of Event.Epoch was lost; the epoch is lossy.
	EventOverflow

	// EventUnwatch: the watch is gone.
	EventUnwatch

	// EventUnmount: the filesystem was unmounted. The records below
	// Event.NextSeq are the watch's last; its last epoch is closed unless
	// the kernel log says otherwise.
	EventUnmount

	// EventEpochClosed: Event.Epoch is closed, its closing marker queued
	// before Event.NextSeq; Event.Lossy if it lost records. A barrier's
	// epoch, or the last one at unmount.
	EventEpochClosed
)

// String returns the kind's name: "records", "overflow", "unwatch",
// "unmount" or "epoch-closed".
func (k EventKind) String() string {
	switch k {
	case EventRecords:
		return "records"
	case EventOverflow:
		return "overflow"
	case EventUnwatch:
		return "unwatch"
	case EventUnmount:
		return "unmount"
	case EventEpochClosed:
		return "epoch-closed"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// An Event is one notification from the multicast group "events".
type Event struct {
	// Kind says what happened.
	Kind EventKind

	// WatchID is the watch it happened to.
	WatchID uint32

	// NextSeq is, for EventRecords, the sequence number after the last
	// waiting record; for EventUnmount, after the watch's last record; for
	// EventEpochClosed, after the epoch's closing marker; zero otherwise.
	NextSeq uint64

	// Epoch is, for EventOverflow, the epoch that lost a record; for
	// EventEpochClosed, the epoch closed; zero otherwise.
	Epoch uint64

	// Lossy reports, for EventEpochClosed, that the epoch lost records.
	Lossy bool
}
