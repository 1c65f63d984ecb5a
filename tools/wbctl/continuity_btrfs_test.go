package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/genl"
	"github.com/wbarrier/wbarrier/tools/internal/blockdev/blockdevtest"
	"github.com/wbarrier/wbarrier/tools/internal/btrfsstate/btrfsstatetest"
	"github.com/wbarrier/wbarrier/tools/internal/drain"
)

// btrfsUUID is the fsid of the btrfs filesystem of the tests.
var btrfsUUID = [16]byte{0xc4, 0x27, 15: 0xbd}

const btrfsUUIDString = "c4270000-0000-0000-0000-0000000000bd"

// btrfsDev is the anonymous device number of its superblock, 0:25: its
// mount names /dev/sda1 (btrfsMountinfo).
const btrfsDev = 25

const btrfsMountinfo = "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n" +
	"40 22 0:25 / /srv rw,relatime shared:20 - btrfs /dev/sda1 rw,subvolid=5,subvol=/\n"

// btrfsUnmount is what the log records of the clean unmount of
// btrfsstatetest.Device(btrfsUUID, 10, true).
var btrfsUnmount = changelog.Unmount{FSType: "btrfs", UUID: btrfsUUID, FSGeneration: 10}

// btrfsSystem lays out a system where the btrfs filesystem dev is mounted
// at /srv, its generation and commits since the mount as given (none in
// sysfs if generation is "").
func btrfsSystem(t *testing.T, dev []byte, generation, commits string) *blockdevtest.System {
	sys := blockdevtest.NewSystem(t, dev)
	sys.SetMountinfo(t, btrfsMountinfo)
	if generation != "" {
		btrfsstatetest.SetSysfs(t, sys, btrfsUUIDString, generation, commits)
	}
	return sys
}

// Every check of checkContinuous of a btrfs filesystem, each failing
// alone, and the message that names it.
func TestCheckContinuousBtrfs(t *testing.T) {
	atMount := genl.Watch{ID: 1, FSType: "btrfs", Dev: btrfsDev, AtMount: true}
	otherUUID := btrfsUUID
	otherUUID[0] = 0xff
	noGeneration := btrfsUnmount
	noGeneration.FSGeneration = 0
	// The superblock as this mount found it: the same as at the unmount.
	dev := btrfsstatetest.Device(btrfsUUID, 10, true)
	tests := []struct {
		name                string
		unmount             changelog.Unmount
		w                   genl.Watch
		dev                 []byte
		generation, commits string // "" for none in sysfs
		why                 string // "" for continuous
	}{
		{"continuous", btrfsUnmount, atMount, dev, "10\n", "0", ""},
		// Its own commits, or a log tree replayed as it mounted: not known.
		{"committed since the mount", btrfsUnmount, atMount, btrfsstatetest.Device(btrfsUUID, 12, true), "12\n", "2", "committed 2 transactions since this mount"},
		{"a log tree replayed at the mount", btrfsUnmount, atMount, btrfsstatetest.Device(btrfsUUID, 11, true), "11\n", "1", "the replay of a log tree"},
		{"mounted and written in between", btrfsUnmount, atMount, dev, "12\n", "0", "the generation is 12, not 10"},
		{"a transaction open", btrfsUnmount, atMount, dev, "11\n", "0", "this mount has one open since a write before the daemon looked"},
		{"generation went back", btrfsUnmount, atMount, dev, "9\n", "0", "the generation is 9, before the 10"},
		{"no generation recorded", noGeneration, atMount, dev, "10\n", "0", "recorded no generation"},
		{"another filesystem", btrfsUnmount, atMount, btrfsstatetest.Device(otherUUID, 10, true), "10\n", "0", "the filesystem's uuid is ff270000-"},
		{"not btrfs on the device", btrfsUnmount, atMount, make([]byte, 68<<10), "10\n", "0", "not btrfs's"},
		{"not the btrfs driver", btrfsUnmount, atMount, dev, "", "", "mounted by the btrfs driver?"},
		{"not mounted", btrfsUnmount, func() genl.Watch { w := atMount; w.Dev = 26; return w }(), dev, "10\n", "0", "no mount of device 0:26"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := btrfsSystem(t, tt.dev, tt.generation, tt.commits)
			err := checkContinuous(sys.System, tt.unmount, true, tt.w)
			wantContinuous(t, err, tt.why)
		})
	}
}

