// SPDX-License-Identifier: GPL-2.0
/*
 * The hook table: which VFS functions change what, and the probes that
 * bracket them with the watch's SRCU read section: direct calls (direct.c)
 * where the function allows, kretprobes elsewhere.
 *
 * A record hook knows from its arguments what the call changes: its entry
 * handler enters the SRCU read section and queues the record, its return
 * handler leaves the section.
 *
 * Asynchronous writes (aio, io_uring) modify the file when their kiocb
 * completes, which may be after the submitting call returned: an async hook
 * hands its section over to pending.c, and the completion leaves it.
 *
 * Some changes have no function of their own: open(O_CREAT) creates the file
 * from code inlined into path_openat. There a scope hook brackets the outer
 * call with an empty frame, and an inner probe (on a function that every
 * such change passes through before it modifies anything) finds the frame
 * of the innermost scope of its task, enters the SRCU section into it and
 * queues the record. The scope's return handler leaves the section.
 *
 * A call may sleep waiting for input before it modifies anything: a splice
 * from a pipe into a file waits in pipe_wait_readable() for the pipe's
 * writer, who may never write. Such a call modifies nothing while it waits,
 * so a wait probe leaves its section for the wait and enters the section
 * anew when the wait ends, recording the change again into the epoch open
 * then. A barrier meanwhile does not wait for the pipe's writer.
 */
#include <linux/module.h>
#include <linux/btrfs.h>
#include <linux/falloc.h>
#include <linux/mm.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/uio.h>
#include "direct.h"
#include "wbarrier.h"

static int wb_maxactive = 1024;
module_param_named(maxactive, wb_maxactive, int, 0444);
MODULE_PARM_DESC(maxactive,
		 "Concurrent calls tracked per function hooked by a kretprobe; more are missed and make epochs lossy");

static bool wb_direct_calls = true;
module_param_named(direct_calls, wb_direct_calls, bool, 0444);
MODULE_PARM_DESC(direct_calls,
		 "Hook by ftrace direct calls where possible (N: kretprobes only)");

static bool wb_wrapper;
module_param_named(wrapper, wb_wrapper, bool, 0444);
MODULE_PARM_DESC(wrapper,
		 "With direct_calls: reach the same stubs by an ftrace IPMODIFY wrapper instead (to compare the mechanisms)");

/* A hooked call's data: the SRCU read section it holds, if any. */
struct wb_frame {
	struct wb_watch *w;
	u64 epoch;
	int idx;
	const struct kiocb *kiocb;	/* async: its section is pending */
};

/* The frame of a hook that may wait: what to record again after a wait. */
struct wb_wait_frame {
	struct wb_frame f;
	struct wb_target t;
};

enum wb_hook_kind {
	WB_HOOK_RECORD,
	WB_HOOK_SCOPE,
	WB_HOOK_ASYNC,
};

struct wb_hook {
	const char *symbol;
	enum wb_hook_kind kind;
	bool optional;		/* absent from some kernels: skipped there */
	bool waits;		/* RECORD: may sleep in a wb_waits[] function */
	bool stack_args;	/* has arguments on the stack */
	/*
	 * A function of this filesystem's module: hooked (by kretprobe) only
	 * while a filesystem of the type is watched (wb_hooks_get_fs()).
	 */
	const char *fs;
	struct wb_sb_look look;	/* none: found with the targets only */
	bool registered;
	bool direct;		/* called directly once armed */
	bool armed_direct;
	u32 ops;
	/*
	 * RECORD: fills up to WB_MAX_TARGETS targets with what the call
	 * changes and returns how many; SCOPE: non-zero if it may create.
	 */
	int (*target)(struct pt_regs *regs, struct wb_target *t);
	/*
	 * ASYNC: the request's kiocb, and whether a completion is to come,
	 * from the call's int return value
	 */
	const struct kiocb *(*kiocb)(struct pt_regs *regs);
	bool (*completes_later)(int ret);
	struct kretprobe krp;	/* where not called directly */
	struct wb_direct dc;
};

struct wb_inner_hook {
	const char *symbol;
	u32 ops;
	int (*target)(struct pt_regs *regs, struct wb_target *t);
	struct kprobe kp;
};

static unsigned long wb_arg(struct pt_regs *regs, unsigned int n)
{
	return regs_get_kernel_argument(regs, n);
}

#define WB_ARG(type, n) ((type)wb_arg(regs, n))

static void wb_range(struct wb_target *t, u64 offset, u64 length)
{
	t->has_range = true;
	t->offset = offset;
	/* A length of 0 (clone) or one past U64_MAX means: to EOF. */
	t->length = length && length <= U64_MAX - offset ? length :
							   U64_MAX - offset;
}

static void wb_range_to_eof(struct wb_target *t, u64 offset)
{
	wb_range(t, offset, 0);
}

/*
 * The object behind an open file, written from *pos (NULL: the file's), or
 * at its end if @append (O_APPEND, RWF_APPEND, IOCB_APPEND).
 * Only regular files: a write to a FIFO or a device node on the filesystem
 * changes no file, and may block for ever while holding the section.
 */
static int wb_file_target(struct wb_target *t, struct file *file,
			  const loff_t *pos, u64 length, bool append)
{
	t->inode = file_inode(file);
	if (!S_ISREG(t->inode->i_mode))
		return 0;
	if (append || file->f_flags & O_APPEND)
		/* The offset is chosen later, under the inode lock: to EOF. */
		wb_range_to_eof(t, i_size_read(t->inode));
	else
		wb_range(t, pos ? *pos : file->f_pos, length);
	return 1;
}

static bool wb_rwf_append(unsigned long flags)
{
	return (__force rwf_t)(int)flags & RWF_APPEND;
}

/* A namespace change of @dentry's object in @dir. */
static void wb_entry_target(struct wb_target *t, struct inode *dir,
			    struct dentry *dentry, u32 ops)
{
	t->inode = d_inode(dentry);
	t->dir = dir;
	t->name = &dentry->d_name;
	t->ops = ops;
}

