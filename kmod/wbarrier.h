/* SPDX-License-Identifier: GPL-2.0 */
/* Internal interfaces between the module's parts. */
#ifndef _WBARRIER_H
#define _WBARRIER_H

#include <linux/fs.h>
#include <linux/fsnotify_backend.h>
#include <linux/hashtable.h>
#include <linux/mutex.h>
#include <linux/netlink.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/uuid.h>
#include <linux/workqueue.h>
#include "uapi/wbarrier.h"

/* Most records one hooked call makes (a rename that replaces, with whiteout). */
#define WB_MAX_TARGETS 4

/* What a hooked call changes, taken from its arguments. */
struct wb_target {
	u32 ops;			/* WBARRIER_OP_* */
	struct inode *inode;		/* the changed object, or NULL */
	struct inode *dir;		/* its parent, for namespace operations */
	const struct qstr *name;	/* its name in dir */
	u64 offset;			/* data range, if has_range */
	u64 length;
	bool has_range;
	bool lossy;			/* more changed than it names, if it succeeds */
	bool mapped;			/* mapped without writeback: kept (mapped.c) */
	bool append;			/* the range runs from the size at entry */
};

/* A queued record; the handles and the name follow in data[]. */
struct wb_record {
	struct hlist_node merge_node;
	u32 merge_key;
	u64 seq;
	u64 epoch;
	u64 offset;
	u64 length;
	u32 type;			/* enum wbarrier_rec_type */
	u32 ops;			/* WBARRIER_OP_* */
	u8 fh_type;
	u8 fh_len;			/* 0: no handle */
	u8 parent_fh_type;
	u8 parent_fh_len;		/* 0: no parent */
	u16 name_len;			/* with its NUL; 0: no name */
	bool has_range;
	bool lossy;
	bool mergeable;			/* in wb_watch.merge until read */
	u8 data[];
};

static inline const u8 *wb_record_fh(const struct wb_record *rec)
{
	return rec->data;
}

static inline const u8 *wb_record_parent_fh(const struct wb_record *rec)
{
	return rec->data + rec->fh_len;
}

static inline const char *wb_record_name(const struct wb_record *rec)
{
	return (const char *)rec->data + rec->fh_len + rec->parent_fh_len;
}

/*
 * What a CPU last merged into or queued as a mergeable record (record.c):
 * the record's sequence number, its epoch, what it covered then, and the
 * object's i_ino and i_generation, which its file handle is made of.
 */
struct wb_merge_hint {
	u64 epoch;			/* 0: none */
	u64 seq;
	u64 offset;
	u64 end;			/* offset + length */
	unsigned long ino;
	u32 generation;
	u32 ops;
	bool has_range;
};

/* Ring slots kept for epoch-closed markers, so that a barrier always fits. */
#define WB_MARKER_RESERVE 64

/*
 * Bits of wb_watch.notify_pending: what the notifier has to announce, and
 * whether a reader has come for records since the last announcement (only
 * then are records announced: one wake-up per read at most, not per record;
 * and only at the notify_records watermark or an epoch close).
 */
enum {
	WB_NOTIFY_RECORDS,
	WB_NOTIFY_OVERFLOW,
	WB_NOTIFY_ARMED,
};

/* What closing an epoch takes (watch.c): its marker and its notification. */
struct wb_closing {
	struct wb_record *marker;
	struct sk_buff *skb;
};

/*
 * One watched superblock. Probes find it under RCU in the watch list, enter
 * its SRCU read section before the change and leave it after. The barrier
 * advances the epoch and waits for that SRCU.
 */
struct wb_watch {
	struct list_head node;		/* wb_watches, RCU for the probes */
	refcount_t ref;
	u32 id;
	/*
	 * NULL once retired or unmounted; changed under barrier_mutex, but
	 * for its first value in a watch that waited for its mount (set under
	 * lock by the probe). It is not pinned: the mark tells when it is
	 * shut down (umount.c).
	 */
	struct super_block *sb;
	int sb_slot;			/* in wb_sb_slots[], or -1 */
	char *path_name;		/* a copy: STATUS works after retirement */
	char fstype[16];		/* set once, under lock */
	u32 dev;			/* new_encode_dev(sb->s_dev); under lock */
	struct fsnotify_mark mark;	/* on sb: ends the watch at its shutdown */
	bool mark_busy;			/* wb_sb_unmark() is destroying it; under lock */
	bool mark_gone;			/* fsnotify is done with it; under lock */
	/*
	 * The superblock was shut down: the last epoch is closed and the watch
	 * stays listed, without a superblock, until UNWATCH, so that its last
	 * records can still be read.
	 */
	bool unmounted;
	/*
	 * A watch of watch_at_mount (atmount.c): waiting until a superblock
	 * with this uuid is mounted, under lock; and whether it began at that
	 * mount, before anything could change the filesystem.
	 */
	bool waiting;
	bool at_mount;
	bool unlisted;			/* under wb_watches_mutex */
	uuid_t uuid;
	struct super_block *mount_sb;	/* held active until mount_work ran */
	struct work_struct mount_work;	/* the mount's sleeping half */
	struct work_struct retire_work;	/* UNWATCH's wait, on wb_retire_wq */

