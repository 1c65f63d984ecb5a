package genl

// The generic netlink ABI of the wbarrier module, mirrored from
// kmod/uapi/wbarrier.h. uapi_test.go parses that header and checks every
// constant here against it: change both together.
//
// The record types and op bits are not repeated here: they are record.Type*
// and record.Op*, which the same test checks.

// Family name, version, multicast group and limits (#define).
const (
	familyName    = "wbarrier" // WBARRIER_GENL_NAME
	familyVersion = 7          // WBARRIER_GENL_VERSION
	groupEvents   = "events"   // WBARRIER_MCGRP_EVENTS
	fhMax         = 128        // WBARRIER_FH_MAX
)

// Commands (enum wbarrier_cmd).
const (
	cmdUnspec         = 0  // WBARRIER_CMD_UNSPEC
	cmdWatch          = 1  // WBARRIER_CMD_WATCH
	cmdUnwatch        = 2  // WBARRIER_CMD_UNWATCH
	cmdBarrier        = 3  // WBARRIER_CMD_BARRIER
	cmdStatus         = 4  // WBARRIER_CMD_STATUS
	cmdRecords        = 5  // WBARRIER_CMD_RECORDS
	cmdNotifyRecords  = 6  // WBARRIER_CMD_NOTIFY_RECORDS
	cmdNotifyOverflow = 7  // WBARRIER_CMD_NOTIFY_OVERFLOW
	cmdNotifyUnwatch  = 8  // WBARRIER_CMD_NOTIFY_UNWATCH
	cmdNotifyUnmount  = 9  // WBARRIER_CMD_NOTIFY_UNMOUNT
	cmdNotifyClosed   = 10 // WBARRIER_CMD_NOTIFY_EPOCH_CLOSED
	cmdSync           = 11 // WBARRIER_CMD_SYNC
	cmdNotifySynced   = 12 // WBARRIER_CMD_NOTIFY_SYNCED
)

// Attributes (enum wbarrier_attr).
const (
	attrUnspec          = 0  // WBARRIER_A_UNSPEC
	attrPad             = 1  // WBARRIER_A_PAD
	attrWatchID         = 2  // WBARRIER_A_WATCH_ID, u32
	attrPath            = 3  // WBARRIER_A_PATH, string
	attrDev             = 4  // WBARRIER_A_DEV, u32
	attrFSType          = 5  // WBARRIER_A_FSTYPE, string
	attrEpoch           = 6  // WBARRIER_A_EPOCH, u64
	attrLossy           = 7  // WBARRIER_A_LOSSY, flag
	attrNextSeq         = 8  // WBARRIER_A_NEXT_SEQ, u64
	attrFirstSeq        = 9  // WBARRIER_A_FIRST_SEQ, u64
	attrQueued          = 10 // WBARRIER_A_QUEUED, u32
	attrEmitted         = 11 // WBARRIER_A_EMITTED, u64
	attrLost            = 12 // WBARRIER_A_LOST, u64
	attrCursor          = 13 // WBARRIER_A_CURSOR, u64
	attrRecType         = 14 // WBARRIER_A_REC_TYPE, u32
	attrRecSeq          = 15 // WBARRIER_A_REC_SEQ, u64
	attrRecEpoch        = 16 // WBARRIER_A_REC_EPOCH, u64
	attrRecOps          = 17 // WBARRIER_A_REC_OPS, u32
	attrRecFHType       = 18 // WBARRIER_A_REC_FH_TYPE, u32
	attrRecFH           = 19 // WBARRIER_A_REC_FH, binary
	attrRecParentFHType = 20 // WBARRIER_A_REC_PARENT_FH_TYPE, u32
	attrRecParentFH     = 21 // WBARRIER_A_REC_PARENT_FH, binary
	attrRecName         = 22 // WBARRIER_A_REC_NAME, string
	attrRecOffset       = 23 // WBARRIER_A_REC_OFFSET, u64
	attrRecLength       = 24 // WBARRIER_A_REC_LENGTH, u64
	attrRecLossy        = 25 // WBARRIER_A_REC_LOSSY, flag
	attrUnmounted       = 26 // WBARRIER_A_UNMOUNTED, flag
	attrRecord          = 27 // WBARRIER_A_RECORD, nested WBARRIER_A_REC_*
	attrLoadID          = 28 // WBARRIER_A_LOAD_ID, u64
	attrAck             = 29 // WBARRIER_A_ACK, flag
	attrSync            = 30 // WBARRIER_A_SYNC, u64
	attrErrno           = 31 // WBARRIER_A_ERRNO, u32
	attrAtMount         = 32 // WBARRIER_A_AT_MOUNT, flag
	attrWaiting         = 33 // WBARRIER_A_WAITING, flag
)
