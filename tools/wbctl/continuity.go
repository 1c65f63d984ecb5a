package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/genl"
	"github.com/wbarrier/wbarrier/tools/internal/blockdev"
	"github.com/wbarrier/wbarrier/tools/internal/btrfsstate"
	"github.com/wbarrier/wbarrier/tools/internal/drain"
	"github.com/wbarrier/wbarrier/tools/internal/ext4state"
	"github.com/wbarrier/wbarrier/tools/internal/xfsstate"
)

// Continuity across a clean unmount (see the generation contract in
// docs/changes.md): when a watch of an ext2/3/4, xfs or btrfs filesystem
// ends with its unmount and every epoch of it is sealed, the daemon
// records in the log the state the unmount left on disk (recordUnmount).
// The next watch, if it began at the mount, continues the log without a
// rescan if the filesystem shows that only that mount happened and
// nothing was written in between (checkContinuous): for ext2/3/4 by the
// superblock's mount count and KiB written, for xfs by where its log's
// tail is, for btrfs by the generation this mount loaded.

// checked reports whether continuity is checked for filesystem type t.
func checked(t string) bool {
	return ext4state.IsExt(t) || t == "xfs" || t == "btrfs"
}

// notChecked says that a new watch of type t is always a break.
func notChecked(t string) string {
	return fmt.Sprintf("a new watch of %s is always a break (only ext2, ext3, ext4, xfs and btrfs are checked)", t)
}

// watchDevice is the name under /dev of the block device of a watch's
// filesystem (findDevice), or why it is not known.
type watchDevice struct {
	name string
	err  error
}

// findDevice finds the block device of watch w's filesystem: the device
// w.Dev, or for btrfs, whose superblock's device number is an anonymous
// one, the device its mount names in mountinfo, which only a mounted
// filesystem has. The daemon finds it as it starts, for the unmount. A
// daemon that starts after the unmount (wbarrier-unmount@) finds the
// btrfs of a watch from its mount, whose path names its fsid, by udev's
// name for it, /dev/disk/by-uuid/FSID.
func findDevice(sys *blockdev.System, w genl.Watch) watchDevice {
	if w.FSType != "btrfs" {
		name, err := sys.DevName(w.Dev)
		return watchDevice{name, err}
	}
	info, err := sys.ReadProc("self/mountinfo")
	var src string
	if err == nil {
		src, err = btrfsstate.MountSource(strings.NewReader(info), w.Dev)
	}
	if err != nil {
		if uuid, ok := strings.CutPrefix(w.Path, "UUID="); ok && w.Unmounted {
			return watchDevice{name: filepath.Join("disk", "by-uuid", uuid)}
		}
		return watchDevice{err: err}
	}
	name, ok := strings.CutPrefix(filepath.Clean(src), "/dev/")
	if !ok {
		return watchDevice{err: fmt.Errorf("btrfs is mounted from %s, not a device under /dev", src)}
	}
	return watchDevice{name: name}
}

// unmountState reads the state the clean unmount of watch w's filesystem,
// on dev, left on disk, once the unmount is over (the device opens
// exclusively).
func unmountState(sys *blockdev.System, dev watchDevice, w genl.Watch) (changelog.Unmount, error) {
	if !checked(w.FSType) {
		return changelog.Unmount{}, errors.New(notChecked(w.FSType))
	}
	name, err := dev.name, dev.err
	if err != nil {
		return changelog.Unmount{}, err
	}
	if w.FSType == "btrfs" {
		var sb btrfsstate.Superblock
		err := sys.WaitExclusive(name, func(d io.ReaderAt) error {
			var err error
			if sb, err = btrfsstate.Read(d); err == nil {
				err = sb.Clean()
			}
			return err
		})
		if err != nil {
			return changelog.Unmount{}, fmt.Errorf("/dev/%s: %w", name, err)
		}
		if uuid, ok := strings.CutPrefix(w.Path, "UUID="); ok && uuid != sb.UUIDString() {
			return changelog.Unmount{}, fmt.Errorf("/dev/%s holds btrfs %s, not the watch's %s", name, sb.UUIDString(), uuid)
		}
		return changelog.Unmount{FSType: w.FSType, UUID: sb.FSID, FSGeneration: sb.Generation}, nil
	}
	if w.FSType == "xfs" {
		var x xfsstate.Unmounted
		err := sys.WaitExclusive(name, func(d io.ReaderAt) error {
			var err error
			x, err = xfsstate.ReadUnmounted(d)
			return err
		})
		if err != nil {
			return changelog.Unmount{}, fmt.Errorf("/dev/%s: %w", name, err)
		}
		return changelog.Unmount{FSType: w.FSType, UUID: x.UUID, LogCycle: x.After.Cycle, LogBlock: x.After.Block}, nil
	}
	sb, err := ext4state.WaitUnmounted(sys, name)
	if err != nil {
		return changelog.Unmount{}, err
	}
	if err := sb.Clean(); err != nil {
		return changelog.Unmount{}, fmt.Errorf("/dev/%s: %w", name, err)
	}
	return changelog.Unmount{FSType: w.FSType, UUID: sb.UUID, MountCount: sb.MountCount,
		KBytesWritten: sb.KBytesWritten, WTime: sb.WTime, MTime: sb.MTime}, nil
}

