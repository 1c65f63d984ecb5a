package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/genl"
	"github.com/wbarrier/wbarrier/record"
	"github.com/wbarrier/wbarrier/tools/internal/blockdev"
	"github.com/wbarrier/wbarrier/tools/internal/blockdev/blockdevtest"
	"github.com/wbarrier/wbarrier/tools/internal/drain"
	"github.com/wbarrier/wbarrier/tools/internal/ext4state"
	"github.com/wbarrier/wbarrier/tools/internal/ext4state/ext4statetest"
	"github.com/wbarrier/wbarrier/tools/internal/xfsstate/xfsstatetest"
	"golang.org/x/sys/unix"
)

// cleanSuper is the superblock a clean unmount left: mount count 41, 1000
// KiB written.
var cleanSuper = ext4state.Superblock{
	Magic:         ext4state.Magic,
	State:         ext4state.StateValid,
	UUID:          [16]byte{0x0f, 0x3c, 15: 0x90},
	MountCount:    41,
	WTime:         1765000000,
	KBytesWritten: 1000,
}

// cleanUnmount is what the log records of it.
var cleanUnmount = changelog.Unmount{FSType: "ext4", UUID: cleanSuper.UUID, MountCount: 41, KBytesWritten: 1000, WTime: 1765000000}

// mountedAgain returns cleanSuper after n mounts.
func mountedAgain(n uint16) ext4state.Superblock {
	s := cleanSuper
	s.MountCount += n
	s.State = 0 // in use
	return s
}

// wantContinuous fails t unless err is checkContinuous's answer for why:
// nil if why is "", else an error that says why.
func wantContinuous(t *testing.T, err error, why string) {
	t.Helper()
	if why == "" {
		if err != nil {
			t.Fatalf("checkContinuous: %v, want continuous", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), why) {
		t.Fatalf("checkContinuous: %v, want %q", err, why)
	}
}

// Every check of checkContinuous, each failing alone, and the message
// that names it.
func TestCheckContinuous(t *testing.T) {
	atMount := genl.Watch{ID: 1, FSType: "ext4", Dev: blockdevtest.Dev, AtMount: true}
	with := func(f func(*genl.Watch)) genl.Watch {
		w := atMount
		f(&w)
		return w
	}
	otherUUID := mountedAgain(1)
	otherUUID.UUID[0] = 0xff
	tests := []struct {
		name              string
		unmount           changelog.Unmount
		ended             bool
		w                 genl.Watch
		super             ext4state.Superblock
		lifetime, session string
		why               string // "" for continuous
	}{
		{"continuous", cleanUnmount, true, atMount, mountedAgain(1), "1010\n", "10\n", ""},
		{"the mount count wraps", func() changelog.Unmount { u := cleanUnmount; u.MountCount = 0xffff; return u }(), true, atMount,
			func() ext4state.Superblock { s := mountedAgain(1); s.MountCount = 0; return s }(), "1010\n", "10\n", ""},
		{"no clean unmount", cleanUnmount, false, atMount, mountedAgain(1), "1010\n", "10\n", "the log does not end with a clean unmount"},
		{"watched after the mount", cleanUnmount, true, with(func(w *genl.Watch) { w.AtMount = false }), mountedAgain(1), "1010\n", "10\n", "the watch began after the mount"},
		{"tmpfs", cleanUnmount, true, with(func(w *genl.Watch) { w.FSType = "tmpfs" }), mountedAgain(1), "1010\n", "10\n", "a new watch of tmpfs is always a break"},
		{"now xfs", cleanUnmount, true, with(func(w *genl.Watch) { w.FSType = "xfs" }), mountedAgain(1), "1010\n", "10\n", "the clean unmount was of ext4, the filesystem is now xfs"},
		{"another type", cleanUnmount, true, with(func(w *genl.Watch) { w.FSType = "ext3" }), mountedAgain(1), "1010\n", "10\n", "the clean unmount was of ext4, the filesystem is now ext3"},
		{"another filesystem", cleanUnmount, true, atMount, otherUUID, "1010\n", "10\n", "the filesystem's uuid is ff3c0000-"},
		{"mounted twice", cleanUnmount, true, atMount, mountedAgain(2), "1010\n", "10\n", "mounted 2 times since the clean unmount"},
		{"not counted", cleanUnmount, true, atMount, mountedAgain(0), "1010\n", "10\n", "this mount did not count"},
		{"count reset by e2fsck", cleanUnmount, true, atMount, func() ext4state.Superblock { s := mountedAgain(1); s.MountCount = 1; return s }(), "1010\n", "10\n", "went back from 41 to 1"},
		{"written in between", cleanUnmount, true, atMount, mountedAgain(1), "1522\n", "10\n", "512 KiB written since the clean unmount"},
		{"fewer KiB", cleanUnmount, true, atMount, mountedAgain(1), "900\n", "10\n", "890 KiB written before this mount, fewer than the 1000"},
		{"not the ext4 driver", cleanUnmount, true, atMount, mountedAgain(1), "", "", "mounted by the ext4 driver?"},
		{"unknown device", cleanUnmount, true, with(func(w *genl.Watch) { w.Dev = 0x803 }), mountedAgain(1), "1010\n", "10\n", "device 8:3 is not a block device the kernel lists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := ext4statetest.NewSystem(t, ext4statetest.Device(tt.super), tt.lifetime, tt.session)
			err := checkContinuous(sys.System, tt.unmount, tt.ended, tt.w)
			wantContinuous(t, err, tt.why)
		})
	}
}

