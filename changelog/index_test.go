package changelog

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wbarrier/wbarrier/record"
)

// straddling returns the records of epochs 1..n as the kernel may give
// them: records of the next two epochs before a seal, epoch 4 lossy,
// epoch 7 never sealed, the last epochs without records.
func straddling(n int) []record.Record {
	var recs []record.Record
	seq := uint64(0)
	add := func(epoch uint64) {
		seq++
		recs = append(recs, write(seq, epoch, fmt.Sprintf("f%d", seq%5), seq, 1))
	}
	for e := uint64(1); e <= uint64(n); e++ {
		if e < uint64(n)-1 {
			add(e)
			add(e)
		}
		if e%3 == 0 && e < uint64(n)-2 {
			add(e + 1)
			add(e + 2)
		}
		if e != 7 {
			seq++
			recs = append(recs, closed(e, e == 4))
			recs[len(recs)-1].Seq = seq
		}
	}
	return recs
}

// sealFrames returns the seals of the segment file seg, found by walking
// its frames: what the index should say, worked out without it.
func sealFrames(t *testing.T, seg string) []indexEntry {
	t.Helper()
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	var es []indexEntry
	prev := le.Uint32(data[int(le.Uint32(data[12:]))-4:])
	for _, p := range frameOffsets(t, data) {
		if le.Uint16(data[p+4:]) == frameSeal {
			es = append(es, indexEntry{le.Uint64(data[p+frameHeaderSize+8:]), frameRef{int64(p), prev}})
		}
		prev = le.Uint32(data[p+8:])
	}
	return es
}

// indexDamage is what a test does to the indexes of a log.
var indexDamage = []struct {
	name   string
	damage func(t *testing.T, seg string, h Header)
}{
	{"as written", func(*testing.T, string, Header) {}},
	{"missing", func(t *testing.T, seg string, _ Header) { os.Remove(indexPath(seg)) }},
	{"garbage", func(t *testing.T, seg string, _ Header) {
		os.WriteFile(indexPath(seg), bytes.Repeat([]byte("garbage!"), 20), 0o600)
	}},
	{"another log's", func(t *testing.T, seg string, h Header) {
		writeIndex(seg, h.Salt+1, h.Segment, sealFrames(t, seg))
	}},
	{"another segment's", func(t *testing.T, seg string, h Header) {
		writeIndex(seg, h.Salt, h.Segment+1, sealFrames(t, seg))
	}},
	{"offsets off by 8", func(t *testing.T, seg string, h Header) {
		es := sealFrames(t, seg)
		for i := range es {
			es[i].seal.off += 8
		}
		writeIndex(seg, h.Salt, h.Segment, es)
	}},
	{"epochs off by one", func(t *testing.T, seg string, h Header) {
		es := sealFrames(t, seg)
		for i := range es {
			es[i].epoch++
		}
		writeIndex(seg, h.Salt, h.Segment, es)
	}},
	{"an entry damaged", func(t *testing.T, seg string, h Header) {
		data, _ := os.ReadFile(indexPath(seg))
		if len(data) > indexHeaderSize {
			data[indexHeaderSize+3] ^= 1
		}
		os.WriteFile(indexPath(seg), data, 0o600)
	}},
	{"last entry cut", func(t *testing.T, seg string, h Header) {
		if fi, err := os.Stat(indexPath(seg)); err == nil && fi.Size() > indexHeaderSize {
			os.Truncate(indexPath(seg), fi.Size()-5)
		}
	}},
	{"entries lost", func(t *testing.T, seg string, h Header) {
		es := sealFrames(t, seg)
		writeIndex(seg, h.Salt, h.Segment, es[:len(es)/2])
	}},
}

