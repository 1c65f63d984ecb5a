// SPDX-License-Identifier: GPL-2.0
/*
 * The hook table shared by its three parts: hooktable.c says which kernel
 * functions change what (the targets and the table), hooks.c what a hooked
 * call does (enter the watch's SRCU read section, record, leave it), and
 * hookarm.c how the functions are hooked (registration, arming, direct
 * calls, the checks at load). Internal to those three.
 */
#ifndef WB_HOOKS_H
#define WB_HOOKS_H

#include <linux/kprobes.h>
#include <linux/version.h>
#include "direct.h"
#include "wbarrier.h"

/* A hooked call's data: the SRCU read section it holds, if any. */
struct wb_frame {
	struct wb_watch *w;
	u64 epoch;
	int idx;
	/* the epoch is lossy if the call succeeds (returns 0) */
	bool lossy_if_done;
	int append_slot;	/* listed in appends.c, or -1 */
	const struct kiocb *kiocb;	/* async: its section is pending */
};

/* The frame of a hook that may wait: what to record again after a wait. */
struct wb_wait_frame {
	struct wb_frame f;
	struct wb_target t;
};

enum wb_hook_kind {
	WB_HOOK_RECORD,
	WB_HOOK_SCOPE,
	WB_HOOK_ASYNC,
	/*
	 * The call opens a way to change the target's filesystem that no
	 * hook follows, from now on: its watch degrades. No section is held.
	 */
	WB_HOOK_ESCAPE,
	/*
	 * Where a section held for a change inlined elsewhere may end
	 * (opens.c): @at runs at the call's entry. Nothing is held.
	 */
	WB_HOOK_END,
	/*
	 * Where a change of a section its task holds learns where it lands
	 * (appends.c): @at runs at the call's entry and may record. Nothing
	 * more is held.
	 */
	WB_HOOK_FIX,
};

/*
 * The kernels whose hooked functions' arguments the table was read against,
 * from its oldest series to its newest. A newer kernel may pass other
 * arguments: it is refused at load (wb_hooks_init()).
 */
#define WB_TABLE_OLDEST KERNEL_VERSION(6, 1, 0)
#define WB_TABLE_NEWEST KERNEL_VERSION(7, 3, 0)

struct wb_hook {
	const char *symbol;
	/*
	 * The kernels whose calls pass the arguments where this entry reads
	 * them: [since, before), KERNEL_VERSION()s; 0 is the table's oldest,
	 * or past its newest series. A function whose arguments moved has an
	 * entry per range; an entry outside its range is not hooked.
	 */
	u32 since, before;
	enum wb_hook_kind kind;
	bool optional;		/* absent from some kernels: skipped there */
	bool waits;		/* RECORD: may sleep in a wb_waits[] function */
	bool stack_args;	/* has arguments on the stack */
	/*
	 * A function of this filesystem's module: hooked (by kretprobe) only
	 * while a filesystem of the type is watched (wb_hooks_get_fs()).
	 */
	const char *fs;
	struct wb_sb_look look;	/* none: found with the targets only */
	bool registered;
	bool direct;		/* called directly once armed */
	bool armed_direct;
	u32 ops;
	/*
	 * RECORD: fills up to max_targets targets (1 if 0; at most
	 * WB_MAX_TARGETS) with what the call changes and returns how many;
	 * SCOPE: non-zero if it may create. The targets come zeroed.
	 */
	int (*target)(struct pt_regs *regs, struct wb_target *t);
	u8 max_targets;
	/*
	 * ASYNC: the request's kiocb, and whether a completion is to come,
	 * from the call's int return value
	 */
	const struct kiocb *(*kiocb)(struct pt_regs *regs);
	bool (*completes_later)(int ret);
	/*
	 * END, FIX: what the call's entry does. It is the direct call's enter
	 * handler itself, so that every fput() and generic_write_checks()
	 * pays no more than a call: it runs with interrupts on (it mostly
	 * finds nothing to do, and turns them off if it acts) and returns 0
	 * (no exit). The kretprobe's entry handler calls it with @d and @data
	 * NULL.
	 */
	int (*at)(struct wb_direct *d, struct pt_regs *regs, void *data);
	struct kretprobe krp;	/* where not called directly */
	struct wb_direct dc;
};

