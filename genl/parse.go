package genl

import (
	"fmt"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

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
		}
	})
	if err != nil {
		return Watch{}, err
	}
	return w, nil
}

// parseBarrier decodes the reply of WBARRIER_CMD_BARRIER.
func parseBarrier(m genetlink.Message) (Barrier, error) {
	var b Barrier
	err := decode(m.Data, func(ad *netlink.AttributeDecoder) {
		switch ad.Type() {
		case attrWatchID:
			b.WatchID = ad.Uint32()
		case attrEpoch:
			b.Epoch = ad.Uint64()
		case attrLossy:
			b.Lossy = ad.Flag()
		case attrNextSeq:
			b.NextSeq = ad.Uint64()
		}
	})
	if err != nil {
		return Barrier{}, err
	}
	return b, nil
}

// parseRecords decodes the replies of the WBARRIER_CMD_RECORDS dump, one
// record each.
func parseRecords(msgs []genetlink.Message) ([]record.Record, error) {
	rs := make([]record.Record, 0, len(msgs))
	for _, m := range msgs {
		r, err := parseRecord(m)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// parseRecord decodes one record: flat WBARRIER_A_REC_* attributes beside
// WBARRIER_A_WATCH_ID, which it ignores.
func parseRecord(m genetlink.Message) (record.Record, error) {
	var (
		r                record.Record
		fh, parentFH     []byte
		hasFH, hasParent bool
		fhType, pfhType  uint32
	)
	err := decode(m.Data, func(ad *netlink.AttributeDecoder) {
		switch ad.Type() {
		case attrRecType:
			r.Type = record.Type(ad.Uint32())
		case attrRecSeq:
			r.Seq = ad.Uint64()
		case attrRecEpoch:
			r.Epoch = ad.Uint64()
		case attrRecOps:
			r.Ops = record.Op(ad.Uint32())
		case attrRecFHType:
			fhType = ad.Uint32()
		case attrRecFH:
			// Bytes copies: the message buffer is reused by the next
			// receive.
			fh, hasFH = ad.Bytes(), true
		case attrRecParentFHType:
			pfhType = ad.Uint32()
		case attrRecParentFH:
			parentFH, hasParent = ad.Bytes(), true
		case attrRecName:
			r.Name = ad.String()
		case attrRecOffset:
			r.Offset, r.HasRange = ad.Uint64(), true
		case attrRecLength:
			r.Length, r.HasRange = ad.Uint64(), true
		case attrRecLossy:
			r.Lossy = ad.Flag()
		}
	})
	if err != nil {
		return record.Record{}, err
	}
	if len(fh) > fhMax || len(parentFH) > fhMax {
		return record.Record{}, fmt.Errorf("record %d: file handle longer than %d bytes", r.Seq, fhMax)
	}
	if hasFH {
		r.Handle = &record.FileHandle{Type: fhType, Bytes: fh}
	}
	if hasParent {
		r.Parent = &record.FileHandle{Type: pfhType, Bytes: parentFH}
	}
	return r, nil
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
		}
	})
	if err != nil {
		return Event{}, false, err
	}
	return e, true, nil
}