// xfsUUID is the uuid of the xfs filesystem of the tests.
var xfsUUID = [16]byte{0x38, 0x14, 15: 0x63}

// xfsUnmount is what the log records of the clean unmount of
// xfsstatetest.Device(xfsUUID, 3, 4, true).
var xfsUnmount = changelog.Unmount{FSType: "xfs", UUID: xfsUUID, LogCycle: 3, LogBlock: 6}

// Every check of checkContinuous of an xfs filesystem, each failing alone,
// and the message that names it.
func TestCheckContinuousXFS(t *testing.T) {
	atMount := genl.Watch{ID: 1, FSType: "xfs", Dev: blockdevtest.Dev, AtMount: true}
	otherUUID := xfsUUID
	otherUUID[0] = 0xff
	noPosition := xfsUnmount
	noPosition.LogCycle, noPosition.LogBlock = 0, 0
	// The superblock as this mount found it: the same as at the unmount.
	dev := xfsstatetest.Device(xfsUUID, 3, 4, true)
	tests := []struct {
		name    string
		unmount changelog.Unmount
		dev     []byte
		tail    string // "" for none in sysfs
		why     string // "" for continuous
	}{
		{"continuous", xfsUnmount, dev, "3:6\n", ""},
		{"mounted and written in between", xfsUnmount, dev, "3:14\n", "the log's tail is at 3:14, not right after the clean unmount's record (3:6)"},
		{"another cycle", xfsUnmount, dev, "4:6\n", "the log's tail is at 4:6"},
		{"written back already", xfsUnmount, dev, "3:9\n", "this mount's metadata was written back"},
		{"no log position recorded", noPosition, dev, "3:6\n", "recorded no log position"},
		{"another filesystem", xfsUnmount, xfsstatetest.Device(otherUUID, 3, 4, true), "3:6\n", "the filesystem's uuid is ff140000-"},
		{"not xfs on the device", xfsUnmount, ext4statetest.Device(cleanSuper), "3:6\n", "not xfs's"},
		{"not the xfs driver", xfsUnmount, dev, "", "mounted by the xfs driver?"},
		{"garbled tail", xfsUnmount, dev, "3-6\n", "is not a log position"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := blockdevtest.NewSystem(t, tt.dev)
			if tt.tail != "" {
				xfsstatetest.SetTail(t, sys, tt.tail)
			}
			err := checkContinuous(sys.System, tt.unmount, true, atMount)
			wantContinuous(t, err, tt.why)
		})
	}
}

