// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection for the tests, and what they look at. The kernels they
 * run on have no failslab, so the allocations that matter fail on demand:
 * writing N to the debugfs file wbarrier/fail_record_alloc makes the next N
 * record allocations fail (GFP_ATOMIC, in probe context), to
 * wbarrier/fail_notify_alloc the next N allocations of a barrier's
 * epoch-closed notification. Writing N to wbarrier/skip_completions makes
 * the next N completion probes of tracked async writes act as if the
 * kprobes core had skipped them. While wbarrier/lose_open_ends is not 0, the
 * ends of open(O_CREAT)'s create sections are not seen, as for a task that
 * died between its create and its open. wbarrier/pending counts the SRCU sections
 * that async writes hold until their completion (pending.c).
 */
#include <linux/debugfs.h>
#include "wbarrier.h"

static struct dentry *wb_debugfs;
static atomic_t wb_fail_record_alloc = ATOMIC_INIT(0);
static atomic_t wb_skip_completions = ATOMIC_INIT(0);
static atomic_t wb_fail_notify_alloc = ATOMIC_INIT(0);
static atomic_t wb_lose_open_ends = ATOMIC_INIT(0);

/* Whether this record allocation is to fail. */
bool wb_fault_record_alloc(void)
{
	/* A negative count (a bad write) fails nothing. */
	return atomic_dec_if_positive(&wb_fail_record_alloc) >= 0;
}

/* Whether this completion probe is to act as skipped. */
bool wb_fault_skip_completion(void)
{
	return atomic_read(&wb_pending_count) &&
	       atomic_dec_if_positive(&wb_skip_completions) >= 0;
}

/* Whether this allocation of an epoch-closed notification is to fail. */
bool wb_fault_notify_alloc(void)
{
	return atomic_dec_if_positive(&wb_fail_notify_alloc) >= 0;
}

/* Whether the ends of create sections go unseen. */
bool wb_fault_lose_open_ends(void)
{
	return atomic_read(&wb_lose_open_ends);
}

/* Without debugfs the knob is simply absent: nothing to check. */
void wb_faults_init(void)
{
	wb_debugfs = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_atomic_t("fail_record_alloc", 0600, wb_debugfs,
				&wb_fail_record_alloc);
	debugfs_create_atomic_t("skip_completions", 0600, wb_debugfs,
				&wb_skip_completions);
	debugfs_create_atomic_t("fail_notify_alloc", 0600, wb_debugfs,
				&wb_fail_notify_alloc);
	debugfs_create_atomic_t("lose_open_ends", 0600, wb_debugfs,
				&wb_lose_open_ends);
	debugfs_create_atomic_t("pending", 0400, wb_debugfs, &wb_pending_count);
}

void wb_faults_exit(void)
{
	debugfs_remove_recursive(wb_debugfs);
}
