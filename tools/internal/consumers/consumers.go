// Package consumers keeps the cursors of a log's consumers: for each named
// consumer, the last epoch it has processed (acknowledged). They live in a
// small JSON file beside the log, FILE.consumers, replaced atomically on
// every change (temporary file, fsync, rename, directory fsync) under an
// flock on FILE.consumers.lock, so that a crash leaves the old or the new
// cursors, never a mix, and concurrent acks do not lose each other.
package consumers

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

	"golang.org/x/sys/unix"
)

// Sentinel errors; test with errors.Is.
var (
	ErrUnknown  = errors.New("consumers: no such consumer")
	ErrExists   = errors.New("consumers: consumer exists")
	ErrOtherLog = errors.New("consumers: the cursors belong to another log")
)

// Cursor is one consumer's position.
type Cursor struct {
	Name    string    `json:"name"`
	Epoch   uint64    `json:"epoch"` // the last epoch it has processed
	Updated time.Time `json:"updated"`
}

// Set is the content of a cursors file.
type Set struct {
	// LogID identifies the log the cursors belong to (its salt), so that
	// cursors are never applied to a log made anew at the same path.
	LogID     string   `json:"log_id"`
	Consumers []Cursor `json:"consumers"`
}

// Path is where the cursors of the log at logPath live.
func Path(logPath string) string { return logPath + ".consumers" }

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$`)

// CheckName reports whether name is acceptable: a letter or digit, then
// letters, digits and ._@:- , at most 128 bytes.
func CheckName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("consumers: bad name %q: want a letter or digit, then letters, digits or ._@:- (at most 128)", name)
	}
	return nil
}

// Find returns the consumer's cursor.
func (s *Set) Find(name string) (*Cursor, error) {
	for i := range s.Consumers {
		if s.Consumers[i].Name == name {
			return &s.Consumers[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknown, name)
}

// Add adds a consumer at epoch.
func (s *Set) Add(name string, epoch uint64, now time.Time) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if _, err := s.Find(name); err == nil {
		return fmt.Errorf("%w: %q", ErrExists, name)
	}
	s.Consumers = append(s.Consumers, Cursor{Name: name, Epoch: epoch, Updated: now.UTC()})
	slices.SortFunc(s.Consumers, func(a, b Cursor) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// Remove drops a consumer.
func (s *Set) Remove(name string) error {
	for i := range s.Consumers {
		if s.Consumers[i].Name == name {
			s.Consumers = slices.Delete(s.Consumers, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("%w: %q", ErrUnknown, name)
}

// Ack moves a consumer's cursor to epoch, which must be sealed (at most
// lastSealed) and not before its cursor.
func (s *Set) Ack(name string, epoch, lastSealed uint64, now time.Time) error {
	c, err := s.Find(name)
	if err != nil {
		return err
	}
	if epoch > lastSealed {
		return fmt.Errorf("consumers: %q cannot acknowledge epoch %d: it is not sealed (the last sealed epoch is %d)", name, epoch, lastSealed)
	}
	if epoch < c.Epoch {
		return fmt.Errorf("consumers: %q cannot acknowledge epoch %d: it already acknowledged epoch %d (remove and add it to go back)", name, epoch, c.Epoch)
	}
	c.Epoch, c.Updated = epoch, now.UTC()
	return nil
}

// Load reads the cursors file at path; a missing file is an empty set for
// logID. A file for another log ID is ErrOtherLog. Reading needs no lock:
// the file is only ever replaced whole.
func Load(path, logID string) (*Set, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Set{LogID: logID}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consumers: %w", err)
	}
	var s Set
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("consumers: %s: %w", path, err)
	}
	if s.LogID != logID {
		return nil, fmt.Errorf("%w: %s is for log %s, the log is %s", ErrOtherLog, path, s.LogID, logID)
	}
	return &s, nil
}

// Save replaces the file at path with s, atomically and durably.
func (s *Set) Save(path string) error {
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("consumers: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("consumers: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("consumers: writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("consumers: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("consumers: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("consumers: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("consumers: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("consumers: fsync %s: %w", dir, err)
	}
	return nil
}

// Slowest returns the smallest acknowledged epoch, and false if there is
// no consumer.
func (s *Set) Slowest() (uint64, bool) {
	if len(s.Consumers) == 0 {
		return 0, false
	}
	m := s.Consumers[0].Epoch
	for _, c := range s.Consumers[1:] {
		m = min(m, c.Epoch)
	}
	return m, true
}

// Update loads the set at path under an exclusive lock, applies fn and,
// if fn succeeds, saves it.
func Update(path, logID string, fn func(*Set) error) error {
	return UpdateThen(path, logID, fn, nil)
}

// UpdateThen is Update, then, still under the lock and once the new set is
// durable, calls then (if not nil) with it: what depends on the cursors
// (purging the log) sees no concurrent change of them.
func UpdateThen(path, logID string, fn, then func(*Set) error) error {
	unlock, err := lock(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	s, err := Load(path, logID)
	if err != nil {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	if err := s.Save(path); err != nil {
		return err
	}
	if then != nil {
		return then(s)
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
