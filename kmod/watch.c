// SPDX-License-Identifier: GPL-2.0
/*
 * The watch table and the barrier.
 *
 * A watch lives in wb_watches from WATCH to UNWATCH and is freed when its
 * last reference goes. Probes never take references: they find the watch
 * under RCU and hold its SRCU read section instead, which removal waits for.
 * When its superblock is shut down, the watch closes its last epoch and
 * stays listed without a superblock (unmounted) until UNWATCH.
 */
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/path.h>
#include <linux/random.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include "wbarrier.h"

unsigned int wb_max_records = 65536;
module_param_named(max_records, wb_max_records, uint, 0444);
MODULE_PARM_DESC(max_records,
		 "Change records queued per watch before its epoch turns lossy");

static LIST_HEAD(wb_watches);
static DEFINE_MUTEX(wb_watches_mutex);	/* serializes changes to wb_watches */
static u32 wb_next_id = 1;

/*
 * Drawn at load, never 0: with a watch id (never reused while loaded) it
 * names a watch for ever, so that a log can tell a watch made anew (after
 * a reboot, a reload, or UNWATCH and WATCH) from the one it followed.
 */
u64 wb_load_id __ro_after_init;

/*
 * Where UNWATCH's wait for the operations in flight runs: not in the
 * request, which would hold genl's cb_lock while a stalled writer holds the
 * watch. Module exit drains it.
 */
static struct workqueue_struct *wb_retire_wq;

int __init wb_watch_init(void)
{
	do
		wb_load_id = get_random_u64();
	while (!wb_load_id);
	wb_retire_wq = alloc_workqueue("wbarrier_retire", WQ_UNBOUND, 0);
	return wb_retire_wq ? 0 : -ENOMEM;
}

/* After wb_watch_remove_all(): waits for the unwatches still retiring. */
void wb_watch_exit(void)
{
	destroy_workqueue(wb_retire_wq);
}

/*
 * Watches listed or retiring, under wb_watches_mutex. The probes are armed
 * while there is one: without a watch a VFS call costs nothing. They are
 * armed before the first watch is listed, so that it sees every call that
 * starts after WATCH returns, and disarmed once the last one has drained
 * (wb_watch_retire()), so that no section is held by a call in flight nor
 * handed to pending.c. An unmounted watch counts until UNWATCH: the
 * shutdown's freeing_mark callback (umount.c) does not disarm.
 */
static unsigned int wb_nr_watches;

static int wb_watches_inc(void)
{
	int err;

	lockdep_assert_held(&wb_watches_mutex);
	if (!wb_nr_watches) {
		err = wb_hooks_arm();
		if (err)
			return err;
	}
	wb_nr_watches++;
	return 0;
}

static void wb_watches_dec(void)
{
	lockdep_assert_held(&wb_watches_mutex);
	if (!--wb_nr_watches)
		wb_hooks_disarm();
}

/*
 * A slot is taken before its watch is listed and cleared after it is
 * unlisted, under wb_watches_mutex, and never moves, so that a reader
 * scanning meanwhile cannot miss a listed watch; a watch waiting for its
 * mount reserves its slot, and the probe that hands it the superblock
 * writes that in. A stale superblock only sends a call to the full lookup.
 */
struct super_block *wb_sb_slots[WB_SB_SLOTS];
unsigned int wb_sb_slots_used;
unsigned int wb_sb_slotless;

/*
 * The slot of a watch waiting for its mount holds this until the probe
 * that hands it a superblock writes that in (wb_watch_attach_rcu()): no
 * superblock is ever here, and the slot is not free.
 */
static const char wb_slot_reserved;
#define WB_SB_RESERVED ((struct super_block *)&wb_slot_reserved)

