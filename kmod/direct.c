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
 *
 * Every function is attached and detached in one go, by one ftrace_ops
 * (wb_direct_all): detaching an ops waits for RCU-tasks grace periods, and
 * one ops per function made an unload take seconds per function (0.3 s
 * each in the 7.3 guest). An ops calls one address: wb_direct_stub_any,
 * which jumps to the function's own stub, found by the body's address.
 * Each function's own ops remains the way to attach them one by one, when
 * one of them has another direct caller (BPF fexit, livepatch) and the
 * whole set cannot be attached.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/stddef.h>
#include <asm/cpufeature.h>
#include "direct.h"
#include "wbarrier.h"

extern const unsigned long wb_direct_stubs[WB_DIRECT_SLOTS];
extern const char wb_direct_stub_any[];

static struct wb_direct *wb_direct_slots[WB_DIRECT_SLOTS];
static struct ftrace_ops wb_direct_all;
static unsigned int wb_direct_all_nr;
/*
 * For wb_direct_stub_any: open addressing, by the body's address (the
 * fentry site + MCOUNT_INSN_SIZE, where the stub returns to) shifted by 4
 * (functions are aligned to 16 bytes, mostly); the function's stub in the
 * same place. Written before anything is attached.
 */
unsigned long wb_direct_hash_bodies[WB_DIRECT_HASH];
unsigned long wb_direct_hash_stubs[WB_DIRECT_HASH];
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

#ifdef WB_TESTING
static bool wb_ibt_calls;
module_param_named(ibt_calls, wb_ibt_calls, bool, 0444);
MODULE_PARM_DESC(ibt_calls,
		 "Reach function bodies by a return, as under indirect branch tracking, on any CPU (to test that path)");
#else
static const bool wb_ibt_calls;
#endif

/*
 * Read by the stubs: non-zero if they reach a function's body, and
 * wb_direct_stub_any a function's stub, by a return instead of a branch
 * through a register. Indirect branch tracking allows such a branch only
 * to an ENDBR, and a body, past its fentry call, has none (BPF trampolines
 * call the body directly, from code written at run time; a module has no
 * exported way to write executable memory). A return is not tracked.
 */
u8 wb_direct_by_return;

/* Decides, at load, whether the stubs reach bodies by a return; says it. */
bool wb_direct_choose(void)
{
	wb_direct_by_return = cpu_feature_enabled(X86_FEATURE_IBT) ||
			      wb_ibt_calls;
	return wb_direct_by_return;
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

static void wb_direct_hash_add(unsigned long body, unsigned long stub)
{
	unsigned int i = (body >> 4) & (WB_DIRECT_HASH - 1);

	BUILD_BUG_ON(WB_DIRECT_HASH & (WB_DIRECT_HASH - 1));
	BUILD_BUG_ON(WB_DIRECT_HASH <= WB_DIRECT_SLOTS);
	while (wb_direct_hash_bodies[i])
		i = (i + 1) & (WB_DIRECT_HASH - 1);
	wb_direct_hash_stubs[i] = stub;
	wb_direct_hash_bodies[i] = body;
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
	if (!d->wrapper) {
		err = ftrace_set_filter_ip(&wb_direct_all, addr, 0, 0);
		if (err) {
			ftrace_free_filter(&d->ops);
			return err;
		}
		wb_direct_all_nr++;
	}
	d->addr = addr;
	d->slot = wb_direct_nr_slots++;
	d->stub = wb_direct_stubs[d->slot];
	wb_sb_looks[d->slot] = *look;
	if (!d->wrapper)
		wb_direct_hash_add(addr + MCOUNT_INSN_SIZE, d->stub);
	WRITE_ONCE(wb_direct_slots[d->slot], d);
	return 0;
}

/*
 * Attaches every function's stub but the wrapper's, in one go: all or none.
 * -EBUSY if one of them has another direct caller: then the caller attaches
 * them one by one (wb_direct_arm()).
 */
int wb_direct_arm_all(void)
{
	if (!wb_direct_all_nr)
		return -ENOENT;
	return wb_register_ftrace_direct(&wb_direct_all,
					 (unsigned long)wb_direct_stub_any);
}

/* Detaches them in one go; pins the module if ftrace cannot. */
int wb_direct_disarm_all(void)
{
	int err = wb_unregister_ftrace_direct(&wb_direct_all,
					      (unsigned long)wb_direct_stub_any);

	if (err) {
		pr_err("cannot detach the direct calls: %d; the module stays loaded\n",
		       err);
		__module_get(THIS_MODULE);
	}
	return err;
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
	if (wb_direct_all_nr)
		ftrace_free_filter(&wb_direct_all);
	wb_direct_all_nr = 0;
	memset(wb_direct_hash_bodies, 0, sizeof(wb_direct_hash_bodies));
}