struct wb_inner_hook {
	const char *symbol;
	u32 ops;
	int (*target)(struct pt_regs *regs, struct wb_target *t);
	struct kprobe kp;
};

/*
 * Completions of async writes. io_req_rw_complete() too: 6.12 may inline
 * io_complete_rw() into the submitter's error path, but every completion
 * it queues runs io_req_rw_complete() later. Releasing twice is harmless.
 */
struct wb_completion_probe {
	const struct kiocb *(*kiocb)(struct pt_regs *regs);
	struct kprobe kp;
};

extern struct wb_hook wb_hooks[];
extern struct wb_inner_hook wb_inner_hooks[];
extern struct wb_completion_probe wb_completions[];
extern struct kretprobe wb_waits[];
extern const size_t wb_nr_hooks, wb_nr_inner_hooks, wb_nr_completions,
	wb_nr_waits;

/* Whether @h reads the arguments of this kernel's calls right. */
static inline bool wb_hook_fits(const struct wb_hook *h)
{
	u32 since = h->since ?: WB_TABLE_OLDEST;
	u32 before = h->before ?: WB_TABLE_NEWEST + KERNEL_VERSION(0, 1, 0);

	return LINUX_VERSION_CODE >= since && LINUX_VERSION_CODE < before;
}

/* The n-th argument of a hooked call. */
static inline unsigned long wb_arg(struct pt_regs *regs, unsigned int n)
{
	return regs_get_kernel_argument(regs, n);
}

/*
 * The superblock a call is on, by its hook's quick look @l (which has
 * derefs), as a direct-call stub finds it in assembly; NULL if the
 * argument is.
 */
static inline const struct super_block *wb_look_sb(const struct wb_sb_look *l,
						   struct pt_regs *regs)
{
	const void *p = (const void *)wb_arg(regs, l->arg);

	if (!p)
		return NULL;
	p = *(const void *const *)(p + l->off1);
	if (l->derefs >= 2)
		p = *(const void *const *)(p + l->off2);
	if (l->derefs == 3)
		p = *(const void *const *)(p + l->off3);
	return p;
}

/* hooks.c: the handlers */
int wb_completion_pre(struct kprobe *kp, struct pt_regs *regs);
int wb_hook_entry(struct kretprobe_instance *ri, struct pt_regs *regs);
int wb_hook_return(struct kretprobe_instance *ri, struct pt_regs *regs);
int wb_direct_hook_enter(struct wb_direct *dc, struct pt_regs *regs,
			 void *data);
void wb_direct_hook_exit(struct wb_direct *dc, struct pt_regs *regs,
			 void *data);
int wb_inner_pre(struct kprobe *kp, struct pt_regs *regs);
int wb_wait_entry(struct kretprobe_instance *ri, struct pt_regs *regs);
int wb_wait_return(struct kretprobe_instance *ri, struct pt_regs *regs);
struct wb_watch *wb_frame_enter(struct wb_frame *f, const struct wb_target *t);
void wb_frame_leave(struct wb_frame *f);
void wb_record_targets(struct wb_frame *f, const struct wb_target *t, int n);
void wb_degrade_watch_of(const struct wb_target *t);

/* floor.c: the benchmark's floor and null hooks, in WB_TESTING builds only */
#ifdef WB_TESTING
void wb_bench_body(struct wb_hook *h);
#else
static inline void wb_bench_body(struct wb_hook *h) { }
#endif

/* appends.c: where an append lands */
bool wb_append_list(struct wb_frame *f, const struct super_block *sb);
void wb_append_anywhere(struct wb_target *t);
void wb_append_unlist(struct wb_frame *f);
void wb_append_fixed(struct inode *inode);

/* opens.c: the section of a create inside open(O_CREAT) */
void wb_open_create(const struct wb_target *t, int n);
int wb_open_end_opened(struct wb_direct *d, struct pt_regs *regs, void *data);
int wb_open_end_dropped(struct wb_direct *d, struct pt_regs *regs, void *data);

#endif /* WB_HOOKS_H */
