package changelog

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wbarrier/wbarrier/record"
)

func TestRoundTrip(t *testing.T) {
	full := record.Record{
		Type: record.TypeChange, Seq: 1<<64 - 1, Epoch: 1<<64 - 2, Ops: record.OpRenameFrom | record.OpRenameTo | 1<<31,
		Handle: fh(0x81, "\x00\x01\x02\xff"), Parent: fh(0xfffffffe, "parent-handle"),
		Name: "caf\xc3\xa9 \x00\xff", HasRange: true, Offset: 1<<64 - 1, Length: 1<<64 - 1,
	}
	maxLen := record.Record{
		Type: record.TypeChange, Seq: 1, Epoch: 1, Ops: record.OpData,
		Handle: fh(1, strings.Repeat("h", 65535)), Parent: fh(2, strings.Repeat("p", 65535)), Name: strings.Repeat("n", 65535),
	}
	noRangeButOffset := change(3, 1, record.OpAttr, "x")
	noRangeButOffset.Offset, noRangeButOffset.Length = 7, 9 // kept as given

	tests := []struct {
		name string
		recs []record.Record
	}{
		{"empty", nil},
		{"one record", []record.Record{change(1, 1, record.OpData, "a")}},
		{"one seal", []record.Record{closed(1, false)}},
		{"every field", []record.Record{full}},
		{"create", []record.Record{create(1, 5, "dir", "new-file")}},
		{"nothing but ops", []record.Record{{Type: record.TypeChange, Seq: 1, Epoch: 1}}},
		{"empty handle bytes", []record.Record{{Type: record.TypeChange, Epoch: 1, Handle: &record.FileHandle{Type: 9}}}},
		{"offset without range", []record.Record{noRangeButOffset}},
		{"longest fields", []record.Record{maxLen, maxLen, closed(1, false)}},
		{"epochs", []record.Record{
			write(1, 1, "a", 0, 4096), create(2, 1, "d", "f"), closed(1, false),
			closed(2, true),
			change(3, 4, record.OpAttr, "b"), change(4, 3, record.OpAttr, "c"), closed(3, false),
			write(5, 4, "a", 4096, 10), closed(4, false),
			change(6, 5, record.OpRemove, "a"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeLog(t, t.TempDir(), tt.recs...)
			l, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if r := l.Recovery(); r != nil {
				t.Errorf("Recovery() = %v, want nil", r)
			}
			checkContents(t, l, tt.recs)
			h := l.Header()
			if h.Version != FormatVersion || h.Salt == 0 {
				t.Errorf("Header() version %d, salt %#x", h.Version, h.Salt)
			}
			if diff := cmp.Diff(testHeader, h, cmpopts.IgnoreFields(Header{}, "Version", "Salt")); diff != "" {
				t.Errorf("Header() mismatch (-want +got):\n%s", diff)
			}
			_, seals := splitRecords(tt.recs)
			last, ok := l.LastSealed()
			if ok != (len(seals) > 0) || ok && last != seals[len(seals)-1].Epoch {
				t.Errorf("LastSealed() = %d, %v; seals %v", last, ok, seals)
			}
		})
	}
}

// Appending in several sessions gives the same file as one session.
func TestReopenAppend(t *testing.T) {
	recs := []record.Record{
		write(1, 1, "a", 0, 10), closed(1, false),
		write(2, 2, "b", 0, 10), write(3, 3, "c", 0, 1),
		closed(2, false), closed(3, false), change(4, 4, record.OpSize, "a"),
	}
	path := filepath.Join(t.TempDir(), "log")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if i > 0 {
			var rec *Recovery
			w, rec, err = OpenWriter(path)
			if err != nil {
				t.Fatalf("OpenWriter after %d records: %v", i, err)
			}
			if rec != nil {
				t.Fatalf("OpenWriter after %d records: recovery %v", i, rec)
			}
		}
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	checkContents(t, l, recs)
	if w, _, err := OpenWriter(path); err != nil {
		t.Fatal(err)
	} else {
		if last, ok := w.LastSealed(); last != 3 || !ok {
			t.Errorf("LastSealed() = %d, %v; want 3, true", last, ok)
		}
		if err := w.Seal(4, 0, false); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	if l, err = Open(path); err != nil {
		t.Fatal(err)
	}
	if s := l.Seals(); s[len(s)-1] != (Seal{Epoch: 4, Records: 1}) {
		t.Errorf("last seal after reopen = %v, want epoch 4 with 1 record", s[len(s)-1])
	}
}

// A large log goes through several buffer flushes.
func TestManyRecords(t *testing.T) {
	var recs []record.Record
	seq := uint64(0)
	for e := uint64(1); e <= 20; e++ {
		for i := 0; i < 500; i++ {
			seq++
			recs = append(recs, write(seq, e, strings.Repeat("x", i%100), seq*4096, 4096))
		}
		recs = append(recs, closed(e, e%7 == 0))
	}
	l, err := Open(writeLog(t, t.TempDir(), recs...))
	if err != nil {
		t.Fatal(err)
	}
	checkContents(t, l, recs)
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("mode %v, want 0600", m)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 || ents[1].Name() != "log.idx" {
		t.Errorf("directory holds %v, want the log and its index only", ents)
	}
	if _, err := Create(path, testHeader); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Create: %v, want fs.ErrExist", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("after a failed Create the directory holds %v, want the log and its index only", ents)
	}
	if _, err := Create(filepath.Join(dir, "missing", "log"), testHeader); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Create in a missing directory: %v, want fs.ErrNotExist", err)
	}
	if _, err := Create(filepath.Join(dir, "big"), Header{Mount: strings.Repeat("m", 70000)}); err == nil {
		t.Error("Create with a 70000-byte mount path succeeded")
	}
	// Two files never share a salt.
	w2, err := Create(filepath.Join(dir, "log2"), testHeader)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if w.Header().Salt == w2.Header().Salt {
		t.Errorf("two logs with salt %#x", w.Header().Salt)
	}
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenWriter(path); !errors.Is(err, ErrLocked) {
		t.Errorf("OpenWriter while Create's writer is open: %v, want ErrLocked", err)
	}
	if _, err := Open(path); err != nil {
		t.Errorf("Open while a writer is open: %v", err)
	}
	w.Close()
	w, _, err = OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenWriter(path); !errors.Is(err, ErrLocked) {
		t.Errorf("second OpenWriter: %v, want ErrLocked", err)
	}
	w.Close()
}

