// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "wbarrier": the boundary to userspace.
 * kmod/uapi/wbarrier.h describes every command and attribute.
 */
#include <linux/namei.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include "wbarrier.h"

static const struct nla_policy wb_policy[WBARRIER_A_MAX + 1] = {
	[WBARRIER_A_WATCH_ID]	= NLA_POLICY_MIN(NLA_U32, 1),
	[WBARRIER_A_PATH]	= { .type = NLA_NUL_STRING, .len = PATH_MAX - 1 },
	[WBARRIER_A_CURSOR]	= { .type = NLA_U64 },
	[WBARRIER_A_ACK]	= { .type = NLA_FLAG },
	[WBARRIER_A_RECORD]	= { .type = NLA_REJECT,
				    .reject_message = "only replies carry this attribute" },
	[WBARRIER_A_LOAD_ID]	= { .type = NLA_REJECT,
				    .reject_message = "only replies carry this attribute" },
	[WBARRIER_A_SYNC]	= { .type = NLA_REJECT,
				    .reject_message = "only replies carry this attribute" },
	[WBARRIER_A_ERRNO]	= { .type = NLA_REJECT,
				    .reject_message = "only notifications carry this attribute" },
	[WBARRIER_A_AT_MOUNT]	= { .type = NLA_REJECT,
				    .reject_message = "only replies carry this attribute" },
	[WBARRIER_A_WAITING]	= { .type = NLA_REJECT,
				    .reject_message = "only replies carry this attribute" },
};

static struct genl_family wb_family;


/*
 * GENL_ADMIN_PERM on every op checks CAP_NET_ADMIN only. A watch pins a mount
 * and reports every change on a filesystem: that takes CAP_SYS_ADMIN, as
 * fanotify's filesystem marks do and as the multicast group does. Checked
 * like GENL_ADMIN_PERM, on both the socket's opener and the sender.
 */
/*
 * Every request first: its sender's privilege, then its header. The core
 * checks neither the header's reserved field nor the flags of the commands
 * up to RECORDS (below resv_start_op, see wb_family): a request that sets
 * them means something this module does not do.
 */
static int wb_nl_admit(const struct sk_buff *skb, const struct nlmsghdr *nlh,
		       struct netlink_ext_ack *extack)
{
	const struct genlmsghdr *hdr = nlmsg_data(nlh);
	u16 known = NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO;

