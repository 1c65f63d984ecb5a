// SPDX-License-Identifier: GPL-2.0
/*
 * How the hook table is hooked: every function is registered at load, by
 * kretprobe, and armed only while a watch exists, by direct call where it
 * can be (direct.c). A filesystem module's functions are registered when a
 * filesystem of that type is first watched. Nothing is hooked in a kernel
 * where a hooked function has a compiler's clone that calls may take.
 */
#include <linux/module.h>
#include <linux/utsname.h>
#include "hooks.h"

static int wb_maxactive = 1024;
module_param_named(maxactive, wb_maxactive, int, 0444);
MODULE_PARM_DESC(maxactive,
		 "Concurrent calls tracked per function hooked by a kretprobe; more are missed and make epochs lossy");

static bool wb_direct_calls = true;
module_param_named(direct_calls, wb_direct_calls, bool, 0444);
MODULE_PARM_DESC(direct_calls,
		 "Hook by ftrace direct calls where possible (N: kretprobes only)");

#ifdef WB_TESTING
static bool wb_wrapper;
module_param_named(wrapper, wb_wrapper, bool, 0444);
MODULE_PARM_DESC(wrapper,
		 "With direct_calls: reach the same stubs by an ftrace IPMODIFY wrapper instead (to compare the mechanisms)");
#else
static const bool wb_wrapper;
#endif
/*
 * Whether the hooks of xfs and btrfs are registered, and their modules
 * (NULL where the filesystem is built in).
 */
static bool wb_fs_hooked[2];
static struct module *wb_fs_owners[2];

/*
 * Probe misses skip both handlers: the changes they hid are unrecorded. A
 * missed wait probe hides none: its call keeps its section through that
 * wait, as it would without wait probes. Nor does a missed scope: the
 * create it would have bracketed finds no frame and degrades its own watch.
 * A missed end hides no change (a later one ends what it would have); a
 * missed fix hides where an append landed, and counts.
 */
unsigned long wb_hooks_nmissed(void)
{
	unsigned long missed = 0;
	size_t i;

	for (i = 0; i < wb_nr_hooks; i++)
		if (wb_hooks[i].kind != WB_HOOK_SCOPE &&
		    wb_hooks[i].kind != WB_HOOK_END)
			missed += READ_ONCE(wb_hooks[i].krp.nmissed) +
				  READ_ONCE(wb_hooks[i].krp.kp.nmissed);
	for (i = 0; i < wb_nr_inner_hooks; i++)
		missed += READ_ONCE(wb_inner_hooks[i].kp.nmissed);
	return missed;
}

/* Completion probes the kprobes core skipped (pending.c). */
unsigned long wb_completions_nmissed(void)
{
	unsigned long missed = 0;
	size_t i;

	for (i = 0; i < wb_nr_completions; i++)
		missed += READ_ONCE(wb_completions[i].kp.nmissed);
	return missed;
}

/*
 * The probes that are armed only while a watch exists: all but the scope
 * hooks. The i-th of them in the order of wb_hooks_init(), or NULL for one
 * that stays armed or that this kernel lacks; *@hook is its hook, if it is
 * one, for a hook armed by direct call instead.
 *
 * A scope hook stays armed from load to unload: a vfs_create() on a
 * filesystem being watched that began before the probes were armed would
 * have no scope frame, and its create would degrade the new watch (see
 * __wb_inner_pre()). Its entry handler keeps an instance only for calls on
 * a watched filesystem.
 */
#define WB_NR_PROBES (wb_nr_completions + wb_nr_hooks + \
		      wb_nr_inner_hooks + wb_nr_waits)

static struct kprobe *wb_switched_probe(size_t i, struct wb_hook **hook)
{
	*hook = NULL;
	if (i < wb_nr_completions)
		return &wb_completions[i].kp;
	i -= wb_nr_completions;
	if (i < wb_nr_hooks) {
		if (!wb_hooks[i].registered ||
		    wb_hooks[i].kind == WB_HOOK_SCOPE)
			return NULL;
		*hook = &wb_hooks[i];
		return &wb_hooks[i].krp.kp;
	}
	i -= wb_nr_hooks;
	if (i < wb_nr_inner_hooks)
		return &wb_inner_hooks[i].kp;
	return &wb_waits[i - wb_nr_inner_hooks].kp;
}

