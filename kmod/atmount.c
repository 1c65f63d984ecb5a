// SPDX-License-Identifier: GPL-2.0
/*
 * Watches that begin at mount.
 *
 * A watch made by WATCH begins on a mounted filesystem: what changed
 * before it is unknown, so a log goes on behind a generation break. The
 * module parameter watch_at_mount names filesystems by uuid instead (from
 * modprobe.d, read at load; the module loaded early by modules-load.d):
 * each gets a watch at load that waits, and a probe on vfs_get_tree()
 * hands it the superblock when that filesystem is mounted, before the
 * mount can be reached, so that the watch sees every change from the
 * mount on. A log whose last watch ended with a clean unmount can then go
 * on without a rescan (docs/changes.md, the generation contract).
 *
 * After a mount a new watch waits for the next one, so that a remount
 * after an unmount begins a watch again.
 *
 * xfs and btrfs have hooks of their own, which must be in place at their
 * mount for the watch to begin there (wb_hooks_fs_ready()): they are
 * registered at load if the filesystem's module is loaded, else as it goes
 * live, and hold it until this module unloads.
 *
 * btrfs mounts through a nested vfs_get_tree() (a subvolume's mount is
 * made from a mount of the whole filesystem: vfs_kern_mount() of
 * btrfs_root_fs_type up to 6.7, fc_mount() of a duplicated context since):
 * the inner call, which made the superblock, attaches it; the outer one
 * finds it watched or mounted already and attaches nothing.
 */
#include <linux/kprobes.h>
#include <linux/fs_context.h>
#include <linux/module.h>
#include <linux/uuid.h>
#include "wbarrier.h"

static char *wb_watch_at_mount;
module_param_named(watch_at_mount, wb_watch_at_mount, charp, 0444);
MODULE_PARM_DESC(watch_at_mount,
		 "Filesystem uuids, comma-separated, to watch from their mount on (ext2/3/4, xfs, btrfs)");

/* Set at exit: no waiting watch is made after the last is removed. */
static bool wb_atmount_stopping;

static int wb_get_tree_entry(struct kretprobe_instance *ri,
			     struct pt_regs *regs)
{
	*(struct fs_context **)ri->data =
		(struct fs_context *)regs_get_kernel_argument(regs, 0);
	return 0;
}

static int wb_get_tree_return(struct kretprobe_instance *ri,
			      struct pt_regs *regs)
{
	struct fs_context *fc = *(struct fs_context **)ri->data;
	struct super_block *sb;

	if ((int)regs_return_value(regs) || !fc->root)
		return 0;
	sb = fc->root->d_sb;
	/*
	 * A superblock mounted already (a second mount of the device) may
	 * have changed before this mount: no watch begins on it here.
	 */
	if (wb_sb_mounted(sb))
		return 0;
	rcu_read_lock();
	wb_watch_attach_rcu(sb);
	rcu_read_unlock();
	return 0;
}

static struct kretprobe wb_get_tree_probe = {
	.kp.symbol_name = "vfs_get_tree",
	.entry_handler = wb_get_tree_entry,
	.handler = wb_get_tree_return,
	.data_size = sizeof(struct fs_context *),
	/* A mount that finds none free is not watched: the watch waits on. */
	.maxactive = 256,
};

static bool wb_atmount_probed;

/* The filesystem types with hooks of their own, also their modules' names. */
static const char *const wb_atmount_fs[] = { "xfs", "btrfs" };

static void wb_atmount_hook_fs(const char *name, const char *when)
{
	int err = wb_watch_hook_fs(name);

	if (err)
		pr_err("watch_at_mount: cannot hook %s %s: %d; its watches do not begin at the mount\n",
		       name, when, err);
}

static int wb_atmount_module_event(struct notifier_block *nb,
				   unsigned long state, void *data)
{
	struct module *mod = data;
	size_t i;

	if (state != MODULE_STATE_LIVE)
		return NOTIFY_DONE;
	for (i = 0; i < ARRAY_SIZE(wb_atmount_fs); i++)
		if (!strcmp(mod->name, wb_atmount_fs[i]))
			wb_atmount_hook_fs(wb_atmount_fs[i], "as it loads");
	return NOTIFY_DONE;
}

static struct notifier_block wb_atmount_module_nb = {
	.notifier_call = wb_atmount_module_event,
};

static bool wb_atmount_notified;

void wb_atmount_rearm(const uuid_t *uuid)
{
	int err;

	if (READ_ONCE(wb_atmount_stopping))
		return;
	err = wb_watch_create_waiting(uuid);
	if (err)
		pr_err("watch_at_mount: no watch waits for the next mount of %pUb: %d\n",
		       uuid, err);
}

/* Parses watch_at_mount and makes a waiting watch of each uuid, once. */
static int wb_atmount_parse(void)
{
	uuid_t uuid, seen[16];
	char *list, *p, *tok;
	unsigned int n = 0, i;
	int err = 0;

	list = kstrdup(wb_watch_at_mount, GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	p = list;
	while (!err && (tok = strsep(&p, ",")) != NULL) {
		tok = strim(tok);
		if (!*tok)
			continue;
		err = uuid_parse(tok, &uuid);
		if (err) {
			pr_err("watch_at_mount: \"%s\" is not a uuid (as blkid prints it)\n",
			       tok);
			break;
		}
		for (i = 0; i < n && !uuid_equal(&seen[i], &uuid); i++)
			;
		if (i < n)
			continue;
		if (n == ARRAY_SIZE(seen)) {
			pr_err("watch_at_mount: more than %zu uuids\n", ARRAY_SIZE(seen));
			err = -E2BIG;
			break;
		}
		uuid_copy(&seen[n++], &uuid);
		err = wb_watch_create_waiting(&uuid);
	}
	kfree(list);
	return err;
}

/*
 * After the hooks: a waiting watch arms them. On failure the watches made
 * so far are left to wb_watch_remove_all().
 */
int wb_atmount_init(void)
{
	size_t i;
	int err;

	if (!wb_watch_at_mount || !*wb_watch_at_mount)
		return 0;
	err = wb_check_not_cloned(wb_get_tree_probe.kp.symbol_name);
	if (!err)
		err = wb_atmount_parse();
	if (err)
		return err;
	/* Before looking: a module that goes live meanwhile is not missed. */
	err = register_module_notifier(&wb_atmount_module_nb);
	if (err)
		return err;
	wb_atmount_notified = true;
	for (i = 0; i < ARRAY_SIZE(wb_atmount_fs); i++)
		if (wb_hooks_fs_loaded(wb_atmount_fs[i]))
			wb_atmount_hook_fs(wb_atmount_fs[i], "at load");
	err = register_kretprobe(&wb_get_tree_probe);
	if (err) {
		pr_err("watch_at_mount: cannot probe vfs_get_tree: %d\n", err);
		return err;
	}
	wb_atmount_probed = true;
	return 0;
}

/* Before the watches go: no mount takes one, no new one waits. */
void wb_atmount_exit(void)
{
	WRITE_ONCE(wb_atmount_stopping, true);
	if (wb_atmount_probed)
		unregister_kretprobe(&wb_get_tree_probe);
	wb_atmount_probed = false;
	/* Before the hooks go: no callback registers them again. */
	if (wb_atmount_notified)
		unregister_module_notifier(&wb_atmount_module_nb);
	wb_atmount_notified = false;
}