	if (!netlink_capable(skb, CAP_SYS_ADMIN)) {
		NL_SET_ERR_MSG(extack, "CAP_SYS_ADMIN is needed");
		return -EPERM;
	}
	if (hdr->reserved) {
		NL_SET_ERR_MSG(extack, "reserved header field is not zero");
		return -EINVAL;
	}
	if ((nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP)
		known |= NLM_F_DUMP;
	if (nlh->nlmsg_flags & ~known) {
		NL_SET_ERR_MSG(extack, "unknown request flags");
		return -EINVAL;
	}
	return 0;
}

static int wb_put_watch(struct sk_buff *skb, struct wb_watch *w)
{
	unsigned long flags;
	u64 first_seq, next_seq, emitted, lost;

	spin_lock_irqsave(&w->lock, flags);
	first_seq = w->first_seq;
	next_seq = w->next_seq;
	emitted = w->emitted;
	lost = w->lost;
	spin_unlock_irqrestore(&w->lock, flags);

	if (nla_put_u32(skb, WBARRIER_A_WATCH_ID, w->id) ||
	    nla_put_string(skb, WBARRIER_A_PATH, w->path_name) ||
	    nla_put_u32(skb, WBARRIER_A_DEV, w->dev) ||
	    nla_put_string(skb, WBARRIER_A_FSTYPE, w->fstype) ||
	    nla_put_u64_64bit(skb, WBARRIER_A_EPOCH, READ_ONCE(w->epoch),
			      WBARRIER_A_PAD) ||
	    (wb_watch_lossy(w, READ_ONCE(w->epoch)) &&
	     nla_put_flag(skb, WBARRIER_A_LOSSY)) ||
	    nla_put_u64_64bit(skb, WBARRIER_A_NEXT_SEQ, next_seq,
			      WBARRIER_A_PAD) ||
	    nla_put_u64_64bit(skb, WBARRIER_A_FIRST_SEQ, first_seq,
			      WBARRIER_A_PAD) ||
	    nla_put_u32(skb, WBARRIER_A_QUEUED, next_seq - first_seq) ||
	    nla_put_u64_64bit(skb, WBARRIER_A_EMITTED, emitted,
			      WBARRIER_A_PAD) ||
	    nla_put_u64_64bit(skb, WBARRIER_A_LOST, lost, WBARRIER_A_PAD) ||
	    (READ_ONCE(w->unmounted) &&
	     nla_put_flag(skb, WBARRIER_A_UNMOUNTED)) ||
	    nla_put_u64_64bit(skb, WBARRIER_A_LOAD_ID, wb_load_id,
			      WBARRIER_A_PAD) ||
	    (READ_ONCE(w->at_mount) && nla_put_flag(skb, WBARRIER_A_AT_MOUNT)) ||
	    (wb_watch_waiting(w) && nla_put_flag(skb, WBARRIER_A_WAITING)))
		return -EMSGSIZE;
	return 0;
}

/* Replies to @info with the status of @w under command @cmd. */
static int wb_reply_watch(struct genl_info *info, u8 cmd, struct wb_watch *w)
{
	struct sk_buff *skb;
	void *hdr;

	skb = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;
	hdr = genlmsg_put_reply(skb, info, &wb_family, 0, cmd);
	if (!hdr || wb_put_watch(skb, w)) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return genlmsg_reply(skb, info);
}

/*
 * After the capability check: the watch named by the request's WATCH_ID,
 * with a reference, or an ERR_PTR.
 */
static struct wb_watch *wb_get_watch(struct sk_buff *skb,
				     struct genl_info *info)
{
	struct wb_watch *w;
	int err;

	err = wb_nl_admit(skb, info->nlhdr, info->extack);
	if (err)
		return ERR_PTR(err);
	if (GENL_REQ_ATTR_CHECK(info, WBARRIER_A_WATCH_ID)) {
		NL_SET_ERR_MSG(info->extack, "missing watch id");
		return ERR_PTR(-EINVAL);
	}
	w = wb_watch_get(nla_get_u32(info->attrs[WBARRIER_A_WATCH_ID]));
	if (!w) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[WBARRIER_A_WATCH_ID],
				    "no such watch");
		return ERR_PTR(-ENOENT);
	}
	return w;
}

static int wb_nl_watch(struct sk_buff *skb, struct genl_info *info)
{
	struct wb_watch *w;
	int err;

	err = wb_nl_admit(skb, info->nlhdr, info->extack);
	if (err)
		return err;
	if (GENL_REQ_ATTR_CHECK(info, WBARRIER_A_PATH)) {
		NL_SET_ERR_MSG(info->extack, "missing path");
		return -EINVAL;
	}
	/* kern_path() would resolve "" to the sender's working directory. */
	if (!*(char *)nla_data(info->attrs[WBARRIER_A_PATH])) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[WBARRIER_A_PATH],
				    "empty path");
		return -EINVAL;
	}
	w = wb_watch_create(nla_data(info->attrs[WBARRIER_A_PATH]),
			    info->extack);
	if (IS_ERR(w))
		return PTR_ERR(w);
	err = wb_reply_watch(info, WBARRIER_CMD_WATCH, w);
	wb_watch_put(w);
	return err;
}

static int wb_nl_unwatch(struct sk_buff *skb, struct genl_info *info)
{
	struct wb_watch *w = wb_get_watch(skb, info);
	u32 id;

	if (IS_ERR(w))
		return PTR_ERR(w);
	id = w->id;
	wb_watch_put(w);
	/* A concurrent unwatch may have won: then this one finds nothing. */
	return wb_watch_remove(id);
}