/* Puts @sb, or the reservation, in a free slot of @w, if there is one. */
static void wb_sb_slot_take(struct wb_watch *w)
{
	unsigned int i;

	lockdep_assert_held(&wb_watches_mutex);
	for (i = 0; i < wb_sb_slots_used && wb_sb_slots[i]; i++)
		;
	if (i == WB_SB_SLOTS) {
		w->sb_slot = -1;
		WRITE_ONCE(wb_sb_slotless, wb_sb_slotless + 1);
		return;
	}
	w->sb_slot = i;
	WRITE_ONCE(wb_sb_slots[i], w->sb ? w->sb : WB_SB_RESERVED);
	if (i == wb_sb_slots_used)	/* pairs with wb_sb_maybe_watched() */
		smp_store_release(&wb_sb_slots_used, i + 1);
}

static void wb_sb_slot_clear(struct wb_watch *w)
{
	unsigned long flags;

	lockdep_assert_held(&wb_watches_mutex);
	/*
	 * A mount's probe that found @w before it was unlisted writes the
	 * slot under w->lock while @w waits: it waits no more, before the
	 * slot is cleared, so that a watch taking the slot next keeps it.
	 */
	spin_lock_irqsave(&w->lock, flags);
	w->waiting = false;
	spin_unlock_irqrestore(&w->lock, flags);
	if (w->sb_slot < 0)
		WRITE_ONCE(wb_sb_slotless, wb_sb_slotless - 1);
	else
		WRITE_ONCE(wb_sb_slots[w->sb_slot], NULL);
}

struct wb_watch *wb_watch_find_rcu(const struct super_block *sb)
{
	struct wb_watch *w;

	list_for_each_entry_rcu(w, &wb_watches, node)
		if (READ_ONCE(w->sb) == sb)
			return w;
	return NULL;
}

static void wb_watch_notify_work(struct work_struct *work)
{
	struct wb_watch *w = container_of(work, struct wb_watch, notify_work);

	if (test_and_clear_bit(WB_NOTIFY_OVERFLOW, &w->notify_pending))
		wb_nl_notify(w, WBARRIER_CMD_NOTIFY_OVERFLOW);
	if (test_and_clear_bit(WB_NOTIFY_RECORDS, &w->notify_pending))
		wb_nl_notify(w, WBARRIER_CMD_NOTIFY_RECORDS);
}

static void wb_watch_barrier_work(struct work_struct *work);

static void wb_watch_mount_work(struct work_struct *work);
static void wb_watch_retire_work(struct work_struct *work);

/* A watch of @sb, or of no superblock yet (watch_at_mount). */
static struct wb_watch *wb_watch_alloc(struct super_block *sb,
				       const char *path_name, bool hints)
{
	struct wb_watch *w;
	int err = -ENOMEM;

	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return ERR_PTR(-ENOMEM);
	w->path_name = kstrdup(path_name, GFP_KERNEL);
	if (!w->path_name)
		goto err_free;
	w->ring_size = wb_max_records + WB_MARKER_RESERVE;
	w->ring = kvcalloc(w->ring_size, sizeof(*w->ring), GFP_KERNEL);
	if (!w->ring)
		goto err_free_name;
	if (hints) {
		w->hints = alloc_percpu(struct wb_merge_hint);
		if (!w->hints)
			goto err_free_ring;
	}
	err = init_srcu_struct(&w->srcu);
	if (err)
		goto err_free_hints;

	refcount_set(&w->ref, 1);
	if (sb) {
		w->sb = sb;
		w->dev = new_encode_dev(sb->s_dev);
		strscpy(w->fstype, sb->s_type->name, sizeof(w->fstype));
	}
	w->epoch = 1;
	w->first_seq = 1;
	w->next_seq = 1;
	w->nmissed_mark = wb_hooks_nmissed();
	w->completions_missed = wb_completions_nmissed();
	mutex_init(&w->barrier_mutex);
	spin_lock_init(&w->lock);
	hash_init(w->merge);
	wb_mapped_init(w);
	INIT_WORK(&w->notify_work, wb_watch_notify_work);
	INIT_WORK(&w->barrier_work, wb_watch_barrier_work);
	INIT_WORK(&w->mount_work, wb_watch_mount_work);
	INIT_WORK(&w->retire_work, wb_watch_retire_work);
	wb_sync_init(w);
	wb_ring_arm_notify(w);
	return w;

err_free_hints:
	free_percpu(w->hints);
err_free_ring:
	kvfree(w->ring);
err_free_name:
	kfree(w->path_name);
err_free:
	kfree(w);
	return ERR_PTR(err);
}