// recordUnmount of a btrfs filesystem records its generation, found
// through the device its mount named, and nothing if it was not cleanly
// unmounted or its device is not known.
func TestRecordUnmountBtrfs(t *testing.T) {
	w := genl.Watch{ID: 3, FSType: "btrfs", Dev: btrfsDev}
	ended := genl.Watch{ID: 3, Unmounted: true, Epoch: 3, NextSeq: 9, Queued: 8}
	sealed := &drain.Drainer{Offset: 4, LastSealed: 6, Cursor: 9}
	for _, tt := range []struct {
		name  string
		dev   []byte
		info  string // the mountinfo the daemon read as it started
		want  string
		clean bool
	}{
		{"clean", btrfsstatetest.Device(btrfsUUID, 10, true), btrfsMountinfo,
			"wbctl: watch 3: recorded the clean unmount of btrfs " + btrfsUUIDString + " (generation 10): a watch from its next mount can be continuous\n", true},
		{"a log tree left", btrfsstatetest.Device(btrfsUUID, 10, false), btrfsMountinfo,
			"wbctl: watch 3: no clean unmount recorded, the next watch will be a break: /dev/sda1: a log tree is left to replay: the filesystem was not cleanly unmounted\n", false},
		{"not mounted as the daemon started", btrfsstatetest.Device(btrfsUUID, 10, true), "",
			"wbctl: watch 3: no clean unmount recorded, the next watch will be a break: btrfsstate: no mount of device 0:25\n", false},
		{"unmounted as the daemon started, watched from the mount", btrfsstatetest.Device(btrfsUUID, 10, true), "",
			"wbctl: watch 3: recorded the clean unmount of btrfs " + btrfsUUIDString + " (generation 10): a watch from its next mount can be continuous\n", true},
		{"unmounted as the daemon started, another filesystem by that name, watched from the mount", btrfsstatetest.Device([16]byte{0xff}, 10, true), "",
			"wbctl: watch 3: no clean unmount recorded, the next watch will be a break: /dev/disk/by-uuid/" + btrfsUUIDString + " holds btrfs ff000000-0000-0000-0000-000000000000, not the watch's " + btrfsUUIDString + "\n", false},
		{"unmounted as the daemon started, no udev name", btrfsstatetest.Device(btrfsUUID, 10, true), "",
			"wbctl: watch 3: no clean unmount recorded, the next watch will be a break: /dev/disk/by-uuid/" + btrfsUUIDString + ": blockdev: open ", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sys := blockdevtest.NewSystem(t, tt.dev)
			sys.SetMountinfo(t, tt.info)
			w := w
			if strings.HasPrefix(tt.name, "unmounted as the daemon started,") {
				w.Path, w.Unmounted = "UUID="+btrfsUUIDString, true
			}
			if strings.HasSuffix(tt.name, "watched from the mount") {
				link := filepath.Join(sys.Dev, "disk", "by-uuid", btrfsUUIDString)
				if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("../../sda1", link); err != nil {
					t.Fatal(err)
				}
			}
			log := &unmountRecorder{}
			got := recordUnmount(log, sys.System, findDevice(sys.System, w), sealed, w, ended, nil)
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("recordUnmount printed %q, want %q", got, tt.want)
			}
			if tt.clean != (len(log.got) == 1) || (tt.clean && log.got[0] != btrfsUnmount) {
				t.Errorf("recordUnmount recorded %+v, want %+v", log.got, btrfsUnmount)
			}
		})
	}
}

// The daemon's two halves on btrfs: the unmount records the generation,
// and the next watch from the mount is continuous if the mount loaded it,
// a break that says why if another mount committed transactions.
func TestDaemonContinuityBtrfs(t *testing.T) {
	for _, tt := range []struct {
		name                string
		generation, commits string
		want                string // in the second daemon's stderr
		rescan              bool
	}{
		{"clean remount", "10\n", "0", "wbctl: LOG: continuous: watch 1 of module load 000000000000000b began at the mount of btrfs " + btrfsUUIDString + ", unchanged since the clean unmount the log ends with (generation 10, where this mount began): epoch 2 between the watches is sealed and empty", false},
		{"mounted in between", "13\n", "1", "wbctl: LOG: break, not continuous: btrfs has committed 1 transactions since this mount", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.log")
			var stderr bytes.Buffer
			ctx := cli.NewContext(&cli.App{ErrWriter: &stderr}, nil, nil)
			sys := btrfsSystem(t, btrfsstatetest.Device(btrfsUUID, 10, true), "", "")

			w := genl.Watch{ID: 1, LoadID: 0xa, FSType: "btrfs", Path: "/srv", Dev: btrfsDev, NextSeq: 1, AtMount: true}
			daemonToUnmount(t, ctx, sys, w, path, func() { sys.SetMountinfo(t, "") })
			if !strings.Contains(stderr.String(), "wbctl: watch 1: recorded the clean unmount of btrfs "+btrfsUUIDString+" (generation 10)") {
				t.Fatalf("first watch: stderr %q", stderr.String())
			}

			stderr.Reset()
			sys.SetMountinfo(t, btrfsMountinfo)
			btrfsstatetest.SetSysfs(t, sys, btrfsUUIDString, tt.generation, tt.commits)
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