/*
 * Replies to @info under @cmd with the watch's @id and @attr = @value, or,
 * if @value is 0, with WBARRIER_A_UNMOUNTED.
 */
static int wb_reply_number(struct genl_info *info, u8 cmd, u32 id, int attr,
			   u64 value)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &wb_family, 0, cmd);
	if (!hdr ||
	    nla_put_u32(msg, WBARRIER_A_WATCH_ID, id) ||
	    (value && nla_put_u64_64bit(msg, attr, value, WBARRIER_A_PAD)) ||
	    (!value && nla_put_flag(msg, WBARRIER_A_UNMOUNTED))) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* What a BARRIER or SYNC refused for says to the sender. */
static void wb_set_watch_err_msg(struct netlink_ext_ack *extack, int err)
{
	if (err == -ENOBUFS)
		NL_SET_ERR_MSG(extack, "record ring full: drain records first");
	else if (err == -ENODEV)
		NL_SET_ERR_MSG(extack,
			       "the filesystem was unmounted: read its last records, then unwatch");
	else if (err == -EBUSY)
		NL_SET_ERR_MSG(extack,
			       "a barrier is closing an epoch of this watch: wait for its EPOCH_CLOSED");
	else if (err == -EAGAIN)
		NL_SET_ERR_MSG(extack,
			       "the filesystem is not mounted yet: this watch begins at its mount");
	else if (err == -ENOENT)
		NL_SET_ERR_MSG(extack, "no such watch");
}

static int wb_nl_barrier(struct sk_buff *skb, struct genl_info *info)
{
	struct wb_watch *w = wb_get_watch(skb, info);
	u64 closing;
	int err;

	if (IS_ERR(w))
		return PTR_ERR(w);
	err = wb_watch_barrier(w, &closing);
	if (err)
		wb_set_watch_err_msg(info->extack, err);
	else
		err = wb_reply_number(info, WBARRIER_CMD_BARRIER, w->id,
				      WBARRIER_A_EPOCH, closing);
	wb_watch_put(w);
	return err;
}

static int wb_nl_sync(struct sk_buff *skb, struct genl_info *info)
{
	struct wb_watch *w = wb_get_watch(skb, info);
	u64 sync = 0;
	int err;

	if (IS_ERR(w))
		return PTR_ERR(w);
	err = wb_sync_request(w, &sync);
	/* Unmounted: the kernel synced it at its shutdown; nothing to do. */
	if (err && err != -ENODEV)
		wb_set_watch_err_msg(info->extack, err);
	else
		err = wb_reply_number(info, WBARRIER_CMD_SYNC, w->id,
				      WBARRIER_A_SYNC, sync);
	wb_watch_put(w);
	return err;
}

/* The watch of the superblock that the request's PATH is on. */
static struct wb_watch *wb_get_watch_by_path(struct sk_buff *skb,
					     struct genl_info *info)
{
	struct nlattr *attr = info->attrs[WBARRIER_A_PATH];
	struct wb_watch *w;
	struct path path;
	int err;

	err = wb_nl_admit(skb, info->nlhdr, info->extack);
	if (err)
		return ERR_PTR(err);
	err = kern_path(nla_data(attr), LOOKUP_FOLLOW, &path);
	if (err) {
		if (err == -ENOENT)
			NL_SET_ERR_MSG_ATTR(info->extack, attr, "no such path");
		return ERR_PTR(err);
	}
	w = wb_watch_get_by_sb(path.dentry->d_sb);
	path_put(&path);
	if (!w) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "no watch on the filesystem of this path");
		return ERR_PTR(-ENOENT);
	}
	return w;
}

