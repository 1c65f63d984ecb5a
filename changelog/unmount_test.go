package changelog

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testUnmount = Unmount{
	FSType:        "ext4",
	UUID:          [16]byte{0x0f, 0x3c, 0x2a, 0x8e, 0x5b, 0x7d, 0x4c, 0x1e, 0x9a, 0x2f, 0x6d, 0x8e, 0x1b, 0x4c, 0x7a, 0x90},
	MountCount:    41,
	KBytesWritten: 123456,
	WTime:         1765000000,
	MTime:         1764990000,
}

var testUnmountXFS = Unmount{
	FSType:   "xfs",
	UUID:     [16]byte{0x38, 0x14, 0x78, 0x9f, 0x03, 0x00, 0x44, 0x9b, 0x80, 0x6a, 0xe8, 0xfa, 0x6a, 0x65, 0xd5, 0x63},
	LogCycle: 7,
	LogBlock: 131070,
}

var testUnmountBtrfs = Unmount{
	FSType:       "btrfs",
	UUID:         [16]byte{0xc4, 0x27, 0x0e, 0xd4, 0x47, 0xff, 0x4c, 0x59, 0x9d, 0xe6, 0xe6, 0x16, 0x5b, 0xe2, 0x5e, 0xbd},
	FSGeneration: 10,
}

