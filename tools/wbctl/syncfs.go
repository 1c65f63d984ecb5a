package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/genl"
)

// syncWatched syncs the filesystem of watch w through the module
// (genl.Client.Sync), on c: no mount of it is held, so that an unmount
// never fails because of the daemon, and no path is opened, so that a
// btrfs subvolume's device or a mount point left behind by an unmount
// cannot mislead it. Once the filesystem is unmounted there is nothing
// left to sync: the kernel synced it while shutting it down, before the
// watch closed its last epoch.
//
// The drain seals, and so calls this, while its Client's records dump is
// open: c must be a Client of its own.
func syncWatched(c *genl.Client, w genl.Watch) error {
	if _, err := c.Sync(w.ID); err != nil {
		return fmt.Errorf("syncfs %s: %w", w.Path, err)
	}
	return nil
}

var syncCommand = &cli.Command{
	Name:      "sync",
	Usage:     "sync a watch's filesystem, holding no mount of it",
	ArgsUsage: "WATCH",
	Description: `Syncs the watched filesystem as syncfs(2) does (its writeback errors since
the module's last sync of it are reported too), but the module does it,
holding no file or mount of the filesystem: an unmount meanwhile neither
fails nor waits for more than the sync it does itself. The daemon syncs
this way before each seal.

An unmounted watch has nothing to sync: the kernel synced the filesystem
when it shut it down, before the watch closed its last epoch. sync says so
and exits with status 0.

Example:
   wbctl sync /srv/data`,
	Action: func(ctx *cli.Context) error {
		c, w, err := openWatch(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		s, err := c.Sync(w.ID)
		if err != nil {
			return err
		}
		if s.Unmounted {
			_, err = fmt.Fprintf(ctx.App.Writer, "watch %d: nothing to sync: the kernel synced it at unmount\n", w.ID)
		}
		return err
	},
}