static int wb_nl_status(struct sk_buff *skb, struct genl_info *info)
{
	struct wb_watch *w;
	int err;

	/* By path: stat()'s st_dev is not the superblock's on btrfs. */
	if (info->attrs[WBARRIER_A_PATH])
		w = wb_get_watch_by_path(skb, info);
	else
		w = wb_get_watch(skb, info);
	if (IS_ERR(w))
		return PTR_ERR(w);
	err = wb_reply_watch(info, WBARRIER_CMD_STATUS, w);
	wb_watch_put(w);
	return err;
}

struct wb_status_dump {
	struct sk_buff *skb;
	struct netlink_callback *cb;
};

static int wb_dump_one_watch(struct wb_watch *w, void *arg)
{
	struct wb_status_dump *d = arg;
	void *hdr;

	hdr = genlmsg_put(d->skb, NETLINK_CB(d->cb->skb).portid,
			  d->cb->nlh->nlmsg_seq, &wb_family, NLM_F_MULTI,
			  WBARRIER_CMD_STATUS);
	if (!hdr)
		return -EMSGSIZE;
	if (wb_put_watch(d->skb, w)) {
		genlmsg_cancel(d->skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(d->skb, hdr);
	d->cb->args[0] = w->id + 1;	/* resume after this watch */
	return 0;
}

static int wb_nl_status_start(struct netlink_callback *cb)
{
	return wb_nl_admit(cb->skb, cb->nlh, cb->extack);
}

static int wb_nl_status_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct wb_status_dump d = { .skb = skb, .cb = cb };
	int err;

	err = wb_watch_for_each(wb_dump_one_watch, &d, cb->args[0]);
	/* A full skb ends this part of the dump; the next resumes. */
	if (err && err != -EMSGSIZE)
		return err;
	return skb->len;
}

/* RECORDS dump: cb->args[0] holds the watch, cb->args[1] the next seq. */
static int wb_nl_records_start(struct netlink_callback *cb)
{
	struct nlattr **attrs = wb_dump_attrs(cb);
	struct wb_watch *w;
	unsigned long flags;
	u64 cursor = 0, next_seq;
	int err;

	err = wb_nl_admit(cb->skb, cb->nlh, cb->extack);
	if (err)
		return err;
	if (!attrs[WBARRIER_A_WATCH_ID]) {
		NL_SET_ERR_MSG(cb->extack, "missing watch id");
		return -EINVAL;
	}
	w = wb_watch_get(nla_get_u32(attrs[WBARRIER_A_WATCH_ID]));
	if (!w) {
		NL_SET_ERR_MSG_ATTR(cb->extack, attrs[WBARRIER_A_WATCH_ID],
				    "no such watch");
		return -ENOENT;
	}
	if (attrs[WBARRIER_A_CURSOR])
		cursor = nla_get_u64(attrs[WBARRIER_A_CURSOR]);
	/*
	 * A cursor acknowledges the records below it: one past the next
	 * sequence number would acknowledge records not queued yet (a log
	 * resumed against a watch made anew, or garbage). Refuse it.
	 */
	spin_lock_irqsave(&w->lock, flags);
	next_seq = w->next_seq;
	spin_unlock_irqrestore(&w->lock, flags);
	if (cursor > next_seq) {
		NL_SET_ERR_MSG_ATTR(cb->extack, attrs[WBARRIER_A_CURSOR],
				    "cursor is past the next sequence number");
		wb_watch_put(w);
		return -ERANGE;
	}
	if (nla_get_flag(attrs[WBARRIER_A_ACK])) {
		err = wb_watch_claim_reader(w, sock_net(cb->skb->sk),
					    NETLINK_CB(cb->skb).portid);
		if (err) {
			NL_SET_ERR_MSG_ATTR(cb->extack, attrs[WBARRIER_A_ACK],
					    "another reader acknowledges this watch's records (the daemon?): read without acknowledging, or stop it");
			wb_watch_put(w);
			return err;
		}
		cb->args[1] = wb_ring_trim(w, cursor);
	} else {
		/* Trims nothing: cursor 0 is below every queued record. */
		cb->args[1] = max(wb_ring_trim(w, 0), cursor);
	}
	cb->args[0] = (long)w;
	wb_ring_arm_notify(w);
	return 0;
}

static int wb_put_record(struct sk_buff *skb, const struct wb_record *rec)
{
	if (nla_put_u32(skb, WBARRIER_A_REC_TYPE, rec->type) ||
	    nla_put_u64_64bit(skb, WBARRIER_A_REC_SEQ, rec->seq,
			      WBARRIER_A_PAD) ||
	    nla_put_u64_64bit(skb, WBARRIER_A_REC_EPOCH, rec->epoch,
			      WBARRIER_A_PAD))
		return -EMSGSIZE;
	if (rec->type == WBARRIER_REC_EPOCH_CLOSED)
		return rec->lossy ? nla_put_flag(skb, WBARRIER_A_REC_LOSSY) : 0;

	if (nla_put_u32(skb, WBARRIER_A_REC_OPS, rec->ops))
		return -EMSGSIZE;
	if (rec->fh_len &&
	    (nla_put_u32(skb, WBARRIER_A_REC_FH_TYPE, rec->fh_type) ||
	     nla_put(skb, WBARRIER_A_REC_FH, rec->fh_len, wb_record_fh(rec))))
		return -EMSGSIZE;
	if (rec->parent_fh_len &&
	    (nla_put_u32(skb, WBARRIER_A_REC_PARENT_FH_TYPE,
			 rec->parent_fh_type) ||
	     nla_put(skb, WBARRIER_A_REC_PARENT_FH, rec->parent_fh_len,
		     wb_record_parent_fh(rec))))
		return -EMSGSIZE;
	if (rec->name_len &&
	    nla_put_string(skb, WBARRIER_A_REC_NAME, wb_record_name(rec)))
		return -EMSGSIZE;
	if (rec->has_range &&
	    (nla_put_u64_64bit(skb, WBARRIER_A_REC_OFFSET, rec->offset,
			       WBARRIER_A_PAD) ||
	     nla_put_u64_64bit(skb, WBARRIER_A_REC_LENGTH, rec->length,
			       WBARRIER_A_PAD)))
		return -EMSGSIZE;
	return 0;
}

/* Records put per hold of the watch's lock: writers wait for it meanwhile. */
#define WB_DUMP_BATCH 32

/*
 * Puts the records from cb->args[1] on into one message, each nested in a
 * WBARRIER_A_RECORD, until the message fills @skb.
 */
static int wb_nl_records_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct wb_watch *w = (struct wb_watch *)cb->args[0];
	u64 start = cb->args[1], seq = start, end;
	unsigned long flags;
	bool full;
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &wb_family, NLM_F_MULTI, WBARRIER_CMD_RECORDS);
	if (!hdr || nla_put_u32(skb, WBARRIER_A_WATCH_ID, w->id))
		return -EMSGSIZE;

	do {
		spin_lock_irqsave(&w->lock, flags);
		if (seq < w->first_seq) {
			spin_unlock_irqrestore(&w->lock, flags);
			genlmsg_cancel(skb, hdr);
			NL_SET_ERR_MSG(cb->extack,
				       "another reader acknowledged records of this dump");
			return -ESTALE;
		}
		end = min(w->next_seq, seq + WB_DUMP_BATCH);
		for (; seq < end; seq++) {
			struct nlattr *nest;

			nest = nla_nest_start(skb, WBARRIER_A_RECORD);
			if (!nest)
				break;
			if (wb_put_record(skb, w->ring[seq % w->ring_size])) {
				nla_nest_cancel(skb, nest);
				break;
			}
			nla_nest_end(skb, nest);
		}
		full = seq < end;
		/* Sent records are final: nothing merges into them any more. */
		WRITE_ONCE(w->read_seq, max(w->read_seq, seq - 1));
		end = w->next_seq;
		spin_unlock_irqrestore(&w->lock, flags);
	} while (!full && seq < end);
	cb->args[1] = seq;

	/* No record left: an empty skb ends the dump. */
	if (seq == start)
		genlmsg_cancel(skb, hdr);
	else
		genlmsg_end(skb, hdr);
	return skb->len;
}