/*
 * Arms the i-th switched probe: by direct call if its hook can be, else (or
 * if another direct caller, a BPF fexit or a livepatch, has the function)
 * by its kretprobe.
 */
static int wb_switch_arm(size_t i)
{
	struct wb_hook *h;
	struct kprobe *kp = wb_switched_probe(i, &h);
	int err;

	if (!kp)
		return 0;
	if (h && h->armed_direct)	/* could not be detached last time */
		return 0;
	if (h && h->direct) {
		err = wb_direct_arm(&h->dc);
		if (!err) {
			h->armed_direct = true;
			return 0;
		}
		pr_warn("cannot call %s directly: %d; by kretprobe instead\n",
			h->symbol, err);
	}
	err = enable_kprobe(kp);
	if (err)
		pr_err("cannot arm the probe on %s: %d\n", kp->symbol_name,
		       err);
	return err;
}

/* Whether the direct calls were attached in one go, as one set. */
static bool wb_direct_set;

/*
 * Attaches every hook called directly, in one go. If that cannot be done
 * (one of them has another direct caller), wb_switch_arm() attaches them
 * one by one. The set stays attached if it could not be detached.
 */
static void wb_hooks_arm_direct(void)
{
	size_t i;
	int err;

	if (wb_direct_set)
		return;
	err = wb_direct_arm_all();
	if (err) {
		if (err != -ENOENT)
			pr_info("cannot call the functions directly at once (%d): one by one\n",
				err);
		return;
	}
	wb_direct_set = true;
	for (i = 0; i < wb_nr_hooks; i++)
		if (wb_hooks[i].direct)
			wb_hooks[i].armed_direct = true;
}

static void wb_hooks_disarm_direct(void)
{
	size_t i;

	if (!wb_direct_set || wb_direct_disarm_all())
		return;
	wb_direct_set = false;
	for (i = 0; i < wb_nr_hooks; i++)
		if (wb_hooks[i].direct)
			wb_hooks[i].armed_direct = false;
}

static void wb_switch_disarm(size_t i)
{
	struct wb_hook *h;
	struct kprobe *kp = wb_switched_probe(i, &h);
	int err;

	if (!kp)
		return;
	if (h && h->armed_direct) {
		if (wb_direct_set)
			return;	/* wb_hooks_disarm_direct() */
		if (!wb_direct_disarm(&h->dc))
			h->armed_direct = false;
		return;
	}
	err = disable_kprobe(kp);
	if (err)	/* it stays armed: it costs, it breaks nothing */
		pr_warn("cannot disarm the probe on %s: %d\n",
			kp->symbol_name, err);
}

/*
 * Disarms the first @n switched probes, the last one first; the direct
 * calls, which wb_hooks_arm() attaches as a set before the first hook,
 * once every hook after them is disarmed.
 */
static void wb_hooks_disarm_first(size_t n)
{
	for (; n > wb_nr_completions; n--)
		wb_switch_disarm(n - 1);
	wb_hooks_disarm_direct();
	while (n--)
		wb_switch_disarm(n);
}

/*
 * Arms the switched probes (completions first, then the direct calls as a
 * set). When it returns, every call that starts on any CPU hits them: text
 * patching syncs every CPU. Process context only: enable_kprobe() takes
 * kprobe_mutex.
 */
int wb_hooks_arm(void)
{
	size_t i;
	int err;

	for (i = 0; i < WB_NR_PROBES; i++) {
		if (i == wb_nr_completions)
			wb_hooks_arm_direct();
		err = wb_switch_arm(i);
		if (err) {
			wb_hooks_disarm_first(i);
			return err;
		}
	}
	return 0;
}

/*
 * Disarms them, in the reverse order. Only once no watch is listed and
 * every section has drained: disarming neither waits for handlers running
 * nor stops the calls in flight, whose return handlers still run (a
 * disabled kretprobe keeps its rethook: only unregistering drops them),
 * but with no watch none of them holds or enters a section.
 */
void wb_hooks_disarm(void)
{
	wb_hooks_disarm_first(WB_NR_PROBES);
}