// The unmount payload reads back as written, as version 1 without a log
// position or generation, 2 with a log position and 3 with a generation,
// and its rules hold: version, size, reserved fields, the fs type's
// padding, a log cycle, a generation.
func TestUnmountPayload(t *testing.T) {
	long := testUnmount
	long.FSType = strings.Repeat("x", 16)
	for _, tt := range []struct {
		u       Unmount
		version byte
		size    int
	}{
		{testUnmount, 1, 56},
		{long, 1, 56},
		{testUnmountXFS, 2, 64},
		{testUnmountBtrfs, 3, 72},
	} {
		p := appendUnmountPayload(nil, tt.u)
		if len(p) != tt.size || p[0] != tt.version {
			t.Errorf("%v: payload version %d of %d bytes, want %d of %d", tt.u, p[0], len(p), tt.version, tt.size)
		}
		if got, err := decodeUnmountPayload(p); err != nil || got != tt.u {
			t.Errorf("decode = %+v, %v; want %+v", got, err, tt.u)
		}
	}
	v2 := appendUnmountPayload(nil, testUnmountXFS)
	v3 := appendUnmountPayload(nil, testUnmountBtrfs)
	for _, tt := range []struct {
		name string
		p    []byte
		want string
	}{
		{"empty", nil, "version unknown, this reader knows 1 to 3"},
		{"version 4", append([]byte{4}, v3[1:]...), "version unknown"},
		{"version 3 of 64 bytes", append([]byte{3}, v2[1:]...), "version 3 is 64 bytes, not 72"},
		{"version 2 of 72 bytes", append([]byte{2}, v3[1:]...), "version 2 is 72 bytes, not 64"},
		{"version 3 without a generation", append(v3[:64:64], 0, 0, 0, 0, 0, 0, 0, 0), "generation of 0"},
		{"version 1 of 64 bytes", append([]byte{1}, v2[1:]...), "version 1 is 64 bytes, not 56"},
		{"version 2 of 56 bytes", append([]byte{2}, v2[1:56]...), "version 2 is 56 bytes, not 64"},
		{"version 2 without a cycle", append(v2[:56:56], 0, 0, 0, 0, 1, 0, 0, 0), "log cycle of 0"},
	} {
		if _, err := decodeUnmountPayload(tt.p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", 17), "ext\x004"} {
		u := testUnmount
		u.FSType = bad
		if err := checkUnmount(u); err == nil {
			t.Errorf("checkUnmount accepts fs type %q", bad)
		}
	}
}

// genFrame and unmountFrame build the frames for craft.
func genFrame(g Generation) craftFrame {
	return craftFrame{typ: frameGeneration, payload: appendGenerationPayload(nil, g)}
}

func unmountFrame(u Unmount) craftFrame {
	return craftFrame{typ: frameUnmount, payload: appendUnmountPayload(nil, u)}
}

// The rules of unmount frames and continuous generations: a frame with a
// valid CRC that breaks one is corruption at that frame, with a reason
// that names the rule.
func TestUnmountCorrupt(t *testing.T) {
	r2 := write(1, 2, "a", 0, 1)
	gA := genFrame(genA)
	gB := Generation{LoadID: 0xb2, WatchID: 1, Offset: 2}
	cont := gB
	cont.Continuous = true
	um := unmountFrame(testUnmount)
	seal1 := sealFrame(1, 0, false)
	tests := []struct {
		name   string
		frames []craftFrame
		bad    int    // index of the bad frame
		reason string // in its CorruptError
	}{
		{"continuous without an unmount frame", []craftFrame{gA, seal1, genFrame(cont)}, 2, "does not directly follow an unmount frame"},
		{"continuous first generation", []craftFrame{genFrame(Generation{LoadID: 1, Continuous: true})}, 0, "does not directly follow an unmount frame"},
		{"continuous after a break", []craftFrame{gA, seal1, um, genFrame(gB), genFrame(Generation{LoadID: 3, Offset: 3, Continuous: true})}, 4, "does not directly follow an unmount frame"},
		{"continuous not right after the last seal", []craftFrame{gA, seal1, um, genFrame(Generation{LoadID: 3, Offset: 3, Continuous: true})}, 3, "not right after epoch 1"},
		{"record after an unmount", []craftFrame{gA, seal1, um, recFrame(r2)}, 3, "a record after an unmount frame"},
		{"seal after an unmount", []craftFrame{gA, seal1, um, sealFrame(2, 0, false)}, 3, "a seal after an unmount frame"},
		{"unmount after an unmount", []craftFrame{gA, seal1, um, um}, 3, "an unmount frame after an unmount frame"},
		{"unmount without a seal", []craftFrame{gA, um}, 1, "in a log without a seal"},
		{"unmount with records after the last seal", []craftFrame{gA, seal1, recFrame(r2), um}, 3, "records of epoch 2 after the last seal"},
		{"unmount before a seal of the generation", []craftFrame{gA, seal1, um, genFrame(gB), um}, 4, "before any seal of the generation after epoch 2"},
		{"unmount version 2 of version 1's size", []craftFrame{gA, seal1, mod(um, 0, 2)}, 2, "unmount payload version 2 is 56 bytes, not 64"},
		{"unmount version 3 of version 1's size", []craftFrame{gA, seal1, mod(um, 0, 3)}, 2, "unmount payload version 3 is 56 bytes, not 72"},
		{"unmount version 4", []craftFrame{gA, seal1, mod(um, 0, 4)}, 2, "unmount payload version unknown"},
		{"unmount btrfs without a generation", []craftFrame{gA, seal1, mod(unmountFrame(testUnmountBtrfs), 64, 0)}, 2, "generation of 0"},
		{"unmount xfs without a log cycle", []craftFrame{gA, seal1, mod(unmountFrame(testUnmountXFS), 56, 0)}, 2, "log cycle of 0"},
		{"unmount version 0", []craftFrame{gA, seal1, mod(um, 0, 0)}, 2, "unmount payload version unknown"},
		{"unmount reserved at 1", []craftFrame{gA, seal1, mod(um, 1, 1)}, 2, "unmount reserved field"},
		{"unmount reserved at 7", []craftFrame{gA, seal1, mod(um, 7, 1)}, 2, "unmount reserved field"},
		{"unmount fs type not padded", []craftFrame{gA, seal1, mod(um, 50, 'x')}, 2, "not NUL-padded"},
		{"unmount empty fs type", []craftFrame{gA, seal1, mod(um, 40, 0)}, 2, "empty or not NUL-padded"},
		{"unmount too short", []craftFrame{gA, seal1, {typ: frameUnmount, payload: um.payload[:48]}}, 2, "48 bytes, not 56"},
		{"generation version 2 without a flag", []craftFrame{gA, seal1, um, mod(genFrame(cont), 1, 0)}, 3, "version 2 generation without a flag"},
		{"generation unknown flag", []craftFrame{gA, seal1, um, mod(genFrame(cont), 1, 3)}, 3, "unknown flags 0x3"},
		{"generation version 1 with a flag", []craftFrame{gA, seal1, um, mod(genFrame(cont), 0, 1)}, 3, "generation reserved field"},
		{"generation version 3", []craftFrame{gA, seal1, um, mod(genFrame(cont), 0, 3)}, 3, "generation payload version unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := craft(t, tt.frames...)
			expectCorrupt(t, data, frameOffsets(t, data)[tt.bad])
			_, err := openBytes(t, data)
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Open: %v, want the reason %q", err, tt.reason)
			}
		})
	}
	// The same frames where the rules put them read, and say so.
	l, err := openBytes(t, craft(t, gA, seal1, um))
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := l.Unmount(); !ok || u != testUnmount {
		t.Errorf("Unmount() = %+v, %v; want %+v", u, ok, testUnmount)
	}
	l, err = openBytes(t, craft(t, gA, seal1, unmountFrame(testUnmountXFS)))
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := l.Unmount(); !ok || u != testUnmountXFS {
		t.Errorf("Unmount() = %+v, %v; want %+v", u, ok, testUnmountXFS)
	}
	l, err = openBytes(t, craft(t, gA, seal1, um, genFrame(cont), recFrame(write(1, 3, "a", 0, 1)), sealFrame(3, 1, false)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Unmount(); ok {
		t.Error("Unmount() says the log ends with one; a generation followed it")
	}
	if c, _ := l.Changes(0, 3); c.Rescan {
		t.Errorf("Changes(0, 3) across a continuous generation: rescan from %d (%s)", c.RescanFrom, c.Reason)
	}
}

// continuousLog writes a log of two watches: the first seals epochs 1 and
// 2 and records its clean unmount, the second (continuous if cont) seals
// its epochs 1 and 2 (the log's 4 and 5). With segSize 1, a segment per
// seal: the continuous generation is restated. It returns the log's path
// and the second generation.
func continuousLog(t *testing.T, segSize int64, cont bool) (string, Generation) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.wblog")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetSegmentSize(segSize)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = w.StartGeneration(genA)
	must(err)
	must(w.Append(write(1, 1, "a", 0, 1)))
	must(w.Append(write(2, 2, "b", 0, 1))) // epoch 2 opened before 1 closed
	must(w.Seal(1, 3, false))
	must(w.Seal(2, 4, false))
	must(w.Unmount(testUnmount))
	must(w.Close())

	// The daemon of the next boot reopens the log.
	w, _, err = OpenWriter(path)
	must(err)
	defer w.Close()
	w.SetSegmentSize(segSize)
	if u, ok := w.LastUnmount(); !ok || u != testUnmount {
		t.Fatalf("reopened: LastUnmount() = %+v, %v; want %+v", u, ok, testUnmount)
	}
	g := genB
	g.Continuous = cont
	g, err = w.StartGeneration(g)
	must(err)
	if want := (Generation{LoadID: 0xb2, WatchID: 1, Dev: 0x801, Offset: 3, Break: true, Continuous: cont}); g != want {
		t.Fatalf("generation %+v, want %+v", g, want)
	}
	if _, ok := w.LastUnmount(); ok {
		t.Error("LastUnmount() after a generation still says the log ends with one")
	}
	must(w.Append(write(1, g.LogEpoch(1), "c", 0, 1)))
	must(w.Seal(g.LogEpoch(1), 2, false))
	must(w.Append(write(3, g.LogEpoch(2), "a", 0, 1)))
	must(w.Seal(g.LogEpoch(2), 4, false))
	must(w.Close())
	return path, g
}

