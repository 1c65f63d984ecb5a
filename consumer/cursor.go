package consumer

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrBadCursor: the text is not a cursor, N or LOGID:N.
var ErrBadCursor = errors.New("consumer: not a cursor (want N or LOGID:N)")

// Cursor is where a consumer is in a log: the last epoch it has processed,
// and the ID of the log (Log.ID) that epoch is of. Its text form is
// LOGID:N, what wbctl changes reports, or N alone for a cursor that names
// no log (taken for any log, unchecked).
type Cursor struct {
	Log   string // the log's ID; "" for a bare epoch
	Epoch uint64
}

// ParseCursor reads a cursor written as N or LOGID:N.
func ParseCursor(s string) (Cursor, error) {
	id, n, found := strings.Cut(s, ":")
	if !found {
		id, n = "", s
	}
	epoch, err := strconv.ParseUint(n, 10, 64)
	if err != nil || (found && id == "") {
		return Cursor{}, fmt.Errorf("%w: %q", ErrBadCursor, s)
	}
	return Cursor{Log: id, Epoch: epoch}, nil
}

// String returns the cursor as LOGID:N, or N if it names no log.
func (c Cursor) String() string {
	if c.Log == "" {
		return strconv.FormatUint(c.Epoch, 10)
	}
	return fmt.Sprintf("%s:%d", c.Log, c.Epoch)
}

// SaveCursor writes c to the file at path as one line, atomically and
// durably: a crash leaves the old cursor or the new one, never a part.
func SaveCursor(path string, c Cursor) error {
	if err := writeAtomic(path, []byte(c.String()+"\n"), 0o644); err != nil {
		return fmt.Errorf("consumer: writing the cursor file: %w", err)
	}
	return nil
}

// LoadCursor reads a cursor that SaveCursor wrote. A missing file is an
// error satisfying errors.Is(err, fs.ErrNotExist): there is no cursor yet,
// so scan everything.
func LoadCursor(path string) (Cursor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Cursor{}, fmt.Errorf("consumer: reading the cursor file: %w", err)
	}
	c, err := ParseCursor(strings.TrimSpace(string(b)))
	if err != nil {
		return Cursor{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