/* Unregisters in the reverse order of wb_hooks_init(). */
static void wb_hooks_unregister(size_t nr_completions, size_t nr_hooks,
				size_t nr_inner, size_t nr_waits)
{
	size_t i;

	while (nr_waits--)
		unregister_kretprobe(&wb_waits[nr_waits]);
	while (nr_inner--)
		unregister_kprobe(&wb_inner_hooks[nr_inner].kp);
	while (nr_hooks--) {
		if (!wb_hooks[nr_hooks].registered)
			continue;
		unregister_kretprobe(&wb_hooks[nr_hooks].krp);
		wb_hooks[nr_hooks].registered = false;
	}
	while (nr_completions--)
		unregister_kprobe(&wb_completions[nr_completions].kp);
	wb_direct_exit_all();
	for (i = 0; i < ARRAY_SIZE(wb_fs_owners); i++) {
		module_put(wb_fs_owners[i]);	/* NULL: a no-op */
		wb_fs_owners[i] = NULL;
		wb_fs_hooked[i] = false;
	}
}

/*
 * Prepares @h to be called directly once armed, if it can be: a hook whose
 * frame no other probe looks for (scope and waiting hooks are found by their
 * kretprobe instances) and whose arguments are all in registers. Its
 * kretprobe, registered disarmed, stays: the fallback when arming.
 */
static void wb_hook_init_direct(struct wb_hook *h)
{
	int err;

	BUILD_BUG_ON(sizeof(struct wb_frame) > WB_DIRECT_MAX_DATA);
	if (h->kind == WB_HOOK_SCOPE || h->waits || h->stack_args)
		return;
	h->dc.wrapper = wb_wrapper;
	/* An end or a fix: its @at is the handler, with interrupts on. */
	h->dc.enter = h->at ?: wb_direct_hook_enter;
	h->dc.exit = wb_direct_hook_exit;
	wb_bench_body(h);	/* hook_body=floor or null, if testing */
	err = wb_direct_init(&h->dc, (unsigned long)h->krp.kp.addr,
			     &h->look);
	if (err) {
		pr_info("%s: cannot be called directly (%d), kretprobe\n",
			h->symbol, err);
		return;
	}
	h->direct = true;
}

/*
 * Looks @name up among the kernel's and modules' symbols: 0 if a kprobe can
 * be put on it, -ENOENT if there is no such symbol, else why not. kallsyms
 * has no exported lookup: a disarmed kprobe, registered and removed, is it.
 */
static int wb_symbol_lookup(const char *name)
{
	struct kprobe kp = {
		.symbol_name = name,
		.flags = KPROBE_FLAG_DISABLED,
	};
	int err = register_kprobe(&kp);

	if (!err)
		unregister_kprobe(&kp);
	return err;
}

/*
 * Whether calls to @symbol go through it. A compiler may clone a function
 * (name.isra.0, name.constprop.0, name.part.0) and send some or all calls
 * to the clone: a probe on the name would succeed and miss them without a
 * trace. Such a kernel is refused, naming the function.
 */
