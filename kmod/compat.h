/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel differences, in one place; force-included into every file by Kbuild
 * so that the rest of the module carries no version checks. They are feature
 * probes, not version numbers: a macro that came with the change, or a
 * WB_HAVE_* that Kbuild defines by looking into the kernel's headers.
 * Tested on 6.1 (bookworm), 6.12 (bookworm-backports) and 7.3
 * (trixie-backports). Where a hooked function's arguments moved, the hook
 * table has an entry per kernel range instead (hooktable.c).
 */
#ifndef _WBARRIER_COMPAT_H
#define _WBARRIER_COMPAT_H

#include <linux/exportfs.h>
#include <linux/ftrace.h>
#include <linux/fsnotify_backend.h>
#include <linux/io_uring_types.h>
#include <linux/kprobes.h>
#include <linux/sched.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>

/* 6.5 added a flags argument to exportfs_encode_inode_fh(), and its flags. */
#ifdef EXPORT_FH_CONNECTABLE
#define wb_encode_inode_fh(inode, fid, max_len) \
	exportfs_encode_inode_fh(inode, fid, max_len, NULL, 0)
#else
#define wb_encode_inode_fh(inode, fid, max_len) \
	exportfs_encode_inode_fh(inode, fid, max_len, NULL)
#endif

/*
 * 6.10 hung a superblock's marks on a struct fsnotify_sb_info, and
 * fsnotify_add_mark() takes the object itself instead of its list.
 */
#ifdef WB_HAVE_FSNOTIFY_SB_INFO
#define wb_fsnotify_add_sb_mark(mark, sb) \
	fsnotify_add_mark(mark, sb, FSNOTIFY_OBJ_TYPE_SB, 0)
#else
#define wb_fsnotify_add_sb_mark(mark, sb) \
	fsnotify_add_mark(mark, &(sb)->s_fsnotify_marks, FSNOTIFY_OBJ_TYPE_SB, \
			  0, NULL)
#endif

/*
 * The size of a DAX fault's entry: 6.6 gave dax_iomap_fault() a page order
 * instead of an enum page_entry_size.
 */
#ifdef WB_HAVE_PAGE_ENTRY_SIZE
#define wb_dax_fault_size(pe_size) \
	((pe_size) == PE_SIZE_PUD ? PUD_SIZE : \
	 (pe_size) == PE_SIZE_PMD ? PMD_SIZE : PAGE_SIZE)
#else
#define wb_dax_fault_size(order) (PAGE_SIZE << (order))
#endif

/* 6.2 made set_posix_acl() take the dentry (nfsd, ksmbd), not the inode. */
#ifdef WB_HAVE_SET_POSIX_ACL_DENTRY
#define wb_set_posix_acl_inode(arg) d_inode((struct dentry *)(arg))
#else
#define wb_set_posix_acl_inode(arg) ((struct inode *)(arg))
#endif

/*
 * struct renamedata names the parent directories' dentries (old_parent,
 * new_parent) in 7.3, their inodes (old_dir, new_dir) before.
 */
#ifdef WB_HAVE_RENAMEDATA_PARENT
#define wb_rename_old_dir(rd) d_inode((rd)->old_parent)
#define wb_rename_new_dir(rd) d_inode((rd)->new_parent)
#else
#define wb_rename_old_dir(rd) ((rd)->old_dir)
#define wb_rename_new_dir(rd) ((rd)->new_dir)
#endif

/* 7.3 keeps inode->i_state behind accessors; under i_lock. */
#ifdef WB_HAVE_INODE_STATE_READ
#define wb_inode_state(inode) inode_state_read(inode)
#else
#define wb_inode_state(inode) ((inode)->i_state)
#endif

/*
 * 7.3 names the unbound system workqueue system_dfl_wq; the old name still
 * works there but warns in the kernel log.
 */
#ifdef WB_HAVE_SYSTEM_DFL_WQ
#define wb_unbound_wq system_dfl_wq
#else
#define wb_unbound_wq system_unbound_wq
#endif