/* vfs_write and __kernel_write(file, buf, count, pos) */
static int wb_target_write(struct pt_regs *regs, struct wb_target *t)
{
	return wb_file_target(t, WB_ARG(struct file *, 0), WB_ARG(loff_t *, 3),
			      wb_arg(regs, 2), false);
}

/*
 * vfs_writev(file, vec, vlen, pos, flags): the length is in user memory.
 * pwritev2(RWF_APPEND) comes here with a position it ignores.
 */
static int wb_target_writev(struct pt_regs *regs, struct wb_target *t)
{
	return wb_file_target(t, WB_ARG(struct file *, 0),
			      WB_ARG(loff_t *, 3), 0,
			      wb_rwf_append(wb_arg(regs, 4)));
}

/* vfs_iter_write(file, iter, ppos, flags): splice, sendfile, loop, nfsd */
static int wb_target_iter_write(struct pt_regs *regs, struct wb_target *t)
{
	return wb_file_target(t, WB_ARG(struct file *, 0), WB_ARG(loff_t *, 2),
			      iov_iter_count(WB_ARG(struct iov_iter *, 1)),
			      wb_rwf_append(wb_arg(regs, 3)));
}

/* __kernel_write_iter(file, iter, pos): core dumps, __kernel_write */
static int wb_target_kernel_write_iter(struct pt_regs *regs,
				       struct wb_target *t)
{
	return wb_file_target(t, WB_ARG(struct file *, 0), WB_ARG(loff_t *, 2),
			      iov_iter_count(WB_ARG(struct iov_iter *, 1)),
			      false);
}

/* vfs_iocb_iter_write(file, iocb, iter): overlayfs, cachefiles */
static int wb_target_iocb_iter_write(struct pt_regs *regs,
				     struct wb_target *t)
{
	const struct kiocb *iocb = WB_ARG(struct kiocb *, 1);

	return wb_file_target(t, WB_ARG(struct file *, 0), &iocb->ki_pos,
			      iov_iter_count(WB_ARG(struct iov_iter *, 2)),
			      iocb->ki_flags & IOCB_APPEND);
}

/* iter_file_splice_write(pipe, out, ppos, len, flags): splice, sendfile */
static int wb_target_splice(struct pt_regs *regs, struct wb_target *t)
{
	return wb_file_target(t, WB_ARG(struct file *, 1), WB_ARG(loff_t *, 2),
			      wb_arg(regs, 3), false);
}

/* (file_in, pos_in, file_out, pos_out, len, flags): copy, clone, dedupe */
static int wb_target_remap(struct pt_regs *regs, struct wb_target *t)
{
	t->inode = file_inode(WB_ARG(struct file *, 2));
	wb_range(t, wb_arg(regs, 3), wb_arg(regs, 4));
	return 1;
}

/* vfs_fallocate(file, mode, offset, len) */
static int wb_target_fallocate(struct pt_regs *regs, struct wb_target *t)
{
	int mode = wb_arg(regs, 1);

	t->inode = file_inode(WB_ARG(struct file *, 0));
	if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE))
		wb_range_to_eof(t, wb_arg(regs, 2));	/* data moves */
	else
		wb_range(t, wb_arg(regs, 2), wb_arg(regs, 3));
	return 1;
}

/*
 * ext4_move_extents(orig, donor, orig_blk, donor_blk, len, moved_len):
 * EXT4_IOC_MOVE_EXT (e4defrag) swaps blocks between two files without the
 * VFS's write paths. Both change, from the first block to the last moved.
 */
static int wb_target_move_extents(struct pt_regs *regs, struct wb_target *t)
{
	u64 len = wb_arg(regs, 4);
	int i;

	for (i = 0; i < 2; i++) {
		struct inode *inode = file_inode(WB_ARG(struct file *, i));
		u64 blk = wb_arg(regs, 2 + i), max = U64_MAX >> inode->i_blkbits;

		t[i].inode = inode;
		/* Unchecked yet, and clamped to EOF later: never wrap. */
		if (blk > max || len > max)
			wb_range_to_eof(&t[i], 0);
		else
			wb_range(&t[i], blk << inode->i_blkbits,
				 len << inode->i_blkbits);
	}
	return 2;
}

/*
 * A filesystem's own ioctls that change files without the VFS's helpers,
 * at its ioctl entry (file, cmd, arg): the whole call is bracketed. What
 * they change is named in user memory, out of reach here: the file the
 * ioctl is on is recorded, and where more changed (another file, a
 * subvolume's whole tree) the epoch is lossy: the consumer rescans.
 */
static int wb_fs_ioctl_target(struct pt_regs *regs, struct wb_target *t,
			      u32 ops, bool lossy)
{
	t->inode = file_inode(WB_ARG(struct file *, 0));
	t->ops = ops;
	t->lossy = lossy;
	return 1;
}

/*
 * xfs_file_ioctl and its compat twin: XFS_IOC_SWAPEXT (xfs_fsr) and
 * XFS_IOC_EXCHANGE_RANGE swap data with a file named by another fd, as
 * does XFS_IOC_COMMIT_RANGE. Matched by number: the sizes in the command
 * differ between their native and compat forms and between kernels.
 */
static int wb_target_xfs_ioctl(struct pt_regs *regs, struct wb_target *t)
{
	unsigned int cmd = wb_arg(regs, 1);

	if (_IOC_TYPE(cmd) != 'X')
		return 0;
	switch (_IOC_NR(cmd)) {
	case 109:	/* XFS_IOC_SWAPEXT */
	case 129:	/* XFS_IOC_EXCHANGE_RANGE */
	case 131:	/* XFS_IOC_COMMIT_RANGE */
		return wb_fs_ioctl_target(regs, t, WBARRIER_OP_DATA |
					  WBARRIER_OP_SIZE, true);
	}
	return 0;
}

/*
 * btrfs_ioctl and its compat twin: an encoded write (btrfs receive)
 * changes the file it is on; a subvolume or snapshot made or destroyed
 * brings in or takes away a whole tree below the directory it is on; the
 * subvolume flags and received state are attributes of its root.
 */
