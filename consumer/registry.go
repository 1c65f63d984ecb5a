package consumer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wbarrier/wbarrier/changelog"
	"golang.org/x/sys/unix"
)

// Errors of the consumers' registry; test with errors.Is.
var (
	// ErrUnknown: no consumer of that name is registered.
	ErrUnknown = errors.New("consumers: no such consumer")
	// ErrExists: a consumer of that name is registered already.
	ErrExists = errors.New("consumers: consumer exists")
	// ErrOtherLog: the registry beside the log was made for another log
	// once at the same path (its ID is not the log's).
	ErrOtherLog = errors.New("consumers: the cursors belong to another log")
)

// Position is a registered consumer's cursor: the last epoch it has
// processed (acknowledged), and when it was last moved.
type Position struct {
	Name    string    `json:"name"`
	Epoch   uint64    `json:"epoch"`
	Updated time.Time `json:"updated"`
}

// Registry is the set of consumers registered with a log, sorted by name,
// as kept in FILE.consumers beside the log. Read it with Log.Consumers;
// change it with Log.AddConsumer, Log.Ack and Log.RemoveConsumer, which
// hold its lock.
type Registry struct {
	// LogID is the ID of the log the cursors belong to (Log.ID), so that
	// they never apply to a log made anew at the same path.
	LogID     string     `json:"log_id"`
	Consumers []Position `json:"consumers"`
}

// Purge is what an Ack or a RemoveConsumer removed from the log: the
// oldest segments, once every consumer had acknowledged their epochs.
type Purge struct {
	UpTo  uint64   // the slowest consumer's epoch: the segments removed hold no later epoch
	Files []string // the segment files removed, oldest first; none if nothing could go
}

// registryPath is where the registry of the log at logPath lives.
func registryPath(logPath string) string { return logPath + ".consumers" }

// AddConsumer registers a consumer whose cursor is epoch: usually
// l.Cursor().Epoch, right for a consumer that has just scanned everything.
// epoch must be sealed, and not purged (at least the log's Base). A name
// is a letter or digit, then letters, digits or ._@:- (at most 128 bytes).
func (l *Log) AddConsumer(name string, epoch uint64) error {
	if last, _ := l.log.LastSealed(); epoch > last {
		return fmt.Errorf("consumers: epoch %d is not sealed (the last sealed epoch is %d)", epoch, last)
	}
	if base := l.log.Base(); epoch < base {
		return fmt.Errorf("consumers: the epochs up to %d were purged from the log: start at %d or later (after a full scan)", base, base)
	}
	return update(registryPath(l.path), l.ID(), func(r *Registry) error {
		return r.add(name, epoch, time.Now())
	}, nil)
}

// Ack moves a consumer's cursor to epoch, once it has processed the changes
// up to it: epoch must be sealed and not before its cursor. Pass the Until
// of the Changes it processed, never a later epoch: one sealed since was
// not read.
//
// Once the new cursor is durable, and still under the registry's lock, Ack
// removes the log's oldest segments whose epochs every consumer has
// acknowledged (changelog.Purge), and says which. The Purge is filled in even
// when the purge fails part way.
func (l *Log) Ack(name string, epoch uint64) (Purge, error) {
	last, _ := l.log.LastSealed()
	return l.updatePurge(func(r *Registry) error {
		return r.ack(name, epoch, last, time.Now())
	})
}

// RemoveConsumer forgets a consumer and its cursor, then purges what the
// others have all acknowledged, as Ack does. With no consumer left, nothing
// is purged.
func (l *Log) RemoveConsumer(name string) (Purge, error) {
	return l.updatePurge(func(r *Registry) error { return r.remove(name) })
}

// Consumers reads the log's registry; without any file, it is empty. It
// takes no lock: the file is only ever replaced whole.
func (l *Log) Consumers() (*Registry, error) {
	return load(registryPath(l.path), l.ID())
}

