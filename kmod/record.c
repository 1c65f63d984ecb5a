// SPDX-License-Identifier: GPL-2.0
/*
 * Record building and the per-watch ring.
 *
 * Change records are built in probe context: GFP_ATOMIC, and any failure
 * marks the record's epoch lossy instead of losing it silently. The ring
 * holds pointers indexed by sequence number, so a dump resumes at its cursor
 * without walking.
 */
#include <linux/slab.h>
#include "wbarrier.h"

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

static u64 wb_ring_used(const struct wb_watch *w)
{
	return w->next_seq - w->first_seq;
}

/* Queues @rec unless the ring is full past @limit; false if it was. */
static bool wb_ring_queue(struct wb_watch *w, struct wb_record *rec, u64 limit)
{
	unsigned long flags;

	spin_lock_irqsave(&w->lock, flags);
	if (wb_ring_used(w) >= limit) {
		spin_unlock_irqrestore(&w->lock, flags);
		return false;
	}
	rec->seq = w->next_seq++;
	w->ring[rec->seq % w->ring_size] = rec;
	w->emitted++;
	spin_unlock_irqrestore(&w->lock, flags);

	if (test_and_clear_bit(WB_NOTIFY_ARMED, &w->notify_pending)) {
		set_bit(WB_NOTIFY_RECORDS, &w->notify_pending);
		schedule_work(&w->notify_work);
	}
	return true;
}

void wb_record_change(struct wb_watch *w, u64 epoch, u32 ops,
		      const struct wb_target *t)
{
	struct wb_fh fh, parent;
	struct wb_record *rec;
	size_t name_len = 0;
	u8 *p;

	fh.len = 0;
	parent.len = 0;
	if (t->inode && !wb_encode_fh(t->inode, &fh))
		goto lost;
	if (t->dir && !wb_encode_fh(t->dir, &parent))
		goto lost;
	if (t->name)
		name_len = t->name->len + 1;

	rec = kmalloc(struct_size(rec, data, fh.len + parent.len + name_len),
		      GFP_ATOMIC | __GFP_NOWARN);
	if (!rec)
		goto lost;
	rec->type = WBARRIER_REC_CHANGE;
	rec->epoch = epoch;
	rec->ops = ops;
	rec->fh_type = fh.len ? fh.type : 0;
	rec->fh_len = fh.len;
	rec->parent_fh_type = parent.len ? parent.type : 0;
	rec->parent_fh_len = parent.len;
	rec->name_len = name_len;
	rec->has_range = t->has_range;
	rec->offset = t->offset;
	rec->length = t->length;
	rec->lossy = false;
	p = rec->data;
	memcpy(p, fh.bytes, fh.len);
	p += fh.len;
	memcpy(p, parent.bytes, parent.len);
	p += parent.len;
	if (name_len) {
		memcpy(p, t->name->name, name_len - 1);
		p[name_len - 1] = '\0';
	}

	if (wb_ring_queue(w, rec, w->ring_size - WB_MARKER_RESERVE))
		return;
	kfree(rec);
lost:
	wb_watch_lose(w, epoch);
}

struct wb_record *wb_record_alloc_marker(void)
{
	struct wb_record *rec = kzalloc(sizeof(*rec), GFP_KERNEL);

	if (rec)
		rec->type = WBARRIER_REC_EPOCH_CLOSED;
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
	for (; w->first_seq < cursor; w->first_seq++) {
		u64 slot = w->first_seq % w->ring_size;

		kfree(w->ring[slot]);
		w->ring[slot] = NULL;
	}
	first = max(cursor, w->first_seq);
	spin_unlock_irqrestore(&w->lock, flags);
	return first;
}

/* A reader came for records: announce the next one. */
void wb_ring_arm_notify(struct wb_watch *w)
{
	set_bit(WB_NOTIFY_ARMED, &w->notify_pending);
}

void wb_ring_free(struct wb_watch *w)
{
	wb_ring_trim(w, U64_MAX);
}
