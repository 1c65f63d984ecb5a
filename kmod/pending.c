// SPDX-License-Identifier: GPL-2.0
/*
 * SRCU read sections that outlive the call that entered them.
 *
 * Asynchronous I/O (aio, io_uring with O_DIRECT) modifies the file after the
 * submitting call has returned, when the kiocb completes. The barrier must
 * wait for that completion, so the section is handed from the submitter's
 * kretprobe frame to this table, keyed by the kiocb, and left by the
 * completion, which may run on another CPU and in interrupt context.
 */
#include <linux/atomic.h>
#include <linux/hashtable.h>
#include <linux/slab.h>
#include "wbarrier.h"

struct wb_pending {
	struct hlist_node node;
	const struct kiocb *kiocb;
	struct wb_watch *w;
	int idx;
};

static DEFINE_HASHTABLE(wb_pending, 6);
static DEFINE_SPINLOCK(wb_pending_lock);
/* Lets completions of untracked I/O skip the lock; tests read it (faults.c). */
atomic_t wb_pending_count = ATOMIC_INIT(0);

bool wb_pending_add(const struct kiocb *kiocb, struct wb_watch *w, int idx)
{
	struct wb_pending *p = kmalloc(sizeof(*p), GFP_ATOMIC | __GFP_NOWARN);
	unsigned long flags;

	if (!p)
		return false;
	p->kiocb = kiocb;
	p->w = w;
	p->idx = idx;
	spin_lock_irqsave(&wb_pending_lock, flags);
	hash_add(wb_pending, &p->node, (unsigned long)kiocb);
	atomic_inc(&wb_pending_count);
	spin_unlock_irqrestore(&wb_pending_lock, flags);
	return true;
}

void wb_pending_release(const struct kiocb *kiocb)
{
	struct wb_pending *p, *found = NULL;
	unsigned long flags;

	if (!atomic_read(&wb_pending_count))
		return;
	spin_lock_irqsave(&wb_pending_lock, flags);
	hash_for_each_possible(wb_pending, p, node, (unsigned long)kiocb) {
		if (p->kiocb == kiocb) {
			hash_del(&p->node);
			atomic_dec(&wb_pending_count);
			found = p;
			break;
		}
	}
	spin_unlock_irqrestore(&wb_pending_lock, flags);
	if (!found)
		return;
	__acquire(&found->w->srcu);	/* entered by the submitter's probe */
	srcu_read_unlock(&found->w->srcu, found->idx);
	kfree(found);
}