static void wb_watch_free(struct wb_watch *w)
{
	cancel_work_sync(&w->notify_work);
	wb_ring_free(w);
	kvfree(w->ring);
	free_percpu(w->hints);
	cleanup_srcu_struct(&w->srcu);
	kfree(w->path_name);
	kfree(w);
}

/*
 * Filesystems whose file handles are encoded without sleeping, as probes
 * need (overlayfs, for one, may copy up or allocate with GFP_KERNEL), and
 * whether a handle is made of i_ino and i_generation alone (the merge hint,
 * record.c): btrfs adds the subvolume, whose snapshots share both.
 */
static const struct wb_fs_type {
	const char *name;
	bool fh_ino_gen;
} wb_fs_types[] = {
	{ "tmpfs", true }, { "ext4", true }, { "ext2", true },
	{ "ext3", true }, { "xfs", true }, { "btrfs", false },
};

static const struct wb_fs_type *wb_fs_type(const struct super_block *sb)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(wb_fs_types); i++)
		if (!strcmp(sb->s_type->name, wb_fs_types[i].name))
			return &wb_fs_types[i];
	return NULL;
}

struct wb_watch *wb_watch_create(const char *path_name,
				 struct netlink_ext_ack *extack)
{
	const struct wb_fs_type *type;
	struct wb_watch *w, *other;
	struct path path;
	int err;

	err = kern_path(path_name, LOOKUP_FOLLOW, &path);
	if (err) {
		if (err == -ENOENT)
			NL_SET_ERR_MSG(extack, "no such path");
		return ERR_PTR(err);
	}
	/* Records identify objects by file handle: it must be decodable. */
	if (!path.dentry->d_sb->s_export_op) {
		NL_SET_ERR_MSG(extack,
			       "this filesystem cannot encode file handles");
		w = ERR_PTR(-EOPNOTSUPP);
		goto out;
	}
	type = wb_fs_type(path.dentry->d_sb);
	if (!type) {
		NL_SET_ERR_MSG(extack,
			       "this filesystem type is not supported: tmpfs, ext2/3/4, xfs and btrfs are");
		w = ERR_PTR(-EOPNOTSUPP);
		goto out;
	}
	w = wb_watch_alloc(path.dentry->d_sb, path_name, type->fh_ino_gen);
	if (IS_ERR(w))
		goto out;

	mutex_lock(&wb_watches_mutex);
	list_for_each_entry(other, &wb_watches, node) {
		if (other->sb == w->sb) {
			mutex_unlock(&wb_watches_mutex);
			wb_watch_free(w);
			NL_SET_ERR_MSG(extack,
				       "this filesystem is already watched");
			w = ERR_PTR(-EEXIST);
			goto out;
		}
	}
	err = wb_watches_inc();
	if (err) {
		mutex_unlock(&wb_watches_mutex);
		wb_watch_free(w);
		NL_SET_ERR_MSG(extack, "cannot arm the probes");
		w = ERR_PTR(err);
		goto out;
	}
	err = wb_hooks_get_fs(path.dentry->d_sb->s_type);
	if (err) {
		wb_watches_dec();
		mutex_unlock(&wb_watches_mutex);
		wb_watch_free(w);
		NL_SET_ERR_MSG(extack, "cannot hook this filesystem's own ioctls");
		w = ERR_PTR(err);
		goto out;
	}
	/* Still under the mutex: an unmark cannot come before the listing. */
	err = wb_sb_mark(w);
	if (err) {
		wb_watches_dec();
		mutex_unlock(&wb_watches_mutex);
		wb_watch_put(w);
		NL_SET_ERR_MSG(extack, "cannot mark the superblock");
		w = ERR_PTR(err);
		goto out;
	}
	w->id = wb_next_id++;
	refcount_inc(&w->ref);		/* the caller's */
	wb_sb_slot_take(w);
	list_add_tail_rcu(&w->node, &wb_watches);
	mutex_unlock(&wb_watches_mutex);
	wb_mapped_seed(w, path.dentry->d_sb);
out:
	path_put(&path);
	return w;
}