static int wb_nl_records_done(struct netlink_callback *cb)
{
	struct wb_watch *w = (struct wb_watch *)cb->args[0];

	if (w)
		wb_watch_put(w);
	return 0;
}

static const struct genl_ops wb_ops[] = {
	{
		.cmd = WBARRIER_CMD_WATCH,
		.doit = wb_nl_watch,
		.flags = GENL_ADMIN_PERM,
	}, {
		.cmd = WBARRIER_CMD_UNWATCH,
		.doit = wb_nl_unwatch,
		.flags = GENL_ADMIN_PERM,
	}, {
		.cmd = WBARRIER_CMD_BARRIER,
		.doit = wb_nl_barrier,
		.flags = GENL_ADMIN_PERM,
	}, {
		.cmd = WBARRIER_CMD_SYNC,
		.doit = wb_nl_sync,
		.flags = GENL_ADMIN_PERM,
	}, {
		.cmd = WBARRIER_CMD_STATUS,
		.doit = wb_nl_status,
		.start = wb_nl_status_start,
		.dumpit = wb_nl_status_dump,
		.flags = GENL_ADMIN_PERM,
	}, {
		.cmd = WBARRIER_CMD_RECORDS,
		.start = wb_nl_records_start,
		.dumpit = wb_nl_records_dump,
		.done = wb_nl_records_done,
		.flags = GENL_ADMIN_PERM,
	},
};

