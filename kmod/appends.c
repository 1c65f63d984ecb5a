// SPDX-License-Identifier: GPL-2.0
/*
 * Where an append lands. An O_APPEND write is recorded as it begins, from
 * the size then to EOF; it takes its position only later, under the inode
 * lock. Meanwhile a truncate may move the end below that start: one of the
 * epoch before, still in flight, or one of a later epoch that gets the lock
 * first. The data would then lie below every range its epoch recorded.
 *
 * So an append's hook lists the section it holds, for its task, in a small
 * table, and generic_write_checks(), where ext4, xfs, btrfs and shmem fix
 * the position under the lock, records again from the size then, into that
 * section's epoch. A table with no free slot lists nothing: the append is
 * recorded from 0 instead.
 */
#include <linux/sched.h>
#include "hooks.h"

#define WB_APPEND_SLOTS 64

struct wb_append {
	struct task_struct *task;	/* NULL: free */
	const struct super_block *sb;	/* compared, never dereferenced */
	struct wb_watch *w;
	u64 epoch;
};

static struct wb_append wb_appends[WB_APPEND_SLOTS];
static unsigned int wb_appends_used;	/* under the lock; a hint without it */
static DEFINE_SPINLOCK(wb_appends_lock);

/* Lists @f's section for the current task; false if no slot is free. */
bool wb_append_list(struct wb_frame *f, const struct super_block *sb)
{
	unsigned long flags;
	int i;

	spin_lock_irqsave(&wb_appends_lock, flags);
	for (i = 0; i < WB_APPEND_SLOTS; i++) {
		if (wb_appends[i].task)
			continue;
		wb_appends[i] = (struct wb_append){ .task = current, .sb = sb,
						    .w = f->w, .epoch = f->epoch };
		WRITE_ONCE(wb_appends_used, wb_appends_used + 1);
		f->append_slot = i;
		break;
	}
	spin_unlock_irqrestore(&wb_appends_lock, flags);
	return f->append_slot >= 0;
}

/* An append whose position will not be known: it may land anywhere. */
void wb_append_anywhere(struct wb_target *t)
{
	t->offset = 0;
	t->length = U64_MAX;
}

/* The call of @f returns: its section is no longer listed. */
void wb_append_unlist(struct wb_frame *f)
{
	unsigned long flags;

	if (f->append_slot < 0)
		return;
	spin_lock_irqsave(&wb_appends_lock, flags);
	wb_appends[f->append_slot].task = NULL;
	WRITE_ONCE(wb_appends_used, wb_appends_used - 1);
	spin_unlock_irqrestore(&wb_appends_lock, flags);
	f->append_slot = -1;
}

/*
 * An append to @inode takes its position, the size now, under the inode
 * lock. If the current task's call listed a section on @inode's superblock,
 * its epoch records the data from there: that call is in flight (it called
 * us), so its section is held and its watch alive. (Nested appends of one
 * task on one filesystem take the latest epoch.)
 */
void wb_append_fixed(struct inode *inode)
{
	struct wb_target t = { .inode = inode, .ops = WBARRIER_OP_DATA,
			       .has_range = true };
	struct wb_watch *w = NULL;
	unsigned long flags;
	u64 epoch = 0;
	int i;

	if (!READ_ONCE(wb_appends_used))
		return;
	spin_lock_irqsave(&wb_appends_lock, flags);
	for (i = 0; i < WB_APPEND_SLOTS; i++) {
		const struct wb_append *a = &wb_appends[i];

		if (a->task == current && a->sb == inode->i_sb &&
		    (!w || a->epoch > epoch)) {
			w = a->w;
			epoch = a->epoch;
		}
	}
	spin_unlock_irqrestore(&wb_appends_lock, flags);
	if (!w)
		return;
	t.offset = i_size_read(inode);
	t.length = U64_MAX - t.offset;
	/* The record path keeps a hint per CPU: interrupts off, as in a hook. */
	local_irq_save(flags);
	wb_record_change(w, epoch, &t);
	local_irq_restore(flags);
}