/*
 * A watch of watch_at_mount (atmount.c): listed, and the probes armed, but
 * with no superblock until one with @uuid is mounted.
 */
int wb_watch_create_waiting(const uuid_t *uuid)
{
	char name[48];
	struct wb_watch *w;
	int err;

	snprintf(name, sizeof(name), "UUID=%pUb", uuid);
	w = wb_watch_alloc(NULL, name, true);
	if (IS_ERR(w))
		return PTR_ERR(w);
	uuid_copy(&w->uuid, uuid);
	w->waiting = true;
	w->mark_gone = true;		/* no mark until the mount */
	mutex_lock(&wb_watches_mutex);
	err = wb_watches_inc();
	if (err) {
		mutex_unlock(&wb_watches_mutex);
		wb_watch_free(w);
		return err;
	}
	w->id = wb_next_id++;
	wb_sb_slot_take(w);
	list_add_tail_rcu(&w->node, &wb_watches);
	mutex_unlock(&wb_watches_mutex);
	return 0;
}

/*
 * watch_at_mount: registers the hooks of the filesystem type @name, whose
 * code is loaded, while a watch is listed (the next watch of the type
 * registers them otherwise). Not under wb_watches_mutex: get_fs_type() may
 * wait for the type's module to finish loading, and so for the module
 * notifier that calls this.
 */
int wb_watch_hook_fs(const char *name)
{
	struct file_system_type *type = get_fs_type(name);
	int err = 0;

	if (!type)
		return -ENOENT;
	mutex_lock(&wb_watches_mutex);
	if (wb_nr_watches)
		err = wb_hooks_get_fs(type);
	mutex_unlock(&wb_watches_mutex);
	module_put(type->owner);	/* the hooks hold their own */
	return err;
}

bool wb_watch_waiting(struct wb_watch *w)
{
	return READ_ONCE(w->waiting);
}

/*
 * Called from the probe on vfs_get_tree(), under RCU, with @sb fresh from
 * its filesystem and not mounted anywhere yet: the watch waiting for its
 * uuid takes it. Probes see it from here on, before the mount can be
 * reached; what sleeps is left to mount_work, which holds @sb active (its
 * shutdown would end the watch through a mark not yet there). The watch was
 * allocated with merge hints, not knowing the type: a type whose handles
 * are not made of i_ino and i_generation alone (btrfs: the subvolume too)
 * drops them here, before any probe can find the watch by @sb.
 */
void wb_watch_attach_rcu(struct super_block *sb)
{
	const struct wb_fs_type *type = wb_fs_type(sb);
	unsigned long flags;
	struct wb_watch *w;
	bool taken = false;

	if (!type || !sb->s_export_op)
		return;
	/*
	 * Watched already: a second fresh-looking get_tree of the device
	 * (fsconfig's create twice, not yet mounted). The caller holds
	 * s_umount: the first one's attach is done and seen.
	 */
	if (wb_watch_find_rcu(sb))
		return;
	list_for_each_entry_rcu(w, &wb_watches, node) {
		if (!READ_ONCE(w->waiting) || !uuid_equal(&w->uuid, &sb->s_uuid))
			continue;
		spin_lock_irqsave(&w->lock, flags);
		if (w->waiting) {
			/*
			 * A type whose own hooks are not in place yet may see
			 * its ioctls pass before mount_work registers them.
			 */
			w->at_mount = wb_hooks_fs_ready(sb->s_type);
			w->dev = new_encode_dev(sb->s_dev);
			strscpy(w->fstype, sb->s_type->name, sizeof(w->fstype));
			w->sb_err = errseq_sample(&sb->s_wb_err);
			/* Misses while it waited are no loss of this mount's. */
			w->nmissed_mark = wb_hooks_nmissed();
			w->completions_missed = wb_completions_nmissed();
			if (!type->fh_ino_gen) {
				/* Callable in atomic context; nothing read it. */
				free_percpu(w->hints);
				w->hints = NULL;
			}
			atomic_inc(&sb->s_active);	/* the caller holds one */
			w->mount_sb = sb;
			refcount_inc(&w->ref);		/* mount_work's */
			if (w->sb_slot >= 0)
				WRITE_ONCE(wb_sb_slots[w->sb_slot], sb);
			smp_store_release(&w->sb, sb);	/* after the fields */
			/* After sb: BARRIER sees "waiting" or the superblock. */
			WRITE_ONCE(w->waiting, false);
			taken = true;
		}
		spin_unlock_irqrestore(&w->lock, flags);
		if (taken)
			queue_work(wb_unbound_wq, &w->mount_work);
		return;
	}
}

