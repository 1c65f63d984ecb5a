// SPDX-License-Identifier: GPL-2.0
/*
 * Noticing the end of a watched superblock.
 *
 * A watch does not pin its filesystem. It puts an fsnotify mark with an
 * empty event mask on the superblock instead: when the last mount goes and
 * the superblock is shut down, generic_shutdown_super() destroys the marks
 * on it before the superblock is freed, and the freeing_mark callback ends
 * the watch there (wb_watch_unmounted()). UNWATCH destroys the mark itself,
 * after the watch let go of the superblock; the callback then finds nothing
 * left to do.
 *
 * The mark holds a reference to its watch until fsnotify frees it, which
 * may be later, from fsnotify's reaper: module exit waits for that.
 */
#include <linux/fsnotify_backend.h>
#include "wbarrier.h"

static struct fsnotify_group *wb_group;

/* The mask is empty: no event is ever delivered. */
static int wb_mark_event(struct fsnotify_mark *mark, u32 mask,
			 struct inode *inode, struct inode *dir,
			 const struct qstr *name, u32 cookie)
{
	return 0;
}

static void wb_mark_freeing(struct fsnotify_mark *mark,
			    struct fsnotify_group *group)
{
	struct wb_watch *w = container_of(mark, struct wb_watch, mark);
	unsigned long flags;
	bool put;

	wb_watch_unmounted(w);
	/*
	 * The mark's first reference is ours to drop here, unless
	 * wb_sb_unmark() is calling fsnotify_destroy_mark() with it right now:
	 * then it drops it when that returns.
	 */
	spin_lock_irqsave(&w->lock, flags);
	w->mark_gone = true;
	put = !w->mark_busy;
	spin_unlock_irqrestore(&w->lock, flags);
	if (put)
		fsnotify_put_mark(mark);
}

static void wb_mark_free(struct fsnotify_mark *mark)
{
	wb_watch_put(container_of(mark, struct wb_watch, mark));
}

static const struct fsnotify_ops wb_mark_ops = {
	.handle_inode_event = wb_mark_event,
	.freeing_mark = wb_mark_freeing,
	.free_mark = wb_mark_free,
};

/* Marks the superblock of @w: from now on its shutdown ends @w. */
int wb_sb_mark(struct wb_watch *w)
{
	int err;

	fsnotify_init_mark(&w->mark, wb_group);
	refcount_inc(&w->ref);		/* the mark's, dropped by wb_mark_free() */
	err = wb_fsnotify_add_sb_mark(&w->mark, w->sb);
	if (err)
		fsnotify_put_mark(&w->mark);
	return err;
}

/* Destroys the mark of @w unless the superblock's shutdown did already. */
void wb_sb_unmark(struct wb_watch *w)
{
	unsigned long flags;
	bool busy;

	spin_lock_irqsave(&w->lock, flags);
	busy = !w->mark_gone;
	w->mark_busy = busy;
	spin_unlock_irqrestore(&w->lock, flags);
	if (!busy)
		return;
	/* Our first reference keeps the mark alive across the call. */
	fsnotify_destroy_mark(&w->mark, wb_group);
	fsnotify_put_mark(&w->mark);
}

int wb_umount_init(void)
{
	/* DUPS: a watch made anew while the one UNWATCH left still retires. */
	wb_group = fsnotify_alloc_group(&wb_mark_ops, FSNOTIFY_GROUP_DUPS);
	return PTR_ERR_OR_ZERO(wb_group);
}

/* After every watch is gone: their marks may still be on the reaper's list. */
void wb_umount_exit(void)
{
	fsnotify_wait_marks_destroyed();
	fsnotify_put_group(wb_group);
}