// OpenSince answers every range as Open does, whatever state the indexes
// are in, for every epoch from before the first to after the last, in one
// segment or several, whole or purged.
func TestOpenSinceEveryEpoch(t *testing.T) {
	const n = 14
	recs := straddling(n)
	for _, size := range []int64{0, 300, 1000} {
		for _, purge := range []uint64{0, 5} {
			for _, d := range indexDamage {
				t.Run(fmt.Sprintf("segments of %d/purged to %d/%s", size, purge, d.name), func(t *testing.T) {
					path := segLog(t, t.TempDir(), size, recs...)
					removed, err := Purge(path, purge)
					if err != nil {
						t.Fatal(err)
					}
					for _, seg := range removed {
						if _, err := os.Stat(indexPath(seg)); !errors.Is(err, os.ErrNotExist) {
							t.Errorf("the index of %s, purged, is left: %v", seg, err)
						}
					}
					segs, _ := listSegments(path)
					for _, s := range segs {
						h, err := headerOf(s.path)
						if err != nil {
							t.Fatal(err)
						}
						d.damage(t, s.path, h)
					}
					whole, err := Open(path)
					if err != nil {
						t.Fatal(err)
					}
					for since := uint64(0); since <= n+1; since++ {
						l, err := OpenSince(path, since)
						if err != nil {
							t.Fatalf("OpenSince(%d): %v", since, err)
						}
						var want []record.Record
						for _, r := range whole.Records() {
							if r.Epoch > since {
								want = append(want, r)
							}
						}
						if got := l.Records(); !sameRecords(want, got) {
							t.Fatalf("OpenSince(%d).Records() mismatch (-want +got):\n%s", since, cmp.Diff(want, got, equate))
						}
						if got, want := fmt.Sprint(l.LastSealed()), fmt.Sprint(whole.LastSealed()); got != want {
							t.Errorf("OpenSince(%d).LastSealed() = %s, want %s", since, got, want)
						}
						if l.Base() != whole.Base() || l.Header() != whole.Header() {
							t.Errorf("OpenSince(%d): base %d, header %+v; want %d, %+v", since, l.Base(), l.Header(), whole.Base(), whole.Header())
						}
						for _, until := range []uint64{since, since + 1, since + 2, n + 1} {
							got, err := l.Changes(since, until)
							if err != nil {
								t.Fatalf("OpenSince(%d).Changes(%d, %d): %v", since, since, until, err)
							}
							want, _ := whole.Changes(since, until)
							if diff := cmp.Diff(want, got, equate); diff != "" {
								t.Fatalf("Changes(%d, %d) mismatch (-Open +OpenSince):\n%s", since, until, diff)
							}
						}
						if _, err := l.Changes(since-1, n); since > 0 && err == nil {
							t.Errorf("OpenSince(%d).Changes(%d, ...) answered before the epochs it read", since, since-1)
						}
					}
				})
			}
		}
	}
}