static void wb_watch_set_mark_gone(struct wb_watch *w, bool gone)
{
	unsigned long flags;

	spin_lock_irqsave(&w->lock, flags);
	w->mark_gone = gone;
	spin_unlock_irqrestore(&w->lock, flags);
}

/*
 * The sleeping half of a mount that @w took: the superblock's mark and the
 * type's own hooks. If that fails, the watch cannot learn of the
 * shutdown: it lets go of the superblock as an unmount would, its open
 * epoch lossy.
 */
static void wb_watch_mounted(struct wb_watch *w, struct super_block *sb)
{
	int err;

	mutex_lock(&wb_watches_mutex);
	mutex_lock(&w->barrier_mutex);
	if (w->sb != sb || w->unlisted) {	/* being unwatched */
		mutex_unlock(&w->barrier_mutex);
		mutex_unlock(&wb_watches_mutex);
		return;
	}
	err = wb_hooks_get_fs(sb->s_type);
	if (!err) {
		wb_watch_set_mark_gone(w, false);
		err = wb_sb_mark(w);
		if (err)
			wb_watch_set_mark_gone(w, true);
	}
	mutex_unlock(&w->barrier_mutex);
	mutex_unlock(&wb_watches_mutex);
	if (!err) {
		pr_info("watch %u: began at the mount of %s (%pUb)\n",
			w->id, sb->s_id, &sb->s_uuid);
		return;
	}
	pr_err("watch %u: cannot follow %s (%pUb) after its mount: %d; its epochs are lossy\n",
	       w->id, sb->s_id, &sb->s_uuid, err);
	wb_watch_degrade(w);
	wb_watch_unmounted(w);
}

static void wb_watch_mount_work(struct work_struct *work)
{
	struct wb_watch *w = container_of(work, struct wb_watch, mount_work);
	struct super_block *sb = w->mount_sb;

	wb_watch_mounted(w, sb);
	/* Before the superblock may go: the next mount finds one waiting. */
	if (!READ_ONCE(w->unlisted))
		wb_atmount_rearm(&w->uuid);
	/* The last reference, if the mount failed or was undone meanwhile. */
	deactivate_super(sb);
	wb_watch_put(w);
}

static struct wb_watch *wb_watch_lookup(u32 id)
{
	struct wb_watch *w;

	lockdep_assert_held(&wb_watches_mutex);
	list_for_each_entry(w, &wb_watches, node)
		if (w->id == id)
			return w;
	return NULL;
}

struct wb_watch *wb_watch_get(u32 id)
{
	struct wb_watch *w;

	mutex_lock(&wb_watches_mutex);
	w = wb_watch_lookup(id);
	if (w)
		refcount_inc(&w->ref);
	mutex_unlock(&wb_watches_mutex);
	return w;
}

struct wb_watch *wb_watch_get_by_sb(const struct super_block *sb)
{
	struct wb_watch *w, *found = NULL;

	mutex_lock(&wb_watches_mutex);
	list_for_each_entry(w, &wb_watches, node) {
		if (READ_ONCE(w->sb) == sb) {
			refcount_inc(&w->ref);
			found = w;
			break;
		}
	}
	mutex_unlock(&wb_watches_mutex);
	return found;
}

void wb_watch_put(struct wb_watch *w)
{
	if (refcount_dec_and_test(&w->ref))
		wb_watch_free(w);
}