int wb_check_not_cloned(const char *symbol)
{
	static const char *const clones[] = { "isra", "constprop", "part" };
	char name[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(clones); i++) {
		snprintf(name, sizeof(name), "%s.%s.0", symbol, clones[i]);
		if (wb_symbol_lookup(name) == -ENOENT)
			continue;
		pr_err("%s has a copy, %s, that calls may go through instead: this kernel cannot be hooked\n",
		       symbol, name);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Every hooked function, before any is hooked. */
static int wb_hooks_check_not_cloned(void)
{
	size_t i;
	int err = 0;

	for (i = 0; i < wb_nr_completions && !err; i++)
		err = wb_check_not_cloned(wb_completions[i].kp.symbol_name);
	for (i = 0; i < wb_nr_hooks && !err; i++)
		if (!wb_hooks[i].fs)
			err = wb_check_not_cloned(wb_hooks[i].symbol);
	for (i = 0; i < wb_nr_inner_hooks && !err; i++)
		err = wb_check_not_cloned(wb_inner_hooks[i].symbol);
	for (i = 0; i < wb_nr_waits && !err; i++)
		err = wb_check_not_cloned(wb_waits[i].kp.symbol_name);
	return err;
}

/*
 * Every hooked function needs an entry that reads this kernel's arguments
 * right (wb_hook_fits()); a kernel newer than the table's newest series has
 * none. Checked before anything is hooked: such a kernel is refused whole,
 * naming the first function, never hooked in part.
 */
static int wb_hooks_check_kernel(void)
{
	const struct wb_hook *h, *g;

	for (h = wb_hooks; h < wb_hooks + wb_nr_hooks; h++) {
		for (g = wb_hooks; g < wb_hooks + wb_nr_hooks; g++)
			if (!strcmp(g->symbol, h->symbol) && wb_hook_fits(g))
				break;
		if (g < wb_hooks + wb_nr_hooks)
			continue;
		pr_err("kernel %s: the hook table does not know where %s takes its arguments there (it knows kernels %u.%u to %u.%u): this kernel cannot be hooked\n",
		       init_utsname()->release, h->symbol,
		       WB_TABLE_OLDEST >> 16, (WB_TABLE_OLDEST >> 8) & 0xff,
		       WB_TABLE_NEWEST >> 16, (WB_TABLE_NEWEST >> 8) & 0xff);
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * Registers @h's kretprobe: disarmed (wb_hooks_arm() arms it) but for a
 * scope hook or a filesystem's hook, which is registered while watched.
 * A function that an optional hook's kernel lacks is skipped.
 */
static int wb_hook_register(struct wb_hook *h)
{
	struct kretprobe *krp = &h->krp;
	int err;

	if (!wb_hook_fits(h))
		return 0;	/* another entry has this kernel's arguments */
	memset(krp, 0, sizeof(*krp));
	krp->kp.symbol_name = h->symbol;
	krp->entry_handler = wb_hook_entry;
	krp->handler = wb_hook_return;
	krp->data_size = h->waits ? sizeof(struct wb_wait_frame) :
				    sizeof(struct wb_frame);
	krp->maxactive = wb_maxactive;
	if (h->kind != WB_HOOK_SCOPE && !h->fs)
		krp->kp.flags = KPROBE_FLAG_DISABLED;
	err = register_kretprobe(krp);
	if (err == -ENOENT && h->optional) {
		pr_info("%s: not in this kernel, not hooked\n", h->symbol);
		return 0;
	}
	if (err) {
		pr_err("cannot probe %s: %d\n", h->symbol, err);
		return err;
	}
	h->registered = true;
	return 0;
}

/* The slot in wb_fs_hooked[] of a type with hooks of its own, or -1. */
static int wb_fs_slot(const struct file_system_type *type)
{
	if (!strcmp(type->name, "xfs"))
		return 0;
	if (!strcmp(type->name, "btrfs"))
		return 1;
	return -1;
}

/* Whether every hook a filesystem of @type needs is registered. */
bool wb_hooks_fs_ready(const struct file_system_type *type)
{
	int slot = wb_fs_slot(type);

	return slot < 0 || READ_ONCE(wb_fs_hooked[slot]);
}

/*
 * Whether the code of the filesystem type @name is loaded, without loading
 * it as get_fs_type() would: a disarmed kprobe on its first hooked
 * function is the lookup (wb_symbol_lookup()).
 */
bool wb_hooks_fs_loaded(const char *name)
{
	const struct wb_hook *h;

	for (h = wb_hooks; h < wb_hooks + wb_nr_hooks; h++)
		if (h->fs && !strcmp(h->fs, name) && !h->optional &&
		    wb_hook_fits(h))
			break;
	return h < wb_hooks + wb_nr_hooks && !wb_symbol_lookup(h->symbol);
}

/*
 * Hooks on a filesystem module's functions are registered when the first
 * filesystem of the type is watched: then its module is loaded, held by the
 * mounted superblock; with watch_at_mount, as soon as xfs or btrfs is loaded
 * (atmount.c). They stay registered, armed and disarmed with the others,
 * until this module unloads, and hold their module meanwhile so that its
 * text stays. Under wb_watches_mutex, with a watch listed (they are
 * registered armed).
 */
int wb_hooks_get_fs(struct file_system_type *type)
{
	struct wb_hook *h;
	int slot = wb_fs_slot(type);
	int err = 0;

	if (slot < 0 || wb_fs_hooked[slot])
		return 0;
	for (h = wb_hooks; h < wb_hooks + wb_nr_hooks && !err; h++) {
		if (!h->fs || strcmp(h->fs, type->name))
			continue;
		err = wb_check_not_cloned(h->symbol);
		if (!err)
			err = wb_hook_register(h);
	}
	if (err) {
		for (h = wb_hooks; h < wb_hooks + wb_nr_hooks; h++) {
			if (h->fs && !strcmp(h->fs, type->name) &&
			    h->registered) {
				unregister_kretprobe(&h->krp);
				h->registered = false;
			}
		}
		return err;
	}
	__module_get(type->owner);	/* NULL (built in): nothing to hold */
	wb_fs_owners[slot] = type->owner;
	WRITE_ONCE(wb_fs_hooked[slot], true);
	return 0;
}

/*
 * Completions first: no section may be handed to pending.c before. All but
 * the scope hooks are registered disarmed: wb_hooks_arm() arms them.
 */
int wb_hooks_init(void)
{
	size_t c, i, j, k;
	int err;

	if (wb_direct_calls && wb_direct_choose())
		pr_info("direct calls reach function bodies by a return (indirect branch tracking)\n");
	err = wb_hooks_check_kernel();
	if (!err)
		err = wb_hooks_check_not_cloned();
	if (err)
		return err;

	for (c = 0; c < wb_nr_completions; c++) {
		wb_completions[c].kp.pre_handler = wb_completion_pre;
		wb_completions[c].kp.flags = KPROBE_FLAG_DISABLED;
		err = register_kprobe(&wb_completions[c].kp);
		if (err) {
			pr_err("cannot probe %s: %d\n",
			       wb_completions[c].kp.symbol_name, err);
			wb_hooks_unregister(c, 0, 0, 0);
			return err;
		}
	}
	for (i = 0; i < wb_nr_hooks; i++) {
		if (wb_hooks[i].fs)
			continue;	/* wb_hooks_get_fs() */
		err = wb_hook_register(&wb_hooks[i]);
		if (err) {
			wb_hooks_unregister(c, i, 0, 0);
			return err;
		}
		if (wb_direct_calls && wb_hooks[i].registered)
			wb_hook_init_direct(&wb_hooks[i]);
	}
	for (j = 0; j < wb_nr_inner_hooks; j++) {
		struct kprobe *kp = &wb_inner_hooks[j].kp;

		kp->symbol_name = wb_inner_hooks[j].symbol;
		kp->pre_handler = wb_inner_pre;
		kp->flags = KPROBE_FLAG_DISABLED;
		err = register_kprobe(kp);
		if (err) {
			pr_err("cannot probe %s: %d\n", wb_inner_hooks[j].symbol,
			       err);
			wb_hooks_unregister(c, i, j, 0);
			return err;
		}
	}
	for (k = 0; k < wb_nr_waits; k++) {
		struct kretprobe *krp = &wb_waits[k];

		krp->entry_handler = wb_wait_entry;
		krp->handler = wb_wait_return;
		krp->data_size = sizeof(struct wb_wait_frame *);
		krp->maxactive = wb_maxactive;
		krp->kp.flags = KPROBE_FLAG_DISABLED;
		err = register_kretprobe(krp);
		if (err) {
			pr_err("cannot probe %s: %d\n", krp->kp.symbol_name,
			       err);
			wb_hooks_unregister(c, i, j, k);
			return err;
		}
	}
	return 0;
}

/*
 * Only after every watch is gone: a kretprobe being unregistered drops the
 * return handlers of its calls in flight, which would leave SRCU read
 * sections held. With no watch, no entry handler enters one. The calls in
 * flight through a direct-call stub return through it: unloading waits for
 * them (wb_direct_exit_all()).
 */
void wb_hooks_exit(void)
{
	wb_hooks_unregister(wb_nr_completions, wb_nr_hooks,
			    wb_nr_inner_hooks, wb_nr_waits);
}
