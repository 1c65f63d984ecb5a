// SPDX-License-Identifier: GPL-2.0
/*
 * The hook table: which kernel functions change what, read from their
 * arguments. A record hook's target function fills the targets of a call
 * (the object, its parent and name, a byte range); hooks.c records them
 * inside the watch's SRCU read section.
 */
#include <linux/module.h>
#include <linux/btrfs.h>
#include <linux/falloc.h>
#include <linux/fdtable.h>
#include <linux/loop.h>
#include <linux/mm.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/uio.h>
#include "hooks.h"

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
 * An append to @t's object: the offset is chosen later, under the inode
 * lock, where the record is made again (appends.c). To EOF from the size
 * now, as a start.
 */
static void wb_append_target(struct wb_target *t)
{
	wb_range_to_eof(t, i_size_read(t->inode));
	t->append = true;
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
		wb_append_target(t);
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

		/*
		 * ext4 checks that the donor is on the same filesystem only
		 * later: until then it may be any file, whose handle this
		 * context may not encode (overlayfs allocates).
		 */
		if (i && inode->i_sb != t[0].inode->i_sb)
			return 1;
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
 * subvolume's whole tree) the epoch is lossy once the call succeeded: the
 * consumer rescans. (A refused call changes nothing: a user of the
 * filesystem cannot make its epochs lossy with bogus requests.)
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
	case 123:	/* XFS_IOC_ATTRMULTI_BY_HANDLE (xfsrestore): xattrs */
		return wb_fs_ioctl_target(regs, t, WBARRIER_OP_XATTR, true);
	}
	return 0;
}

/*
 * btrfs_ioctl and its compat twin: an encoded write (btrfs receive)
 * changes the file it is on; a subvolume or snapshot made or destroyed
 * brings in or takes away a whole tree below the directory it is on; the
 * subvolume flags and received state are attributes of its root. Matched by
 * number and direction: the 32-bit forms differ in size (encoded read and
 * write share their number).
 */
static int wb_target_btrfs_ioctl(struct pt_regs *regs, struct wb_target *t)
{
	unsigned int cmd = wb_arg(regs, 1);

	if (_IOC_TYPE(cmd) != BTRFS_IOCTL_MAGIC || !(_IOC_DIR(cmd) & _IOC_WRITE))
		return 0;
	switch (_IOC_NR(cmd)) {
	case _IOC_NR(BTRFS_IOC_ENCODED_WRITE):
		if (_IOC_DIR(cmd) != _IOC_WRITE)	/* encoded read */
			return 0;
		return wb_fs_ioctl_target(regs, t, WBARRIER_OP_DATA |
					  WBARRIER_OP_SIZE, false);
	case _IOC_NR(BTRFS_IOC_SNAP_CREATE):
	case _IOC_NR(BTRFS_IOC_SNAP_CREATE_V2):
	case _IOC_NR(BTRFS_IOC_SUBVOL_CREATE):
	case _IOC_NR(BTRFS_IOC_SUBVOL_CREATE_V2):
		return wb_fs_ioctl_target(regs, t, WBARRIER_OP_CREATE, true);
	case _IOC_NR(BTRFS_IOC_SNAP_DESTROY):
	case _IOC_NR(BTRFS_IOC_SNAP_DESTROY_V2):
		return wb_fs_ioctl_target(regs, t, WBARRIER_OP_REMOVE, true);
	case _IOC_NR(BTRFS_IOC_SUBVOL_SETFLAGS):
	case _IOC_NR(BTRFS_IOC_SET_RECEIVED_SUBVOL):
		return wb_fs_ioctl_target(regs, t, WBARRIER_OP_ATTR, false);
	}
	return 0;
}