// With its index as written, a reader of the epochs after N starts at the
// seal of N, or of the last epoch before N that is sealed in the segment;
// the segment's first epochs are found from its start.
func TestSeekLandsOnSeal(t *testing.T) {
	const n = 14
	path := segLog(t, t.TempDir(), 1000, straddling(n)...)
	segs, _ := listSegments(path)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	for _, s := range segs {
		h, err := headerOf(s.path)
		if err != nil {
			t.Fatal(err)
		}
		seals := sealFrames(t, s.path)
		f, err := os.Open(s.path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for since := h.Base; since <= n+1; since++ {
			var want *indexEntry
			for i := range seals {
				if seals[i].epoch <= since {
					want = &seals[i]
				}
			}
			got, err := seekIndexed(openFile{s, f}, h, since)
			switch {
			case err != nil:
				t.Fatalf("%s since %d: %v", s.path, since, err)
			case want == nil && got != nil:
				t.Errorf("%s since %d: starts at the seal of %d, want the segment's start", s.path, since, got.epoch)
			case want != nil && (got == nil || got.seal != want.seal.off || got.epoch != want.epoch):
				t.Errorf("%s since %d: starts at %+v, want the seal of epoch %d at %d", s.path, since, got, want.epoch, want.seal.off)
			case got != nil && (got.from.off > got.seal || got.from.off < int64(headerSize(h))):
				t.Errorf("%s since %d: the later epochs start at %d, outside the segment's frames before the seal", s.path, since, got.from.off)
			}
		}
	}
}

// A reader that had to read a segment before the last whole because its
// index was missing or stale writes it anew; one that finds no seal in
// range in a good index leaves it alone; the last segment's is the
// writer's.
func TestIndexRebuilt(t *testing.T) {
	path := segLog(t, t.TempDir(), 1000, straddling(14)...)
	segs, _ := listSegments(path)
	first, last := segs[0].path, segs[len(segs)-1].path
	h, _ := headerOf(first)
	want, _ := os.ReadFile(indexPath(first))
	os.Remove(indexPath(first))
	os.Remove(indexPath(last))
	if _, err := OpenSince(path, 1); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(indexPath(first)); !bytes.Equal(got, want) {
		t.Errorf("index of %s: %x, want %x as the writer wrote it", first, got, want)
	}
	writeIndex(first, h.Salt, h.Segment, sealFrames(t, first)[1:])
	stale, _ := os.ReadFile(indexPath(first))
	if _, err := OpenSince(path, 1); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(indexPath(first)); !bytes.Equal(got, stale) {
		t.Error("an index without a seal in range, not stale, was written anew")
	}
	if _, err := OpenSince(path, math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(indexPath(last)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a reader wrote the index of the last segment: %v", err)
	}
	w, _, err := OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := os.Stat(indexPath(last)); err != nil {
		t.Errorf("OpenWriter did not rebuild the index of the last segment: %v", err)
	}
}

// A reader that seeks checks the frames it reads: damage between where a
// seal says the later epochs start and the seal, or after it, is
// corruption. Damage before is not read, so not seen (Open sees it).
func TestSeekChecksWhatItReads(t *testing.T) {
	recs := straddling(14)
	path := segLog(t, t.TempDir(), 0, recs...)
	data, _ := os.ReadFile(path)
	seals := sealFrames(t, path)
	seal6 := seals[5] // epoch 6, with records of 7 and 8 before it
	f, _ := os.Open(path)
	defer f.Close()
	h, _ := headerOf(path)
	from, err := indexedSeal(f, path, h.Salt, int64(headerSize(h)), seal6)
	if err != nil || seal6.epoch != 6 || from.off >= seal6.seal.off {
		t.Fatalf("seal of %d at %d starts the later epochs at %d, %v: want a seal with records of later epochs before it", seal6.epoch, seal6.seal.off, from.off, err)
	}
	offs := frameOffsets(t, data)
	tests := []struct {
		name    string
		at      int // the frame damaged
		corrupt bool
	}{
		{"before the start", frameIndex(offs, from.off) - 1, false},
		{"at the start", frameIndex(offs, from.off), true},
		{"the seal", frameIndex(offs, seal6.seal.off), true},
		{"after the seal", frameIndex(offs, seal6.seal.off) + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := bytes.Clone(data)
			bad[offs[tt.at]+frameHeaderSize+9] ^= 0x40
			p := filepath.Join(t.TempDir(), "test.wblog")
			os.WriteFile(p, bad, 0o600)
			writeIndex(p, h.Salt, 0, seals)
			_, err := OpenSince(p, 6)
			if got := errors.Is(err, ErrCorrupt); got != tt.corrupt {
				t.Errorf("OpenSince(6): %v, want corrupt %v", err, tt.corrupt)
			}
			if _, err := Open(p); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Open: %v, want corruption", err)
			}
		})
	}
}

// frameIndex returns the index in offs of the frame at off.
func frameIndex(offs []int, off int64) int {
	for i, o := range offs {
		if int64(o) == off {
			return i
		}
	}
	return -1
}

