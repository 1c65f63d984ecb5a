// SPDX-License-Identifier: GPL-2.0
/*
 * Syncing a watched filesystem without holding a mount of it.
 *
 * A checkpoint syncs the filesystem before it seals an epoch. Doing it with
 * syncfs(2) takes an open file, and so a mount: an unmount meanwhile fails
 * with EBUSY. SYNC syncs the watch's superblock itself, on a worker (a sync
 * waits on I/O, which no netlink request may wait on), holding s_umount
 * shared as syncfs(2) does. An unmount then waits for the sync, which it
 * would do anyway, and never fails; one that came first has ended the watch
 * (wb_watch_unmounted()), after the kernel synced the filesystem: the sync
 * reports it unmounted.
 */
#include <linux/delay.h>
#include <linux/errseq.h>
#include "wbarrier.h"

/*
 * The superblock of @w with s_umount held shared, or NULL if the watch has
 * none any more (unmounted or removed); in @sync, the last SYNC request made
 * before. The shutdown of the superblock holds s_umount exclusive while it
 * ends the watch under barrier_mutex: so the lock is only tried under
 * barrier_mutex, where a listed superblock cannot be freed, and tried again
 * after a pause while a writer (an unmount, a remount, a freeze) holds or
 * waits for it.
 */
static struct super_block *wb_sync_hold_sb(struct wb_watch *w, u64 *sync)
{
	struct super_block *sb;
	bool held;

	for (;;) {
		mutex_lock(&w->barrier_mutex);
		sb = w->sb;
		held = !sb || down_read_trylock(&sb->s_umount);
		*sync = w->sync_requested;
		mutex_unlock(&w->barrier_mutex);
		if (held)
			return sb;
		msleep(5);
	}
}

/* Syncs the superblock of @w for every SYNC request made before it began. */
static void wb_sync_work(struct work_struct *work)
{
	struct wb_watch *w = container_of(work, struct wb_watch, sync_work);
	struct wb_synced s = {};
	struct super_block *sb;
	int err;

	sb = wb_sync_hold_sb(w, &s.sync);
	if (sb) {
		s.err = sync_filesystem(sb);
		/* As syncfs(2): writeback errors since the watch's last sync. */
		err = errseq_check_and_advance(&sb->s_wb_err, &w->sb_err);
		up_read(&sb->s_umount);
		if (!s.err)
			s.err = err;
	} else if (READ_ONCE(w->unmounted)) {
		s.unmounted = true;
	} else {
		s.err = -ENOENT;	/* being unwatched */
	}
	wb_nl_notify_synced(w, &s);
	wb_watch_put(w);
}

/* A watch waiting for its mount samples the errors when it is mounted. */
void wb_sync_init(struct wb_watch *w)
{
	if (w->sb)
		w->sb_err = errseq_sample(&w->sb->s_wb_err);
	INIT_WORK(&w->sync_work, wb_sync_work);
}

/*
 * Asks for a sync of @w's filesystem and returns its number in @sync;
 * -ENODEV if it was unmounted (there is nothing left to sync), -EAGAIN if
 * it waits for its mount (watch_at_mount), -ENOENT if
 * it is being unwatched. Under barrier_mutex, as the retirement that flushes
 * the work lets go of the superblock: no work is queued after that flush.
 */
int wb_sync_request(struct wb_watch *w, u64 *sync)
{
	int err = 0;

	mutex_lock(&w->barrier_mutex);
	if (w->unmounted) {
		err = -ENODEV;
	} else if (wb_watch_waiting(w)) {
		err = -EAGAIN;
	} else if (!w->sb) {
		err = -ENOENT;
	} else {
		*sync = ++w->sync_requested;
		refcount_inc(&w->ref);	/* the worker's */
		/* Queued already, not begun: it reads sync_requested then. */
		if (!queue_work(wb_unbound_wq, &w->sync_work))
			wb_watch_put(w);
	}
	mutex_unlock(&w->barrier_mutex);
	return err;
}