// A continuous generation's break epoch counts as sealed, complete and
// empty: changes across it are answered, by a whole read and by a read
// that seeks (OpenSince), in one segment or a segment per seal (the
// generation restated), also after the segments before it were purged; a
// break that is not continuous stays a rescan.
func TestContinuousGeneration(t *testing.T) {
	for _, segSize := range []int64{0, 1} {
		for _, cont := range []bool{true, false} {
			t.Run(fmt.Sprintf("segment size %d, continuous %v", segSize, cont), func(t *testing.T) {
				path, g := continuousLog(t, segSize, cont)
				whole, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				want := []Generation{genA, g}
				if diff := cmp.Diff(want, whole.Generations()); diff != "" {
					t.Errorf("Generations() (-want +got):\n%s", diff)
				}
				for since := uint64(0); since <= 5; since++ {
					c, err := whole.Changes(since, 5)
					if err != nil {
						t.Fatal(err)
					}
					wantRescan := !cont && since < 3
					if c.Rescan != wantRescan || (wantRescan && (c.RescanFrom != 3 || !strings.Contains(c.Reason, "epoch 3 is the break"))) {
						t.Errorf("Changes(%d, 5): rescan %v from %d (%q); want rescan %v", since, c.Rescan, c.RescanFrom, c.Reason, wantRescan)
					}
					if !c.Rescan && since == 0 && len(c.Objects) != 3 {
						t.Errorf("Changes(0, 5): %d objects, want 3", len(c.Objects))
					}
					l, err := OpenSince(path, since)
					if err != nil {
						t.Fatal(err)
					}
					got, err := l.Changes(since, 5)
					if err != nil {
						t.Fatal(err)
					}
					if got.Rescan != c.Rescan || got.RescanFrom != c.RescanFrom || got.Reason != c.Reason || len(got.Objects) != len(c.Objects) {
						t.Errorf("OpenSince(%d).Changes: rescan %v from %d (%q), %d objects; Open's: %v from %d (%q), %d objects",
							since, got.Rescan, got.RescanFrom, got.Reason, len(got.Objects), c.Rescan, c.RescanFrom, c.Reason, len(c.Objects))
					}
				}
				if segSize == 0 {
					return
				}
				// The segments up to the one that started the second
				// generation go; the restated frame keeps it continuous.
				if _, err := Purge(path, 4); err != nil {
					t.Fatal(err)
				}
				l, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				if gens := l.Generations(); len(gens) != 1 || gens[0] != g {
					t.Errorf("after purge: Generations() = %+v, want [%+v]", gens, g)
				}
				if c, _ := l.Changes(l.Base(), 5); c.Rescan {
					t.Errorf("after purge: Changes(%d, 5): rescan from %d (%s)", l.Base(), c.RescanFrom, c.Reason)
				}
			})
		}
	}
}