func TestWriterErrors(t *testing.T) {
	type step struct {
		r       record.Record
		wantErr error // nil: must succeed; errAny: any error
	}
	errAny := errors.New("any error")
	tests := []struct {
		name  string
		steps []step
	}{
		{"seal twice", []step{{closed(5, false), nil}, {closed(5, false), ErrSealed}}},
		{"seal backwards", []step{{closed(5, false), nil}, {closed(4, false), ErrSealed}}},
		{"seal skips epochs", []step{{closed(5, false), nil}, {closed(9, false), nil}}},
		{"record of the sealed epoch", []step{{closed(5, false), nil}, {change(1, 5, 0, "a"), ErrSealed}}},
		{"record of an older epoch", []step{{closed(5, false), nil}, {change(1, 2, 0, "a"), ErrSealed}}},
		{"record of an epoch closed by a later seal", []step{{change(1, 4, 0, "a"), nil}, {closed(5, false), nil}, {change(2, 4, 0, "a"), ErrSealed}}},
		{"record of the next epoch before the seal", []step{{change(1, 6, 0, "a"), nil}, {closed(5, false), nil}, {change(2, 6, 0, "a"), nil}, {closed(6, false), nil}}},
		{"unknown record type", []step{{record.Record{Type: 7, Epoch: 1}, errAny}}},
		{"lossy change", []step{{record.Record{Type: record.TypeChange, Epoch: 1, Lossy: true}, errAny}}},
		{"name too long", []step{{record.Record{Type: record.TypeChange, Epoch: 1, Name: strings.Repeat("n", 65536)}, errAny}}},
		{"handle too long", []step{{record.Record{Type: record.TypeChange, Epoch: 1, Handle: fh(1, strings.Repeat("n", 65536))}, errAny}}},
		{"parent too long", []step{{record.Record{Type: record.TypeChange, Epoch: 1, Parent: fh(1, strings.Repeat("n", 65536))}, errAny}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			w, err := Create(path, testHeader)
			if err != nil {
				t.Fatal(err)
			}
			var ok []record.Record
			for i, s := range tt.steps {
				err := w.Append(s.r)
				switch {
				case s.wantErr == nil && err != nil:
					t.Fatalf("step %d: %v", i, err)
				case s.wantErr == errAny && err == nil, s.wantErr != nil && s.wantErr != errAny && !errors.Is(err, s.wantErr):
					t.Fatalf("step %d: error %v, want %v", i, err, s.wantErr)
				}
				if err == nil {
					ok = append(ok, s.r)
				}
			}
			// A refused step changes nothing: the writer goes on and the
			// log holds exactly the accepted steps.
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			l, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			checkContents(t, l, ok)
		})
	}
}

func TestClosedWriter(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "log"), testHeader)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Append": w.Append(change(1, 1, 0, "a")),
		"Seal":   w.Seal(1, 0, false),
		"Sync":   w.Sync(),
		"Close":  w.Close(),
	} {
		if !errors.Is(err, fs.ErrClosed) {
			t.Errorf("%s after Close: %v, want fs.ErrClosed", name, err)
		}
	}
}