static int wb_target_btrfs_ioctl(struct pt_regs *regs, struct wb_target *t)
{
	switch ((unsigned int)wb_arg(regs, 1)) {
	case BTRFS_IOC_ENCODED_WRITE:
		return wb_fs_ioctl_target(regs, t, WBARRIER_OP_DATA |
					  WBARRIER_OP_SIZE, false);
	case BTRFS_IOC_SNAP_CREATE:
	case BTRFS_IOC_SNAP_CREATE_V2:
	case BTRFS_IOC_SUBVOL_CREATE:
	case BTRFS_IOC_SUBVOL_CREATE_V2:
		return wb_fs_ioctl_target(regs, t, WBARRIER_OP_CREATE, true);
	case BTRFS_IOC_SNAP_DESTROY:
	case BTRFS_IOC_SNAP_DESTROY_V2:
		return wb_fs_ioctl_target(regs, t, WBARRIER_OP_REMOVE, true);
	case BTRFS_IOC_SUBVOL_SETFLAGS:
	case BTRFS_IOC_SET_RECEIVED_SUBVOL:
		return wb_fs_ioctl_target(regs, t, WBARRIER_OP_ATTR, false);
	}
	return 0;
}

/* notify_change(idmap, dentry, attr, delegated): chmod, chown, utimes, truncate */
static int wb_target_setattr(struct pt_regs *regs, struct wb_target *t)
{
	const struct iattr *attr = WB_ARG(struct iattr *, 2);

	t->inode = d_inode(WB_ARG(struct dentry *, 1));
	t->ops = WBARRIER_OP_ATTR;
	if (attr->ia_valid & ATTR_SIZE) {
		t->ops |= WBARRIER_OP_SIZE;
		wb_range_to_eof(t, min_t(u64, attr->ia_size,
					 i_size_read(t->inode)));
	}
	return 1;
}

/* (idmap, dentry, ...): xattrs, ACLs, fileattr */
static int wb_target_dentry(struct pt_regs *regs, struct wb_target *t)
{
	t->inode = d_inode(WB_ARG(struct dentry *, 1));
	return 1;
}

/* set_posix_acl(idmap, inode, type, acl) */
static int wb_target_inode(struct pt_regs *regs, struct wb_target *t)
{
	t->inode = WB_ARG(struct inode *, 1);
	return 1;
}

/* (idmap, dir, dentry, ...): mknod, mkdir, symlink, rmdir, unlink */
static int wb_target_entry(struct pt_regs *regs, struct wb_target *t)
{
	wb_entry_target(t, WB_ARG(struct inode *, 1),
			WB_ARG(struct dentry *, 2), 0);
	return 1;
}

/* vfs_link(old_dentry, idmap, dir, new_dentry, delegated) */
static int wb_target_link(struct pt_regs *regs, struct wb_target *t)
{
	wb_entry_target(t, WB_ARG(struct inode *, 2),
			WB_ARG(struct dentry *, 3), 0);
	t->inode = d_inode(WB_ARG(struct dentry *, 0));
	return 1;
}

/*
 * vfs_rename(rd): the object leaves its old name and takes the new one; an
 * object at the new name is replaced (or, for RENAME_EXCHANGE, moves the
 * other way); RENAME_WHITEOUT leaves a whiteout at the old name.
 */
static int wb_target_rename(struct pt_regs *regs, struct wb_target *t)
{
	const struct renamedata *rd = WB_ARG(struct renamedata *, 0);
	struct inode *victim = d_inode(rd->new_dentry);
	int n = 0;

	wb_entry_target(&t[n++], rd->old_dir, rd->old_dentry,
			WBARRIER_OP_RENAME_FROM);
	wb_entry_target(&t[n++], rd->new_dir, rd->new_dentry,
			WBARRIER_OP_RENAME_TO);
	t[1].inode = d_inode(rd->old_dentry);
	if (victim && (rd->flags & RENAME_EXCHANGE)) {
		wb_entry_target(&t[n++], rd->new_dir, rd->new_dentry,
				WBARRIER_OP_RENAME_FROM);
		wb_entry_target(&t[n++], rd->old_dir, rd->old_dentry,
				WBARRIER_OP_RENAME_TO);
		t[3].inode = victim;
	} else if (victim) {
		wb_entry_target(&t[n++], rd->new_dir, rd->new_dentry,
				WBARRIER_OP_REMOVE);
	}
	if (rd->flags & RENAME_WHITEOUT) {
		wb_entry_target(&t[n++], rd->old_dir, rd->old_dentry,
				WBARRIER_OP_CREATE);
		t[n - 1].inode = NULL;	/* the whiteout is a new object */
	}
	return n;
}

/*
 * fault_dirty_shared_page(vmf): every write fault on a shared file mapping,
 * after page_mkwrite; the store itself follows when the fault returns. The
 * fault makes the whole folio writable: a huge page takes stores anywhere
 * in it.
 */
static int wb_target_mmap(struct pt_regs *regs, struct wb_target *t)
{
	const struct vm_fault *vmf = WB_ARG(struct vm_fault *, 0);
	struct folio *folio;

	t->inode = file_inode(vmf->vma->vm_file);
	if (!S_ISREG(t->inode->i_mode))
		return 0;
	if (vmf->page) {
		folio = page_folio(vmf->page);
		wb_range(t, folio_pos(folio), folio_size(folio));
	} else {
		wb_range(t, (u64)vmf->pgoff << PAGE_SHIFT, PAGE_SIZE);
	}
	return 1;
}

/*
 * mmap_region(file, addr, len, vm_flags, pgoff, uf): a shared mapping that
 * may be written, of a file on a filesystem without writeback (tmpfs).
 * Nothing write-protects its pages there: a page mapped by a read fault is
 * mapped writable, and the stores that follow never fault. So the object
 * is recorded when the mapping is made, and at each barrier for as long as
 * it is mapped (wb_record_mapped()). Elsewhere the first store to a page
 * faults (fault_dirty_shared_page()), and again after each writeback.
 */
