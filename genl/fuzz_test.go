package genl

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

	"github.com/wbarrier/wbarrier/record"
)

// The decoders take what the kernel sends, but a broken or hostile module
// (or another family answering on a reused id) can send anything: they
// must return an error or a value, never panic, and what they accept must
// survive being encoded the kernel's way and decoded again.

func attrs(as ...netlink.Attribute) []byte {
	b, err := netlink.MarshalAttributes(as)
	if err != nil {
		panic(err)
	}
	return b
}

// recordAttrs are r's attributes as kmod/netlink.c's wb_put_record puts
// them.
func recordAttrs(r record.Record) []netlink.Attribute {
	as := []netlink.Attribute{
		u32(attrRecType, uint32(r.Type)),
		pad, u64(attrRecSeq, r.Seq),
		pad, u64(attrRecEpoch, r.Epoch),
		u32(attrRecOps, uint32(r.Ops)),
	}
	if r.Handle != nil {
		as = append(as, u32(attrRecFHType, r.Handle.Type), bin(attrRecFH, r.Handle.Bytes...))
	}
	if r.Parent != nil {
		as = append(as, u32(attrRecParentFHType, r.Parent.Type), bin(attrRecParentFH, r.Parent.Bytes...))
	}
	if r.Name != "" {
		as = append(as, str(attrRecName, r.Name))
	}
	if r.HasRange {
		as = append(as, u64(attrRecOffset, r.Offset), u64(attrRecLength, r.Length))
	}
	if r.Lossy {
		as = append(as, flag(attrRecLossy))
	}
	return as
}

// nested is an attribute of type typ holding as, with NLA_F_NESTED, as
// nla_nest_start makes it.
func nested(typ uint16, as ...netlink.Attribute) netlink.Attribute {
	return netlink.Attribute{Type: typ | netlink.Nested, Data: attrs(as...)}
}

// encodeRecords encodes rs as one message of the RECORDS dump, as
// kmod/netlink.c's wb_nl_records_dump does.
func encodeRecords(rs ...record.Record) []byte {
	as := []netlink.Attribute{u32(attrWatchID, 3)}
	for _, r := range rs {
		as = append(as, nested(attrRecord, recordAttrs(r)...))
	}
	return attrs(as...)
}

// packRecords packs rs into RECORDS messages of at most 32 KiB, as the
// module fills a dump buffer of that size.
func packRecords(rs []record.Record) []genetlink.Message {
	var msgs []genetlink.Message
	pack := func(rs []record.Record) {
		m := msg(cmdRecords)
		m.Data = encodeRecords(rs...)
		msgs = append(msgs, m)
	}
	from, size := 0, 0
	for i, r := range rs {
		n := len(attrs(nested(attrRecord, recordAttrs(r)...)))
		if size+n > 32<<10-64 && i > from {
			pack(rs[from:i])
			from, size = i, 0
		}
		size += n
	}
	if from < len(rs) {
		pack(rs[from:])
	}
	return msgs
}

// parseMessages decodes the records of every message of msgs.
func parseMessages(msgs []genetlink.Message) ([]record.Record, error) {
	var rs []record.Record
	for _, m := range msgs {
		batch, err := parseRecords(m.Data)
		if err != nil {
			return nil, err
		}
		rs = append(rs, batch...)
	}
	return rs, nil
}