// updatePurge applies fn to the registry, then purges the segments every
// consumer is done with.
func (l *Log) updatePurge(fn func(*Registry) error) (Purge, error) {
	var p Purge
	err := update(registryPath(l.path), l.ID(), fn, func(r *Registry) error {
		upTo, ok := r.Slowest()
		if !ok {
			return nil
		}
		p.UpTo = upTo
		var err error
		p.Files, err = changelog.Purge(l.path, upTo)
		return err
	})
	return p, err
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$`)

// checkName reports whether name is acceptable: a letter or digit, then
// letters, digits and ._@:- , at most 128 bytes.
func checkName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("consumers: bad name %q: want a letter or digit, then letters, digits or ._@:- (at most 128)", name)
	}
	return nil
}

// Find returns the position of the named consumer, or an error wrapping
// ErrUnknown.
func (r *Registry) Find(name string) (Position, error) {
	p, err := r.find(name)
	if err != nil {
		return Position{}, err
	}
	return *p, nil
}

func (r *Registry) find(name string) (*Position, error) {
	for i := range r.Consumers {
		if r.Consumers[i].Name == name {
			return &r.Consumers[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknown, name)
}

// add adds a consumer at epoch.
func (r *Registry) add(name string, epoch uint64, now time.Time) error {
	if err := checkName(name); err != nil {
		return err
	}
	if _, err := r.find(name); err == nil {
		return fmt.Errorf("%w: %q", ErrExists, name)
	}
	r.Consumers = append(r.Consumers, Position{Name: name, Epoch: epoch, Updated: now.UTC()})
	slices.SortFunc(r.Consumers, func(a, b Position) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// remove drops a consumer.
func (r *Registry) remove(name string) error {
	for i := range r.Consumers {
		if r.Consumers[i].Name == name {
			r.Consumers = slices.Delete(r.Consumers, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("%w: %q", ErrUnknown, name)
}

// ack moves a consumer's cursor to epoch, which must be sealed (at most
// lastSealed) and not before its cursor.
func (r *Registry) ack(name string, epoch, lastSealed uint64, now time.Time) error {
	p, err := r.find(name)
	if err != nil {
		return err
	}
	if epoch > lastSealed {
		return fmt.Errorf("consumers: %q cannot acknowledge epoch %d: it is not sealed (the last sealed epoch is %d)", name, epoch, lastSealed)
	}
	if epoch < p.Epoch {
		return fmt.Errorf("consumers: %q cannot acknowledge epoch %d: it already acknowledged epoch %d (remove and add it to go back)", name, epoch, p.Epoch)
	}
	p.Epoch, p.Updated = epoch, now.UTC()
	return nil
}

// Slowest returns the smallest acknowledged epoch, and false if there is
// no consumer: the segments holding no later epoch may go.
func (r *Registry) Slowest() (uint64, bool) {
	if len(r.Consumers) == 0 {
		return 0, false
	}
	m := r.Consumers[0].Epoch
	for _, p := range r.Consumers[1:] {
		m = min(m, p.Epoch)
	}
	return m, true
}

// load reads the registry at path; a missing file is an empty registry
// for logID. A file for another log ID is ErrOtherLog.
func load(path, logID string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Registry{LogID: logID}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consumers: %w", err)
	}
	var r Registry
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("consumers: %s: %w", path, err)
	}
	if r.LogID != logID {
		return nil, fmt.Errorf("%w: %s is for log %s, the log is %s", ErrOtherLog, path, r.LogID, logID)
	}
	return &r, nil
}

// save replaces the file at path with r, atomically and durably.
func (r *Registry) save(path string) error {
	data, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return err
	}
	if err := writeAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("consumers: %w", err)
	}
	return nil
}

// update loads the registry at path under an exclusive lock, applies fn
// and, if fn succeeds, saves it; then, still under the lock and once the
// new registry is durable, calls then (if not nil) with it: what depends on
// the cursors (purging the log) sees no concurrent change of them.
func update(path, logID string, fn, then func(*Registry) error) error {
	unlock, err := lock(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	r, err := load(path, logID)
	if err != nil {
		return err
	}
	if err := fn(r); err != nil {
		return err
	}
	if err := r.save(path); err != nil {
		return err
	}
	if then != nil {
		return then(r)
	}
	return nil
}

func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("consumers: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("consumers: locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// writeAtomic replaces path with data: a reader sees the old file or the
// new one, never a part, and the new one is on disk when it returns
// (temporary file, fsync, rename, fsync of the directory).
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