// A version 3 seal that says the later epochs start anywhere but where
// they do is corruption.
func TestSealStartChecked(t *testing.T) {
	path := segLog(t, t.TempDir(), 0, straddling(8)...)
	data, _ := os.ReadFile(path)
	h, _ := headerOf(path)
	seals := sealFrames(t, path)
	seal := seals[len(seals)-1] // the last frame: nothing chains to it
	p := int(seal.seal.off)
	if p+frameSize(sealPayloadSize) != len(data) {
		t.Fatal("the last seal is not the last frame")
	}
	// Move the start a frame earlier, and make the frame valid again.
	f := data[p:]
	start := le.Uint64(f[frameHeaderSize+32:])
	le.PutUint64(f[frameHeaderSize+32:], start-72)
	le.PutUint32(f[8:], frameCRC(h.Salt, seal.seal.prev, f))
	if _, err := openBytes(t, data); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with a seal whose start is off: %v, want corruption", err)
	}
}

// A log written before seal version 3 and indexes (testdata: three
// segments, version 2 seals) reads, and answers from every epoch; its
// segments get indexes without entries, which send readers to the start.
func TestOldFormat(t *testing.T) {
	dir := t.TempDir()
	ents, _ := os.ReadDir("testdata")
	for _, e := range ents {
		if data, err := os.ReadFile(filepath.Join("testdata", e.Name())); err == nil && !e.IsDir() {
			os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600)
		}
	}
	path := filepath.Join(dir, "seal-v2.wblog")
	whole, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if last, _ := whole.LastSealed(); last != 8 || len(whole.Segments()) != 3 || len(whole.Records()) != 32 {
		t.Fatalf("last sealed %d, %d segments, %d records; want 8, 3, 32", last, len(whole.Segments()), len(whole.Records()))
	}
	for since := uint64(0); since <= 8; since++ {
		l, err := OpenSince(path, since)
		if err != nil {
			t.Fatal(err)
		}
		got, err := l.Changes(since, 8)
		want, _ := whole.Changes(since, 8)
		if diff := cmp.Diff(want, got, equate); err != nil || diff != "" {
			t.Errorf("Changes(%d, 8): %v, mismatch (-Open +OpenSince):\n%s", since, err, diff)
		}
	}
	w, _, err := OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(write(100, 9, "new", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(9, 101, false); err != nil {
		t.Fatal(err)
	}
	w.Close()
	l, err := OpenSince(path, 9)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := l.Changes(8, 9); err == nil {
		t.Errorf("OpenSince(9).Changes(8, 9) = %+v, want an error", c)
	}
	l, err = OpenSince(path, 8)
	if err != nil {
		t.Fatal(err)
	}
	// The old writer put a create of epoch 9 before the seal of 8.
	if c, err := l.Changes(8, 9); err != nil || c.Rescan || len(c.Objects) != 2 || c.Objects[1].Handle == nil || string(c.Objects[1].Handle.Bytes) != "new" {
		t.Errorf("after appending with a new writer, Changes(8, 9) = %+v, %v; want the create and the new write", c, err)
	}
}

// A break's reason names what came before it (the same module load: an
// unwatch and a new watch; another: a reboot or a reload), also when the
// read seeks past the generation before it.
func TestOpenSinceBreakReason(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.wblog")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []Generation{{LoadID: 1, WatchID: 7}, {LoadID: 1, WatchID: 8}, {LoadID: 2, WatchID: 1}} {
		g, err := w.StartGeneration(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range straddling(5) {
			r.Epoch += g.Offset
			if err := w.Append(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	whole, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	last, _ := whole.LastSealed()
	for since := uint64(0); since <= last; since++ {
		l, err := OpenSince(path, since)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := l.Changes(since, last)
		want, _ := whole.Changes(since, last)
		if got.Reason != want.Reason {
			t.Errorf("Changes(%d, %d): reason %q, want %q", since, last, got.Reason, want.Reason)
		}
	}
}