/* Records name every changed file: only CAP_SYS_ADMIN may listen. */
static const struct genl_multicast_group wb_mcgrps[] = {
	{ .name = WBARRIER_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_SYS_ADMIN },
};

static struct genl_family wb_family __ro_after_init = {
	.name = WBARRIER_GENL_NAME,
	.version = WBARRIER_GENL_VERSION,
	.maxattr = WBARRIER_A_MAX,
	.policy = wb_policy,
	/* Handlers serialize on the watches' own locks, not on genl_mutex. */
	.parallel_ops = true,
	.ops = wb_ops,
	.n_ops = ARRAY_SIZE(wb_ops),
	/*
	 * Not 0: with every command past it, 6.1 drops the extack message of
	 * an error from a dump's .start (test 071). So the core leaves the
	 * header's reserved field and the flags of those to wb_nl_admit();
	 * it checks them itself for SYNC and later commands.
	 */
	.resv_start_op = WBARRIER_CMD_RECORDS + 1,
	.mcgrps = wb_mcgrps,
	.n_mcgrps = ARRAY_SIZE(wb_mcgrps),
	.module = THIS_MODULE,
};

/* A socket closed: it holds no watch's acknowledgements any more. */
static int wb_nl_sock_event(struct notifier_block *nb, unsigned long event,
			    void *ptr)
{
	const struct netlink_notify *n = ptr;

	if (event == NETLINK_URELEASE && n->protocol == NETLINK_GENERIC)
		wb_watch_release_reader(n->net, n->portid);
	return NOTIFY_DONE;
}

static struct notifier_block wb_nl_sock_notifier = {
	.notifier_call = wb_nl_sock_event,
};

/* Notifications stop before the family goes: its group id may be reused. */
static DEFINE_MUTEX(wb_nl_live_mutex);
static bool wb_nl_live;

static void wb_nl_multicast(struct sk_buff *skb)
{
	mutex_lock(&wb_nl_live_mutex);
	if (wb_nl_live)
		genlmsg_multicast(&wb_family, skb, 0, 0, GFP_KERNEL);
	else
		nlmsg_free(skb);
	mutex_unlock(&wb_nl_live_mutex);
}

