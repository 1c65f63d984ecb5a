// Package epochs is the daemon's epoch manager: when to close the open
// epoch (Schedule), and the durable checkpoint that closes it (Checkpoint):
// barrier N, then the records of N drained into the log, then the
// filesystem synced (SyncLog), then N sealed.
package epochs

import (
	"fmt"
	"time"

	"github.com/wbarrier/wbarrier/tools/internal/drain"
)

// Policy says when to close the open epoch. A zero field is off; with
// both off, epochs are closed only by others (wbctl barrier) and at exit.
type Policy struct {
	Interval time.Duration // close the epoch this long after it opened
	Records  int           // close it once this many records were drained in it
}

// Schedule tracks the open epoch against a Policy. It holds no clock:
// callers pass the time, so tests need no sleeping.
type Schedule struct {
	policy  Policy
	opened  time.Time
	records int
}

// NewSchedule starts a schedule whose open epoch opened at now.
func NewSchedule(p Policy, now time.Time) *Schedule {
	return &Schedule{policy: p, opened: now}
}

// Add counts n records drained in the open epoch.
func (s *Schedule) Add(n int) { s.records += n }

// Reset notes that an epoch was closed and sealed at now: a new one opened.
func (s *Schedule) Reset(now time.Time) {
	s.opened, s.records = now, 0
}

// Due reports whether the open epoch should be closed at now.
func (s *Schedule) Due(now time.Time) bool {
	p := s.policy
	if p.Records > 0 && s.records >= p.Records {
		return true
	}
	return p.Interval > 0 && !now.Before(s.opened.Add(p.Interval))
}

// Wait returns how long to sleep from now before the epoch is due by time,
// at most max (0 if it is due already).
func (s *Schedule) Wait(now time.Time, max time.Duration) time.Duration {
	if s.policy.Interval <= 0 {
		return max
	}
	d := s.opened.Add(s.policy.Interval).Sub(now)
	switch {
	case d < 0:
		return 0
	case d > max:
		return max
	}
	return d
}

// Steps are the operations of a checkpoint: the kernel's barrier on the
// watch (returning the closed epoch), and one drain pass into the log.
type Steps struct {
	Barrier func() (epoch uint64, lossy bool, err error)
	Drain   func() (drain.Stats, error)
}

// maxPasses bounds the drain passes a checkpoint waits for its marker: the
// barrier queues the marker before it returns, so one pass normally does.
const maxPasses = 3

// Checkpoint closes the open epoch N and waits until the log has sealed
// it: barrier N (every operation recorded in N has finished), then drain
// until N's marker has been turned into a seal. The Log of the drain should
// be a SyncLog, so that the filesystem is synced before the seal. It
// returns N and the stats of all the passes.
func Checkpoint(s Steps) (uint64, drain.Stats, error) {
	var total drain.Stats
	n, _, err := s.Barrier()
	if err != nil {
		return 0, total, fmt.Errorf("epochs: barrier: %w", err)
	}
	for i := 0; i < maxPasses; i++ {
		st, err := s.Drain()
		total.Records += st.Records
		total.Sealed = append(total.Sealed, st.Sealed...)
		total.Lossy = append(total.Lossy, st.Lossy...)
		if err != nil {
			return n, total, err
		}
		for _, e := range st.Sealed {
			if e >= n {
				return n, total, nil
			}
		}
	}
	return n, total, fmt.Errorf("epochs: barrier closed epoch %d but its marker did not arrive after %d drain passes", n, maxPasses)
}

// SyncLog is a drain.Log that syncs the watched filesystem before every
// seal: the changes of the epoch must be on disk before the log says the
// epoch is complete, or a crash could lose changes of a sealed epoch.
type SyncLog struct {
	drain.Log
	Syncfs func() error // nil: no sync
}

// Seal syncs the filesystem, then seals (the Log makes its records durable
// first, then writes the seal).
func (l SyncLog) Seal(epoch, seq uint64, lossy bool) error {
	if l.Syncfs != nil {
		if err := l.Syncfs(); err != nil {
			return fmt.Errorf("epochs: syncfs before sealing epoch %d: %w", epoch, err)
		}
	}
	return l.Log.Seal(epoch, seq, lossy)
}