// recordUnmount of an xfs filesystem records where its log ends after the
// unmount record, and nothing if the log does not end with one.
func TestRecordUnmountXFS(t *testing.T) {
	w := genl.Watch{ID: 3, FSType: "xfs", Dev: blockdevtest.Dev}
	ended := genl.Watch{ID: 3, Unmounted: true, Epoch: 3, NextSeq: 9, Queued: 8}
	sealed := &drain.Drainer{Offset: 4, LastSealed: 6, Cursor: 9}
	for _, tt := range []struct {
		name  string
		clean bool
		want  string
	}{
		{"clean", true, "wbctl: watch 3: recorded the clean unmount of xfs 38140000-0000-0000-0000-000000000063 (its log ends at 3:6): a watch from its next mount can be continuous\n"},
		{"not clean", false, "wbctl: watch 3: no clean unmount recorded, the next watch will be a break: /dev/sda1: xfsstate: the log's last record, at 3:4, has 2 operations, not an unmount record's 1: the filesystem was not cleanly unmounted\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sys := blockdevtest.NewSystem(t, xfsstatetest.Device(xfsUUID, 3, 4, tt.clean))
			log := &unmountRecorder{}
			got := recordUnmount(log, sys.System, findDevice(sys.System, w), sealed, w, ended, nil)
			if got != tt.want {
				t.Errorf("recordUnmount printed %q, want %q", got, tt.want)
			}
			if tt.clean != (len(log.got) == 1) || (tt.clean && log.got[0] != xfsUnmount) {
				t.Errorf("recordUnmount recorded %+v, want %+v", log.got, xfsUnmount)
			}
		})
	}
}

// unmountRecorder is an unmountLog that keeps what it is given.
type unmountRecorder struct {
	got []changelog.Unmount
	err error
}

func (r *unmountRecorder) Unmount(u changelog.Unmount) error {
	if r.err != nil {
		return r.err
	}
	r.got = append(r.got, u)
	return nil
}

// recordUnmount records the clean unmount only when the watch's every
// epoch is sealed and the superblock, read once the device is free, says
// clean; each other case says why, on one line.
func TestRecordUnmount(t *testing.T) {
	w := genl.Watch{ID: 3, FSType: "ext4", Dev: blockdevtest.Dev}
	// The module closed epoch 2 at the unmount and opened 3; the daemon drained up to seq 8 (not acknowledged yet).
	ended := genl.Watch{ID: 3, Unmounted: true, Epoch: 3, NextSeq: 9, Queued: 8}
	sealed := &drain.Drainer{Offset: 4, LastSealed: 6, Cursor: 9} // the log's 6 is the watch's 2
	dirty := cleanSuper
	dirty.State = 0
	recovery := cleanSuper
	recovery.Incompat = ext4state.IncompatRecover
	tests := []struct {
		name      string
		w, last   genl.Watch
		statusErr error
		d         *drain.Drainer
		super     ext4state.Superblock
		busy      bool
		logErr    error
		want      string
	}{
		{"recorded", w, ended, nil, sealed, cleanSuper, false, nil,
			"wbctl: watch 3: recorded the clean unmount of ext4 0f3c0000-0000-0000-0000-000000000090 (mount count 41, 1000 KiB written): a watch from its next mount can be continuous\n"},
		{"tmpfs", genl.Watch{ID: 3, FSType: "tmpfs"}, ended, nil, sealed, cleanSuper, false, nil,
			"wbctl: watch 3: no clean unmount recorded, the next watch will be a break: a new watch of tmpfs is always a break (only ext2, ext3, ext4, xfs and btrfs are checked)\n"},
		{"no status", w, genl.Watch{}, errors.New("boom"), sealed, cleanSuper, false, nil, "the watch's state: boom"},
		{"not unmounted", w, genl.Watch{Epoch: 3}, nil, sealed, cleanSuper, false, nil, "does not report the watch unmounted"},
		{"records not drained", w, genl.Watch{Unmounted: true, Epoch: 3, NextSeq: 11}, nil, sealed, cleanSuper, false, nil, "queued records up to seq 10, the daemon drained them up to 8"},
		{"nothing sealed", w, ended, nil, &drain.Drainer{Offset: 4, LastSealed: 3, Cursor: 9}, cleanSuper, false, nil, "no epoch of this watch is sealed"},
		{"last epoch not sealed", w, genl.Watch{Unmounted: true, Epoch: 4}, nil, sealed, cleanSuper, false, nil, "epoch 7, the watch's last, is not sealed (the log's last sealed epoch is 6)"},
		{"not clean", w, ended, nil, sealed, dirty, false, nil, "not cleanly unmounted"},
		{"journal to recover", w, ended, nil, sealed, recovery, false, nil, "the journal needs recovery"},
		{"device busy", w, ended, nil, sealed, cleanSuper, true, nil, "still in use after"},
		{"the log refuses", w, ended, nil, sealed, cleanSuper, false, changelog.ErrUnmounted, "an unmount is recorded already"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := blockdevtest.NewSystem(t, ext4statetest.Device(tt.super))
			sys.Poll, sys.Wait = time.Millisecond, 20*time.Millisecond
			sys.Open = func(path string, excl bool) (blockdev.Device, error) {
				if !excl {
					t.Errorf("%s opened without O_EXCL after the unmount", path)
				}
				if tt.busy {
					return nil, &os.PathError{Op: "open", Path: path, Err: unix.EBUSY}
				}
				return os.Open(path)
			}
			log := &unmountRecorder{}
			if tt.logErr != nil {
				log.err = errors.New("changelog: an unmount is recorded already")
			}
			got := recordUnmount(log, sys.System, findDevice(sys.System, tt.w), tt.d, tt.w, tt.last, tt.statusErr)
			if !strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 1 || !strings.Contains(got, tt.want) {
				t.Errorf("recordUnmount printed %q, want a line with %q", got, tt.want)
			}
			if recorded := strings.Contains(got, "recorded the clean unmount"); recorded != (len(log.got) == 1) || (recorded && log.got[0] != cleanUnmount) {
				t.Errorf("recordUnmount recorded %+v, printed %q", log.got, got)
			}
			if !strings.Contains(got, "recorded the clean unmount") && !strings.Contains(got, "no clean unmount recorded, the next watch will be a break: ") {
				t.Errorf("recordUnmount printed %q: neither stable prefix", got)
			}
		})
	}
}