static int wb_target_mmap_region(struct pt_regs *regs, struct wb_target *t)
{
	const unsigned long may_write = VM_SHARED | VM_MAYWRITE;
	struct file *file = WB_ARG(struct file *, 0);

	if (!file || (wb_arg(regs, 3) & may_write) != may_write)
		return 0;
	t->inode = file_inode(file);
	if (!S_ISREG(t->inode->i_mode) || wb_sb_writes_back(t->inode->i_sb))
		return 0;
	wb_range(t, (u64)wb_arg(regs, 4) << PAGE_SHIFT, wb_arg(regs, 2));
	return 1;
}

/* aio_write(kiocb, iocb, vectored, compat) */
static int wb_target_aio_write(struct pt_regs *regs, struct wb_target *t)
{
	const struct kiocb *kiocb = WB_ARG(struct kiocb *, 0);
	const struct iocb *iocb = WB_ARG(struct iocb *, 1);

	t->inode = file_inode(kiocb->ki_filp);
	if (!S_ISREG(t->inode->i_mode))
		return 0;
	if (kiocb->ki_filp->f_flags & O_APPEND ||
	    iocb->aio_rw_flags & RWF_APPEND)
		/* The offset is chosen later, under the inode lock: to EOF. */
		wb_range_to_eof(t, i_size_read(t->inode));
	else if (wb_arg(regs, 2))	/* vectored: the length is in user memory */
		wb_range_to_eof(t, iocb->aio_offset);
	else
		wb_range(t, iocb->aio_offset, iocb->aio_nbytes);
	return 1;
}

/* (kiocb, ...): aio submission and every kiocb completion */
static const struct kiocb *wb_aio_kiocb(struct pt_regs *regs)
{
	return WB_ARG(struct kiocb *, 0);
}

/* aio_write() returns 0 once the kiocb is submitted: it completes later. */
static bool wb_aio_completes_later(int ret)
{
	return !ret;
}

/* io_write(req, issue_flags): the offset is in io_uring's private data */
static int wb_target_io_write(struct pt_regs *regs, struct wb_target *t)
{
	t->inode = file_inode(WB_ARG(struct io_kiocb *, 0)->file);
	return S_ISREG(t->inode->i_mode);
}

static const struct kiocb *wb_io_uring_write_kiocb(struct pt_regs *regs)
{
	return wb_io_uring_kiocb(WB_ARG(struct io_kiocb *, 0));
}

/* io_write() returns -EIOCBQUEUED when the kiocb completes (or did) by ki_complete. */
static bool wb_io_uring_completes_later(int ret)
{
	return ret == -EIOCBQUEUED;
}

/*
 * path_openat(nd, op, flags): only O_CREAT opens can create. op points to
 * fs/internal.h's struct open_flags, whose first member is the int open_flag.
 */
static int wb_scope_open(struct pt_regs *regs, struct wb_target *t)
{
	return *WB_ARG(const int *, 1) & O_CREAT;
}

static int wb_scope_always(struct pt_regs *regs, struct wb_target *t)
{
	return 1;
}

/* security_inode_create(dir, dentry, mode): before every regular create */
static int wb_target_create(struct pt_regs *regs, struct wb_target *t)
{
	wb_entry_target(t, WB_ARG(struct inode *, 0),
			WB_ARG(struct dentry *, 1), 0);
	t->inode = NULL;	/* not created yet */
	return 1;
}

#define WB_DATA		WBARRIER_OP_DATA
#define WB_SPACE	(WBARRIER_OP_DATA | WBARRIER_OP_SIZE)
#define WB_RECORD(sym, op_bits, fn, ...) \
	{ .symbol = sym, .kind = WB_HOOK_RECORD, .ops = op_bits, .target = fn, \
	  __VA_ARGS__ }
/* One target only: that target is recorded again after each wait. */
#define WB_RECORD_WAITS(sym, op_bits, fn) \
	{ .symbol = sym, .kind = WB_HOOK_RECORD, .waits = true, .ops = op_bits, \
	  .target = fn }
#define WB_ASYNC(sym, op_bits, fn, kiocb_fn, later_fn) \
	{ .symbol = sym, .kind = WB_HOOK_ASYNC, .ops = op_bits, .target = fn, \
	  .kiocb = kiocb_fn, .completes_later = later_fn }
#define WB_SCOPE(sym, fn) \
	{ .symbol = sym, .kind = WB_HOOK_SCOPE, .target = fn }
/* More than six arguments: the rest are on the stack. */
#define WB_RECORD_STACK_ARGS(sym, op_bits, fn, ...) \
	{ .symbol = sym, .kind = WB_HOOK_RECORD, .stack_args = true, \
	  .ops = op_bits, .target = fn, __VA_ARGS__ }
/* Only in some kernels (ACLs left the xattr path in 6.2): optional. */
#define WB_RECORD_IF_PRESENT(sym, op_bits, fn, ...) \
	{ .symbol = sym, .kind = WB_HOOK_RECORD, .optional = true, \
	  .ops = op_bits, .target = fn, __VA_ARGS__ }
/* A function of filesystem @fs's module, called with (file, ...). */
#define WB_RECORD_FS(fs_name, sym, fn) \
	{ .symbol = sym, .kind = WB_HOOK_RECORD, .fs = fs_name, \
	  .optional = true, .target = fn, WB_SB_FILE(0) }
/* Where the superblock is: the n-th argument, a file, dentry or inode. */
#define WB_SB_FILE(n) \
	.look = { .arg = (n), .derefs = 2, \
		  .off1 = offsetof(struct file, f_inode), \
		  .off2 = offsetof(struct inode, i_sb) }
#define WB_SB_DENTRY(n) \
	.look = { .arg = (n), .derefs = 1, \
		  .off1 = offsetof(struct dentry, d_sb) }