/*
 * After @w is unlinked, lets go of its superblock (a barrier holding a
 * reference may be walking it), then waits: first for every probe that may
 * have found it (they run with preemption off), then for every operation
 * that entered its SRCU read section. After that no probe touches @w again,
 * and its mark goes: the superblock may be shut down from then on. If @w
 * was the last watch, the probes are disarmed.
 */
static void wb_watch_retire(struct wb_watch *w, bool notify)
{
	/*
	 * It waits no more (wb_sb_slot_clear()); a mount that attached it
	 * first is let go of below.
	 */
	mutex_lock(&w->barrier_mutex);
	wb_mapped_release(w);
	WRITE_ONCE(w->sb, NULL);
	mutex_unlock(&w->barrier_mutex);
	synchronize_rcu();
	flush_work(&w->mount_work);
	wb_pending_wait(w);
	/* A barrier under way closes its epoch; none can begin any more. */
	flush_work(&w->barrier_work);
	/* A sync under way ends; one still to begin finds no superblock. */
	flush_work(&w->sync_work);
	wb_sb_unmark(w);
	mutex_lock(&wb_watches_mutex);
	wb_watches_dec();
	mutex_unlock(&wb_watches_mutex);
	if (notify)
		wb_nl_notify(w, WBARRIER_CMD_NOTIFY_UNWATCH);
	wb_watch_put(w);
}

static void wb_watch_retire_work(struct work_struct *work)
{
	wb_watch_retire(container_of(work, struct wb_watch, retire_work), true);
}

/*
 * Unlists the watch @id and returns: a worker waits for its operations in
 * flight, frees it and announces NOTIFY_UNWATCH. Until then its hooks stay
 * armed, and the filesystem can be watched anew.
 */
int wb_watch_remove(u32 id)
{
	struct wb_watch *w;

	mutex_lock(&wb_watches_mutex);
	w = wb_watch_lookup(id);
	if (w) {
		list_del_rcu(&w->node);
		w->unlisted = true;
		wb_sb_slot_clear(w);
	}
	mutex_unlock(&wb_watches_mutex);
	if (!w)
		return -ENOENT;
	queue_work(wb_retire_wq, &w->retire_work);
	return 0;
}

/* At module exit, after the netlink family is gone: nobody to notify. */
void wb_watch_remove_all(void)
{
	struct wb_watch *w;

	for (;;) {
		mutex_lock(&wb_watches_mutex);
		w = list_first_entry_or_null(&wb_watches, struct wb_watch, node);
		if (w) {
			list_del_rcu(&w->node);
			w->unlisted = true;
			wb_sb_slot_clear(w);
		}
		mutex_unlock(&wb_watches_mutex);
		if (!w)
			return;
		wb_watch_retire(w, false);
	}
}

/* Calls @fn for each watch with an id of at least @start_id, in id order. */
int wb_watch_for_each(int (*fn)(struct wb_watch *w, void *arg), void *arg,
		      u32 start_id)
{
	struct wb_watch *w;
	int err = 0;

	mutex_lock(&wb_watches_mutex);
	list_for_each_entry(w, &wb_watches, node) {
		if (w->id < start_id)
			continue;
		err = fn(w, arg);
		if (err)
			break;
	}
	mutex_unlock(&wb_watches_mutex);
	return err;
}

/*
 * Makes the socket (@net, @portid) the one that acknowledges the records of
 * @w, unless another one is: -EBUSY. A second acknowledging reader would
 * free records the first one has not read, which it could only report as
 * lost.
 */
int wb_watch_claim_reader(struct wb_watch *w, const struct net *net,
			  u32 portid)
{
	unsigned long flags;
	int err = 0;

	spin_lock_irqsave(&w->lock, flags);
	if (!w->reader_net) {
		w->reader_net = net;
		w->reader_portid = portid;
	} else if (w->reader_net != net || w->reader_portid != portid) {
		err = -EBUSY;
	}
	spin_unlock_irqrestore(&w->lock, flags);
	return err;
}

struct wb_reader {
	const struct net *net;
	u32 portid;
};