// unmountSummary is what the daemon says of the state a clean unmount
// left, in parentheses.
func unmountSummary(u changelog.Unmount) string {
	if u.FSGeneration != 0 {
		return fmt.Sprintf("generation %d", u.FSGeneration)
	}
	if u.LogCycle != 0 {
		return fmt.Sprintf("its log ends at %d:%d", u.LogCycle, u.LogBlock)
	}
	return fmt.Sprintf("mount count %d, %d KiB written", u.MountCount, u.KBytesWritten)
}

// unmountLog is the part of the log's Writer that recordUnmount uses.
type unmountLog interface {
	Unmount(changelog.Unmount) error
}

// recordUnmount records in log the clean unmount of watch w's filesystem,
// on dev, whose last records d has drained and sealed; last is the watch's
// state then (statusErr if it could not be had). It returns the line the
// daemon prints: what it recorded, or why it recorded nothing (then the
// next watch is a break).
func recordUnmount(log unmountLog, sys *blockdev.System, dev watchDevice, d *drain.Drainer, w, last genl.Watch, statusErr error) string {
	why := func(format string, args ...any) string {
		return fmt.Sprintf("wbctl: watch %d: no clean unmount recorded, the next watch will be a break: %s\n", w.ID, fmt.Sprintf(format, args...))
	}
	lastEpoch := d.Offset + last.Epoch - 1 // the module opened the next epoch as it closed the last
	switch {
	case !checked(w.FSType):
		return why("%s", notChecked(w.FSType))
	case statusErr != nil:
		return why("the watch's state: %v", statusErr)
	case !last.Unmounted:
		return why("the module does not report the watch unmounted")
	case d.Cursor < last.NextSeq:
		return why("the watch queued records up to seq %d, the daemon drained them up to %d", last.NextSeq-1, max(d.Cursor, 1)-1)
	case d.LastSealed <= d.Offset:
		return why("no epoch of this watch is sealed")
	case last.Epoch == 0 || d.LastSealed != lastEpoch:
		return why("epoch %d, the watch's last, is not sealed (the log's last sealed epoch is %d)", lastEpoch, d.LastSealed)
	}
	u, err := unmountState(sys, dev, w)
	if err == nil {
		err = log.Unmount(u)
	}
	if err != nil {
		return why("%v", err)
	}
	return fmt.Sprintf("wbctl: watch %d: recorded the clean unmount of %s %s (%s): a watch from its next mount can be continuous\n",
		w.ID, u.FSType, u.UUIDString(), unmountSummary(u))
}

// checkContinuous returns nil if watch w continues a log whose last frame
// records the clean unmount u (ended: the log ends with one): w began at
// the mount of the same filesystem, and the filesystem shows that nothing
// but this mount happened since (checkExt, checkXFS, checkBtrfs).
// Otherwise it says which check failed.
func checkContinuous(sys *blockdev.System, u changelog.Unmount, ended bool, w genl.Watch) error {
	switch {
	case !ended:
		return errors.New("the log does not end with a clean unmount of the filesystem (the earlier watch did not end with one the daemon recorded)")
	case !w.AtMount:
		return errors.New("the watch began after the mount (name the filesystem's uuid in the module parameter watch_at_mount)")
	case !checked(w.FSType):
		return errors.New(notChecked(w.FSType))
	case u.FSType != w.FSType:
		return fmt.Errorf("the clean unmount was of %s, the filesystem is now %s", u.FSType, w.FSType)
	}
	dev := findDevice(sys, w)
	if dev.err != nil {
		return dev.err
	}
	switch w.FSType {
	case "xfs":
		return checkXFS(sys, u, dev.name)
	case "btrfs":
		return checkBtrfs(sys, u, dev.name)
	}
	return checkExt(sys, u, dev.name)
}

// checkExt: its mount count went up by one (this mount only), and the KiB
// it had written before this mount are those at the unmount (nothing
// wrote it in between).
func checkExt(sys *blockdev.System, u changelog.Unmount, name string) error {
	m, err := ext4state.Mount(sys, name)
	if err != nil {
		return err
	}
	if m.UUID != u.UUID {
		return fmt.Errorf("the filesystem's uuid is %s, the clean unmount was of %s", m.UUIDString(), u.UUIDString())
	}
	switch n := m.MountCount - u.MountCount; {
	case n == 0:
		return fmt.Errorf("the mount count is %d, as at the clean unmount: this mount did not count (read-only?)", m.MountCount)
	case n >= 1<<15:
		return fmt.Errorf("the mount count went back from %d to %d since the clean unmount (e2fsck resets it)", u.MountCount, m.MountCount)
	case n > 1:
		return fmt.Errorf("mounted %d times since the clean unmount (mount count %d, now %d)", n, u.MountCount, m.MountCount)
	}
	switch k := m.KBytesBeforeMount; {
	case k > u.KBytesWritten:
		return fmt.Errorf("%d KiB written since the clean unmount, before this mount", k-u.KBytesWritten)
	case k < u.KBytesWritten:
		return fmt.Errorf("the filesystem counts %d KiB written before this mount, fewer than the %d at the clean unmount", k, u.KBytesWritten)
	}
	return nil
}