#define WB_SB_INODE(n) \
	.look = { .arg = (n), .derefs = 1, \
		  .off1 = offsetof(struct inode, i_sb) }

static struct wb_hook wb_hooks[] = {
	/* data */
	WB_RECORD("vfs_write", WB_DATA, wb_target_write, WB_SB_FILE(0)),
	WB_RECORD("vfs_writev", WB_DATA, wb_target_writev, WB_SB_FILE(0)),
	WB_RECORD("vfs_iter_write", WB_DATA, wb_target_iter_write,
		  WB_SB_FILE(0)),
	WB_RECORD_WAITS("iter_file_splice_write", WB_DATA, wb_target_splice),
	WB_RECORD_IF_PRESENT("__kernel_write", WB_DATA, wb_target_write,
			     WB_SB_FILE(0)),
	WB_RECORD_IF_PRESENT("__kernel_write_iter", WB_DATA,
			     wb_target_kernel_write_iter, WB_SB_FILE(0)),
	WB_RECORD_IF_PRESENT("vfs_iocb_iter_write", WB_DATA,
			     wb_target_iocb_iter_write, WB_SB_FILE(0)),
	WB_RECORD("vfs_copy_file_range", WB_SPACE, wb_target_remap,
		  WB_SB_FILE(2)),
	WB_RECORD("vfs_clone_file_range", WB_SPACE, wb_target_remap,
		  WB_SB_FILE(2)),
	WB_RECORD("vfs_dedupe_file_range_one", WB_DATA, wb_target_remap,
		  WB_SB_FILE(2)),
	WB_ASYNC("aio_write", WB_DATA, wb_target_aio_write, wb_aio_kiocb,
		 wb_aio_completes_later),
	WB_ASYNC("io_write", WB_DATA, wb_target_io_write,
		 wb_io_uring_write_kiocb, wb_io_uring_completes_later),
	WB_RECORD("fault_dirty_shared_page", WB_DATA | WBARRIER_OP_MMAP, wb_target_mmap),
	WB_RECORD("mmap_region", WB_DATA | WBARRIER_OP_MMAP,
		  wb_target_mmap_region),
	/* size, space and attributes */
	WB_RECORD("vfs_fallocate", WB_SPACE, wb_target_fallocate,
		  WB_SB_FILE(0)),
	/* filesystem ioctls that bypass the VFS helpers */
	WB_RECORD_IF_PRESENT("ext4_move_extents", WB_DATA,
			     wb_target_move_extents, WB_SB_FILE(0)),
	WB_RECORD_FS("xfs", "xfs_file_ioctl", wb_target_xfs_ioctl),
	WB_RECORD_FS("xfs", "xfs_file_compat_ioctl", wb_target_xfs_ioctl),
	WB_RECORD_FS("btrfs", "btrfs_ioctl", wb_target_btrfs_ioctl),
	WB_RECORD_FS("btrfs", "btrfs_compat_ioctl", wb_target_btrfs_ioctl),
	WB_RECORD("notify_change", 0, wb_target_setattr, WB_SB_DENTRY(1)),
	WB_RECORD_STACK_ARGS("__vfs_setxattr_locked", WBARRIER_OP_XATTR,
			     wb_target_dentry, WB_SB_DENTRY(1)),
	WB_RECORD("__vfs_removexattr_locked", WBARRIER_OP_XATTR, wb_target_dentry,
		  WB_SB_DENTRY(1)),
	WB_RECORD_IF_PRESENT("vfs_set_acl", WBARRIER_OP_XATTR,
			     wb_target_dentry, WB_SB_DENTRY(1)),
	WB_RECORD_IF_PRESENT("vfs_remove_acl", WBARRIER_OP_XATTR,
			     wb_target_dentry, WB_SB_DENTRY(1)),
	WB_RECORD("vfs_fileattr_set", WBARRIER_OP_ATTR, wb_target_dentry,
		  WB_SB_DENTRY(1)),
	/* 6.1: nfsd and ksmbd set ACLs with it, not through the xattr path */
	WB_RECORD_IF_PRESENT("set_posix_acl", WBARRIER_OP_XATTR,
			     wb_target_inode, WB_SB_INODE(1)),
	/* namespace */
	WB_RECORD("vfs_mknod", WBARRIER_OP_CREATE, wb_target_entry, WB_SB_INODE(1)),
	WB_RECORD("vfs_mkdir", WBARRIER_OP_CREATE, wb_target_entry, WB_SB_INODE(1)),
	WB_RECORD("vfs_symlink", WBARRIER_OP_CREATE, wb_target_entry,
		  WB_SB_INODE(1)),
	WB_RECORD("vfs_link", WBARRIER_OP_LINK, wb_target_link, WB_SB_INODE(2)),
	WB_RECORD("vfs_unlink", WBARRIER_OP_REMOVE, wb_target_entry, WB_SB_INODE(1)),
	WB_RECORD("vfs_rmdir", WBARRIER_OP_REMOVE, wb_target_entry, WB_SB_INODE(1)),
	WB_RECORD("vfs_rename", 0, wb_target_rename),
	/* regular creates, from code inlined into their callers */
	WB_SCOPE("path_openat", wb_scope_open),
	WB_SCOPE("vfs_create", wb_scope_always),
};

/* The modules of xfs and btrfs, once their hooks are registered. */
static struct module *wb_fs_owners[2];

static struct wb_inner_hook wb_inner_hooks[] = {
	{ "security_inode_create", WBARRIER_OP_CREATE, wb_target_create },
};

/*
 * Completions of async writes. io_req_rw_complete() too: 6.12 may inline
 * io_complete_rw() into the submitter's error path, but every completion
 * it queues runs io_req_rw_complete() later. Releasing twice is harmless.
 */
struct wb_completion_probe {
	const struct kiocb *(*kiocb)(struct pt_regs *regs);
	struct kprobe kp;
};