/* Announces an event of @w to the multicast group; process context. */
void wb_nl_notify(struct wb_watch *w, u8 cmd)
{
	struct sk_buff *skb;
	unsigned long flags;
	u64 next_seq, epoch;
	void *hdr;

	spin_lock_irqsave(&w->lock, flags);
	next_seq = w->next_seq;
	epoch = w->overflow_epoch;
	spin_unlock_irqrestore(&w->lock, flags);

	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;	/* best effort: the ring and STATUS keep the facts */
	hdr = genlmsg_put(skb, 0, 0, &wb_family, 0, cmd);
	if (!hdr ||
	    nla_put_u32(skb, WBARRIER_A_WATCH_ID, w->id) ||
	    ((cmd == WBARRIER_CMD_NOTIFY_RECORDS ||
	      cmd == WBARRIER_CMD_NOTIFY_UNMOUNT) &&
	     nla_put_u64_64bit(skb, WBARRIER_A_NEXT_SEQ, next_seq,
			       WBARRIER_A_PAD)) ||
	    (cmd == WBARRIER_CMD_NOTIFY_OVERFLOW &&
	     nla_put_u64_64bit(skb, WBARRIER_A_EPOCH, epoch, WBARRIER_A_PAD))) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	wb_nl_multicast(skb);
}

/* The message wb_nl_notify_closed() fills; NULL if it cannot be had. */
struct sk_buff *wb_nl_closed_alloc(void)
{
	if (wb_fault_notify_alloc())
		return NULL;
	return genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
}

/*
 * Announces that the epoch @c of @w is closed, in @c->skb (which it
 * consumes); process context.
 */
void wb_nl_notify_closed(struct wb_watch *w, const struct wb_closed *c)
{
	struct sk_buff *skb = c->skb;
	void *hdr;

	hdr = genlmsg_put(skb, 0, 0, &wb_family, 0,
			  WBARRIER_CMD_NOTIFY_EPOCH_CLOSED);
	if (!hdr ||
	    nla_put_u32(skb, WBARRIER_A_WATCH_ID, w->id) ||
	    nla_put_u64_64bit(skb, WBARRIER_A_EPOCH, c->epoch,
			      WBARRIER_A_PAD) ||
	    (c->lossy && nla_put_flag(skb, WBARRIER_A_LOSSY)) ||
	    nla_put_u64_64bit(skb, WBARRIER_A_NEXT_SEQ, c->next_seq,
			      WBARRIER_A_PAD)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	wb_nl_multicast(skb);
}

/* Announces that the SYNC requests of @w up to @s->sync are done. */
void wb_nl_notify_synced(struct wb_watch *w, const struct wb_synced *s)
{
	struct sk_buff *skb;
	void *hdr;

	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;	/* the waiter asks again after its timeout */
	hdr = genlmsg_put(skb, 0, 0, &wb_family, 0,
			  WBARRIER_CMD_NOTIFY_SYNCED);
	if (!hdr ||
	    nla_put_u32(skb, WBARRIER_A_WATCH_ID, w->id) ||
	    nla_put_u64_64bit(skb, WBARRIER_A_SYNC, s->sync, WBARRIER_A_PAD) ||
	    (s->err && nla_put_u32(skb, WBARRIER_A_ERRNO, -s->err)) ||
	    (s->unmounted && nla_put_flag(skb, WBARRIER_A_UNMOUNTED))) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	wb_nl_multicast(skb);
}

int __init wb_nl_init(void)
{
	int err;

	err = netlink_register_notifier(&wb_nl_sock_notifier);
	if (err)
		return err;
	err = genl_register_family(&wb_family);
	if (err) {
		netlink_unregister_notifier(&wb_nl_sock_notifier);
		return err;
	}
	wb_nl_live = true;
	return 0;
}

void wb_nl_exit(void)
{
	mutex_lock(&wb_nl_live_mutex);
	wb_nl_live = false;
	mutex_unlock(&wb_nl_live_mutex);
	genl_unregister_family(&wb_family);
	netlink_unregister_notifier(&wb_nl_sock_notifier);
}