static int wb_watch_release_one(struct wb_watch *w, void *arg)
{
	const struct wb_reader *r = arg;
	unsigned long flags;

	spin_lock_irqsave(&w->lock, flags);
	if (w->reader_net == r->net && w->reader_portid == r->portid)
		w->reader_net = NULL;
	spin_unlock_irqrestore(&w->lock, flags);
	return 0;
}

/* The socket (@net, @portid) is closed: it acknowledges nothing any more. */
void wb_watch_release_reader(const struct net *net, u32 portid)
{
	struct wb_reader r = { .net = net, .portid = portid };

	wb_watch_for_each(wb_watch_release_one, &r, 0);
}

/*
 * A record of @epoch could not be queued. Called from probes, so atomic.
 * The lossy flags are kept by epoch parity: the barrier clears the slot of
 * the epoch it opens before any operation can read that epoch.
 */
void wb_watch_lose(struct wb_watch *w, u64 epoch)
{
	unsigned long flags;

	WRITE_ONCE(w->lossy[epoch & 1], true);
	spin_lock_irqsave(&w->lock, flags);
	w->lost++;
	w->overflow_epoch = epoch;
	spin_unlock_irqrestore(&w->lock, flags);
	if (!test_and_set_bit(WB_NOTIFY_OVERFLOW, &w->notify_pending))
		schedule_work(&w->notify_work);
}

/* Called from probes, so atomic. Reported once per watch in the kernel log. */
void wb_watch_degrade(struct wb_watch *w)
{
	if (!xchg(&w->degraded, true))
		pr_warn("watch %u: a change escaped its barrier section: every epoch is lossy until the filesystem is watched anew\n",
			w->id);
}

/* Whether the open epoch @epoch lost records so far. */
bool wb_watch_lossy(struct wb_watch *w, u64 epoch)
{
	return READ_ONCE(w->lossy[epoch & 1]) || READ_ONCE(w->degraded);
}

/*
 * What closing an epoch takes, allocated before the next one opens: the
 * epoch-closed marker, and the notification, so that a barrier's waiter is
 * never left without one (a multicast that fails to reach a socket sets
 * ENOBUFS on it: the waiter learns that too).
 */
static int wb_closing_alloc(struct wb_closing *cl)
{
	cl->marker = wb_record_alloc_marker();
	cl->skb = cl->marker ? wb_nl_closed_alloc() : NULL;
	if (!cl->skb) {
		kfree(cl->marker);
		return -ENOMEM;
	}
	return 0;
}

static void wb_closing_free(struct wb_closing *cl)
{
	kfree(cl->marker);
	nlmsg_free(cl->skb);
}

/*
 * Opens epoch N+1 (N, the open one, is to be closed with @cl): new
 * operations record N+1 from now on. N closes once every operation that
 * read it has left its section (wb_epoch_close()).
 */
static int wb_epoch_open_next(struct wb_watch *w, const struct wb_closing *cl)
{
	u64 epoch = w->epoch;

	lockdep_assert_held(&w->barrier_mutex);
	if (!wb_ring_has_room_for_marker(w))
		return -ENOBUFS;
	w->closing = epoch;
	w->closing_with = *cl;
	w->closing_missed = wb_hooks_nmissed();
	WRITE_ONCE(w->lossy[(epoch + 1) & 1], false);
	smp_store_release(&w->epoch, epoch + 1);
	wb_record_mapped(w, epoch + 1);
	return 0;
}

/*
 * Closes the closing epoch, whose operations have all left their sections
 * (the caller waited for the SRCU after wb_epoch_open_next()): queues its
 * marker, which the ring has room for (only barriers queue markers, one at
 * a time).
 *
 * A probe miss cannot be tied to a superblock, and the change it hid may
 * land in any later epoch: any miss between the read before the previous
 * barrier's flip and the end of this wait degrades the watch.
 */