static struct wb_completion_probe wb_completions[] = {
	{ wb_aio_kiocb, { .symbol_name = "aio_complete_rw" } },
	{ wb_aio_kiocb, { .symbol_name = "io_complete_rw" } },
	{ wb_aio_kiocb, { .symbol_name = "io_complete_rw_iopoll" } },
	{ wb_io_uring_write_kiocb, { .symbol_name = "io_req_rw_complete" } },
};

/*
 * Waits for input inside hooked calls that may wait (WB_RECORD_WAITS):
 * pipe_wait_readable() is where a splice from a pipe sleeps until the pipe
 * has data. An instance's data points to the frame of the waiting call.
 */
static struct kretprobe wb_waits[] = {
	{ .kp.symbol_name = "pipe_wait_readable" },
};

static int wb_completion_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct wb_completion_probe *c = container_of(kp, struct wb_completion_probe, kp);

	wb_pending_release(c->kiocb(regs));
	return 0;
}

static struct super_block *wb_target_sb(const struct wb_target *t)
{
	return (t->inode ?: t->dir)->i_sb;
}

/* Enters @w's SRCU read section into @f if @t is on a watched superblock. */
static struct wb_watch *wb_frame_enter(struct wb_frame *f,
				       const struct wb_target *t)
{
	struct wb_watch *w;

	rcu_read_lock();
	w = wb_watch_find_rcu(wb_target_sb(t));
	if (w) {
		f->idx = srcu_read_lock(&w->srcu);
		/* The frame owns the section now; wb_frame_leave() leaves it. */
		__release(&w->srcu);
		/* Pairs with the barrier's smp_store_release(). */
		f->epoch = smp_load_acquire(&w->epoch);
		f->w = w;
	}
	rcu_read_unlock();
	return w;
}

/* Leaves the section that @f holds, if any. */
static void wb_frame_leave(struct wb_frame *f)
{
	/* After this, a retiring watch may be freed: do not touch it again. */
	if (f->w) {
		__acquire(&f->w->srcu);
		srcu_read_unlock(&f->w->srcu, f->idx);
		f->w = NULL;
	}
}

/* Fills @t with what a call changes; targets without ops of their own get @ops. */
static int wb_targets(int (*target)(struct pt_regs *regs, struct wb_target *t),
		      u32 ops, struct pt_regs *regs, struct wb_target *t)
{
	int i, n = target(regs, t);

	for (i = 0; i < n; i++)
		if (!t[i].ops)
			t[i].ops = ops;
	return n;
}

static void wb_record_targets(struct wb_frame *f, const struct wb_target *t,
			      int n)
{
	int i;

	for (i = 0; i < n; i++) {
		wb_record_change(f->w, f->epoch, &t[i]);
		if (t[i].lossy)
			wb_watch_lose(f->w, f->epoch);
	}
}

/* A hooked call begins; 0: its return is to be handled. */
static int __wb_hook_entry(const struct wb_hook *h, struct wb_frame *f,
			   struct pt_regs *regs)
{
	struct wb_target t[WB_MAX_TARGETS] = {};
	int n;

	f->w = NULL;
	f->kiocb = NULL;
	if (h->kind == WB_HOOK_SCOPE)
		return !h->target(regs, t);
	n = wb_targets(h->target, h->ops, regs, t);
	if (!n)
		return 1;
	/*
	 * Not watched: no return handler, and the instance is free at once. A
	 * call kept for a wait that may never end would let anyone exhaust
	 * maxactive (and make every watch lossy) by parking splices on any
	 * filesystem. A call in flight when a watch begins is not recorded.
	 */
	if (!wb_frame_enter(f, t))
		return 1;
	if (h->waits)
		container_of(f, struct wb_wait_frame, f)->t = t[0];
	wb_record_targets(f, t, n);
	if (h->kind == WB_HOOK_ASYNC) {
		f->kiocb = h->kiocb(regs);
		if (wb_pending_add(f->kiocb, f->w, f->idx)) {
			f->w = NULL;	/* the completion leaves the section */
		} else {
			/* Held to the return only: the completion may escape. */
			f->kiocb = NULL;
			wb_watch_degrade(f->w);
		}
	}
	return 0;
}

static int __wb_hook_return(const struct wb_hook *h, struct wb_frame *f,
			    struct pt_regs *regs)
{
	/*
	 * aio_write() and io_write() return an int: the upper half of %rax is
	 * not theirs (-EIOCBQUEUED comes back as 0x00000000fffffdef).
	 */
	if (f->kiocb && !h->completes_later((int)regs_return_value(regs)))
		wb_pending_release(f->kiocb);
	wb_frame_leave(f);
	return 0;
}

static const struct wb_hook *wb_hook_of(const struct kretprobe *rp)
{
	const struct wb_hook *h;

	for (h = wb_hooks; h < wb_hooks + ARRAY_SIZE(wb_hooks); h++)
		if (rp == &h->krp)
			return h;
	return NULL;
}

static bool wb_is_scope(const struct kretprobe *rp)
{
	const struct wb_hook *h = wb_hook_of(rp);

	return h && h->kind == WB_HOOK_SCOPE;
}

static bool wb_may_wait(const struct kretprobe *rp)
{
	const struct wb_hook *h = wb_hook_of(rp);

	return h && h->waits;
}

/*
 * A wait for input begins. If the innermost hooked call of this task that
 * may wait holds a section, it leaves it: it has modified nothing since its
 * last record, or what it modified is in core and recorded in the epoch it
 * read. Other waits need no return handler.
 */
static int __wb_wait_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct kretprobe_instance *caller;
	struct wb_wait_frame *wf;

	caller = wb_current_kretprobe_instance(wb_may_wait);
	if (!caller)
		return 1;
	wf = (struct wb_wait_frame *)caller->data;
	wb_frame_leave(&wf->f);
	*(struct wb_wait_frame **)ri->data = wf;
	return 0;
}

/*
 * The wait ends: the call enters the section anew, before it modifies
 * anything more, and records its change into the epoch open now.
 */
static int __wb_wait_return(struct kretprobe_instance *ri,
			    struct pt_regs *regs)
{
	struct wb_wait_frame *wf = *(struct wb_wait_frame **)ri->data;

