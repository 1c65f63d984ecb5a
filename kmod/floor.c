// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's floor and null (docs/bench.md, "Floor and null"): what
 * the direct-call mechanism costs with nothing in it, to compare a watched
 * write against. hook_body=floor: a direct-called hook that holds a section
 * (record, async) only enters the watch's SRCU read section and leaves it
 * when the body returns (the same stub, the same exit path; no targets, no
 * record, no merge hint, interrupts left on); the watch is found by the
 * superblock the stub looked at and the list of watches. The hooks that
 * hold no section, and every hook with hook_body=null, decline every call
 * at once: the stub returns into the function's body. Nothing is recorded
 * either way. The module users install has neither (WB_TESTING builds
 * only).
 */
#include <linux/moduleparam.h>
#include <linux/string.h>
#include "hooks.h"

enum { WB_BODY_RECORD, WB_BODY_FLOOR, WB_BODY_NULL };
static const char *const wb_bodies[] = {
	[WB_BODY_RECORD] = "record",
	[WB_BODY_FLOOR] = "floor",
	[WB_BODY_NULL] = "null",
};
static int wb_body = WB_BODY_RECORD;

static int wb_body_set(const char *val, const struct kernel_param *kp)
{
	int i = sysfs_match_string(wb_bodies, val);

	if (i < 0)
		return i;
	wb_body = i;
	return 0;
}

static int wb_body_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", wb_bodies[wb_body]);
}

static const struct kernel_param_ops wb_body_ops = {
	.set = wb_body_set,
	.get = wb_body_get,
};
module_param_cb(hook_body, &wb_body_ops, NULL, 0444);
MODULE_PARM_DESC(hook_body,
		 "What a direct-called hook does: record (default), floor (only enter and leave the watch's SRCU section) or null (return at once); for the benchmark");

static int wb_floor_enter(struct wb_direct *dc, struct pt_regs *regs,
			  void *data)
{
	struct wb_hook *h = container_of(dc, struct wb_hook, dc);
	const struct super_block *sb;
	struct wb_frame *f = data;
	struct wb_watch *w;

	if (!h->look.derefs)
		return 0;
	sb = wb_look_sb(&h->look, regs);
	if (!sb)
		return 0;
	rcu_read_lock();
	w = wb_watch_find_rcu(sb);
	if (w) {
		f->idx = srcu_down_read(&w->srcu);
		__release(&w->srcu);
		f->w = w;
	}
	rcu_read_unlock();
	return !!w;
}

static void wb_floor_exit(struct wb_direct *dc, struct pt_regs *regs,
			  void *data)
{
	wb_frame_leave(data);
}

static int wb_null_enter(struct wb_direct *dc, struct pt_regs *regs,
			 void *data)
{
	return 0;
}

/*
 * Gives @h's direct call the floor's or null's handlers. The floor brackets
 * only the hooks that hold a section (record, async); the others (an
 * open's end, an append's fix, an escape) hold none, and decline at once.
 */
void wb_bench_body(struct wb_hook *h)
{
	bool holds = h->kind == WB_HOOK_RECORD || h->kind == WB_HOOK_ASYNC;

	if (wb_body == WB_BODY_FLOOR && holds) {
		h->dc.enter = wb_floor_enter;
		h->dc.exit = wb_floor_exit;
	} else if (wb_body != WB_BODY_RECORD) {
		h->dc.enter = wb_null_enter;
	}
}
