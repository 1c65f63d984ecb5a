/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * wbarrier: VFS write barriers for change tracking, generic netlink ABI.
 *
 * This header is the single definition of the family's commands, attributes
 * and flags; the Go client checks its constants against it in a test.
 *
 * Every command needs CAP_SYS_ADMIN and CAP_NET_ADMIN (GENL_ADMIN_PERM), of
 * both the socket's opener and the sender. Integers are host endian, as in
 * every generic netlink family. Unknown attributes in a request are rejected,
 * and so are those that only replies carry.
 *
 * WBARRIER_CMD_WATCH
 *   Request:  WBARRIER_A_PATH (string): any path on the filesystem to watch;
 *             not empty; a relative path is resolved against the sender's
 *             working directory.
 *   Reply:    the watch's status (see WBARRIER_CMD_STATUS). Watch ids
 *             start at 1 and are never reused while the module stays
 *             loaded: WBARRIER_A_LOAD_ID and WBARRIER_A_WATCH_ID together
 *             name one watch for ever (its records are numbered from 1,
 *             its epochs from 1).
 *   Starts tracking the superblock that PATH is on. The watch does not pin
 *   the filesystem: when the superblock is shut down (its last mount is
 *   gone), the watch closes its open epoch (a last EPOCH_CLOSED record),
 *   stops tracking and announces WBARRIER_CMD_NOTIFY_UNMOUNT. It stays
 *   listed, unmounted, so that its last records can be read, until UNWATCH.
 *   Errors: ENOENT (no such path), EEXIST (superblock already watched),
 *   EOPNOTSUPP (filesystem cannot encode file handles).
 *
 * WBARRIER_CMD_UNWATCH
 *   Request:  WBARRIER_A_WATCH_ID (u32).
 *   Unlists the watch and returns; the module then waits for its in-flight
 *   modifying operations, drops its pending records and announces
 *   WBARRIER_CMD_NOTIFY_UNWATCH. Errors: ENOENT (no such watch).
 *
 * WBARRIER_CMD_BARRIER
 *   Request:  WBARRIER_A_WATCH_ID (u32).
 *   Reply:    WBARRIER_A_WATCH_ID, WBARRIER_A_EPOCH (u64, the epoch N being
 *             closed).
 *   Opens epoch N+1 and returns: new operations record N+1. In the
 *   background the module waits until every operation that recorded into
 *   epoch N has finished, then queues a WBARRIER_REC_EPOCH_CLOSED record
 *   for N and sends WBARRIER_CMD_NOTIFY_EPOCH_CLOSED. To wait for it, join
 *   the group before sending the request. Errors: ENOENT, EBUSY (an epoch
 *   of the watch is still closing: wait for its NOTIFY_EPOCH_CLOSED, then
 *   ask again), ENOBUFS (the ring is full, its room for markers too: drain
 *   records first), ENODEV (the filesystem was unmounted), EAGAIN (a
 *   watch of watch_at_mount whose filesystem is not mounted yet).
 *
 * WBARRIER_CMD_SYNC
 *   Request:  WBARRIER_A_WATCH_ID (u32).
 *   Reply:    WBARRIER_A_WATCH_ID, and WBARRIER_A_SYNC (u64, this request's
 *             sync number) or WBARRIER_A_UNMOUNTED (flag: nothing to sync,
 *             the kernel synced the filesystem when it shut it down, before
 *             the watch closed its last epoch).
 *   Syncs the watched filesystem as syncfs(2) does (its writeback errors
 *   since the watch's last sync are reported too), without holding any
 *   mount of it: an unmount meanwhile neither fails nor waits for more than
 *   the sync it would do itself. The sync runs in the background, after
 *   the request returns; it then sends WBARRIER_CMD_NOTIFY_SYNCED with the
 *   highest sync number it covers. To wait for it, join the group before
 *   sending the request. A sync that the unmount overtakes reports the
 *   filesystem unmounted instead. Errors: ENOENT, EAGAIN (as for BARRIER).
 *
 * WBARRIER_CMD_STATUS
 *   Request:  WBARRIER_A_WATCH_ID (u32), or WBARRIER_A_PATH (string: the
 *             watch of the filesystem that path is on), or NLM_F_DUMP for
 *             every watch. Errors: ENOENT.
 *   Reply:    WBARRIER_A_WATCH_ID, WBARRIER_A_PATH (as given to WATCH),
 *             WBARRIER_A_DEV (u32, the superblock's dev_t in the encoding of
 *             stat(2)'s st_dev), WBARRIER_A_FSTYPE (string),
 *             WBARRIER_A_EPOCH (u64, the open epoch),
 *             WBARRIER_A_LOSSY (flag, the open epoch lost records),
 *             WBARRIER_A_NEXT_SEQ (u64), WBARRIER_A_FIRST_SEQ (u64, oldest
 *             record still queued), WBARRIER_A_QUEUED (u32),
 *             WBARRIER_A_EMITTED (u64), WBARRIER_A_LOST (u64),
 *             WBARRIER_A_UNMOUNTED (flag, the filesystem was unmounted),
 *             WBARRIER_A_LOAD_ID (u64, drawn at random when the module
 *             was loaded, never 0: a reboot, or rmmod and insmod, give
 *             another), WBARRIER_A_AT_MOUNT (flag, the watch began when
 *             the filesystem was mounted, before anything could change it:
 *             the module parameter watch_at_mount named it),
 *             WBARRIER_A_WAITING (flag, a watch of watch_at_mount whose
 *             filesystem is not mounted yet; PATH is "UUID=" and its uuid).
 *
 * WBARRIER_CMD_RECORDS (NLM_F_DUMP only)
 *   Request:  WBARRIER_A_WATCH_ID (u32), WBARRIER_A_CURSOR (u64, optional,
 *             default 0), WBARRIER_A_ACK (flag, optional).
 *   Reply:    the queued records whose sequence number is at least
 *             CURSOR, in sequence order, packed: each message holds
 *             WBARRIER_A_WATCH_ID, then as many WBARRIER_A_RECORD (nested:
 *             one record's WBARRIER_A_REC_* attributes) as fill the dump's
 *             buffer (up to 32 KiB, as large as the reader's recvmsg
 *             buffer). With ACK, records below CURSOR are acknowledged:
 *             the kernel frees them; without, nothing is freed. One socket
 *             at a time may acknowledge a watch's records (the daemon): the
 *             first RECORDS with ACK makes its socket the watch's
 *             acknowledging reader until the socket is closed. Errors:
 *             ENOENT, ERANGE (CURSOR is past the next sequence number),
 *             EBUSY (ACK, and another socket is the acknowledging reader),
 *             ESTALE (the acknowledging reader freed records this dump had
 *             not sent yet: they are gone for this reader).
 *   After a dump starts, WBARRIER_CMD_NOTIFY_RECORDS is sent once, when
 *   the module parameter notify_records (default 1) records have been
 *   queued since, or when an epoch closes, whichever comes first.
 *
 * Multicast group WBARRIER_MCGRP_EVENTS (admin only):
 *   WBARRIER_CMD_NOTIFY_RECORDS  WBARRIER_A_WATCH_ID, WBARRIER_A_NEXT_SEQ:
 *                                records are waiting.
 *   WBARRIER_CMD_NOTIFY_OVERFLOW WBARRIER_A_WATCH_ID, WBARRIER_A_EPOCH: a
 *                                record of that epoch was lost; it is lossy.
 *   WBARRIER_CMD_NOTIFY_UNWATCH  WBARRIER_A_WATCH_ID: the watch is gone.
 *   WBARRIER_CMD_NOTIFY_EPOCH_CLOSED WBARRIER_A_WATCH_ID, WBARRIER_A_EPOCH,
 *                                WBARRIER_A_LOSSY (flag), WBARRIER_A_NEXT_SEQ:
 *                                the epoch is closed, its marker queued (a
 *                                barrier's, or the last one at unmount).
 *   WBARRIER_CMD_NOTIFY_UNMOUNT  WBARRIER_A_WATCH_ID, WBARRIER_A_NEXT_SEQ:
 *                                the filesystem was unmounted; records
 *                                below NEXT_SEQ are the watch's last.
 *   WBARRIER_CMD_NOTIFY_SYNCED   WBARRIER_A_WATCH_ID, WBARRIER_A_SYNC: the
 *                                SYNC requests up to that number are done;
 *                                WBARRIER_A_ERRNO (u32) if the sync failed,
 *                                or WBARRIER_A_UNMOUNTED (flag) if the
 *                                filesystem was unmounted first (the
 *                                kernel synced it then), or ERRNO ENOENT if
 *                                the watch was removed first.
 *
 * A record (WBARRIER_A_REC_*, nested in WBARRIER_A_RECORD):
 *   TYPE (u32, enum wbarrier_rec_type), SEQ (u64), EPOCH (u64) always;
 *   for WBARRIER_REC_CHANGE: OPS (u32, WBARRIER_OP_* bits), and as the
 *   operation has them: FH_TYPE (u32) + FH (binary, at most
 *   WBARRIER_FH_MAX bytes) of the changed object, PARENT_FH_TYPE +
 *   PARENT_FH of its directory and NAME (string) for namespace operations,
 *   OFFSET (u64) + LENGTH (u64) for data writes. A create record has no FH:
 *   it is made before the object exists.
 *   for WBARRIER_REC_EPOCH_CLOSED: LOSSY (flag) if the epoch lost records.
 *   A sequence number is assigned when a record is queued: lost records
 *   leave no gap, they mark their epoch lossy instead.
 */
#ifndef _UAPI_LINUX_WBARRIER_H
#define _UAPI_LINUX_WBARRIER_H

#define WBARRIER_GENL_NAME		"wbarrier"
/*
 * 7: UNWATCH returns once the watch is unlisted, NOTIFY_UNWATCH says when
 * its operations in flight are done (6: UNWATCH returned then).
 * 6: watches begun at mount (the module parameter watch_at_mount):
 * WBARRIER_A_AT_MOUNT and WBARRIER_A_WAITING in the status.
 * 5: SYNC and NOTIFY_SYNCED (the filesystem synced with no mount held).
 * 4: BARRIER returns once the next epoch is open, NOTIFY_EPOCH_CLOSED says
 * when the epoch is closed (3: BARRIER returned then).
 * 3: RECORDS frees records only with WBARRIER_A_ACK, for one socket at a
 * time (2: any RECORDS freed those below its cursor). 2: RECORDS replies
 * pack records in WBARRIER_A_RECORD (1: one a message).
 */
#define WBARRIER_GENL_VERSION		7
#define WBARRIER_MCGRP_EVENTS		"events"

/* Longest file handle a record carries, in bytes (MAX_HANDLE_SZ). */
#define WBARRIER_FH_MAX			128

enum wbarrier_cmd {
	WBARRIER_CMD_UNSPEC,
	WBARRIER_CMD_WATCH,
	WBARRIER_CMD_UNWATCH,
	WBARRIER_CMD_BARRIER,
	WBARRIER_CMD_STATUS,
	WBARRIER_CMD_RECORDS,
	WBARRIER_CMD_NOTIFY_RECORDS,
	WBARRIER_CMD_NOTIFY_OVERFLOW,
	WBARRIER_CMD_NOTIFY_UNWATCH,
	WBARRIER_CMD_NOTIFY_UNMOUNT,
	WBARRIER_CMD_NOTIFY_EPOCH_CLOSED,
	WBARRIER_CMD_SYNC,
	WBARRIER_CMD_NOTIFY_SYNCED,

	__WBARRIER_CMD_MAX
};
#define WBARRIER_CMD_MAX (__WBARRIER_CMD_MAX - 1)

enum wbarrier_attr {
	WBARRIER_A_UNSPEC,
	WBARRIER_A_PAD,
	WBARRIER_A_WATCH_ID,		/* u32 */
	WBARRIER_A_PATH,		/* string */
	WBARRIER_A_DEV,			/* u32 */
	WBARRIER_A_FSTYPE,		/* string */
	WBARRIER_A_EPOCH,		/* u64 */
	WBARRIER_A_LOSSY,		/* flag */
	WBARRIER_A_NEXT_SEQ,		/* u64 */
	WBARRIER_A_FIRST_SEQ,		/* u64 */
	WBARRIER_A_QUEUED,		/* u32 */
	WBARRIER_A_EMITTED,		/* u64 */
	WBARRIER_A_LOST,		/* u64 */
	WBARRIER_A_CURSOR,		/* u64 */
	WBARRIER_A_REC_TYPE,		/* u32, enum wbarrier_rec_type */
	WBARRIER_A_REC_SEQ,		/* u64 */
	WBARRIER_A_REC_EPOCH,		/* u64 */
	WBARRIER_A_REC_OPS,		/* u32, WBARRIER_OP_* */
	WBARRIER_A_REC_FH_TYPE,		/* u32 */
	WBARRIER_A_REC_FH,		/* binary */
	WBARRIER_A_REC_PARENT_FH_TYPE,	/* u32 */
	WBARRIER_A_REC_PARENT_FH,	/* binary */
	WBARRIER_A_REC_NAME,		/* string */
	WBARRIER_A_REC_OFFSET,		/* u64 */
	WBARRIER_A_REC_LENGTH,		/* u64 */
	WBARRIER_A_REC_LOSSY,		/* flag */
	WBARRIER_A_UNMOUNTED,		/* flag */
	WBARRIER_A_RECORD,		/* nested: WBARRIER_A_REC_*; replies only */
	WBARRIER_A_LOAD_ID,		/* u64; replies only */
	WBARRIER_A_ACK,			/* flag */
	WBARRIER_A_SYNC,		/* u64; replies only */
	WBARRIER_A_ERRNO,		/* u32; notifications only */
	WBARRIER_A_AT_MOUNT,		/* flag; replies only */
	WBARRIER_A_WAITING,		/* flag; replies only */

	__WBARRIER_A_MAX
};
#define WBARRIER_A_MAX (__WBARRIER_A_MAX - 1)

enum wbarrier_rec_type {
	WBARRIER_REC_UNSPEC,
	WBARRIER_REC_CHANGE,
	WBARRIER_REC_EPOCH_CLOSED,

	__WBARRIER_REC_MAX
};
#define WBARRIER_REC_MAX (__WBARRIER_REC_MAX - 1)

/* What happened to the object: a reasons mask, merged per object per epoch. */
#define WBARRIER_OP_DATA	(1U << 0)	/* contents written */
#define WBARRIER_OP_SIZE	(1U << 1)	/* truncated, extended, space changed */
#define WBARRIER_OP_ATTR	(1U << 2)	/* mode, owner, times, flags */
#define WBARRIER_OP_XATTR	(1U << 3)	/* extended attribute set or removed */
#define WBARRIER_OP_CREATE	(1U << 4)	/* NAME created in the parent */
#define WBARRIER_OP_REMOVE	(1U << 5)	/* NAME removed from the parent */
#define WBARRIER_OP_RENAME_FROM	(1U << 6)	/* renamed away from NAME */
#define WBARRIER_OP_RENAME_TO	(1U << 7)	/* renamed to NAME */
#define WBARRIER_OP_LINK	(1U << 8)	/* hard link NAME added */
#define WBARRIER_OP_MMAP	(1U << 9)	/* written through a shared mapping */

#endif /* _UAPI_LINUX_WBARRIER_H */