	if (wb_frame_enter(&wf->f, &wf->t))
		wb_record_targets(&wf->f, &wf->t, 1);
	return 0;
}

static int __wb_inner_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct wb_inner_hook *h = container_of(kp, struct wb_inner_hook, kp);
	struct kretprobe_instance *ri;
	struct wb_target t[WB_MAX_TARGETS] = {};
	struct wb_frame *f;
	struct wb_watch *w;
	int n;

	n = wb_targets(h->target, h->ops, regs, t);
	if (!n)
		return 0;
	ri = wb_current_kretprobe_instance(wb_is_scope);
	if (!ri) {
		/*
		 * A caller outside every scope: the change cannot be bracketed,
		 * and may land in any later epoch.
		 */
		rcu_read_lock();
		w = wb_watch_find_rcu(wb_target_sb(t));
		if (w)
			wb_watch_degrade(w);
		rcu_read_unlock();
		return 0;
	}
	f = (struct wb_frame *)ri->data;
	if (!f->w && !wb_frame_enter(f, t))
		return 0;
	if (f->w->sb != wb_target_sb(t)) {
		wb_watch_lose(f->w, f->epoch);
		return 0;
	}
	wb_record_targets(f, t, n);
	return 0;
}

/*
 * Our handlers run with interrupts off: a kprobe hit while another handler
 * runs on the same CPU is skipped by the kprobes core, and a skipped
 * completion (often in interrupt context) would leave its section held.
 */
#define wb_irqs_off(call) ({					\
	unsigned long __flags;						\
	int __ret;							\
									\
	local_irq_save(__flags);					\
	__ret = (call);							\
	local_irq_restore(__flags);					\
	__ret;								\
})

/*
 * Whether a call of @h is on a superblock that no watch has, at a glance:
 * most calls, once any filesystem is watched, are on another one, and are
 * let go before any other work. For kretprobes; a direct-call stub looks
 * the same way, in assembly, before it saves anything.
 */
static bool wb_hook_unwatched(const struct wb_hook *h, struct pt_regs *regs)
{
	const struct wb_sb_look *l = &h->look;
	const void *p;

	if (!l->derefs)
		return false;
	p = (const void *)wb_arg(regs, l->arg);
	p = *(const void *const *)(p + l->off1);
	if (l->derefs == 2)
		p = *(const void *const *)(p + l->off2);
	return !wb_sb_maybe_watched(p);
}

static int wb_hook_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct wb_hook *h = container_of(get_kretprobe(ri), struct wb_hook, krp);

	if (wb_hook_unwatched(h, regs))
		return 1;
	return wb_irqs_off(__wb_hook_entry(h, (struct wb_frame *)ri->data,
					   regs));
}

static int wb_hook_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct wb_hook *h = container_of(get_kretprobe(ri), struct wb_hook, krp);

	return wb_irqs_off(__wb_hook_return(h, (struct wb_frame *)ri->data,
					    regs));
}

static int wb_direct_hook_enter(struct wb_direct *dc, struct pt_regs *regs,
				void *data)
{
	struct wb_hook *h = container_of(dc, struct wb_hook, dc);

	/* The stub had the quick look. */
	return !wb_irqs_off(__wb_hook_entry(h, data, regs));
}

static void wb_direct_hook_exit(struct wb_direct *dc, struct pt_regs *regs,
				void *data)
{
	struct wb_hook *h = container_of(dc, struct wb_hook, dc);

	wb_irqs_off(__wb_hook_return(h, data, regs));
}

static int wb_inner_pre(struct kprobe *kp, struct pt_regs *regs)
{
	return wb_irqs_off(__wb_inner_pre(kp, regs));
}

static int wb_wait_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return wb_irqs_off(__wb_wait_entry(ri, regs));
}

static int wb_wait_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return wb_irqs_off(__wb_wait_return(ri, regs));
}

/*
 * Probe misses skip both handlers: the changes they hid are unrecorded. A
 * missed wait probe hides none: its call keeps its section through that
 * wait, as it would without wait probes.
 */
unsigned long wb_hooks_nmissed(void)
{
	unsigned long missed = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(wb_hooks); i++)
		missed += READ_ONCE(wb_hooks[i].krp.nmissed) +
			  READ_ONCE(wb_hooks[i].krp.kp.nmissed);
	for (i = 0; i < ARRAY_SIZE(wb_inner_hooks); i++)
		missed += READ_ONCE(wb_inner_hooks[i].kp.nmissed);
	return missed;
}

/*
 * The probes that are armed only while a watch exists: all but the scope
 * hooks. The i-th of them in the order of wb_hooks_init(), or NULL for one
 * that stays armed or that this kernel lacks; *@hook is its hook, if it is
 * one, for a hook armed by direct call instead.
 *
 * A scope hook stays armed from load to unload: an open(O_CREAT) that began
 * before the probes were armed would have no scope frame, and its create
 * would degrade the new watch (see __wb_inner_pre()). Its entry handler
 * keeps an instance only for calls that may create.
 */
#define WB_NR_PROBES (ARRAY_SIZE(wb_completions) + ARRAY_SIZE(wb_hooks) + \
		      ARRAY_SIZE(wb_inner_hooks) + ARRAY_SIZE(wb_waits))

