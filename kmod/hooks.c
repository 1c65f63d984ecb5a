// SPDX-License-Identifier: GPL-2.0
/*
 * The hook table: which VFS functions change what, and the kretprobes that
 * bracket them with the watch's SRCU read section.
 *
 * A record hook knows from its arguments what the call changes: its entry
 * handler enters the SRCU read section and queues the record, its return
 * handler leaves the section.
 *
 * Some changes have no function of their own: open(O_CREAT) creates the file
 * from code inlined into path_openat. There a scope hook brackets the outer
 * call with an empty frame, and an inner probe (on a function that every
 * such change passes through before it modifies anything) finds the frame
 * of the innermost scope of its task, enters the SRCU section into it and
 * queues the record. The scope's return handler leaves the section.
 */
#include <linux/module.h>
#include <linux/namei.h>
#include "wbarrier.h"

static int wb_maxactive = 256;
module_param_named(maxactive, wb_maxactive, int, 0444);
MODULE_PARM_DESC(maxactive,
		 "Concurrent calls tracked per hooked function; more are missed and make epochs lossy");

/* A kretprobe instance's data: the SRCU read section it holds, if any. */
struct wb_frame {
	struct wb_watch *w;
	u64 epoch;
	int idx;
};

enum wb_hook_kind {
	WB_HOOK_RECORD,
	WB_HOOK_SCOPE,
};

struct wb_hook {
	const char *symbol;
	enum wb_hook_kind kind;
	u32 ops;
	/* RECORD: what the call changes; SCOPE: whether it may change anything */
	bool (*target)(struct pt_regs *regs, struct wb_target *t);
	struct kretprobe krp;
};

struct wb_inner_hook {
	const char *symbol;
	u32 ops;
	bool (*target)(struct pt_regs *regs, struct wb_target *t);
	struct kprobe kp;
};

static unsigned long wb_arg(struct pt_regs *regs, unsigned int n)
{
	return regs_get_kernel_argument(regs, n);
}

/* vfs_write(file, buf, count, pos) */
static bool wb_target_write(struct pt_regs *regs, struct wb_target *t)
{
	struct file *file = (struct file *)wb_arg(regs, 0);
	loff_t *pos = (loff_t *)wb_arg(regs, 3);

	t->inode = file_inode(file);
	t->has_range = true;
	if (file->f_flags & O_APPEND) {
		/* The offset is chosen later, under the inode lock: to EOF. */
		t->offset = i_size_read(t->inode);
		t->length = U64_MAX - t->offset;
	} else {
		t->offset = pos ? *pos : file->f_pos;
		t->length = wb_arg(regs, 2);
	}
	return true;
}

/* vfs_unlink(idmap, dir, dentry, delegated_inode) */
static bool wb_target_unlink(struct pt_regs *regs, struct wb_target *t)
{
	struct dentry *dentry = (struct dentry *)wb_arg(regs, 2);

	t->dir = (struct inode *)wb_arg(regs, 1);
	t->inode = d_inode(dentry);
	t->name = &dentry->d_name;
	return true;
}

/*
 * path_openat(nd, op, flags): only O_CREAT opens can create. op points to
 * fs/internal.h's struct open_flags, whose first member is the int open_flag.
 */
static bool wb_scope_open(struct pt_regs *regs, struct wb_target *t)
{
	const int *open_flag = (const int *)wb_arg(regs, 1);

	return *open_flag & O_CREAT;
}

static bool wb_scope_always(struct pt_regs *regs, struct wb_target *t)
{
	return true;
}

/* security_inode_create(dir, dentry, mode): before every regular create */
static bool wb_target_create(struct pt_regs *regs, struct wb_target *t)
{
	struct dentry *dentry = (struct dentry *)wb_arg(regs, 1);

	t->dir = (struct inode *)wb_arg(regs, 0);
	t->name = &dentry->d_name;
	return true;
}

static struct wb_hook wb_hooks[] = {
	{ "vfs_write", WB_HOOK_RECORD, WBARRIER_OP_DATA, wb_target_write },
	{ "vfs_unlink", WB_HOOK_RECORD, WBARRIER_OP_REMOVE, wb_target_unlink },
	{ "path_openat", WB_HOOK_SCOPE, 0, wb_scope_open },
	{ "vfs_create", WB_HOOK_SCOPE, 0, wb_scope_always },
};

static struct wb_inner_hook wb_inner_hooks[] = {
	{ "security_inode_create", WBARRIER_OP_CREATE, wb_target_create },
};

static struct super_block *wb_target_sb(const struct wb_target *t)
{
	return (t->inode ?: t->dir)->i_sb;
}

/* Enters @w's SRCU read section into @f if @t is on a watched superblock. */
static struct wb_watch *wb_frame_enter(struct wb_frame *f,
				       const struct wb_target *t)
{
	struct wb_watch *w;

	rcu_read_lock();
	w = wb_watch_find_rcu(wb_target_sb(t));
	if (w) {
		f->idx = srcu_read_lock(&w->srcu);
		/* The frame owns the section now; wb_hook_return() leaves it. */
		__release(&w->srcu);
		/* Pairs with the barrier's smp_store_release(). */
		f->epoch = smp_load_acquire(&w->epoch);
		f->w = w;
	}
	rcu_read_unlock();
	return w;
}