// The Writer keeps the rules a reader checks: an unmount only where every
// epoch is sealed, only a generation after it, a continuous generation
// only after it.
func TestUnmountWriterRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.wblog")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.StartGeneration(Generation{LoadID: 1, Continuous: true}); err == nil || !strings.Contains(err.Error(), "must follow an unmount frame") {
		t.Errorf("a continuous first generation: %v", err)
	}
	if _, err := w.StartGeneration(genA); err != nil {
		t.Fatal(err)
	}
	if err := w.Unmount(testUnmount); err == nil || !strings.Contains(err.Error(), "without a seal") {
		t.Errorf("Unmount before any seal: %v", err)
	}
	if err := w.Seal(1, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(write(2, 2, "a", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Unmount(testUnmount); err == nil || !strings.Contains(err.Error(), "records of epoch 2 after the last seal") {
		t.Errorf("Unmount with records not sealed: %v", err)
	}
	bad := testUnmount
	bad.FSType = ""
	if err := w.Unmount(bad); err == nil {
		t.Error("Unmount without a filesystem type succeeded")
	}
	if err := w.Seal(2, 3, false); err != nil {
		t.Fatal(err)
	}
	if err := w.Unmount(testUnmount); err != nil {
		t.Fatal(err)
	}
	if err := w.Unmount(testUnmount); !errors.Is(err, ErrUnmounted) {
		t.Errorf("a second Unmount: %v, want ErrUnmounted", err)
	}
	if err := w.Append(write(4, 3, "a", 0, 1)); !errors.Is(err, ErrUnmounted) {
		t.Errorf("Append after Unmount: %v, want ErrUnmounted", err)
	}
	if err := w.Seal(3, 4, false); !errors.Is(err, ErrUnmounted) {
		t.Errorf("Seal after Unmount: %v, want ErrUnmounted", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// What the Writer refused left the log valid, ending with the unmount.
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := l.Unmount(); !ok || u != testUnmount {
		t.Errorf("Unmount() = %+v, %v", u, ok)
	}
}

// Salvage reads unmount frames and continuous generations as intact and
// copies neither: the new log's epochs stand for themselves.
func TestSalvageUnmount(t *testing.T) {
	path, _ := continuousLog(t, 0, true)
	s, err := Salvage(path, filepath.Join(t.TempDir(), "new.wblog"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Damage) != 0 || s.Seals != 4 || s.Records != 4 {
		t.Errorf("Salvage: damage %v, %d seals, %d records; want none, 4, 4", s.Damage, s.Seals, s.Records)
	}
}
