package genl

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/wbarrier/wbarrier/record"
)

// decode runs fn on every attribute of b and returns the decoder's error.
// fn switches on ad.Type() and ignores the types it does not know, so a newer
// module may add attributes to a reply.
func decode(b []byte, fn func(ad *netlink.AttributeDecoder)) error {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return err
	}
	for ad.Next() {
		fn(ad)
	}
	return ad.Err()
}

// parseWatches decodes the replies of WBARRIER_CMD_STATUS, one watch each.
func parseWatches(msgs []genetlink.Message) ([]Watch, error) {
	ws := make([]Watch, 0, len(msgs))
	for _, m := range msgs {
		w, err := parseWatch(m)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// parseWatch decodes one reply of WBARRIER_CMD_STATUS or WBARRIER_CMD_WATCH.
func parseWatch(m genetlink.Message) (Watch, error) {
	var w Watch
	err := decode(m.Data, func(ad *netlink.AttributeDecoder) {
		switch ad.Type() {
		case attrWatchID:
			w.ID = ad.Uint32()
		case attrPath:
			w.Path = ad.String()
		case attrDev:
			w.Dev = ad.Uint32()
		case attrFSType:
			w.FSType = ad.String()
		case attrEpoch:
			w.Epoch = ad.Uint64()
		case attrLossy:
			w.Lossy = ad.Flag()
		case attrNextSeq:
			w.NextSeq = ad.Uint64()
		case attrFirstSeq:
			w.FirstSeq = ad.Uint64()
		case attrQueued:
			w.Queued = ad.Uint32()
		case attrEmitted:
			w.Emitted = ad.Uint64()
		case attrLost:
			w.Lost = ad.Uint64()
		case attrUnmounted:
			w.Unmounted = ad.Flag()
		case attrLoadID:
			w.LoadID = ad.Uint64()
		case attrAtMount:
			w.AtMount = ad.Flag()
		case attrWaiting:
			w.Waiting = ad.Flag()
		}
	})
	if err != nil {
		return Watch{}, err
	}
	return w, nil
}

// parseBarrier decodes the reply of WBARRIER_CMD_BARRIER: the watch and
// the epoch being closed.
func parseBarrier(m genetlink.Message) (watch uint32, closing uint64, err error) {
	err = decode(m.Data, func(ad *netlink.AttributeDecoder) {
		switch ad.Type() {
		case attrWatchID:
			watch = ad.Uint32()
		case attrEpoch:
			closing = ad.Uint64()
		}
	})
	if err == nil && closing == 0 {
		err = errors.New("no epoch in the reply")
	}
	return watch, closing, err
}

// parseSyncReply decodes the reply of WBARRIER_CMD_SYNC: the number of
// the sync asked for, or unmounted (nothing to sync).
func parseSyncReply(m genetlink.Message) (n uint64, unmounted bool, err error) {
	err = decode(m.Data, func(ad *netlink.AttributeDecoder) {
		switch ad.Type() {
		case attrSync:
			n = ad.Uint64()
		case attrUnmounted:
			unmounted = ad.Flag()
		}
	})
	if err == nil && n == 0 && !unmounted {
		err = errors.New("neither a sync number nor unmounted in the reply")
	}
	return n, unmounted, err
}

// synced is a WBARRIER_CMD_NOTIFY_SYNCED: the syncs of watch up to sync
// are done, with errno if they failed, or found the filesystem unmounted.
type synced struct {
	watch     uint32
	sync      uint64
	errno     unix.Errno
	unmounted bool
}

func parseSynced(m genetlink.Message) (s synced, err error) {
	err = decode(m.Data, func(ad *netlink.AttributeDecoder) {
		switch ad.Type() {
		case attrWatchID:
			s.watch = ad.Uint32()
		case attrSync:
			s.sync = ad.Uint64()
		case attrErrno:
			s.errno = unix.Errno(ad.Uint32())
		case attrUnmounted:
			s.unmounted = ad.Flag()
		}
	})
	return s, err
}

// parseRecords decodes one reply of the WBARRIER_CMD_RECORDS dump: it holds
// WBARRIER_A_WATCH_ID, which it ignores, and records packed in
// WBARRIER_A_RECORD attributes. It walks the bytes itself: nothing is
// allocated per attribute, and the handles of the message share one copy
// (the receive buffer is reused by the next receive).
func parseRecords(b []byte) ([]record.Record, error) {
	return parseRecordsInto(b, nil, new(arena))
}

// parseRecordsInto is parseRecords that appends to rs[:0] and copies the
// handles and names into a. With a reusing arena (and rs of the batch
// before), a message allocates nothing once they have grown to the
// largest message's.
func parseRecordsInto(b []byte, rs []record.Record, a *arena) ([]record.Record, error) {
	// Counting first costs a walk over the top-level headers; growing the
	// slice would copy every record several times.
	n := 0
	it := attrIter{b: b}
	for it.next() {
		if it.typ == attrRecord {
			n++
		}
	}
	if cap(rs) < n {
		rs = make([]record.Record, 0, n)
	}
	rs = rs[:0]
	a.start(len(b), n)
	it = attrIter{b: b}
	for it.next() {
		if it.typ != attrRecord {
			continue
		}
		r, err := parseRecord(it.val(), a)
		if err != nil {
			return nil, fmt.Errorf("record %d of the message: %w", len(rs), err)
		}
		rs = append(rs, r)
	}
	if it.err != nil {
		return nil, it.err
	}
	return rs, nil
}

// parseRecord decodes the WBARRIER_A_REC_* attributes of one record, nested
// in WBARRIER_A_RECORD; its handles are copied into a.
func parseRecord(b []byte, a *arena) (record.Record, error) {
	var (
		r                record.Record
		fh, parentFH     []byte
		name             []byte
		hasFH, hasParent bool
		fhType, pfhType  uint32
	)
	it := attrIter{b: b}
	for it.next() {
		switch it.typ {
		case attrRecType:
			r.Type = record.Type(it.uint32())
		case attrRecSeq:
			r.Seq = it.uint64()
		case attrRecEpoch:
			r.Epoch = it.uint64()
		case attrRecOps:
			r.Ops = record.Op(it.uint32())
		case attrRecFHType:
			fhType = it.uint32()
		case attrRecFH:
			fh, hasFH = it.val(), true
		case attrRecParentFHType:
			pfhType = it.uint32()
		case attrRecParentFH:
			parentFH, hasParent = it.val(), true
		case attrRecName:
			name = it.cstring()
		case attrRecOffset:
			r.Offset, r.HasRange = it.uint64(), true
		case attrRecLength:
			r.Length, r.HasRange = it.uint64(), true
		case attrRecLossy:
			r.Lossy = it.flag()
		}
	}
	if it.err != nil {
		return record.Record{}, it.err
	}
	if len(fh) > fhMax || len(parentFH) > fhMax {
		return record.Record{}, fmt.Errorf("record %d: file handle longer than %d bytes", r.Seq, fhMax)
	}
	if hasFH {
		r.Handle = a.handle(fhType, fh)
	}
	if hasParent {
		r.Parent = a.handle(pfhType, parentFH)
	}
	r.Name = a.string(name)
	return r, nil
}

// An arena holds the handles and names of the records of one message: a
// few allocations per message rather than two per handle and one per name.
type arena struct {
	bytes   []byte              // the handles' and names' bytes, filled in chunks; never grown in place
	handles []record.FileHandle // filled in chunks; never grown in place
	// reuse: each message overwrites the handles and names of the one
	// before, in one chunk of each sized for it (ScanRecords).
	reuse bool
}

// start readies a for a message of size bytes holding n records: a
// reusing arena gets room for all their handles and names (they are
// parts of the message), so that it never starts a new chunk inside the
// message.
func (a *arena) start(size, n int) {
	if !a.reuse {
		return
	}
	if cap(a.bytes) < size {
		a.bytes = make([]byte, 0, size)
	}
	if cap(a.handles) < 2*n {
		a.handles = make([]record.FileHandle, 0, 2*n)
	}
	a.bytes, a.handles = a.bytes[:0], a.handles[:0]
}

// arenaChunk is the size of a chunk of arena bytes: the handles and names
// of a 32 KiB message of data writes with 8-byte handles take about
// 2.5 KiB. A chunk as large as the message, as before, was half of what
// the daemon allocated per record (BenchmarkDaemonRecords).
const arenaChunk = 4 << 10

// copy returns a copy of b in the arena's bytes.
func (a *arena) copy(b []byte) []byte {
	if a.bytes == nil || len(a.bytes)+len(b) > cap(a.bytes) {
		// A new chunk: the copies already returned point into the old
		// one, which stays as it is.
		a.bytes = make([]byte, 0, max(arenaChunk, len(b)))
	}
	n := len(a.bytes)
	a.bytes = append(a.bytes, b...)
	return a.bytes[n:len(a.bytes):len(a.bytes)]
}

// handle returns a copy of the handle b of type typ.
func (a *arena) handle(typ uint32, b []byte) *record.FileHandle {
	c := a.copy(b)
	if len(a.handles) == cap(a.handles) {
		// A new chunk: the handles already returned point into the
		// old one, which stays as it is.
		a.handles = make([]record.FileHandle, 0, 64)
	}
	a.handles = append(a.handles, record.FileHandle{Type: typ, Bytes: c})
	return &a.handles[len(a.handles)-1]
}

// string returns a copy of b as a string. The string shares the arena's
// bytes, which are never written again once appended.
func (a *arena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	c := a.copy(b)
	return unsafe.String(&c[0], len(c))
}

// parseEvent decodes one multicast notification. ok is false for a command
// that is not a WBARRIER_CMD_NOTIFY_* this package knows.
func parseEvent(m genetlink.Message) (e Event, ok bool, err error) {
	switch m.Header.Command {
	case cmdNotifyRecords:
		e.Kind = EventRecords
	case cmdNotifyOverflow:
		e.Kind = EventOverflow
	case cmdNotifyUnwatch:
		e.Kind = EventUnwatch
	case cmdNotifyUnmount:
		e.Kind = EventUnmount
	case cmdNotifyClosed:
		e.Kind = EventEpochClosed
	default:
		return Event{}, false, nil
	}
	err = decode(m.Data, func(ad *netlink.AttributeDecoder) {
		switch ad.Type() {
		case attrWatchID:
			e.WatchID = ad.Uint32()
		case attrNextSeq:
			e.NextSeq = ad.Uint64()
		case attrEpoch:
			e.Epoch = ad.Uint64()
		case attrLossy:
			e.Lossy = ad.Flag()
		}
	})
	if err != nil {
		return Event{}, false, err
	}
	return e, true, nil
}
