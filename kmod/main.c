// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static int __init wb_init(void)
{
	return 0;
}

static void __exit wb_exit(void)
{
}

module_init(wb_init);
module_exit(wb_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VFS write barriers for change tracking");
