// SPDX-License-Identifier: GPL-2.0
/*
 * SRCU read sections that outlive the call that entered them.
 *
 * Asynchronous I/O (aio, io_uring with O_DIRECT) modifies the file after the
 * submitting call has returned, when the kiocb completes. The barrier must
 * wait for that completion, so the section is handed from the submitter's
 * kretprobe frame to this table, keyed by the kiocb, and left by the
 * completion, which may run on another CPU and in interrupt context.
 *
 * The kprobes core may skip a completion probe: its handler does not run
 * while another probe's handler runs on that CPU (another tool's kprobe,
 * interrupted by the block completion that would call ours), and the probe
 * counts it in nmissed instead. That section would be held for ever, and
 * with it every barrier, UNWATCH and unmount. So while anyone waits for a
 * watch's sections (wb_pending_wait()), a work looks at the count every
 * second;
 * when it grew, any of the watch's entries may be the skipped one: all are
 * released, and the watch degrades, since a write released early may land
 * in a later epoch. The same look ends the create sections that a task
 * dying inside open(O_CREAT) left held (opens.c).
 */
#include <linux/atomic.h>
#include <linux/hashtable.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
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
	srcu_up_read(&found->w->srcu, found->idx);
	kfree(found);
}

/* Releases every section of @w's async writes still in flight. */
static unsigned int wb_pending_release_watch(struct wb_watch *w)
{
	struct wb_pending *p;
	struct hlist_node *tmp;
	unsigned int bkt, n = 0;
	HLIST_HEAD(found);
	unsigned long flags;

	spin_lock_irqsave(&wb_pending_lock, flags);
	hash_for_each_safe(wb_pending, bkt, tmp, p, node) {
		if (p->w == w) {
			hash_del(&p->node);
			atomic_dec(&wb_pending_count);
			hlist_add_head(&p->node, &found);
		}
	}
	spin_unlock_irqrestore(&wb_pending_lock, flags);
	hlist_for_each_entry_safe(p, tmp, &found, node) {
		__acquire(&w->srcu);
		srcu_up_read(&w->srcu, p->idx);
		kfree(p);
		n++;
	}
	return n;
}

/* If a completion probe was skipped since @w last looked, see above. */
static void wb_pending_check_skipped(struct wb_watch *w)
{
	unsigned long missed = wb_completions_nmissed();
	unsigned int n;

	if (xchg(&w->completions_missed, missed) == missed)
		return;
	/* Degraded first: the epoch being closed must say lossy. */
	wb_watch_degrade(w);
	n = wb_pending_release_watch(w);
	pr_warn("watch %u: a completion probe was skipped; async writes released early: %u\n",
		w->id, n);
}

struct wb_pending_wait {
	struct delayed_work look;
	struct wb_watch *w;
};

/* Once a second while a wait lasts: what may hold it for ever. */
static void wb_pending_look(struct work_struct *work)
{
	struct wb_pending_wait *wait =
		container_of(to_delayed_work(work), struct wb_pending_wait, look);
	unsigned int n;

	wb_pending_check_skipped(wait->w);
	n = wb_opens_end_exited(wait->w);
	if (n)
		pr_warn("watch %u: %u create sections ended, held by exited tasks\n",
			wait->w->id, n);
	schedule_delayed_work(&wait->look, HZ);
}

/*
 * synchronize_srcu() for @w, which no skipped completion and no dead
 * task's open can hold for ever: a work looks for them every second
 * meanwhile. synchronize_srcu() itself, not a callback's completion: it
 * expedites the grace period when the watch's sections look idle (a
 * barrier on an idle watch then takes tens of microseconds, not the
 * milliseconds of a normal grace period). Process context; no lock of a
 * probe's held.
 */
void wb_pending_wait(struct wb_watch *w)
{
	struct wb_pending_wait wait = { .w = w };

	INIT_DELAYED_WORK_ONSTACK(&wait.look, wb_pending_look);
	schedule_delayed_work(&wait.look, HZ);
	synchronize_srcu(&w->srcu);
	cancel_delayed_work_sync(&wait.look);	/* it queues itself again */
	destroy_delayed_work_on_stack(&wait.look);
}
