// SPDX-License-Identifier: GPL-2.0
/*
 * What a hooked call does: the probes (direct calls, direct.c, where the
 * function allows, kretprobes elsewhere) bracket it with the watch's SRCU
 * read section.
 *
 * A record hook knows from its arguments what the call changes: its entry
 * handler enters the SRCU read section and queues the record, its return
 * handler leaves the section.
 *
 * Asynchronous writes (aio, io_uring) modify the file when their kiocb
 * completes, which may be after the submitting call returned: an async hook
 * hands its section over to pending.c, and the completion leaves it.
 *
 * Some changes have no function of their own: a create's own code is inlined
 * into vfs_create() and into path_openat(), and both call
 * security_inode_create() before they modify anything. A scope hook
 * brackets vfs_create() with an empty frame; the inner probe on
 * security_inode_create() finds the frame of the innermost scope of its
 * task, enters the SRCU section into it and queues the record, and the
 * scope's return handler leaves the section. Inside open(O_CREAT) the
 * section is kept per task until the open is past its create (opens.c).
 *
 * A call may sleep waiting for input before it modifies anything: a splice
 * from a pipe into a file waits in pipe_wait_readable() for the pipe's
 * writer, who may never write. Such a call modifies nothing while it waits,
 * so a wait probe leaves its section for the wait and enters the section
 * anew when the wait ends, recording the change again into the epoch open
 * then. A barrier meanwhile does not wait for the pipe's writer.
 */
#include <linux/module.h>
#include "hooks.h"

int wb_completion_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct wb_completion_probe *c = container_of(kp, struct wb_completion_probe, kp);

	/* The tests' stand-in for the kprobes core skipping this handler. */
	if (wb_fault_skip_completion()) {
		kp->nmissed++;
		return 0;
	}
	wb_pending_release(c->kiocb(regs));
	return 0;
}

static struct super_block *wb_target_sb(const struct wb_target *t)
{
	return (t->inode ?: t->dir)->i_sb;
}

/*
 * A change to @t's filesystem escapes every section, now or later: its
 * watch, if any, degrades.
 */
void wb_degrade_watch_of(const struct wb_target *t)
{
	struct wb_watch *w;

	rcu_read_lock();
	w = wb_watch_find_rcu(wb_target_sb(t));
	if (w)
		wb_watch_degrade(w);
	rcu_read_unlock();
}

/* Enters @w's SRCU read section into @f if @t is on a watched superblock. */
struct wb_watch *wb_frame_enter(struct wb_frame *f, const struct wb_target *t)
{
	struct wb_watch *w;

	rcu_read_lock();
	w = wb_watch_find_rcu(wb_target_sb(t));
	if (w) {
		/* Not srcu_read_lock(): an async write's completion leaves it. */
		f->idx = srcu_down_read(&w->srcu);
		/* The frame owns the section now; wb_frame_leave() leaves it. */
		__release(&w->srcu);
		/* Pairs with the barrier's smp_store_release(). */
		f->epoch = smp_load_acquire(&w->epoch);
		f->w = w;
	}
	rcu_read_unlock();
	return w;
}

/* Leaves the section that @f holds, if any. */
void wb_frame_leave(struct wb_frame *f)
{
	/* After this, a retiring watch may be freed: do not touch it again. */
	if (f->w) {
		__acquire(&f->w->srcu);
		srcu_up_read(&f->w->srcu, f->idx);
		f->w = NULL;
	}
}

/* Fills @t with what a call changes; targets without ops of their own get @ops. */
static int wb_targets(int (*target)(struct pt_regs *regs, struct wb_target *t),
		      u32 ops, struct pt_regs *regs, struct wb_target *t)
{
	int i, n = target(regs, t);

	for (i = 0; i < n; i++)
		if (!t[i].ops)
			t[i].ops = ops;
	return n;
}

void wb_record_targets(struct wb_frame *f, const struct wb_target *t, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		wb_record_change(f->w, f->epoch, &t[i]);
		if (t[i].lossy)
			f->lossy_if_done = true;
		if (t[i].mapped)
			wb_mapped_add(f->w, t[i].inode);
	}
}

/*
 * A hooked call begins; 0: its return is to be handled. Inlined into both
 * callers: a watched write's entry is a call shorter.
 */
