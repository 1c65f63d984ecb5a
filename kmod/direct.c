// SPDX-License-Identifier: GPL-2.0
/*
 * The direct-call hook mechanism: ftrace's direct calls, what BPF
 * fentry/fexit programs use. The fentry site of a hooked function calls a
 * stub of ours (direct_tramp.S) with one direct call: no trap, no
 * register-saving ftrace trampoline, no return probe. The enter handler
 * decides whether the stub brackets the call (then the exit handler runs
 * when the body returns) or lets the body run alone.
 *
 * A task bracketed by a stub returns into the module's text, maybe long
 * after the function was detached: unloading waits for every bracketed call
 * to return (wb_direct_inflight), then for every task to leave the stubs
 * (RCU tasks).
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/stddef.h>
#include <asm/cpufeature.h>
#include "direct.h"
#include "wbarrier.h"

extern const unsigned long wb_direct_stubs[WB_DIRECT_SLOTS];

static struct wb_direct *wb_direct_slots[WB_DIRECT_SLOTS];
/* Read by the stubs, by slot; written before the stub is attached. */
struct wb_sb_look wb_sb_looks[WB_DIRECT_SLOTS];
static unsigned int wb_direct_nr_slots;
static atomic_long_t wb_direct_inflight = ATOMIC_LONG_INIT(0);

/* The stubs' frame layout is written by hand in direct.h. */
static_assert(offsetof(struct pt_regs, r9) == WB_REGS_R9);
static_assert(offsetof(struct pt_regs, r8) == WB_REGS_R8);
static_assert(offsetof(struct pt_regs, ax) == WB_REGS_AX);
static_assert(offsetof(struct pt_regs, cx) == WB_REGS_CX);
static_assert(offsetof(struct pt_regs, dx) == WB_REGS_DX);
static_assert(offsetof(struct pt_regs, si) == WB_REGS_SI);
static_assert(offsetof(struct pt_regs, di) == WB_REGS_DI);
static_assert(offsetof(struct pt_regs, sp) == WB_REGS_SP);
static_assert(sizeof(struct pt_regs) == WB_REGS_SIZE);
static_assert(WB_DIRECT_FRAME % 16 == 8);
static_assert(offsetof(struct wb_sb_look, arg) == WB_LOOK_ARG);
static_assert(offsetof(struct wb_sb_look, derefs) == WB_LOOK_DEREFS);
static_assert(offsetof(struct wb_sb_look, off1) == WB_LOOK_OFF1);
static_assert(offsetof(struct wb_sb_look, off2) == WB_LOOK_OFF2);
static_assert(offsetof(struct wb_sb_look, off3) == WB_LOOK_OFF3);
static_assert(sizeof(struct wb_sb_look) == WB_LOOK_SIZE);

/*
 * Whether stubs can call function bodies here: a stub reaches the body by an
 * indirect call, which indirect branch tracking forbids (the body has no
 * ENDBR). BPF generates a direct call instead; a module cannot.
 */
bool wb_direct_usable(void)
{
	return !cpu_feature_enabled(X86_FEATURE_IBT);
}

/* Called by stub @slot on entry; non-zero: bracket the call. */
int wb_direct_enter(unsigned int slot, struct pt_regs *regs, void *data)
{
	struct wb_direct *d = READ_ONCE(wb_direct_slots[slot]);

	if (!d || !d->enter(d, regs, data))
		return 0;
	atomic_long_inc(&wb_direct_inflight);
	return 1;
}

/* Called by stub @slot when a bracketed call returns. */
void wb_direct_exit(unsigned int slot, struct pt_regs *regs, void *data)
{
	struct wb_direct *d = wb_direct_slots[slot];

	d->exit(d, regs, data);
	atomic_long_dec(&wb_direct_inflight);
}

/*
 * Takes a slot for @d and points its ftrace ops at function @addr, its
 * fentry call; its stub
 * looks at the superblock as @look says. Process context; before any
 * arming.
 */
int wb_direct_init(struct wb_direct *d, unsigned long addr,
		   const struct wb_sb_look *look)
{
	int err;

	if (wb_direct_nr_slots == WB_DIRECT_SLOTS)
		return -ENOSPC;
	if (d->wrapper)
		wb_wrapper_init(d, addr, wb_direct_nr_slots);
	err = ftrace_set_filter_ip(&d->ops, addr, 0, 0);
	if (err)
		return err;
	d->addr = addr;
	d->slot = wb_direct_nr_slots++;
	d->stub = wb_direct_stubs[d->slot];
	wb_sb_looks[d->slot] = *look;
	WRITE_ONCE(wb_direct_slots[d->slot], d);
	return 0;
}

/* Attaches the stub: from now on every call of the function goes to it. */
int wb_direct_arm(struct wb_direct *d)
{
	if (d->wrapper)
		return register_ftrace_function(&d->ops);
	return wb_register_ftrace_direct(&d->ops, d->stub);
}

/*
 * Detaches it; bracketed calls in flight still return through the stub. If
 * ftrace cannot (it gave up after a bug of its own), the stub stays
 * attached, and so must the module: it is pinned for good.
 */
int wb_direct_disarm(struct wb_direct *d)
{
	int err = d->wrapper ? unregister_ftrace_function(&d->ops) :
			       wb_unregister_ftrace_direct(&d->ops, d->stub);

	if (err) {
		pr_err("cannot detach from %ps: %d; the module stays loaded\n",
		       (void *)d->addr, err);
		__module_get(THIS_MODULE);
	}
	return err;
}

/*
 * After every stub is detached: waits until no task can run a stub again.
 * Sleeping tasks are quiescent for RCU tasks, so the bracketed calls are
 * counted; a task preempted inside a stub before or after a handler is not,
 * but RCU tasks waits for it.
 */
void wb_direct_exit_all(void)
{
	unsigned int i;

	synchronize_rcu_tasks();
	while (atomic_long_read(&wb_direct_inflight))
		msleep(20);
	synchronize_rcu_tasks();
	for (i = 0; i < wb_direct_nr_slots; i++) {
		ftrace_free_filter(&wb_direct_slots[i]->ops);
		WRITE_ONCE(wb_direct_slots[i], NULL);
	}
	wb_direct_nr_slots = 0;
}
