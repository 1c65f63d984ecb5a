// SPDX-License-Identifier: GPL-2.0
/*
 * The section of a create inside open(O_CREAT). path_openat() creates from
 * code inlined into it, and security_inode_create() is the first probeable
 * function every such create passes through (from may_o_create(), before
 * the lookup tells whether the name exists). The create's section is
 * entered there, kept per task in a table, and left at the first of:
 *  - do_dentry_open() by the same path walk: the create is done (or there
 *    was none: the name existed, maybe a symlink to elsewhere), a file is
 *    being opened. Whatever the open waits for from then on (a FIFO's
 *    other end, a lease, a permission event) is not waited for by a
 *    barrier. No watchable filesystem opens a file inside its own create;
 *  - fput() of a file that was never opened: path_openat() gives up.
 * Nothing is kept for an open whose create is not on a watched filesystem:
 * opens parked elsewhere (a FIFO waiting for a reader) cost nothing here.
 *
 * An entry is keyed by its task and that task's nameidata when the create
 * began (do_filp_open()'s, a pointer compared only); an end seen by a task
 * in no path walk at all ends every entry of that task, in case an end was
 * missed. Only a task itself adds and ends its entries: the end hooks, which
 * run on every open and fput of the machine, look for the task's own under
 * RCU and take the table's lock only when they find one.
 *
 * A task that dies between its create and its open (an oops in the
 * filesystem's create) sees no end: it exits with its nameidata still set.
 * An entry holds its task, so whoever waits for a watch's sections
 * (pending.c) can end the entries of exiting tasks: a task past
 * exit_signals() opens nothing any more.
 */
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include "hooks.h"

struct wb_open {
	struct hlist_node node;
	struct task_struct *task;	/* held: never another task's address */
	const struct nameidata *nd;
	/* the create's; not f.w->sb, which an unwatch clears meanwhile */
	const struct super_block *sb;
	struct wb_frame f;
	struct rcu_head rcu;
	struct wb_open *next_exited;	/* wb_opens_end_exited()'s list */
};

static DEFINE_HASHTABLE(wb_opens, 6);
static DEFINE_SPINLOCK(wb_opens_lock);
/* How many entries the table holds: the end probes' quick look. */
static atomic_t wb_opens_nr = ATOMIC_INIT(0);

static struct wb_open *wb_open_find(const struct nameidata *nd,
				    const struct super_block *sb)
{
	struct wb_open *o;

	hash_for_each_possible(wb_opens, o, node, (unsigned long)current)
		if (o->task == current && o->nd == nd && o->sb == sb)
			return o;
	return NULL;
}

/*
 * Records the @n targets of a create that open(O_CREAT) is about to make
 * in the directory @t->dir, in the section of its task's open. Interrupts
 * are off (probe context).
 */
void wb_open_create(const struct wb_target *t, int n)
{
	const struct nameidata *nd = current->nameidata;
	struct super_block *sb = t->dir->i_sb;
	struct wb_open *o;

	spin_lock(&wb_opens_lock);
	o = wb_open_find(nd, sb);
	if (!o) {
		o = kmalloc(sizeof(*o), GFP_ATOMIC);
		if (!o) {
			spin_unlock(&wb_opens_lock);
			wb_degrade_watch_of(t);
			return;
		}
		if (!wb_frame_enter(&o->f, t)) {	/* not watched */
			spin_unlock(&wb_opens_lock);
			kfree(o);
			return;
		}
		o->task = get_task_struct(current);
		o->nd = nd;
		o->sb = sb;
		hash_add_rcu(wb_opens, &o->node, (unsigned long)current);
		atomic_inc(&wb_opens_nr);
	}
	wb_record_targets(&o->f, t, n);
	spin_unlock(&wb_opens_lock);
}

/*
 * Ends the entries of this task's path walk, or all of the task's entries
 * if it is in no path walk. A direct-called end hook runs with interrupts
 * on, a kretprobe's with them off.
 */
static void wb_opens_end(void)
{
	const struct nameidata *nd = current->nameidata;
	struct hlist_node *tmp;
	struct wb_open *o;
	unsigned long flags;

	spin_lock_irqsave(&wb_opens_lock, flags);
	hash_for_each_possible_safe(wb_opens, o, tmp, node,
				    (unsigned long)current) {
		if (o->task != current || (nd && o->nd != nd))
			continue;
		hash_del_rcu(&o->node);
		atomic_dec(&wb_opens_nr);
		wb_frame_leave(&o->f);
		put_task_struct(o->task);	/* current's: not the last */
		kfree_rcu(o, rcu);
	}
	spin_unlock_irqrestore(&wb_opens_lock, flags);
}

/*
 * Ends the entries of @w whose task is exiting (see above); returns how
 * many. Its create was recorded in its section, and it changes nothing more:
 * nothing is lost. Process context.
 */
unsigned int wb_opens_end_exited(const struct wb_watch *w)
{
	struct wb_open *o, *exited = NULL;
	struct hlist_node *tmp;
	unsigned int bkt, n = 0;
	unsigned long flags;

	if (!atomic_read(&wb_opens_nr))
		return 0;
	spin_lock_irqsave(&wb_opens_lock, flags);
	hash_for_each_safe(wb_opens, bkt, tmp, o, node) {
		if (o->f.w != w || !(READ_ONCE(o->task->flags) & PF_EXITING))
			continue;
		hash_del_rcu(&o->node);
		atomic_dec(&wb_opens_nr);
		wb_frame_leave(&o->f);
		o->next_exited = exited;
		exited = o;
	}
	spin_unlock_irqrestore(&wb_opens_lock, flags);
	/* Maybe the last references: not with interrupts off. */
	while (exited) {
		o = exited;
		exited = o->next_exited;
		put_task_struct(o->task);
		kfree_rcu(o, rcu);
		n++;
	}
	return n;
}

/* Whether this task has an entry: no other task adds or ends it. */
static bool wb_opens_of_current(void)
{
	struct wb_open *o;
	bool found = false;

	if (!atomic_read(&wb_opens_nr))
		return false;
	rcu_read_lock();
	hash_for_each_possible_rcu(wb_opens, o, node, (unsigned long)current) {
		if (o->task == current) {
			found = true;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

/* do_dentry_open(f, ...): a file is being opened. */
int wb_open_end_opened(struct wb_direct *d, struct pt_regs *regs, void *data)
{
	if (wb_opens_of_current() && !wb_fault_lose_open_ends())
		wb_opens_end();
	return 0;
}

/*
 * fput(f) of a file never opened: the open failed. Any fput() of a task in
 * no path walk: ends what an end missed.
 */
int wb_open_end_dropped(struct wb_direct *d, struct pt_regs *regs, void *data)
{
	const struct file *f = (const struct file *)wb_arg(regs, 0);

	if (in_task() && (!(f->f_mode & FMODE_OPENED) || !current->nameidata) &&
	    wb_opens_of_current() && !wb_fault_lose_open_ends())
		wb_opens_end();
	return 0;
}