static __always_inline int __wb_hook_entry(const struct wb_hook *h, struct wb_frame *f,
			   struct pt_regs *regs)
{
	struct wb_target t[WB_MAX_TARGETS] __uninitialized;
	int n, max = h->max_targets ?: 1;

	/*
	 * Zeroed only as far as the decoder may fill, most one (a write),
	 * not all by the kernel's CONFIG_INIT_STACK_ALL_ZERO.
	 */
	if (max == 1)
		t[0] = (struct wb_target){};
	else
		memset(t, 0, sizeof(t));
	f->w = NULL;
	f->kiocb = NULL;
	f->lossy_if_done = false;
	f->append_slot = -1;
	if (h->kind == WB_HOOK_END || h->kind == WB_HOOK_FIX) {
		h->at(NULL, regs, NULL);
		return 1;
	}
	if (h->kind == WB_HOOK_SCOPE)
		return !h->target(regs, t);
	n = wb_targets(h->target, h->ops, regs, t);
	if (!n)
		return 1;
	/* The rest of a target past max is not zeroed: lose the epoch. */
	if (WARN_ON_ONCE(n > max)) {
		wb_degrade_watch_of(t);
		return 1;
	}
	if (h->kind == WB_HOOK_ESCAPE) {
		wb_degrade_watch_of(t);
		return 1;
	}
	/*
	 * Not watched: no return handler, and the instance is free at once. A
	 * call kept for a wait that may never end would let anyone exhaust
	 * maxactive (and make every watch lossy) by parking splices on any
	 * filesystem. A call in flight when a watch begins is not recorded.
	 */
	if (!wb_frame_enter(f, t))
		return 1;
	if (h->waits)
		container_of(f, struct wb_wait_frame, f)->t = t[0];
	else if (t[0].append && !wb_append_list(f, wb_target_sb(t)))
		wb_append_anywhere(&t[0]);
	wb_record_targets(f, t, n);
	if (h->kind == WB_HOOK_ASYNC) {
		f->kiocb = h->kiocb(regs);
		if (wb_pending_add(f->kiocb, f->w, f->idx)) {
			f->w = NULL;	/* the completion leaves the section */
		} else {
			/* Held to the return only: the completion may escape. */
			f->kiocb = NULL;
			wb_watch_degrade(f->w);
		}
	}
	return 0;
}

static int __wb_hook_return(const struct wb_hook *h, struct wb_frame *f,
			    struct pt_regs *regs)
{
	/*
	 * aio_write() and io_write() return an int: the upper half of %rax is
	 * not theirs (-EIOCBQUEUED comes back as 0x00000000fffffdef).
	 */
	if (f->kiocb && !h->completes_later((int)regs_return_value(regs)))
		wb_pending_release(f->kiocb);
	/* Still in the section: the epoch is the call's own. */
	if (f->lossy_if_done && f->w && !regs_return_value(regs))
		wb_watch_lose(f->w, f->epoch);
	wb_append_unlist(f);
	wb_frame_leave(f);
	return 0;
}

static const struct wb_hook *wb_hook_of(const struct kretprobe *rp)
{
	const struct wb_hook *h;

	for (h = wb_hooks; h < wb_hooks + wb_nr_hooks; h++)
		if (rp == &h->krp)
			return h;
	return NULL;
}

static bool wb_is_scope(const struct kretprobe *rp)
{
	const struct wb_hook *h = wb_hook_of(rp);

	return h && h->kind == WB_HOOK_SCOPE;
}

static bool wb_may_wait(const struct kretprobe *rp)
{
	const struct wb_hook *h = wb_hook_of(rp);

	return h && h->waits;
}

/*
 * A wait for input begins. If the innermost hooked call of this task that
 * may wait holds a section, it leaves it: it has modified nothing since its
 * last record, or what it modified is in core and recorded in the epoch it
 * read. Other waits need no return handler.
 */
static int __wb_wait_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct kretprobe_instance *caller;
	struct wb_wait_frame *wf;

	caller = wb_current_kretprobe_instance(wb_may_wait);
	if (!caller)
		return 1;
	wf = (struct wb_wait_frame *)caller->data;
	wb_frame_leave(&wf->f);
	*(struct wb_wait_frame **)ri->data = wf;
	return 0;
}

/*
 * The wait ends: the call enters the section anew, before it modifies
 * anything more, and records its change into the epoch open now.
 */
