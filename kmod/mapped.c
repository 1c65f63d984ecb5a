// SPDX-License-Identifier: GPL-2.0
/*
 * Files mapped shared and writable on a filesystem without writeback
 * (tmpfs). Stores through such a mapping fault (and record) only when the
 * page was write-protected, which writeback does: on tmpfs a mapped page
 * takes stores for ever after its first fault. So every file with such a
 * mapping may change in any epoch, and is recorded in each one as it opens.
 *
 * The watch keeps those files in a set, held (ihold), filled by the
 * mmap_region() hook and, once, by a walk of the superblock's inodes when
 * the watch begins. A barrier records the ones still mapped and lets go of
 * the others: it walks the set, not every inode of the filesystem, and
 * takes no inode list lock (encoding a tmpfs handle takes inode_hash_lock,
 * which iget_locked() takes before the list lock). The set lets go of all
 * of them before the watch lets go of its superblock.
 */
#include <linux/fs.h>
#include <linux/slab.h>
#include "wbarrier.h"

struct wb_mapped {
	struct hlist_node node;
	struct inode *inode;
};

void wb_mapped_init(struct wb_watch *w)
{
	spin_lock_init(&w->mapped_lock);
	hash_init(w->mapped);
}

/* Adds @inode, whose i_count the caller knows not to be 0; under mapped_lock. */
static bool wb_mapped_add_locked(struct wb_watch *w, struct inode *inode)
{
	struct wb_mapped *m;

	if (w->mapped_closed)
		return true;
	hash_for_each_possible(w->mapped, m, node, (unsigned long)inode)
		if (m->inode == inode)
			return true;
	m = kmalloc(sizeof(*m), GFP_ATOMIC);
	if (!m)
		return false;
	ihold(inode);
	m->inode = inode;
	hash_add(w->mapped, &m->node, (unsigned long)inode);
	return true;
}

/*
 * @inode is being mapped shared and writable (probe context). If the set
 * cannot hold it, its later stores would go unrecorded: the watch degrades.
 */
void wb_mapped_add(struct wb_watch *w, struct inode *inode)
{
	bool added;

	spin_lock(&w->mapped_lock);
	added = wb_mapped_add_locked(w, inode);
	spin_unlock(&w->mapped_lock);
	if (!added)
		wb_watch_degrade(w);
}

/*
 * The files mapped before the watch began: once, after it is listed (a
 * mapping made from then on is added by the hook). The caller holds a
 * path on the superblock.
 */
void wb_mapped_seed(struct wb_watch *w, struct super_block *sb)
{
	struct inode *inode;
	bool added = true;

	if (wb_sb_writes_back(sb))
		return;
	spin_lock(&sb->s_inode_list_lock);
	list_for_each_entry(inode, &sb->s_inodes, i_sb_list) {
		if (!mapping_writably_mapped(inode->i_mapping))
			continue;
		spin_lock(&inode->i_lock);
		if (!(wb_inode_state(inode) & (I_NEW | I_FREEING | I_WILL_FREE))) {
			spin_lock(&w->mapped_lock);
			added &= wb_mapped_add_locked(w, inode);
			spin_unlock(&w->mapped_lock);
		}
		spin_unlock(&inode->i_lock);
	}
	spin_unlock(&sb->s_inode_list_lock);
	if (!added)
		wb_watch_degrade(w);
}

/*
 * Records into @epoch every file of the set that is still mapped shared and
 * writable and lets go of the others; with @close, lets go of all of them
 * and takes no more.
 */
static void wb_mapped_sweep(struct wb_watch *w, u64 epoch, bool close)
{
	struct wb_target t = { .ops = WBARRIER_OP_DATA | WBARRIER_OP_MMAP };
	struct wb_mapped *m;
	struct hlist_node *tmp;
	HLIST_HEAD(gone);
	int bkt;

	spin_lock(&w->mapped_lock);
	if (close)
		w->mapped_closed = true;
	hash_for_each_safe(w->mapped, bkt, tmp, m, node) {
		if (!close && mapping_writably_mapped(m->inode->i_mapping)) {
			t.inode = m->inode;
			wb_record_change(w, epoch, &t);
			continue;
		}
		hash_del(&m->node);
		hlist_add_head(&m->node, &gone);
	}
	spin_unlock(&w->mapped_lock);
	hlist_for_each_entry_safe(m, tmp, &gone, node) {
		iput(m->inode);
		kfree(m);
	}
}

/* At each barrier, for the epoch it opens; under the barrier mutex. */
void wb_record_mapped(struct wb_watch *w, u64 epoch)
{
	lockdep_assert_held(&w->barrier_mutex);
	wb_mapped_sweep(w, epoch, false);
}

/*
 * Lets go of every file, for good: before the watch lets go of its
 * superblock (retired or unmounted), under the barrier mutex.
 */
void wb_mapped_release(struct wb_watch *w)
{
	lockdep_assert_held(&w->barrier_mutex);
	wb_mapped_sweep(w, 0, true);
}