static int wb_hook_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct wb_hook *h = container_of(get_kretprobe(ri), struct wb_hook, krp);
	struct wb_frame *f = (struct wb_frame *)ri->data;
	struct wb_target t = {};

	f->w = NULL;
	if (!h->target(regs, &t))
		return 1;
	if (h->kind == WB_HOOK_SCOPE)
		return 0;
	if (!wb_frame_enter(f, &t))
		return 1;	/* not watched: no return handler needed */
	wb_record_change(f->w, f->epoch, h->ops, &t);
	return 0;
}

static int wb_hook_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct wb_frame *f = (struct wb_frame *)ri->data;

	/* After this, a retiring watch may be freed: do not touch it again. */
	if (f->w) {
		__acquire(&f->w->srcu);
		srcu_read_unlock(&f->w->srcu, f->idx);
	}
	return 0;
}

static bool wb_is_scope(const struct kretprobe *rp)
{
	const struct wb_hook *h;

	for (h = wb_hooks; h < wb_hooks + ARRAY_SIZE(wb_hooks); h++)
		if (rp == &h->krp)
			return h->kind == WB_HOOK_SCOPE;
	return false;
}

static int wb_inner_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct wb_inner_hook *h = container_of(kp, struct wb_inner_hook, kp);
	struct kretprobe_instance *ri;
	struct wb_target t = {};
	struct wb_frame *f;
	struct wb_watch *w;

	if (!h->target(regs, &t))
		return 0;
	ri = wb_current_kretprobe_instance(wb_is_scope);
	if (!ri) {
		/* A caller outside every scope: the change cannot be bracketed. */
		rcu_read_lock();
		w = wb_watch_find_rcu(wb_target_sb(&t));
		if (w)
			wb_watch_lose(w, smp_load_acquire(&w->epoch));
		rcu_read_unlock();
		return 0;
	}
	f = (struct wb_frame *)ri->data;
	if (!f->w && !wb_frame_enter(f, &t))
		return 0;
	if (f->w->sb != wb_target_sb(&t)) {
		wb_watch_lose(f->w, f->epoch);
		return 0;
	}
	wb_record_change(f->w, f->epoch, h->ops, &t);
	return 0;
}

/* Probe misses skip both handlers: the changes they hid are unrecorded. */
unsigned long wb_hooks_nmissed(void)
{
	unsigned long missed = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(wb_hooks); i++)
		missed += READ_ONCE(wb_hooks[i].krp.nmissed) +
			  READ_ONCE(wb_hooks[i].krp.kp.nmissed);
	for (i = 0; i < ARRAY_SIZE(wb_inner_hooks); i++)
		missed += READ_ONCE(wb_inner_hooks[i].kp.nmissed);
	return missed;
}

static void wb_hooks_unregister(size_t nr_hooks, size_t nr_inner)
{
	while (nr_inner--)
		unregister_kprobe(&wb_inner_hooks[nr_inner].kp);
	while (nr_hooks--)
		unregister_kretprobe(&wb_hooks[nr_hooks].krp);
}

int wb_hooks_init(void)
{
	size_t i, j;
	int err;

	for (i = 0; i < ARRAY_SIZE(wb_hooks); i++) {
		struct kretprobe *krp = &wb_hooks[i].krp;

		krp->kp.symbol_name = wb_hooks[i].symbol;
		krp->entry_handler = wb_hook_entry;
		krp->handler = wb_hook_return;
		krp->data_size = sizeof(struct wb_frame);
		krp->maxactive = wb_maxactive;
		err = register_kretprobe(krp);
		if (err) {
			pr_err("cannot probe %s: %d\n", wb_hooks[i].symbol, err);
			wb_hooks_unregister(i, 0);
			return err;
		}
	}
	for (j = 0; j < ARRAY_SIZE(wb_inner_hooks); j++) {
		struct kprobe *kp = &wb_inner_hooks[j].kp;

		kp->symbol_name = wb_inner_hooks[j].symbol;
		kp->pre_handler = wb_inner_pre;
		err = register_kprobe(kp);
		if (err) {
			pr_err("cannot probe %s: %d\n", wb_inner_hooks[j].symbol,
			       err);
			wb_hooks_unregister(i, j);
			return err;
		}
	}
	return 0;
}

/*
 * Only after every watch is gone: a kretprobe being unregistered drops the
 * return handlers of its calls in flight, which would leave SRCU read
 * sections held. With no watch, no entry handler enters one.
 */
void wb_hooks_exit(void)
{
	wb_hooks_unregister(ARRAY_SIZE(wb_hooks), ARRAY_SIZE(wb_inner_hooks));
}
