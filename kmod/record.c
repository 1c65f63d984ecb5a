// SPDX-License-Identifier: GPL-2.0
/*
 * Record building and the per-watch ring.
 *
 * Change records are built in probe context: GFP_ATOMIC, and any failure
 * marks the record's epoch lossy instead of losing it silently. The ring
 * holds pointers indexed by sequence number, so a dump resumes at its cursor
 * without walking.
 *
 * Within an epoch, a data, size or attribute change of an object that has a
 * record no reader was sent yet merges into it (ops OR-ed, ranges joined):
 * a hot file costs one record per epoch, not one per write. Namespace
 * records are never merged: each name change stays.
 */
#include <linux/backing-dev.h>
#include <linux/jhash.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include "wbarrier.h"

/*
 * A reader is told that records wait (WBARRIER_CMD_NOTIFY_RECORDS) once
 * this many were queued since its last read began, or as soon as an epoch
 * closes; records below the watermark wait for the reader's own schedule.
 */
static unsigned int wb_notify_records = 1;
module_param_named(notify_records, wb_notify_records, uint, 0644);
MODULE_PARM_DESC(notify_records,
		 "Records queued since the last read before readers are notified (an epoch close always notifies)");

/* A file handle encoded on the stack, before its length is known. */
struct wb_fh {
	union {
		struct fid fid;
		u8 bytes[WBARRIER_FH_MAX];
	};
	int type;
	int len;			/* bytes */
};

static bool wb_encode_fh(struct inode *inode, struct wb_fh *fh)
{
	int words = WBARRIER_FH_MAX / 4;

	fh->type = wb_encode_inode_fh(inode, &fh->fid, &words);
	fh->len = words * 4;
	return fh->type > 0 && fh->type != FILEID_INVALID &&
	       fh->len <= WBARRIER_FH_MAX;
}

#define WB_MERGEABLE_OPS (WBARRIER_OP_DATA | WBARRIER_OP_SIZE | \
			  WBARRIER_OP_ATTR | WBARRIER_OP_XATTR | \
			  WBARRIER_OP_MMAP)

static bool wb_mergeable(const struct wb_target *t)
{
	return t->inode && !t->name && !(t->ops & ~WB_MERGEABLE_OPS);
}

static u32 wb_fh_key(const struct wb_fh *fh)
{
	return jhash(fh->bytes, fh->len, fh->type);
}

/* Joins [offset, offset + length) into @rec's range; neither passes U64_MAX. */
static void wb_range_join(struct wb_record *rec, const struct wb_target *t)
{
	u64 end;

	if (!t->has_range)
		return;
	if (!rec->has_range) {
		rec->has_range = true;
		rec->offset = t->offset;
		rec->length = t->length;
		return;
	}
	end = max(rec->offset + rec->length, t->offset + t->length);
	rec->offset = min(rec->offset, t->offset);
	rec->length = end - rec->offset;
}

/*
 * The merge hint: a file written again and again within an epoch costs no
 * file handle, hash or lock when the record this CPU last merged it into
 * already covers the write. That is a merge that would change nothing, so
 * skipping it is right when such a merge is, that is when:
 *
 * - the object is the same: its handle is made of i_ino and i_generation
 *   alone (w->hints is NULL on other filesystems: never allocated, or, for
 *   a watch of watch_at_mount, freed as the mount attaches), so equal values
 *   mean an equal handle, whatever inode (freed, reused) carries them;
 * - the record is of the frame's epoch and still mergeable: not sent to a
 *   reader (seq > read_seq) nor trimmed (seq >= first_seq). Both counters
 *   only grow, so both held when the first of them was read: the skip is
 *   the merge done at that moment. The record itself is not touched (it may
 *   be freed meanwhile), only what it covered when the hint was taken,
 *   which merges only widen.
 *
 * The hooks record with interrupts off (hooks.c), wb_record_mapped() under
 * a spinlock, and nothing records in interrupt context: nothing else uses
 * this CPU's hint meanwhile.
 */
static bool wb_hint_covers(struct wb_watch *w, u64 epoch,
			   const struct wb_target *t)
{
	const struct wb_merge_hint *h;

	if (!w->hints)
		return false;
	lockdep_assert_preemption_disabled();
	h = this_cpu_ptr(w->hints);
	if (h->epoch != epoch || h->ino != t->inode->i_ino ||
	    h->generation != READ_ONCE(t->inode->i_generation) ||
	    t->ops & ~h->ops)
		return false;
	if (t->has_range && (!h->has_range || t->offset < h->offset ||
			     t->offset + t->length > h->end))
		return false;
	return h->seq > READ_ONCE(w->read_seq) &&
	       h->seq >= READ_ONCE(w->first_seq);
}