// marker is the epoch-closed marker of epoch, with its seq.
func marker(seq, epoch uint64) record.Record {
	r := closed(epoch, false)
	r.Seq = seq
	return r
}

// queue is a drain.Source that hands out a fixed queue.
type queue []record.Record

func (q queue) ScanRecords(_ uint32, cursor uint64, fn func([]record.Record) error) error {
	var batch []record.Record
	for _, r := range q {
		if r.Seq >= cursor {
			batch = append(batch, r)
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return fn(batch)
}

// The daemon's two halves together, as a clean reboot runs them: the
// first watch ends with the unmount, the daemon seals its last epoch and
// records the clean unmount; the next boot's watch from the mount finds
// the filesystem as it was left plus this mount, and continues the log:
// changes across the boundary need no rescan. The same with a write in
// between is a break that says why.
func TestDaemonContinuity(t *testing.T) {
	for _, tt := range []struct {
		name     string
		lifetime string // KiB written in the filesystem's life, this mount's 10 among them
		want     string // in the second daemon's stderr
		rescan   bool
	}{
		{"clean reboot", "1010\n", "wbctl: LOG: continuous: watch 1 of module load 000000000000000b began at the mount of ext4 0f3c0000-0000-0000-0000-000000000090, unchanged since the clean unmount the log ends with (mount count 41, then this mount; 1000 KiB written): epoch 2 between the watches is sealed and empty, changes across it need no rescan; this watch's epoch E is the log's E+2\n", false},
		{"written offline", "1522\n", "wbctl: LOG: break, not continuous: 512 KiB written since the clean unmount, before this mount\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.log")
			var stderr bytes.Buffer
			ctx := cli.NewContext(&cli.App{ErrWriter: &stderr}, nil, nil)
			sys := blockdevtest.NewSystem(t, ext4statetest.Device(mountedAgain(0)))

			// Boot 1: the watch from the mount, its unmount.
			w := genl.Watch{ID: 1, LoadID: 0xa, FSType: "ext4", Path: "/srv", Dev: blockdevtest.Dev, NextSeq: 1, AtMount: true}
			daemonToUnmount(t, ctx, sys, w, path, func() {
				sys.SetDevice(t, ext4statetest.Device(cleanSuper)) // the unmount's last write
			})
			if !strings.Contains(stderr.String(), "wbctl: watch 1: recorded the clean unmount of ext4 0f3c0000-0000-0000-0000-000000000090 (mount count 41, 1000 KiB written)") {
				t.Fatalf("boot 1: stderr %q", stderr.String())
			}

			// Boot 2: mounted once more; the watch from the mount.
			stderr.Reset()
			sys.SetDevice(t, ext4statetest.Device(mountedAgain(1)))
			ext4statetest.SetCounters(t, sys, tt.lifetime, "10\n")
			w2 := w
			w2.LoadID = 0xb
			daemonOnce(t, ctx, sys, w2, path)
			if got := strings.ReplaceAll(stderr.String(), path, "LOG"); !strings.Contains(got, tt.want) {
				t.Errorf("boot 2: stderr %q, want %q", got, tt.want)
			}
			l, err := changelog.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := l.Changes(1, 3)
			if err != nil || c.Rescan != tt.rescan || len(c.Objects) != 1 {
				t.Errorf("Changes(1, 3) across the reboot: rescan %v (%s), %d objects, %v; want rescan %v, 1 object", c.Rescan, c.Reason, len(c.Objects), err, tt.rescan)
			}
		})
	}
}

