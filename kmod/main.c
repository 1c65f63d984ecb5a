// SPDX-License-Identifier: GPL-2.0
/*
 * wbarrier: VFS write barriers for change tracking.
 *
 * Module init and teardown. The order matters on the way out: the netlink
 * family goes first and the probe on mounts (no new watches), then every
 * watch (waiting for the operations in flight, those UNWATCH left retiring
 * too) and their superblock marks, and only then the probes (see
 * wb_hooks_exit()).
 */
#include <linux/module.h>
#include "wbarrier.h"

/* Everything wb_init() set up, watches made since included. */
static void wb_teardown(void)
{
	wb_nl_exit();
	wb_atmount_exit();
	wb_watch_remove_all();
	wb_watch_exit();
	wb_umount_exit();
	wb_hooks_exit();
	wb_faults_exit();
}

static int __init wb_init(void)
{
	int err;

	err = wb_watch_init();
	if (err)
		return err;
	wb_faults_init();
	err = wb_umount_init();
	if (err)
		goto err_faults;
	err = wb_hooks_init();
	if (err)
		goto err_umount;
	err = wb_nl_init();
	if (err)
		goto err_hooks;
	err = wb_atmount_init();
	if (err)
		goto err_nl;
	return 0;

err_nl:
	/* As at exit: watches made so far may have been mounted and marked. */
	wb_teardown();
	return err;
err_hooks:
	wb_hooks_exit();
err_umount:
	wb_umount_exit();
err_faults:
	wb_faults_exit();
	wb_watch_exit();
	return err;
}

static void __exit wb_exit(void)
{
	wb_teardown();
}

module_init(wb_init);
module_exit(wb_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VFS write barriers for change tracking");