/* Takes what @rec covers into @h; @rec is still ours, or under the lock. */
static void wb_hint_take(struct wb_merge_hint *h, const struct wb_record *rec)
{
	h->epoch = rec->epoch;
	h->ops = rec->ops;
	h->has_range = rec->has_range;
	h->offset = rec->offset;
	h->end = rec->offset + rec->length;
}

/*
 * Stores @h as this CPU's hint for @inode, which had i_generation @gen
 * before its handle was encoded; not if it has another now, since the
 * handle may be of either.
 */
static void wb_hint_store(struct wb_watch *w, struct wb_merge_hint *h,
			  const struct inode *inode, u32 gen)
{
	if (!w->hints || READ_ONCE(inode->i_generation) != gen)
		return;
	h->ino = inode->i_ino;
	h->generation = gen;
	*this_cpu_ptr(w->hints) = *h;
}

/*
 * Merges @t into a record of @epoch for the same object that no reader has
 * been sent, and fills @hint with what it covers; false if there is none.
 * Entries that can never be merged into again (older epochs, already read)
 * are dropped from the table on the way.
 */
static bool wb_ring_merge(struct wb_watch *w, u64 epoch, u32 key,
			  const struct wb_fh *fh, const struct wb_target *t,
			  struct wb_merge_hint *hint)
{
	struct wb_record *rec;
	struct hlist_node *tmp;
	unsigned long flags;
	bool merged = false;

	spin_lock_irqsave(&w->lock, flags);
	hash_for_each_possible_safe(w->merge, rec, tmp, merge_node, key) {
		if (rec->epoch < epoch || rec->seq <= w->read_seq) {
			hash_del(&rec->merge_node);
			continue;
		}
		if (rec->epoch != epoch || rec->merge_key != key ||
		    rec->fh_type != fh->type || rec->fh_len != fh->len ||
		    memcmp(wb_record_fh(rec), fh->bytes, fh->len))
			continue;
		rec->ops |= t->ops;
		wb_range_join(rec, t);
		wb_hint_take(hint, rec);
		hint->seq = rec->seq;
		merged = true;
		break;
	}
	spin_unlock_irqrestore(&w->lock, flags);
	return merged;
}

static u64 wb_ring_used(const struct wb_watch *w)
{
	return w->next_seq - w->first_seq;
}

/*
 * Queues @rec unless the ring is full past @limit; returns its sequence
 * number, or 0 if the ring was full. Once queued, @rec is the ring's.
 */
static u64 wb_ring_queue(struct wb_watch *w, struct wb_record *rec, u64 limit)
{
	unsigned long flags;
	bool due;
	u64 seq;

	spin_lock_irqsave(&w->lock, flags);
	if (wb_ring_used(w) >= limit) {
		spin_unlock_irqrestore(&w->lock, flags);
		return 0;
	}
	seq = w->next_seq++;
	rec->seq = seq;
	w->ring[rec->seq % w->ring_size] = rec;
	if (rec->mergeable)
		hash_add(w->merge, &rec->merge_node, rec->merge_key);
	w->emitted++;
	due = rec->type == WBARRIER_REC_EPOCH_CLOSED ||
	      w->next_seq - w->notify_from >= READ_ONCE(wb_notify_records);
	spin_unlock_irqrestore(&w->lock, flags);

	if (due && test_and_clear_bit(WB_NOTIFY_ARMED, &w->notify_pending)) {
		set_bit(WB_NOTIFY_RECORDS, &w->notify_pending);
		schedule_work(&w->notify_work);
	}
	return seq;
}