// The seal is written after the records it counts, and the file on disk
// holds both as soon as Seal returns, without Close.
func TestSealIsDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	recs := []record.Record{write(1, 1, "a", 0, 1), write(2, 2, "b", 0, 1), write(3, 1, "c", 0, 1)}
	for _, r := range recs {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Seal(1, 0, false); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	checkContents(t, l, append(recs, closed(1, false)))
	if s := l.Seals(); len(s) != 1 || s[0].Records != 2 {
		t.Errorf("Seals() = %v, want epoch 1 with 2 records", s)
	}
}

// Sync fsyncs only what was written since the last fsync: right after a
// seal it does not touch the file, after an append it does. A Writer whose
// file descriptor was closed behind its back shows which.
func TestSyncSkipsDurable(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "log")
		w, err := Create(path, testHeader)
		if err != nil {
			t.Fatal(err)
		}
		if reopen {
			// A log opened anew may hold what its last writer did not
			// fsync: the first Sync fsyncs.
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if w, _, err = OpenWriter(path); err != nil {
				t.Fatal(err)
			}
			if err := w.f.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Sync(); err == nil {
				t.Fatal("Sync of a reopened log did not fsync")
			}
			continue
		}
		if err := w.Append(write(1, 1, "a", 0, 1)); err != nil {
			t.Fatal(err)
		}
		if err := w.Seal(1, 0, false); err != nil {
			t.Fatal(err)
		}
		if err := w.f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Sync(); err != nil {
			t.Fatalf("Sync after a seal, nothing written since: %v", err)
		}
		if err := w.Append(write(2, 2, "b", 0, 1)); err != nil {
			t.Fatal(err)
		}
		if err := w.Sync(); err == nil {
			t.Fatal("Sync after an append did not write and fsync")
		}
	}
}

// Readers running while a writer appends see a valid prefix of the log,
// never an error.
func TestConcurrentReaders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := Open(path); err != nil {
					t.Errorf("Open during appends: %v", err)
					return
				}
			}
		}()
	}
	seq := uint64(0)
	for e := uint64(1); e <= 30; e++ {
		for range 200 {
			seq++
			if err := w.Append(write(seq, e, "file", seq, 100)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Seal(e, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// OpenWriter cuts a torn tail, keeps it in .broken (appending on a second
// recovery), and appends after the last valid frame.
func TestOpenWriterRecovery(t *testing.T) {
	recs := []record.Record{write(1, 1, "a", 0, 1), closed(1, false), write(2, 2, "b", 0, 1), write(3, 2, "c", 0, 1)}
	path := writeLog(t, t.TempDir(), recs...)
	data, _ := os.ReadFile(path)
	offs := frameOffsets(t, data)
	lastStart := offs[len(offs)-1]

	// Tear the last frame.
	cut := lastStart + 20
	if err := os.Truncate(path, int64(cut)); err != nil {
		t.Fatal(err)
	}
	w, rec, err := OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Recovery{Path: path, Offset: int64(lastStart), Bytes: 20, Broken: path + ".broken"}
	if diff := cmp.Diff(want, rec, cmpopts.IgnoreFields(Recovery{}, "Reason")); diff != "" {
		t.Errorf("Recovery mismatch (-want +got):\n%s", diff)
	}
	broken1 := data[lastStart:cut]
	checkFile(t, path+".broken", broken1)
	if fi, err := os.Stat(path + ".broken"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("broken file: %v, %v", fi, err)
	}
	checkFile(t, path, data[:lastStart])
	if err := w.Append(write(4, 2, "d", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(2, 0, false); err != nil {
		t.Fatal(err)
	}
	w.Close()
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want2 := append(recs[:3:3], write(4, 2, "d", 0, 1), closed(2, false))
	checkContents(t, l, want2)

	// A zeroed tail the second time: appended to the same .broken file.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 4096)
	f.Write(zeros)
	f.Close()
	w, rec, err = OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if rec == nil || rec.Bytes != 4096 {
		t.Fatalf("second recovery: %v, want 4096 bytes", rec)
	}
	checkFile(t, path+".broken", append(bytes.Clone(broken1), zeros...))
	l, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Recovery() != nil {
		t.Errorf("after recovery, Open reports %v", l.Recovery())
	}
	checkContents(t, l, want2)
}

// OpenWriter leaves a corrupt log untouched.
func TestOpenWriterCorrupt(t *testing.T) {
	path := writeLog(t, t.TempDir(), write(1, 1, "a", 0, 1), write(2, 1, "a", 0, 1), closed(1, false))
	data, _ := os.ReadFile(path)
	offs := frameOffsets(t, data)
	data[offs[0]+20] ^= 1
	os.WriteFile(path, data, 0o600)
	if _, _, err := OpenWriter(path); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("OpenWriter: %v, want ErrCorrupt", err)
	}
	checkFile(t, path, data)
	if _, err := os.Stat(path + ".broken"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("broken file exists after a refused OpenWriter: %v", err)
	}
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s holds %d bytes, want %d bytes (equal: %v)", path, len(got), len(want), bytes.Equal(got, want))
	}
}