/*
 * blkdev_ioctl(file, cmd, arg) binding a loop device to a file: from then
 * on loop writes to it past the VFS's write paths, with direct I/O
 * (lo_rw_aio() calls ->write_iter) and for every discard (lo_fallocate()
 * calls ->fallocate), in any epoch. The file's watch degrades. The fd is
 * the argument, or the first field of struct loop_config; a config that
 * cannot be read here (its page not present) is missed.
 */
static int wb_target_loop_bind(struct pt_regs *regs, struct wb_target *t)
{
	unsigned long arg = wb_arg(regs, 2);
	struct file *file;
	u32 fd;

	switch ((unsigned int)wb_arg(regs, 1)) {
	case LOOP_SET_FD:
	case LOOP_CHANGE_FD:
		fd = arg;
		break;
	case LOOP_CONFIGURE:
		BUILD_BUG_ON(offsetof(struct loop_config, fd) != 0);
		if (copy_from_user_nofault(&fd, (const void __user *)arg,
					   sizeof(fd)))
			return 0;
		break;
	default:
		return 0;
	}
	/* Interrupts are off: an RCU read section, which the lookup needs. */
	file = current->files ? files_lookup_fd_raw(current->files, fd) : NULL;
	if (!file || !S_ISREG(file_inode(file)->i_mode))
		return 0;
	t->inode = file_inode(file);
	return 1;
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

/* set_posix_acl(idmap, dentry, type, acl); 6.1: (userns, inode, ...) */
static int wb_target_set_posix_acl(struct pt_regs *regs, struct wb_target *t)
{
	t->inode = wb_set_posix_acl_inode(wb_arg(regs, 1));
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
	struct inode *old_dir = wb_rename_old_dir(rd);
	struct inode *new_dir = wb_rename_new_dir(rd);
	struct inode *victim = d_inode(rd->new_dentry);
	int n = 0;

	wb_entry_target(&t[n++], old_dir, rd->old_dentry,
			WBARRIER_OP_RENAME_FROM);
	wb_entry_target(&t[n++], new_dir, rd->new_dentry,
			WBARRIER_OP_RENAME_TO);
	t[1].inode = d_inode(rd->old_dentry);
	if (victim && (rd->flags & RENAME_EXCHANGE)) {
		wb_entry_target(&t[n++], new_dir, rd->new_dentry,
				WBARRIER_OP_RENAME_FROM);
		wb_entry_target(&t[n++], old_dir, rd->old_dentry,
				WBARRIER_OP_RENAME_TO);
		t[3].inode = victim;
	} else if (victim) {
		wb_entry_target(&t[n++], new_dir, rd->new_dentry,
				WBARRIER_OP_REMOVE);
	}
	/* Not with RENAME_EXCHANGE, which the kernel refuses with it. */
	if ((rd->flags & RENAME_WHITEOUT) && !(rd->flags & RENAME_EXCHANGE)) {
		wb_entry_target(&t[n++], old_dir, rd->old_dentry,
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
 * dax_iomap_fault(vmf, size, pfnp, errp, ops): every fault on a file of a
 * DAX filesystem (ext4, xfs, virtiofs), a store to a page mapped read-only
 * too (->pfn_mkwrite): it maps the memory itself, and never reaches
 * fault_dirty_shared_page(). Recorded before the entry is mapped writable:
 * the store follows the fault. A write fault marks the entry dirty, and
 * writeback (dax_writeback_mapping_range()) write-protects it again: the
 * next store faults again. @size is the entry's: a huge one takes stores
 * anywhere in it.
 */
static int wb_target_dax_fault(struct pt_regs *regs, struct wb_target *t)
{
	const struct vm_fault *vmf = WB_ARG(struct vm_fault *, 0);
	u64 size = wb_dax_fault_size(wb_arg(regs, 1));

	/* A private mapping's write fault copies: the file is not changed. */
	if (!(vmf->flags & FAULT_FLAG_WRITE) ||
	    !(vmf->vma->vm_flags & VM_SHARED))
		return 0;
	t->inode = file_inode(vmf->vma->vm_file);
	wb_range(t, round_down((u64)vmf->pgoff << PAGE_SHIFT, size), size);
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
	t->mapped = true;
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
		wb_append_target(t);
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
 * generic_write_checks(iocb, from): where ext4, xfs, btrfs and shmem fix an
 * append's position, under the inode lock (appends.c).
 */
static int wb_at_write_checks(struct wb_direct *d, struct pt_regs *regs,
			      void *data)
{
	const struct kiocb *iocb = WB_ARG(struct kiocb *, 0);

	if (iocb->ki_flags & IOCB_APPEND)
		wb_append_fixed(file_inode(iocb->ki_filp));
	return 0;
}

/* vfs_create(): every call may create */
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
/* A decoder that may fill more than one target (see struct wb_hook). */
#define WB_TARGETS(n) \
	.max_targets = (n) + BUILD_BUG_ON_ZERO((n) > WB_MAX_TARGETS)
/* An entry for the kernels [since, before) only (see struct wb_hook). */
#define WB_KERNELS(from, to) .since = (from), .before = (to)
#define WB_SCOPE(sym, fn, ...) \
	{ .symbol = sym, .kind = WB_HOOK_SCOPE, .target = fn, __VA_ARGS__ }
/* More than six arguments: the rest are on the stack. */
#define WB_RECORD_STACK_ARGS(sym, op_bits, fn, ...) \
	{ .symbol = sym, .kind = WB_HOOK_RECORD, .stack_args = true, \
	  .ops = op_bits, .target = fn, __VA_ARGS__ }
/* Only in some kernels (ACLs left the xattr path in 6.2): optional. */
#define WB_RECORD_IF_PRESENT(sym, op_bits, fn, ...) \
	{ .symbol = sym, .kind = WB_HOOK_RECORD, .optional = true, \
	  .ops = op_bits, .target = fn, __VA_ARGS__ }
/* A function of filesystem @fs's module, called with (file, ...). */
#define WB_RECORD_FS(fs_name, sym, fn, ...) \
	{ .symbol = sym, .kind = WB_HOOK_RECORD, .fs = fs_name, \
	  .target = fn, WB_SB_FILE(0), __VA_ARGS__ }
/* Where the superblock is: the n-th argument, a file, dentry or inode. */
#define WB_SB_FILE(n) \
	.look = { .arg = (n), .derefs = 2, \
		  .off1 = offsetof(struct file, f_inode), \
		  .off2 = offsetof(struct inode, i_sb) }
#define WB_SB_KIOCB(n) \
	.look = { .arg = (n), .derefs = 3, \
		  .off1 = offsetof(struct kiocb, ki_filp), \
		  .off2 = offsetof(struct file, f_inode), \
		  .off3 = offsetof(struct inode, i_sb) }
#define WB_SB_DENTRY(n) \
	.look = { .arg = (n), .derefs = 1, \
		  .off1 = offsetof(struct dentry, d_sb) }
#define WB_SB_INODE(n) \
	.look = { .arg = (n), .derefs = 1, \
		  .off1 = offsetof(struct inode, i_sb) }

struct wb_hook wb_hooks[] = {
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
		  wb_target_mmap_region, WB_SB_FILE(0)),
	/* where an append's position is fixed */
	{ .symbol = "generic_write_checks", .kind = WB_HOOK_FIX,
	  .at = wb_at_write_checks, WB_SB_KIOCB(0) },
	/* its superblock is too far for the quick look: DAX faults only */
	WB_RECORD_IF_PRESENT("dax_iomap_fault", WB_DATA | WBARRIER_OP_MMAP,
			     wb_target_dax_fault),
	/* size, space and attributes */
	WB_RECORD("vfs_fallocate", WB_SPACE, wb_target_fallocate,
		  WB_SB_FILE(0)),
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
			     wb_target_set_posix_acl),
	/* filesystem ioctls that bypass the VFS helpers */
	WB_RECORD_IF_PRESENT("ext4_move_extents", WB_DATA,
			     wb_target_move_extents, WB_SB_FILE(0), WB_TARGETS(2)),
	WB_RECORD_FS("xfs", "xfs_file_ioctl", wb_target_xfs_ioctl),
	WB_RECORD_FS("xfs", "xfs_file_compat_ioctl", wb_target_xfs_ioctl,
		     .optional = true),
	WB_RECORD_FS("btrfs", "btrfs_ioctl", wb_target_btrfs_ioctl),
	WB_RECORD_FS("btrfs", "btrfs_compat_ioctl", wb_target_btrfs_ioctl,
		     .optional = true),
	/* ways past every hook */
	{ .symbol = "blkdev_ioctl", .kind = WB_HOOK_ESCAPE,
	  .target = wb_target_loop_bind },
	{ .symbol = "blkdev_compat_ioctl", .kind = WB_HOOK_ESCAPE,
	  .optional = true, .target = wb_target_loop_bind },
	/* namespace */
	WB_RECORD("vfs_mknod", WBARRIER_OP_CREATE, wb_target_entry, WB_SB_INODE(1)),
	WB_RECORD("vfs_mkdir", WBARRIER_OP_CREATE, wb_target_entry, WB_SB_INODE(1)),
	WB_RECORD("vfs_symlink", WBARRIER_OP_CREATE, wb_target_entry,
		  WB_SB_INODE(1)),
	WB_RECORD("vfs_link", WBARRIER_OP_LINK, wb_target_link, WB_SB_INODE(2)),
	WB_RECORD("vfs_unlink", WBARRIER_OP_REMOVE, wb_target_entry, WB_SB_INODE(1)),
	WB_RECORD("vfs_rmdir", WBARRIER_OP_REMOVE, wb_target_entry, WB_SB_INODE(1)),
	WB_RECORD("vfs_rename", 0, wb_target_rename, WB_TARGETS(4)),
	/* regular creates, from code inlined into vfs_create (and opens.c) */
	/* (idmap, dir, dentry, mode, excl): read in 6.1 and 6.12 */
	WB_SCOPE("vfs_create", wb_scope_always, WB_SB_INODE(1),
		 WB_KERNELS(0, KERNEL_VERSION(6, 13, 0))),
	/*
	 * (idmap, dentry, mode, delegated): read in 7.3; the kernels between
	 * were not, and are refused for want of an entry
	 */
	WB_SCOPE("vfs_create", wb_scope_always, WB_SB_DENTRY(1),
		 WB_KERNELS(KERNEL_VERSION(7, 3, 0), 0)),
	/*
	 * where open(O_CREAT) is past its create: armed with the hooks,
	 * before the inner probe that begins it; called directly, they hold
	 * no kprobe that an interrupt's probe would find running
	 */
	{ .symbol = "do_dentry_open", .kind = WB_HOOK_END,
	  .at = wb_open_end_opened },
	{ .symbol = "fput", .kind = WB_HOOK_END, .at = wb_open_end_dropped },
};

struct wb_inner_hook wb_inner_hooks[] = {
	{ "security_inode_create", WBARRIER_OP_CREATE, wb_target_create },
};

/*
 * Completions of async writes. io_req_rw_complete() too: 6.12 may inline
 * io_complete_rw() into the submitter's error path, but every completion
 * it queues runs io_req_rw_complete() later. Releasing twice is harmless.
 */
struct wb_completion_probe wb_completions[] = {
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
struct kretprobe wb_waits[] = {
	{ .kp.symbol_name = "pipe_wait_readable" },
};

const size_t wb_nr_hooks = ARRAY_SIZE(wb_hooks);
const size_t wb_nr_inner_hooks = ARRAY_SIZE(wb_inner_hooks);
const size_t wb_nr_completions = ARRAY_SIZE(wb_completions);
const size_t wb_nr_waits = ARRAY_SIZE(wb_waits);