	struct srcu_struct srcu;
	u64 epoch;			/* the open epoch; READ_ONCE in probes */
	bool lossy[2];			/* by epoch parity: a record was lost */
	/*
	 * A change escaped its section (probe miss, unbracketed create, async
	 * hand-off failure): it may land in any later epoch, so every later
	 * epoch is lossy until the watch is made anew.
	 */
	bool degraded;
	unsigned long nmissed_mark;	/* probe misses seen before the last barrier */
	unsigned long completions_missed; /* skipped completions seen (pending.c) */
	struct mutex barrier_mutex;
	/*
	 * The barrier under way, under barrier_mutex: the epoch it closes (0:
	 * none), its marker and the probe misses seen before it opened the
	 * next epoch. barrier_work waits for the epoch's operations and
	 * closes it.
	 */
	u64 closing;
	struct wb_closing closing_with;
	unsigned long closing_missed;
	struct work_struct barrier_work;

	/* SYNC (sync.c): requests numbered under barrier_mutex, done by sync_work. */
	u64 sync_requested;
	struct work_struct sync_work;
	errseq_t sb_err;		/* the sb's writeback errors seen; sync_work's */

	/*
	 * Protects the ring and its counters; first_seq and read_seq are
	 * also read without it (record.c, the merge hint): WRITE_ONCE.
	 */
	spinlock_t lock;
	struct wb_record **ring;	/* ring[seq % ring_size], seqs first_seq..next_seq-1 */
	u32 ring_size;
	u64 first_seq;
	u64 next_seq;
	u64 emitted;
	u64 lost;
	u64 read_seq;			/* highest seq a reader was sent */
	/* Records of the open epoch that later changes may merge into. */
	DECLARE_HASHTABLE(merge, 10);
	/*
	 * Per CPU, the last merge; NULL where the file handle is not made of
	 * i_ino and i_generation alone (btrfs: its subvolume too).
	 */
	struct wb_merge_hint __percpu *hints;

	/*
	 * The socket that may acknowledge (free) records, once one did:
	 * reader_net NULL if none. Compared, never dereferenced; cleared when
	 * the socket is released. Under lock.
	 */
	const struct net *reader_net;
	u32 reader_portid;

	/* Files mapped shared and writable, without writeback (mapped.c). */
	spinlock_t mapped_lock;
	DECLARE_HASHTABLE(mapped, 6);
	bool mapped_closed;		/* released: adds nothing more */

	struct work_struct notify_work;
	unsigned long notify_pending;
	u64 notify_from;		/* next_seq when a reader last armed; under lock */
	u64 overflow_epoch;
};

/* watch.c */
extern unsigned int wb_max_records;
extern u64 wb_load_id;
int wb_watch_init(void);
void wb_watch_exit(void);
struct wb_watch *wb_watch_find_rcu(const struct super_block *sb);

/*
 * The superblocks of the listed watches, for a look with no RCU and no
 * dereference: the slots ever taken, and how many listed watches found none
 * (then every call needs the full lookup).
 */
#define WB_SB_SLOTS 16
extern struct super_block *wb_sb_slots[WB_SB_SLOTS];
extern unsigned int wb_sb_slots_used;
extern unsigned int wb_sb_slotless;

/* False if no watch has @sb: most calls, once anything is watched. */
static inline bool wb_sb_maybe_watched(const struct super_block *sb)
{
	unsigned int i, n = smp_load_acquire(&wb_sb_slots_used);

	if (READ_ONCE(wb_sb_slotless))
		return true;
	for (i = 0; i < n; i++)
		if (READ_ONCE(wb_sb_slots[i]) == sb)
			return true;
	return false;
}
struct wb_watch *wb_watch_create(const char *path_name,
				 struct netlink_ext_ack *extack);
