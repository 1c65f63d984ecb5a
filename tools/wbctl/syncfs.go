package main

import (
	"fmt"

	"github.com/wbarrier/wbarrier/genl"
	"golang.org/x/sys/unix"
)

// syncWatched syncs the filesystem of watch w. It opens the mount for the
// sync only, so that the daemon never keeps the filesystem busy. Once the
// filesystem is unmounted there is nothing left to sync: the kernel synced
// it while shutting it down, before the watch closed its last epoch.
//
// The drain seals, and so calls this, while its Client's records dump is
// open: asking the module about the watch takes a Client of its own.
func syncWatched(w genl.Watch) error {
	fd, err := unix.Open(w.Path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		defer unix.Close(fd)
		if err = onWatched(fd, w); err == nil {
			if err := unix.Syncfs(fd); err != nil {
				return fmt.Errorf("syncfs %s: %w", w.Path, err)
			}
			return nil
		}
	}
	if watchUnmounted(w.ID) {
		return nil
	}
	return fmt.Errorf("syncfs %s: %w", w.Path, err)
}

// onWatched says whether the open file fd is on the filesystem of watch w:
// its device says so at once, except on btrfs, whose subvolumes each have
// an anonymous device of their own; then the module, asked for the watch of
// the file itself (its /proc/self/fd link), answers.
func onWatched(fd int, w genl.Watch) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Dev == uint64(w.Dev) {
		return nil
	}
	c, err := genl.Dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if on, err := c.StatusOf(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil && on.ID == w.ID {
		return nil
	}
	return fmt.Errorf("it is no longer on the watched filesystem (%d:%d)",
		unix.Major(uint64(w.Dev)), unix.Minor(uint64(w.Dev)))
}

// watchUnmounted says whether watch id is known to be unmounted, asking on a
// Client of its own.
func watchUnmounted(id uint32) bool {
	c, err := genl.Dial()
	if err != nil {
		return false
	}
	defer c.Close()
	w, err := c.Status(id)
	return err == nil && w.Unmounted
}