// daemonToUnmount runs the daemon over watch w, which queued a write to
// "a" and its epoch's marker, into the log at path until the module reports
// w unmounted, as its last epoch is sealed; unmount runs before, as the
// unmount itself. The first half of a continuity test.
func daemonToUnmount(t *testing.T, ctx *cli.Context, sys *blockdevtest.System, w genl.Watch, path string, unmount func()) {
	t.Helper()
	dev := findDevice(sys.System, w) // as the daemon does, while mounted
	d, log, err := openDrain(ctx, queue{write(1, 1, "a", 0, 1), marker(2, 1)}, w, path, sys.System)
	if err != nil {
		t.Fatal(err)
	}
	unmount()
	cfg := daemonConfig{
		unmounted: true,
		unwatch:   func() error { return nil },
		status: func() (genl.Watch, error) {
			return genl.Watch{ID: 1, Unmounted: true, Epoch: 2, NextSeq: 3, Queued: 2}, nil
		},
		cleanUnmount: func(d *drain.Drainer, last genl.Watch, err error) string {
			return recordUnmount(log, sys.System, dev, d, w, last, err)
		},
	}
	if err := runDaemon(ctx, d, cfg); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
}

// daemonOnce drains watch w, which queued a write to "b" and its epoch's
// marker, once into the log at path: the second half.
func daemonOnce(t *testing.T, ctx *cli.Context, sys *blockdevtest.System, w genl.Watch, path string) {
	t.Helper()
	d, log, err := openDrain(ctx, queue{write(1, 1, "b", 0, 1), marker(2, 1)}, w, path, sys.System)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Once(); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
}

// The daemon's two halves on xfs: the unmount records where the log ends,
// and the next watch from the mount is continuous if the log's tail is
// there, a break that says why if another mount moved it.
func TestDaemonContinuityXFS(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tail   string
		want   string // in the second daemon's stderr
		rescan bool
	}{
		{"clean remount", "3:6\n", "wbctl: LOG: continuous: watch 1 of module load 000000000000000b began at the mount of xfs 38140000-0000-0000-0000-000000000063, unchanged since the clean unmount the log ends with (its log ended at 3:6, where this mount put the log's tail): epoch 2 between the watches is sealed and empty", false},
		{"mounted in between", "3:20\n", "wbctl: LOG: break, not continuous: the log's tail is at 3:20, not right after the clean unmount's record (3:6)", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.log")
			var stderr bytes.Buffer
			ctx := cli.NewContext(&cli.App{ErrWriter: &stderr}, nil, nil)
			sys := blockdevtest.NewSystem(t, xfsstatetest.Device(xfsUUID, 3, 4, true))

			w := genl.Watch{ID: 1, LoadID: 0xa, FSType: "xfs", Path: "/srv", Dev: blockdevtest.Dev, NextSeq: 1, AtMount: true}
			daemonToUnmount(t, ctx, sys, w, path, func() {})
			if !strings.Contains(stderr.String(), "wbctl: watch 1: recorded the clean unmount of xfs 38140000-0000-0000-0000-000000000063 (its log ends at 3:6)") {
				t.Fatalf("first watch: stderr %q", stderr.String())
			}

			stderr.Reset()
			xfsstatetest.SetTail(t, sys, tt.tail)
			w2 := w
			w2.LoadID = 0xb
			daemonOnce(t, ctx, sys, w2, path)
			if got := strings.ReplaceAll(stderr.String(), path, "LOG"); !strings.Contains(got, tt.want) {
				t.Errorf("second watch: stderr %q, want %q", got, tt.want)
			}
			l, err := changelog.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := l.Changes(1, 3)
			if err != nil || c.Rescan != tt.rescan || len(c.Objects) != 1 {
				t.Errorf("Changes(1, 3) across the remount: rescan %v (%s), %d objects, %v; want rescan %v, 1 object", c.Rescan, c.Reason, len(c.Objects), err, tt.rescan)
			}
		})
	}
}