int wb_watch_create_waiting(const uuid_t *uuid);
void wb_watch_attach_rcu(struct super_block *sb);
int wb_watch_hook_fs(const char *name);
bool wb_watch_waiting(struct wb_watch *w);
struct wb_watch *wb_watch_get(u32 id);
struct wb_watch *wb_watch_get_by_sb(const struct super_block *sb);
void wb_watch_put(struct wb_watch *w);
int wb_watch_remove(u32 id);
void wb_watch_remove_all(void);
/* An epoch closed: its marker is queued, @next_seq after it. */
struct wb_closed {
	u64 epoch;
	bool lossy;
	u64 next_seq;
	struct sk_buff *skb;	/* its notification, to be filled */
};

int wb_watch_barrier(struct wb_watch *w, u64 *closing);
void wb_watch_unmounted(struct wb_watch *w);
void wb_watch_lose(struct wb_watch *w, u64 epoch);
void wb_watch_degrade(struct wb_watch *w);
bool wb_watch_lossy(struct wb_watch *w, u64 epoch);
int wb_watch_for_each(int (*fn)(struct wb_watch *w, void *arg), void *arg,
		      u32 start_id);
int wb_watch_claim_reader(struct wb_watch *w, const struct net *net,
			  u32 portid);
void wb_watch_release_reader(const struct net *net, u32 portid);

/* record.c */
void wb_record_change(struct wb_watch *w, u64 epoch,
		      const struct wb_target *t);
bool wb_sb_writes_back(const struct super_block *sb);

/* mapped.c */
void wb_mapped_init(struct wb_watch *w);
void wb_mapped_add(struct wb_watch *w, struct inode *inode);
void wb_mapped_seed(struct wb_watch *w, struct super_block *sb);
void wb_record_mapped(struct wb_watch *w, u64 epoch);
void wb_mapped_release(struct wb_watch *w);
struct wb_record *wb_record_alloc_marker(void);
void wb_ring_queue_marker(struct wb_watch *w, struct wb_record *marker);
bool wb_ring_has_room_for_marker(struct wb_watch *w);
u64 wb_ring_trim(struct wb_watch *w, u64 cursor);
void wb_ring_arm_notify(struct wb_watch *w);
void wb_ring_free(struct wb_watch *w);

/* atmount.c */
int wb_atmount_init(void);
void wb_atmount_exit(void);
void wb_atmount_rearm(const uuid_t *uuid);

/* umount.c */
int wb_umount_init(void);
void wb_umount_exit(void);
int wb_sb_mark(struct wb_watch *w);
void wb_sb_unmark(struct wb_watch *w);

/* sync.c */
struct wb_synced {
	u64 sync;			/* the highest SYNC request it covers */
	int err;
	bool unmounted;			/* nothing synced: the shutdown did */
};

void wb_sync_init(struct wb_watch *w);
int wb_sync_request(struct wb_watch *w, u64 *sync);

/* faults.c: the tests' knobs, in WB_TESTING builds only */
#ifdef WB_TESTING
bool wb_fault_record_alloc(void);
bool wb_fault_skip_completion(void);
bool wb_fault_notify_alloc(void);
bool wb_fault_lose_open_ends(void);
void wb_faults_init(void);
void wb_faults_exit(void);
#else
static inline bool wb_fault_record_alloc(void) { return false; }
static inline bool wb_fault_skip_completion(void) { return false; }
static inline bool wb_fault_notify_alloc(void) { return false; }
static inline bool wb_fault_lose_open_ends(void) { return false; }
static inline void wb_faults_init(void) { }
static inline void wb_faults_exit(void) { }
#endif

/* hookarm.c */
int wb_hooks_init(void);
void wb_hooks_exit(void);
int wb_hooks_arm(void);
void wb_hooks_disarm(void);
int wb_hooks_get_fs(struct file_system_type *type);
bool wb_hooks_fs_loaded(const char *name);
bool wb_hooks_fs_ready(const struct file_system_type *type);
int wb_check_not_cloned(const char *symbol);
unsigned long wb_hooks_nmissed(void);
unsigned long wb_completions_nmissed(void);

/* pending.c */
extern atomic_t wb_pending_count;
bool wb_pending_add(const struct kiocb *kiocb, struct wb_watch *w, int idx);
void wb_pending_release(const struct kiocb *kiocb);
void wb_pending_wait(struct wb_watch *w);

/* opens.c: create sections left by tasks that died inside open(O_CREAT) */
unsigned int wb_opens_end_exited(const struct wb_watch *w);

/* netlink.c */
int wb_nl_init(void);
void wb_nl_exit(void);
void wb_nl_notify(struct wb_watch *w, u8 cmd);
struct sk_buff *wb_nl_closed_alloc(void);
void wb_nl_notify_closed(struct wb_watch *w, const struct wb_closed *c);
void wb_nl_notify_synced(struct wb_watch *w, const struct wb_synced *s);

#endif /* _WBARRIER_H */