static int __wb_wait_return(struct kretprobe_instance *ri,
			    struct pt_regs *regs)
{
	struct wb_wait_frame *wf = *(struct wb_wait_frame **)ri->data;

	if (wb_frame_enter(&wf->f, &wf->t))
		wb_record_targets(&wf->f, &wf->t, 1);
	return 0;
}

static int __wb_inner_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct wb_inner_hook *h = container_of(kp, struct wb_inner_hook, kp);
	struct kretprobe_instance *ri;
	struct wb_target t[WB_MAX_TARGETS] = {};
	struct wb_frame *f;
	int n;

	n = wb_targets(h->target, h->ops, regs, t);
	if (!n)
		return 0;
	ri = wb_current_kretprobe_instance(wb_is_scope);
	if (!ri) {
		if (current->nameidata) {	/* open(O_CREAT): opens.c */
			wb_open_create(t, n);
			return 0;
		}
		/*
		 * A caller outside every scope: the change cannot be bracketed,
		 * and may land in any later epoch.
		 */
		wb_degrade_watch_of(t);
		return 0;
	}
	f = (struct wb_frame *)ri->data;
	if (!f->w && !wb_frame_enter(f, t))
		return 0;
	if (f->w->sb != wb_target_sb(t)) {
		wb_watch_lose(f->w, f->epoch);
		return 0;
	}
	wb_record_targets(f, t, n);
	return 0;
}

/*
 * Our kprobe handlers, and every handler that records, run with interrupts
 * off: a kprobe hit while another handler runs on the same CPU is skipped
 * by the kprobes core, and a skipped completion (often in interrupt
 * context) would leave its section held; the merge hint is per CPU
 * (record.c). A direct call's exit that only leaves its section, and an
 * end's or a fix's look, run with them on.
 */
#define wb_irqs_off(call) ({					\
	unsigned long __flags;						\
	int __ret;							\
									\
	local_irq_save(__flags);					\
	__ret = (call);							\
	local_irq_restore(__flags);					\
	__ret;								\
})

/*
 * Whether a call of @h is on a superblock that no watch has, at a glance:
 * most calls, once any filesystem is watched, are on another one, and are
 * let go before any other work. For kretprobes; a direct-call stub looks
 * the same way, in assembly, before it saves anything.
 */
static bool wb_hook_unwatched(const struct wb_hook *h, struct pt_regs *regs)
{
	const struct super_block *sb;

	if (!h->look.derefs)
		return false;
	sb = wb_look_sb(&h->look, regs);
	return !sb || !wb_sb_maybe_watched(sb);
}

int wb_hook_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct wb_hook *h = container_of(get_kretprobe(ri), struct wb_hook, krp);

	if (wb_hook_unwatched(h, regs))
		return 1;
	return wb_irqs_off(__wb_hook_entry(h, (struct wb_frame *)ri->data,
					   regs));
}

int wb_hook_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct wb_hook *h = container_of(get_kretprobe(ri), struct wb_hook, krp);

	return wb_irqs_off(__wb_hook_return(h, (struct wb_frame *)ri->data,
					    regs));
}

int wb_direct_hook_enter(struct wb_direct *dc, struct pt_regs *regs,
			 void *data)
{
	struct wb_hook *h = container_of(dc, struct wb_hook, dc);

	/* The stub had the quick look. */
	return !wb_irqs_off(__wb_hook_entry(h, data, regs));
}

void wb_direct_hook_exit(struct wb_direct *dc, struct pt_regs *regs,
			 void *data)
{
	struct wb_hook *h = container_of(dc, struct wb_hook, dc);
	struct wb_frame *f = data;

	/*
	 * Most returns (every write's but an append's) only leave the
	 * section, which needs interrupts off no more than the floor's exit
	 * does (floor.c).
	 */
	if (!f->kiocb && !f->lossy_if_done && f->append_slot < 0) {
		wb_frame_leave(f);
		return;
	}
	wb_irqs_off(__wb_hook_return(h, data, regs));
}

int wb_inner_pre(struct kprobe *kp, struct pt_regs *regs)
{
	return wb_irqs_off(__wb_inner_pre(kp, regs));
}

int wb_wait_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return wb_irqs_off(__wb_wait_entry(ri, regs));
}

int wb_wait_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return wb_irqs_off(__wb_wait_return(ri, regs));
}