func FuzzParseRecords(f *testing.F) {
	f.Add(recordMsg(7).Data)
	f.Add(encodeRecords(record.Record{Type: record.TypeChange, Seq: 1, Epoch: 1, Ops: record.OpCreate,
		Parent: &record.FileHandle{Type: 1, Bytes: []byte{1, 2, 3, 4, 5, 6, 7, 8}}, Name: "file"},
		record.Record{Type: record.TypeChange, Seq: 2, Epoch: 1, Ops: record.OpData,
			Handle: &record.FileHandle{Type: 1, Bytes: []byte{9, 9, 9, 9, 9, 9, 9, 9}}, HasRange: true, Length: 6},
		record.Record{Type: record.TypeEpochClosed, Seq: 3, Epoch: 1, Lossy: true}))
	f.Add(attrs(nested(attrRecord, bin(attrRecFH, make([]byte, fhMax+1)...))))
	f.Add(attrs(nested(attrRecord, bin(attrRecSeq, 1, 2)))) // a u64 of 2 bytes
	f.Add(attrs(nested(attrRecord), bin(attrRecord, 4, 0))) // a truncated attribute header
	f.Add([]byte{4, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := parseRecords(data)
		if err != nil {
			if rs != nil {
				t.Fatalf("an error and %d records: %v", len(rs), err)
			}
			return
		}
		for _, r := range rs {
			for _, h := range []*record.FileHandle{r.Handle, r.Parent} {
				if h != nil && len(h.Bytes) > fhMax {
					t.Fatalf("accepted a handle of %d bytes", len(h.Bytes))
				}
			}
		}
		again, err := parseMessages(packRecords(rs))
		if err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", rs, err)
		}
		if diff := cmp.Diff(rs, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip (-first +again):\n%s", diff)
		}
	})
}

func FuzzParseWatch(f *testing.F) {
	f.Add(attrs(statusAttrs...))
	f.Add(attrs(u32(attrWatchID, 1), str(attrPath, "/"), flag(attrLossy)))
	f.Add(attrs(bin(attrQueued, 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := parseWatch(genetlink.Message{Data: data})
		if err != nil && w != (Watch{}) {
			t.Fatalf("an error and a watch: %v, %+v", err, w)
		}
		ws, errs := parseWatches([]genetlink.Message{{Data: data}, {Data: data}})
		if (err == nil) != (errs == nil) {
			t.Fatalf("parseWatch: %v, parseWatches: %v", err, errs)
		}
		if err == nil && (len(ws) != 2 || ws[0] != w || ws[1] != w) {
			t.Fatalf("parseWatches: %+v, want twice %+v", ws, w)
		}
	})
}

func FuzzParseBarrier(f *testing.F) {
	f.Add(attrs(u32(attrWatchID, 3), pad, u64(attrEpoch, 5), flag(attrLossy), pad, u64(attrNextSeq, 9)))
	f.Add(attrs(bin(attrEpoch, 1, 2, 3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, epoch, err := parseBarrier(genetlink.Message{Data: data})
		if err == nil && epoch == 0 {
			t.Fatalf("no error and no epoch")
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	f.Add(uint8(cmdNotifyRecords), attrs(u32(attrWatchID, 3), pad, u64(attrNextSeq, 9)))
	f.Add(uint8(cmdNotifyOverflow), attrs(u32(attrWatchID, 3), pad, u64(attrEpoch, 2)))
	f.Add(uint8(cmdNotifyUnwatch), attrs(u32(attrWatchID, 3)))
	f.Add(uint8(cmdNotifyClosed), attrs(u32(attrWatchID, 3), pad, u64(attrEpoch, 2), flag(attrLossy), pad, u64(attrNextSeq, 9)))
	f.Add(uint8(cmdBarrier), attrs(u32(attrWatchID, 3)))
	f.Fuzz(func(t *testing.T, cmd uint8, data []byte) {
		m := genetlink.Message{Header: genetlink.Header{Command: cmd}, Data: data}
		e, ok, err := parseEvent(m)
		if (err != nil || !ok) && e != (Event{}) {
			t.Fatalf("no event but %+v (ok %v, err %v)", e, ok, err)
		}
		if ok && cmd != cmdNotifyRecords && cmd != cmdNotifyOverflow && cmd != cmdNotifyUnwatch && cmd != cmdNotifyUnmount && cmd != cmdNotifyClosed {
			t.Fatalf("command %d decoded as an event", cmd)
		}
	})
}
