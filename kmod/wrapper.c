// SPDX-License-Identifier: GPL-2.0
/*
 * The wrapper: the direct-call stubs reached through ftrace's
 * register-saving trampoline and an IPMODIFY callback (livepatch's
 * mechanism) instead of a direct call. The benchmark compares the two; the
 * module users install has no wrapper (WB_TESTING builds only).
 */
#include <linux/ftrace.h>
#include "direct.h"
#include "wbarrier.h"

extern const unsigned long wb_wrapper_stubs[WB_DIRECT_SLOTS];
unsigned long wb_wrapper_bodies[WB_DIRECT_SLOTS];

/* The ftrace callback: resume in the slot's wrapper stub. */
static void wb_wrapper_redirect(unsigned long ip, unsigned long parent_ip,
				struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	struct wb_direct *d = container_of(op, struct wb_direct, ops);

	wb_ftrace_regs_set_ip(fregs, wb_wrapper_stubs[d->slot]);
}

/* Makes @d's ops the wrapper of function @addr, which takes stub @slot. */
void wb_wrapper_init(struct wb_direct *d, unsigned long addr, unsigned int slot)
{
	d->ops.func = wb_wrapper_redirect;
	/* No FTRACE_OPS_FL_RECURSION: the callback calls nothing. */
	d->ops.flags = FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY;
	wb_wrapper_bodies[slot] = addr + MCOUNT_INSN_SIZE;
}