static struct kprobe *wb_switched_probe(size_t i, struct wb_hook **hook)
{
	*hook = NULL;
	if (i < ARRAY_SIZE(wb_completions))
		return &wb_completions[i].kp;
	i -= ARRAY_SIZE(wb_completions);
	if (i < ARRAY_SIZE(wb_hooks)) {
		if (!wb_hooks[i].registered ||
		    wb_hooks[i].kind == WB_HOOK_SCOPE)
			return NULL;
		*hook = &wb_hooks[i];
		return &wb_hooks[i].krp.kp;
	}
	i -= ARRAY_SIZE(wb_hooks);
	if (i < ARRAY_SIZE(wb_inner_hooks))
		return &wb_inner_hooks[i].kp;
	return &wb_waits[i - ARRAY_SIZE(wb_inner_hooks)].kp;
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

static void wb_switch_disarm(size_t i)
{
	struct wb_hook *h;
	struct kprobe *kp = wb_switched_probe(i, &h);
	int err;

	if (!kp)
		return;
	if (h && h->armed_direct) {
		if (!wb_direct_disarm(&h->dc))
			h->armed_direct = false;
		return;
	}
	err = disable_kprobe(kp);
	if (err)	/* it stays armed: it costs, it breaks nothing */
		pr_warn("cannot disarm the probe on %s: %d\n",
			kp->symbol_name, err);
}

/* Disarms the first @n switched probes, the last one first. */
static void wb_hooks_disarm_first(size_t n)
{
	while (n--)
		wb_switch_disarm(n);
}

/*
 * Arms the switched probes (completions first). When it returns, every
 * call that starts on any CPU hits them: text patching syncs every CPU.
 * Process context only: enable_kprobe() takes kprobe_mutex.
 */
int wb_hooks_arm(void)
{
	size_t i;
	int err;

	for (i = 0; i < WB_NR_PROBES; i++) {
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
		if (wb_fs_owners[i])
			module_put(wb_fs_owners[i]);
		wb_fs_owners[i] = NULL;
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
	h->dc.enter = wb_direct_hook_enter;
	h->dc.exit = wb_direct_hook_exit;
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
 * Whether calls to @symbol go through it. A compiler may clone a function
 * (name.isra.0, name.constprop.0, name.part.0) and send some or all calls
 * to the clone: a probe on the name would succeed and miss them without a
 * trace. Such a kernel is refused, naming the function. (kallsyms has no
 * exported iterator: a disarmed kprobe on each name is the lookup.)
 */
static int wb_check_not_cloned(const char *symbol)
{
	static const char *const clones[] = { "isra", "constprop", "part" };
	struct kprobe kp;
	char name[128];
	size_t i;
	int err;

	for (i = 0; i < ARRAY_SIZE(clones); i++) {
		snprintf(name, sizeof(name), "%s.%s.0", symbol, clones[i]);
		memset(&kp, 0, sizeof(kp));
		kp.symbol_name = name;
		kp.flags = KPROBE_FLAG_DISABLED;
		err = register_kprobe(&kp);
		if (err == -ENOENT)
			continue;
		if (!err)
			unregister_kprobe(&kp);
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

	for (i = 0; i < ARRAY_SIZE(wb_completions) && !err; i++)
		err = wb_check_not_cloned(wb_completions[i].kp.symbol_name);
	for (i = 0; i < ARRAY_SIZE(wb_hooks) && !err; i++)
		if (!wb_hooks[i].fs)
			err = wb_check_not_cloned(wb_hooks[i].symbol);
	for (i = 0; i < ARRAY_SIZE(wb_inner_hooks) && !err; i++)
		err = wb_check_not_cloned(wb_inner_hooks[i].symbol);
	for (i = 0; i < ARRAY_SIZE(wb_waits) && !err; i++)
		err = wb_check_not_cloned(wb_waits[i].kp.symbol_name);
	return err;
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

/*
 * Hooks on a filesystem module's functions are registered when the first
 * filesystem of the type is watched: then its module is loaded, held by the
 * mounted superblock. They stay registered, armed and disarmed with the
 * others, until this module unloads, and hold their module meanwhile so
 * that its text stays. Under wb_watches_mutex.
 */
int wb_hooks_get_fs(struct file_system_type *type)
{
	struct wb_hook *h;
	size_t slot;
	int err = 0;

	if (!strcmp(type->name, "xfs"))
		slot = 0;
	else if (!strcmp(type->name, "btrfs"))
		slot = 1;
	else
		return 0;
	if (wb_fs_owners[slot])
		return 0;
	for (h = wb_hooks; h < wb_hooks + ARRAY_SIZE(wb_hooks) && !err; h++) {
		if (!h->fs || strcmp(h->fs, type->name))
			continue;
		err = wb_check_not_cloned(h->symbol);
		if (!err)
			err = wb_hook_register(h);
	}
	if (err) {
		for (h = wb_hooks; h < wb_hooks + ARRAY_SIZE(wb_hooks); h++) {
			if (h->fs && !strcmp(h->fs, type->name) &&
			    h->registered) {
				unregister_kretprobe(&h->krp);
				h->registered = false;
			}
		}
		return err;
	}
	__module_get(type->owner);
	wb_fs_owners[slot] = type->owner;
	return 0;
}

/*
 * Completions first: no section may be handed to pending.c before. All but
 * the scope hooks are registered disarmed: wb_hooks_arm() arms them.
 */
int wb_hooks_init(void)
{
	bool direct = wb_direct_calls && wb_direct_usable();
	size_t c, i, j, k;
	int err;

	if (wb_direct_calls && !direct)
		pr_info("indirect branch tracking is on: hooking by kretprobes only\n");
	err = wb_hooks_check_not_cloned();
	if (err)
		return err;

	for (c = 0; c < ARRAY_SIZE(wb_completions); c++) {
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
	for (i = 0; i < ARRAY_SIZE(wb_hooks); i++) {
		if (wb_hooks[i].fs)
			continue;	/* wb_hooks_get_fs() */
		err = wb_hook_register(&wb_hooks[i]);
		if (err) {
			wb_hooks_unregister(c, i, 0, 0);
			return err;
		}
		if (direct && wb_hooks[i].registered)
			wb_hook_init_direct(&wb_hooks[i]);
	}
	for (j = 0; j < ARRAY_SIZE(wb_inner_hooks); j++) {
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
	for (k = 0; k < ARRAY_SIZE(wb_waits); k++) {
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
	wb_hooks_unregister(ARRAY_SIZE(wb_completions), ARRAY_SIZE(wb_hooks),
			    ARRAY_SIZE(wb_inner_hooks), ARRAY_SIZE(wb_waits));
}