/* Merges @t into a record, or queues a new one. */
static noinline void wb_record_encoded(struct wb_watch *w, u64 epoch,
				       const struct wb_target *t)
{
	struct wb_merge_hint hint;
	struct wb_fh fh, parent;
	struct wb_record *rec;
	bool mergeable = wb_mergeable(t);
	size_t name_len = 0;
	u32 key = 0, gen = 0;
	u8 *p;

	if (mergeable)
		gen = READ_ONCE(t->inode->i_generation);
	fh.len = 0;
	parent.len = 0;
	if (t->inode && !wb_encode_fh(t->inode, &fh))
		goto lost;
	if (t->dir && !wb_encode_fh(t->dir, &parent))
		goto lost;
	if (t->name)
		name_len = t->name->len + 1;
	if (mergeable) {
		key = wb_fh_key(&fh);
		if (wb_ring_merge(w, epoch, key, &fh, t, &hint)) {
			wb_hint_store(w, &hint, t->inode, gen);
			return;
		}
	}

	rec = wb_fault_record_alloc() ? NULL :
		kmalloc(struct_size(rec, data, fh.len + parent.len + name_len),
			GFP_ATOMIC | __GFP_NOWARN);
	if (!rec)
		goto lost;
	rec->type = WBARRIER_REC_CHANGE;
	rec->epoch = epoch;
	rec->ops = t->ops;
	rec->fh_type = fh.len ? fh.type : 0;
	rec->fh_len = fh.len;
	rec->parent_fh_type = parent.len ? parent.type : 0;
	rec->parent_fh_len = parent.len;
	rec->name_len = name_len;
	rec->has_range = t->has_range;
	rec->offset = t->offset;
	rec->length = t->length;
	rec->lossy = false;
	INIT_HLIST_NODE(&rec->merge_node);
	rec->mergeable = mergeable;
	rec->merge_key = key;
	p = rec->data;
	memcpy(p, fh.bytes, fh.len);
	p += fh.len;
	memcpy(p, parent.bytes, parent.len);
	p += parent.len;
	if (name_len) {
		memcpy(p, t->name->name, name_len - 1);
		p[name_len - 1] = '\0';
	}

	/* Unqueued, @rec is still ours: its hint can be taken. */
	if (mergeable)
		wb_hint_take(&hint, rec);
	hint.seq = wb_ring_queue(w, rec, w->ring_size - WB_MARKER_RESERVE);
	if (hint.seq) {
		if (mergeable)
			wb_hint_store(w, &hint, t->inode, gen);
		return;
	}
	kfree(rec);
lost:
	wb_watch_lose(w, epoch);
}

void wb_record_change(struct wb_watch *w, u64 epoch,
		      const struct wb_target *t)
{
	/*
	 * Apart: the handles on the stack, zeroed at each call, would cost
	 * the hint's hits as much as the hint saves.
	 */
	if (wb_mergeable(t) && wb_hint_covers(w, epoch, t))
		return;
	wb_record_encoded(w, epoch, t);
}

/* Whether writeback write-protects @sb's mapped pages (not on tmpfs). */
bool wb_sb_writes_back(const struct super_block *sb)
{
	return sb->s_bdi->capabilities & BDI_CAP_WRITEBACK;
}

struct wb_record *wb_record_alloc_marker(void)
{
	struct wb_record *rec = kzalloc(sizeof(*rec), GFP_KERNEL);

	if (rec) {
		rec->type = WBARRIER_REC_EPOCH_CLOSED;
		INIT_HLIST_NODE(&rec->merge_node);
	}
	return rec;
}

bool wb_ring_has_room_for_marker(struct wb_watch *w)
{
	unsigned long flags;
	bool room;

	spin_lock_irqsave(&w->lock, flags);
	room = wb_ring_used(w) < w->ring_size;
	spin_unlock_irqrestore(&w->lock, flags);
	return room;
}

/*
 * Only barriers queue markers, one at a time, after checking for room, and
 * change records never take the reserved slots: this cannot fail.
 */
void wb_ring_queue_marker(struct wb_watch *w, struct wb_record *marker)
{
	wb_ring_queue(w, marker, w->ring_size);
}

/*
 * Frees the records below @cursor: the consumer has them. Returns the first
 * sequence number still queued or to come, at least @cursor.
 */
u64 wb_ring_trim(struct wb_watch *w, u64 cursor)
{
	unsigned long flags;
	u64 first;

	spin_lock_irqsave(&w->lock, flags);
	cursor = min(cursor, w->next_seq);
	while (w->first_seq < cursor) {
		u64 slot = w->first_seq % w->ring_size;

		hash_del(&w->ring[slot]->merge_node);
		kfree(w->ring[slot]);
		w->ring[slot] = NULL;
		WRITE_ONCE(w->first_seq, w->first_seq + 1);
	}
	first = max(cursor, w->first_seq);
	spin_unlock_irqrestore(&w->lock, flags);
	return first;
}

/*
 * A reader came for records: announce the next epoch close, or the record
 * that brings what was queued since now to the watermark.
 */
void wb_ring_arm_notify(struct wb_watch *w)
{
	unsigned long flags;

	spin_lock_irqsave(&w->lock, flags);
	w->notify_from = w->next_seq;
	spin_unlock_irqrestore(&w->lock, flags);
	set_bit(WB_NOTIFY_ARMED, &w->notify_pending);
}

void wb_ring_free(struct wb_watch *w)
{
	wb_ring_trim(w, U64_MAX);
}