static void wb_epoch_close(struct wb_watch *w, struct wb_closed *c)
{
	struct wb_record *marker = w->closing_with.marker;

	lockdep_assert_held(&w->barrier_mutex);
	if (wb_hooks_nmissed() != w->nmissed_mark)
		wb_watch_degrade(w);
	w->nmissed_mark = w->closing_missed;
	marker->epoch = w->closing;
	marker->lossy = wb_watch_lossy(w, w->closing);
	wb_ring_queue_marker(w, marker);
	c->epoch = w->closing;
	c->lossy = marker->lossy;
	c->next_seq = marker->seq + 1;
	w->closing = 0;
	c->skb = w->closing_with.skb;
	w->closing_with = (struct wb_closing){};
}

/*
 * A barrier's second half, on a worker: the netlink request that opened the
 * next epoch has returned, and what this waits for (a write parked in a
 * page fault, a frozen filesystem) holds no lock and no request of anyone's.
 */
static void wb_watch_barrier_work(struct work_struct *work)
{
	struct wb_watch *w = container_of(work, struct wb_watch, barrier_work);
	struct wb_closed c = {};

	wb_pending_wait(w);
	mutex_lock(&w->barrier_mutex);
	if (w->closing) {	/* else the unmount closed it meanwhile */
		wb_epoch_close(w, &c);
		/* Under the mutex: announced before any later epoch. */
		wb_nl_notify_closed(w, &c);
	}
	mutex_unlock(&w->barrier_mutex);
	wb_watch_put(w);
}

/*
 * The barrier: opens epoch N+1 and returns N in @closing. N is closed in
 * the background: its marker is queued and WBARRIER_CMD_NOTIFY_EPOCH_CLOSED
 * sent once its operations have finished. EBUSY while another barrier's
 * epoch is closing, ENODEV once unmounted.
 */
int wb_watch_barrier(struct wb_watch *w, u64 *closing)
{
	struct wb_closing cl;
	int err;

	err = wb_closing_alloc(&cl);
	if (err)
		return err;
	mutex_lock(&w->barrier_mutex);
	if (w->unmounted)
		err = -ENODEV;
	else if (wb_watch_waiting(w))
		err = -EAGAIN;
	else if (!w->sb)
		err = -ENOENT;	/* being unwatched */
	else if (w->closing)
		err = -EBUSY;
	else
		err = wb_epoch_open_next(w, &cl);
	if (!err) {
		*closing = w->closing;
		refcount_inc(&w->ref);	/* the worker's */
		if (!queue_work(wb_unbound_wq, &w->barrier_work))
			wb_watch_put(w);	/* queued already: it closes this one */
	}
	mutex_unlock(&w->barrier_mutex);
	if (err)
		wb_closing_free(&cl);
	return err;
}

/*
 * The superblock of @w is being shut down (umount.c), or UNWATCH is
 * destroying the mark after retiring @w. In the first case @w lets go of
 * the superblock, closes its last epoch (no operation can be in flight on
 * a superblock being shut down, but one may still be leaving its section)
 * and announces it. If the epoch cannot be closed, it stays open for good:
 * consumers see it unsealed and rescan.
 */
void wb_watch_unmounted(struct wb_watch *w)
{
	struct wb_closed pending, last;
	struct wb_closing cl;
	int err;

	mutex_lock(&w->barrier_mutex);
	if (!w->sb) {
		mutex_unlock(&w->barrier_mutex);
		return;
	}
	wb_mapped_release(w);
	WRITE_ONCE(w->sb, NULL);
	/* Probes that found @w have entered its section. */
	synchronize_rcu();
	w->unmounted = true;
	if (w->closing) {	/* a barrier's epoch closes first */
		wb_pending_wait(w);
		wb_epoch_close(w, &pending);
		wb_nl_notify_closed(w, &pending);
	}
	err = wb_closing_alloc(&cl);
	if (!err) {
		err = wb_epoch_open_next(w, &cl);
		if (err)
			wb_closing_free(&cl);
	}
	if (!err) {
		wb_pending_wait(w);
		wb_epoch_close(w, &last);
		wb_nl_notify_closed(w, &last);
	}
	mutex_unlock(&w->barrier_mutex);
	if (err) {
		pr_warn("watch %u: filesystem unmounted, its last epoch could not be closed: %d\n",
			w->id, err);
	}
	wb_nl_notify(w, WBARRIER_CMD_NOTIFY_UNMOUNT);
}