/* 6.6 moved a dump's parsed attributes into a struct genl_info. */
#ifdef WB_HAVE_GENL_INFO_DUMP
#define wb_dump_attrs(cb) (genl_info_dump(cb)->attrs)
#else
#define wb_dump_attrs(cb) (genl_dumpit_info(cb)->attrs)
#endif

/*
 * The kiocb of an io_uring read or write request: io_uring/rw.c's private
 * struct io_rw, the request's command data, starts with it.
 */
#define wb_io_uring_kiocb(req) io_kiocb_to_cmd(req, struct kiocb)

/*
 * 6.1 has the ftrace_ops-based direct calls as *_multi, and unregistering
 * keeps the ops' filter; later kernels dropped the suffix, and unregistering
 * frees the filter unless told not to.
 */
#ifdef WB_HAVE_FTRACE_DIRECT_MULTI
#define wb_register_ftrace_direct(ops, addr) \
	register_ftrace_direct_multi(ops, addr)
#define wb_unregister_ftrace_direct(ops, addr) \
	unregister_ftrace_direct_multi(ops, addr)
#else
#define wb_register_ftrace_direct(ops, addr) register_ftrace_direct(ops, addr)
#define wb_unregister_ftrace_direct(ops, addr) \
	unregister_ftrace_direct(ops, addr, false)
#endif

/* 6.6 renamed how an ftrace callback sets where the traced call resumes. */
#ifdef WB_HAVE_FTRACE_REGS_SET_IP
#define wb_ftrace_regs_set_ip(fregs, ip) \
	ftrace_regs_set_instruction_pointer(fregs, ip)
#else
#define wb_ftrace_regs_set_ip(fregs, ip) \
	ftrace_instruction_pointer_set(fregs, ip)
#endif

/*
 * The innermost kretprobe instance of the current task whose kretprobe
 * @match accepts, or NULL. A task's active instances form a list, innermost
 * first; walking it is safe from a probe handler of the same task, which is
 * the only one changing it. Instances of an unregistered kretprobe stay in
 * the list until their calls return, with no handler to run: they are
 * skipped, as their kretprobe may have been freed and its address reused
 * (a module reloaded while a call waits).
 */
static inline struct kretprobe_instance *
wb_current_kretprobe_instance(bool (*match)(const struct kretprobe *rp))
{
	struct llist_node *node;

#ifdef CONFIG_KRETPROBE_ON_RETHOOK
	llist_for_each(node, current->rethooks.first) {
		struct rethook_node *rhn =
			container_of(node, struct rethook_node, llist);

		/* Other rethook users share the list: check the owner first. */
		if (rcu_access_pointer(rhn->rethook->handler) &&
		    match(rhn->rethook->data))
			return container_of(rhn, struct kretprobe_instance, node);
	}
#else
	llist_for_each(node, current->kretprobe_instances.first) {
		struct kretprobe_instance *ri =
			container_of(node, struct kretprobe_instance, llist);

		if (match(get_kretprobe(ri)))
			return ri;
	}
#endif
	return NULL;
}

/*
 * A section left in another context than the one that entered it (an async
 * write's, left by its completion: pending.c) is what srcu_down_read() is
 * for, since 6.3; before, its unannotated core, which is all it is.
 */
#ifndef WB_HAVE_SRCU_DOWN_READ
#define srcu_down_read(ssp)		__srcu_read_lock(ssp)
#define srcu_up_read(ssp, idx)		__srcu_read_unlock(ssp, idx)
#endif

/*
 * A superblock's mounts: a list until they became a chain from one struct
 * mount pointer (include/linux/fs/super_types.h, 7.3).
 */
#ifdef WB_HAVE_SB_MOUNTS_PTR
#define wb_sb_mounted(sb) (READ_ONCE((sb)->s_mounts) != NULL)
#else
#define wb_sb_mounted(sb) (!list_empty(&(sb)->s_mounts))
#endif

#endif /* _WBARRIER_COMPAT_H */