// checkXFS: the log's tail is where xfs puts it when it mounts a log that
// ends with the unmount record u recorded: right after it. Any other
// mount in between wrote records and an unmount record of its own
// further on. The tail also moves once this mount's metadata is written
// back: then it is a break too.
func checkXFS(sys *blockdev.System, u changelog.Unmount, name string) error {
	if u.LogCycle == 0 {
		return errors.New("the clean unmount recorded no log position")
	}
	var sb xfsstate.Superblock
	err := sys.ReadDevice(name, func(d io.ReaderAt) error {
		b := make([]byte, 512)
		if _, err := d.ReadAt(b, 0); err != nil {
			return fmt.Errorf("reading the superblock: %w", err)
		}
		var err error
		sb, err = xfsstate.ParseSuperblock(b)
		return err
	})
	if err != nil {
		return err
	}
	if sb.UUID != u.UUID {
		return fmt.Errorf("the filesystem's uuid is %s, the clean unmount was of %s", sb.UUIDString(), u.UUIDString())
	}
	tailPath := filepath.Join("fs", "xfs", name, "log", "log_tail_lsn")
	s, err := sys.ReadSys(tailPath)
	if err != nil {
		return fmt.Errorf("%w (is the filesystem mounted by the xfs driver?)", err)
	}
	tail, err := xfsstate.ParsePosition(s)
	if err != nil {
		return fmt.Errorf("%s: %w", tailPath, err)
	}
	if want := (xfsstate.Position{Cycle: u.LogCycle, Block: u.LogBlock}); tail != want {
		return fmt.Errorf("the log's tail is at %v, not right after the clean unmount's record (%v): the filesystem was mounted in between, or this mount's metadata was written back before the daemon looked", tail, want)
	}
	return nil
}

// checkBtrfs: this mount has committed no transaction yet, and the
// generation is the one the clean unmount u left: a transaction committed
// in between (another mount, btrfs check --repair) shows as a larger one,
// and so does one this mount opened and has not committed yet (a write
// before the daemon looked). A commit of this mount's own cannot be told
// from one that replayed, as it mounted, the log tree an unwatched mount
// in between left (a write, an fsync, then a crash before its commit):
// any is a break, the safe side. The commits are read first, so that one
// between the two reads shows in the generation.
func checkBtrfs(sys *blockdev.System, u changelog.Unmount, name string) error {
	if u.FSGeneration == 0 {
		return errors.New("the clean unmount recorded no generation")
	}
	var sb btrfsstate.Superblock
	err := sys.ReadDevice(name, func(d io.ReaderAt) error {
		var err error
		sb, err = btrfsstate.ReadMounted(d)
		return err
	})
	if err != nil {
		return err
	}
	if sb.FSID != u.UUID {
		return fmt.Errorf("the filesystem's uuid is %s, the clean unmount was of %s", sb.UUIDString(), u.UUIDString())
	}
	dir := filepath.Join("fs", "btrfs", sb.UUIDString())
	s, err := sys.ReadSys(filepath.Join(dir, "commit_stats"))
	if err != nil {
		return fmt.Errorf("%w (is the filesystem mounted by the btrfs driver?)", err)
	}
	commits, err := btrfsstate.ParseCommits(s)
	if err != nil {
		return err
	}
	if s, err = sys.ReadSys(filepath.Join(dir, "generation")); err != nil {
		return err
	}
	gen, err := btrfsstate.ParseGeneration(s)
	if err != nil {
		return err
	}
	switch {
	case commits > 0:
		return fmt.Errorf("btrfs has committed %d transactions since this mount: its own (a write before the daemon looked) or the replay of a log tree an unwatched mount in between left; the generation it loaded is not known", commits)
	case gen > u.FSGeneration:
		return fmt.Errorf("the generation is %d, not %d as the clean unmount left it: transactions were committed in between, or this mount has one open since a write before the daemon looked", gen, u.FSGeneration)
	case gen < u.FSGeneration:
		return fmt.Errorf("the generation is %d, before the %d the clean unmount left", gen, u.FSGeneration)
	}
	return nil
}

// continuousSummary is what the daemon says, in parentheses, of a
// filesystem found unchanged since the clean unmount u.
func continuousSummary(u changelog.Unmount) string {
	if u.FSGeneration != 0 {
		return fmt.Sprintf("generation %d, where this mount began", u.FSGeneration)
	}
	if u.LogCycle != 0 {
		return fmt.Sprintf("its log ended at %d:%d, where this mount put the log's tail", u.LogCycle, u.LogBlock)
	}
	return fmt.Sprintf("mount count %d, then this mount; %d KiB written", u.MountCount, u.KBytesWritten)
}
