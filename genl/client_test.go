package genl

import (
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"

	"github.com/wbarrier/wbarrier/record"
)

// testFamily is the family as the fake kernel serves it.
var testFamily = genetlink.Family{
	ID:      30,
	Version: familyVersion,
	Name:    familyName,
	Groups: []genetlink.MulticastGroup{
		{ID: 5, Name: "other"},
		{ID: 7, Name: groupEvents},
	},
}

// request is what a test checks of a request the client sent.
type request struct {
	Type    netlink.HeaderType // the family ID
	Flags   netlink.HeaderFlags
	Command uint8
	Version uint8
	Attrs   []netlink.Attribute
}

// capture returns the request of a fake's messages.
func capture(t *testing.T, greq genetlink.Message, nreq netlink.Message) request {
	t.Helper()
	attrs, err := netlink.UnmarshalAttributes(greq.Data)
	if err != nil {
		t.Errorf("failed to unmarshal the request's attributes: %v", err)
	}
	for i := range attrs {
		attrs[i].Length = 0 // the want side does not spell lengths out
	}
	return request{
		Type:    nreq.Header.Type,
		Flags:   nreq.Header.Flags,
		Command: greq.Header.Command,
		Version: greq.Header.Version,
		Attrs:   attrs,
	}
}

// testClient returns a Client of a fake kernel that answers the family
// lookup itself and every other request with fn. Its notifications never
// come.
func testClient(t *testing.T, fn genltest.Func) *Client {
	t.Helper()
	return newTestClient(t, dialGenl(genltest.ServeFamily(testFamily, fn)), func() (*genetlink.Conn, error) {
		return genetlink.NewConn(netlink.NewConn(newEventSocket(), 0)), nil
	})
}

// dialGenl is genltest.Dial, but returns the netlink socket under the
// generic netlink one, which newClient takes. An error of fn that is a
// unix.Errno is the kernel's answer, as genltest.Error is there.
func dialGenl(fn genltest.Func) *netlink.Conn {
	return dialRequests(func(greq genetlink.Message, nreq netlink.Message) ([]netlink.Message, error) {
		gmsgs, err := fn(greq, nreq)
		var errno unix.Errno
		if errors.As(err, &errno) {
			return nltest.Error(int(errno), []netlink.Message{nreq})
		}
		if err != nil {
			return nil, err
		}
		return marshalAll(gmsgs)
	})
}

// dialRequests serves one request at a time with fn, whose replies get the
// request's sequence number and port ID.
func dialRequests(fn rawFunc) *netlink.Conn {
	return nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		if len(reqs) != 1 {
			return nil, io.EOF // only requests are expected
		}
		nreq := reqs[0]
		var greq genetlink.Message
		if err := greq.UnmarshalBinary(nreq.Data); err != nil {
			return nil, err
		}
		msgs, err := fn(greq, nreq)
		if err != nil {
			return nil, err
		}
		for i := range msgs {
			msgs[i].Header.Sequence = nreq.Header.Sequence
			msgs[i].Header.PID = nreq.Header.PID
		}
		return msgs, nil
	})
}

// marshalAll returns gmsgs as netlink messages with empty headers.
func marshalAll(gmsgs []genetlink.Message) ([]netlink.Message, error) {
	msgs := make([]netlink.Message, 0, len(gmsgs))
	for _, gm := range gmsgs {
		b, err := gm.MarshalBinary()
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, netlink.Message{Data: b})
	}
	return msgs, nil
}

// newTestClient returns a Client on conn whose Subscribe dials with dial
// (which may be nil).
func newTestClient(t *testing.T, conn *netlink.Conn, dial func() (*genetlink.Conn, error)) *Client {
	t.Helper()
	if dial == nil {
		dial = func() (*genetlink.Conn, error) { return nil, errors.New("no notification socket in this test") }
	}
	c, err := newClient(conn, dial)
	if err != nil {
		t.Fatalf("failed to create the client: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("failed to close the client: %v", err)
		}
	})
	return c
}

// Attribute helpers: as the kernel encodes them.

func u32(typ uint16, v uint32) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: nlenc.Uint32Bytes(v)}
}

func u64(typ uint16, v uint64) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: nlenc.Uint64Bytes(v)}
}

func str(typ uint16, s string) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: nlenc.Bytes(s)}
}

func flag(typ uint16) netlink.Attribute {
	return netlink.Attribute{Type: typ}
}

func bin(typ uint16, b ...byte) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: b}
}

// pad is what nla_put_u64_64bit puts before a u64 it must align.
var pad = netlink.Attribute{Type: attrPad}

// msg returns a generic netlink message of command cmd with attrs.
func msg(cmd uint8, attrs ...netlink.Attribute) genetlink.Message {
	b, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		panic(err)
	}
	return genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: familyVersion},
		Data:   b,
	}
}

// statusAttrs is the reply of STATUS for watch 3.
var statusAttrs = []netlink.Attribute{
	u32(attrWatchID, 3),
	str(attrPath, "/mnt/data"),
	u32(attrDev, 0x10302),
	str(attrFSType, "ext4"),
	pad,
	u64(attrEpoch, 12),
	flag(attrLossy),
	u64(attrNextSeq, 1000),
	u64(attrFirstSeq, 900),
	u32(attrQueued, 100),
	u64(attrEmitted, 5000),
	u64(attrLost, 7),
	flag(attrUnmounted),
	u64(attrLoadID, 0x1234abcd5678ef90),
	flag(attrAtMount),
	str(200, "an attribute of a newer module"),
}

var statusWatch = Watch{
	ID:        3,
	Path:      "/mnt/data",
	Dev:       0x10302,
	FSType:    "ext4",
	Epoch:     12,
	Lossy:     true,
	NextSeq:   1000,
	FirstSeq:  900,
	Queued:    100,
	Emitted:   5000,
	Lost:      7,
	Unmounted: true,
	LoadID:    0x1234abcd5678ef90,
	AtMount:   true,
}

func TestClientRequests(t *testing.T) {
	tests := []struct {
		name    string
		call    func(c *Client) (any, error)
		req     request
		replies []genetlink.Message // none: an acknowledgement alone
		want    any
	}{
		{
			name: "watch",
			call: func(c *Client) (any, error) { return c.Watch("/mnt/data") },
			req: request{
				Flags:   netlink.Request,
				Command: cmdWatch,
				Attrs:   []netlink.Attribute{str(attrPath, "/mnt/data")},
			},
			replies: []genetlink.Message{msg(cmdWatch, statusAttrs...)},
			want:    statusWatch,
		},
		{
			name: "status",
			call: func(c *Client) (any, error) { return c.Status(3) },
			req: request{
				Flags:   netlink.Request,
				Command: cmdStatus,
				Attrs:   []netlink.Attribute{u32(attrWatchID, 3)},
			},
			replies: []genetlink.Message{msg(cmdStatus, statusAttrs...)},
			want:    statusWatch,
		},
		{
			name: "status of a path",
			call: func(c *Client) (any, error) { return c.StatusOf("/mnt/data/sub") },
			req: request{
				Flags:   netlink.Request,
				Command: cmdStatus,
				Attrs:   []netlink.Attribute{str(attrPath, "/mnt/data/sub")},
			},
			replies: []genetlink.Message{msg(cmdStatus, statusAttrs...)},
			want:    statusWatch,
		},
		{
			name: "watches",
			call: func(c *Client) (any, error) { return c.Watches() },
			req: request{
				Flags:   netlink.Request | netlink.Dump,
				Command: cmdStatus,
			},
			replies: []genetlink.Message{
				msg(cmdStatus, statusAttrs...),
				msg(cmdStatus, u32(attrWatchID, 4), str(attrPath, "/"), str(attrFSType, "xfs")),
			},
			want: []Watch{statusWatch, {ID: 4, Path: "/", FSType: "xfs"}},
		},
		{
			name: "watches none",
			call: func(c *Client) (any, error) { return c.Watches() },
			req: request{
				Flags:   netlink.Request | netlink.Dump,
				Command: cmdStatus,
			},
			want: []Watch{},
		},
		{
			name: "records",
			call: func(c *Client) (any, error) { return c.Records(3, 41) },
			req: request{
				Flags:   netlink.Request | netlink.Dump,
				Command: cmdRecords,
				Attrs:   []netlink.Attribute{u32(attrWatchID, 3), u64(attrCursor, 41), {Type: attrAck, Data: []byte{}}},
			},
			replies: []genetlink.Message{
				msg(cmdRecords,
					u32(attrWatchID, 3),
					// A data write.
					nested(attrRecord,
						u32(attrRecType, uint32(record.TypeChange)),
						u64(attrRecSeq, 41),
						u64(attrRecEpoch, 12),
						u32(attrRecOps, uint32(record.OpData|record.OpSize)),
						u32(attrRecFHType, 1),
						bin(attrRecFH, 1, 2, 3, 4, 5, 6, 7, 8),
						u64(attrRecOffset, 4096),
						u64(attrRecLength, 8192),
						u32(200, 9),
					),
					// A create: no handle of its own.
					nested(attrRecord,
						u32(attrRecType, uint32(record.TypeChange)),
						u64(attrRecSeq, 42),
						u64(attrRecEpoch, 12),
						u32(attrRecOps, uint32(record.OpCreate)),
						u32(attrRecParentFHType, 0x81),
						bin(attrRecParentFH, 9, 9),
						str(attrRecName, "new.txt"),
					),
					u32(200, 9),
				),
				msg(cmdRecords,
					u32(attrWatchID, 3),
					// A rename, handle after its type.
					nested(attrRecord,
						u32(attrRecType, uint32(record.TypeChange)),
						u64(attrRecSeq, 43),
						u64(attrRecEpoch, 12),
						u32(attrRecOps, uint32(record.OpRenameFrom)),
						bin(attrRecFH, 7),
						u32(attrRecFHType, 2),
						bin(attrRecParentFH, 8),
						u32(attrRecParentFHType, 3),
						str(attrRecName, "old.txt"),
					),
					// The barrier's marker.
					nested(attrRecord,
						u32(attrRecType, uint32(record.TypeEpochClosed)),
						u64(attrRecSeq, 44),
						u64(attrRecEpoch, 12),
						flag(attrRecLossy),
					),
				),
			},
			want: []record.Record{
				{
					Type:     record.TypeChange,
					Seq:      41,
					Epoch:    12,
					Ops:      record.OpData | record.OpSize,
					Handle:   &record.FileHandle{Type: 1, Bytes: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
					HasRange: true,
					Offset:   4096,
					Length:   8192,
				},
				{
					Type:   record.TypeChange,
					Seq:    42,
					Epoch:  12,
					Ops:    record.OpCreate,
					Parent: &record.FileHandle{Type: 0x81, Bytes: []byte{9, 9}},
					Name:   "new.txt",
				},
				{
					Type:   record.TypeChange,
					Seq:    43,
					Epoch:  12,
					Ops:    record.OpRenameFrom,
					Handle: &record.FileHandle{Type: 2, Bytes: []byte{7}},
					Parent: &record.FileHandle{Type: 3, Bytes: []byte{8}},
					Name:   "old.txt",
				},
				{
					Type:  record.TypeEpochClosed,
					Seq:   44,
					Epoch: 12,
					Lossy: true,
				},
			},
		},
		{
			name: "records none",
			call: func(c *Client) (any, error) { return c.Records(3, 0) },
			req: request{
				Flags:   netlink.Request | netlink.Dump,
				Command: cmdRecords,
				Attrs:   []netlink.Attribute{u32(attrWatchID, 3), u64(attrCursor, 0), {Type: attrAck, Data: []byte{}}},
			},
			want: []record.Record{},
		},
		{
			name: "peek records: no acknowledgement",
			call: func(c *Client) (any, error) { return c.PeekRecords(3, 5) },
			req: request{
				Flags:   netlink.Request | netlink.Dump,
				Command: cmdRecords,
				Attrs:   []netlink.Attribute{u32(attrWatchID, 3), u64(attrCursor, 5)},
			},
			want: []record.Record{},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				got   request
				calls int
			)
			c := testClient(t, func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
				calls++
				got = capture(t, greq, nreq)
				if len(tt.replies) == 0 {
					return nil, io.EOF
				}
				return tt.replies, nil
			})

			res, err := tt.call(c)
			if err != nil {
				t.Fatalf("failed to call: %v", err)
			}
			if calls != 1 {
				t.Fatalf("sent %d requests, want 1", calls)
			}
			want := tt.req
			want.Type = netlink.HeaderType(testFamily.ID)
			want.Version = familyVersion
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("unexpected request (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, res); diff != "" {
				t.Errorf("unexpected result (-want +got):\n%s", diff)
			}
		})
	}
}

// calls names a call of every request method, for the tests that expect
// each to fail in the same way.
var calls = []struct {
	name string
	cmd  uint8
	op   string
	call func(c *Client) error
}{
	{"watch", cmdWatch, `watch "/mnt"`, func(c *Client) error { _, err := c.Watch("/mnt"); return err }},
	{"unwatch", cmdUnwatch, "unwatch watch 3", func(c *Client) error { return c.Unwatch(3) }},
	{"barrier", cmdBarrier, "barrier watch 3", func(c *Client) error { _, err := c.Barrier(3); return err }},
	{"status", cmdStatus, "status watch 3", func(c *Client) error { _, err := c.Status(3); return err }},
	{"watches", cmdStatus, "list watches", func(c *Client) error { _, err := c.Watches(); return err }},
	{"records", cmdRecords, "records watch 3 from 7", func(c *Client) error { _, err := c.Records(3, 7); return err }},
}

func TestClientErrors(t *testing.T) {
	tests := []struct {
		name   string
		call   string // the name in calls
		errno  unix.Errno
		msg    string
		is     []error
		isNot  []error
		nonErr bool // the fake fails with a plain error, not an errno
	}{
		{
			name:  "barrier ENOENT",
			call:  "barrier",
			errno: unix.ENOENT,
			msg:   "genl: barrier watch 3: no such watch",
			is:    []error{os.ErrNotExist, unix.ENOENT},
			isNot: []error{os.ErrExist, os.ErrPermission},
		},
		{
			name:  "unwatch ENOENT",
			call:  "unwatch",
			errno: unix.ENOENT,
			msg:   "genl: unwatch watch 3: no such watch",
			is:    []error{os.ErrNotExist, unix.ENOENT},
		},
		{
			name:  "status ENOENT",
			call:  "status",
			errno: unix.ENOENT,
			msg:   "genl: status watch 3: no such watch",
			is:    []error{os.ErrNotExist, unix.ENOENT},
		},
		{
			name:  "records ENOENT",
			call:  "records",
			errno: unix.ENOENT,
			msg:   "genl: records watch 3 from 7: no such watch",
			is:    []error{os.ErrNotExist, unix.ENOENT},
		},
		{
			name:  "watch ENOENT",
			call:  "watch",
			errno: unix.ENOENT,
			msg:   `genl: watch "/mnt": no such file or directory`,
			is:    []error{os.ErrNotExist, unix.ENOENT},
		},
		{
			name:  "watch EEXIST",
			call:  "watch",
			errno: unix.EEXIST,
			msg:   `genl: watch "/mnt": the filesystem is already watched`,
			is:    []error{os.ErrExist, unix.EEXIST},
			isNot: []error{os.ErrNotExist},
		},
		{
			name:  "watch EOPNOTSUPP",
			call:  "watch",
			errno: unix.EOPNOTSUPP,
			msg:   `genl: watch "/mnt": the filesystem cannot encode file handles`,
			is:    []error{unix.EOPNOTSUPP, errors.ErrUnsupported},
		},
		{
			name:  "barrier ENODEV",
			call:  "barrier",
			errno: unix.ENODEV,
			msg:   "genl: barrier watch 3: the filesystem was unmounted",
			is:    []error{unix.ENODEV},
		},
		{
			name:  "watches EPERM",
			call:  "watches",
			errno: unix.EPERM,
			msg:   "genl: list watches: operation not permitted (CAP_SYS_ADMIN is needed)",
			is:    []error{os.ErrPermission, unix.EPERM},
		},
		{
			name:  "barrier EPERM",
			call:  "barrier",
			errno: unix.EPERM,
			msg:   "genl: barrier watch 3: operation not permitted (CAP_SYS_ADMIN is needed)",
			is:    []error{os.ErrPermission, unix.EPERM},
		},
		{
			name:  "status EINVAL",
			call:  "status",
			errno: unix.EINVAL,
			msg:   "genl: status watch 3: invalid argument",
			is:    []error{unix.EINVAL},
			isNot: []error{os.ErrNotExist, os.ErrExist, os.ErrPermission},
		},
		{
			name:   "not an errno",
			call:   "barrier",
			nonErr: true,
			msg:    "genl: barrier watch 3: netlink receive: the fake failed",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var call func(c *Client) error
			for _, cl := range calls {
				if cl.name == tt.call {
					call = cl.call
				}
			}
			var c *Client
			if tt.call == "watches" || tt.call == "records" {
				// genltest.Error copies the request's flags into the
				// error, and NLM_F_DUMP shares its bits with
				// NLM_F_CAPPED|NLM_F_ACK_TLVS: answer as the kernel does.
				c = newTestClient(t, dialRaw(func(_ genetlink.Message, nreq netlink.Message) ([]netlink.Message, error) {
					return errorReply(nreq, tt.errno)
				}), nil)
			} else {
				c = testClient(t, func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
					if tt.nonErr {
						return nil, errors.New("the fake failed")
					}
					return nil, tt.errno
				})
			}

			err := call(c)
			if err == nil {
				t.Fatal("expected an error, got none")
			}
			if !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("unexpected message:\n got: %s\nwant: %s...", err, tt.msg)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(err, %v) is false, want true", target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(err, target) {
					t.Errorf("errors.Is(err, %v) is true, want false", target)
				}
			}
			if tt.errno != 0 {
				var oerr *netlink.OpError
				if !errors.As(err, &oerr) {
					t.Errorf("errors.As(err, *netlink.OpError) is false, want true")
				}
			}
		})
	}
}

func TestClientWrongReplyCount(t *testing.T) {
	for _, cl := range calls {
		if cl.name == "unwatch" || cl.name == "watches" || cl.name == "records" {
			continue // no reply, or any number
		}
		t.Run(cl.name, func(t *testing.T) {
			c := testClient(t, func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
				return []genetlink.Message{msg(cl.cmd), msg(cl.cmd)}, nil
			})
			err := cl.call(c)
			want := "genl: " + cl.op + ": got 2 replies, want 1"
			if err == nil || err.Error() != want {
				t.Fatalf("unexpected error:\n got: %v\nwant: %s", err, want)
			}
		})
	}
}

func TestClientBadReply(t *testing.T) {
	for _, cl := range calls {
		if cl.name == "unwatch" {
			continue // its reply is not decoded
		}
		t.Run(cl.name, func(t *testing.T) {
			// A u32 attribute of 2 bytes, of every attribute number the
			// replies use.
			var attrs []netlink.Attribute
			for typ := uint16(attrWatchID); typ <= attrRecLength; typ++ {
				if typ == attrPath || typ == attrFSType || typ == attrRecName ||
					typ == attrRecFH || typ == attrRecParentFH || typ == attrRecLossy {
					continue
				}
				attrs = append(attrs, bin(typ, 1, 2))
			}
			if cl.name == "records" {
				attrs = []netlink.Attribute{nested(attrRecord, attrs...)}
			}
			c := testClient(t, func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
				return []genetlink.Message{msg(cl.cmd, attrs...)}, nil
			})
			err := cl.call(c)
			want := "genl: " + cl.op + ": decode reply: "
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("unexpected error:\n got: %v\nwant: %s...", err, want)
			}
		})
	}
}

// rawFunc answers a request with netlink messages, whose header flags and
// types it chooses; dialRaw fills in their sequence numbers and port IDs.
type rawFunc func(greq genetlink.Message, nreq netlink.Message) ([]netlink.Message, error)

// dialRaw is genltest.Dial for replies that genltest cannot express:
// multi-part dumps, NLM_F_DUMP_INTR and extended acknowledgements. It serves
// the family lookup with genltest.ServeFamily and every other request with
// fn.
func dialRaw(fn rawFunc) *netlink.Conn {
	family := genltest.ServeFamily(testFamily, nil)
	return dialRequests(func(greq genetlink.Message, nreq netlink.Message) ([]netlink.Message, error) {
		if nreq.Header.Type != unix.GENL_ID_CTRL {
			return fn(greq, nreq)
		}
		gmsgs, err := family(greq, nreq)
		if err != nil {
			return nil, err
		}
		return marshalAll(gmsgs)
	})
}

// dump returns the messages of a multi-part dump of gmsgs, each with flags,
// and the closing NLMSG_DONE carrying errno (0 for none).
func dump(gmsgs []genetlink.Message, flags netlink.HeaderFlags, errno unix.Errno) []netlink.Message {
	var msgs []netlink.Message
	for _, gm := range gmsgs {
		b, err := gm.MarshalBinary()
		if err != nil {
			panic(err)
		}
		msgs = append(msgs, netlink.Message{
			Header: netlink.Header{Type: netlink.HeaderType(testFamily.ID), Flags: netlink.Multi | flags},
			Data:   b,
		})
	}
	return append(msgs, netlink.Message{
		Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi | flags},
		Data:   nlenc.Int32Bytes(-int32(errno)),
	})
}

// errorReply is the kernel's NLMSG_ERROR for nreq, without extended
// acknowledgement: the errno, then the request.
func errorReply(nreq netlink.Message, errno unix.Errno) ([]netlink.Message, error) {
	req, err := nreq.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return []netlink.Message{{
		Header: netlink.Header{Type: netlink.Error},
		Data:   append(nlenc.Int32Bytes(-int32(errno)), req...),
	}}, nil
}

// recordMsg is a RECORDS message holding one data record.
func recordMsg(seq uint64) genetlink.Message {
	return packRecords([]record.Record{{
		Type:   record.TypeChange,
		Seq:    seq,
		Epoch:  1,
		Ops:    record.OpAttr,
		Handle: &record.FileHandle{Type: 1, Bytes: []byte{byte(seq)}},
	}})[0]
}

func TestClientDumps(t *testing.T) {
	var (
		records  []genetlink.Message
		want     []record.Record
		watchMsg = []genetlink.Message{msg(cmdStatus, statusAttrs...), msg(cmdStatus, statusAttrs...)}
	)
	for seq := uint64(1); seq <= 9; seq++ {
		records = append(records, recordMsg(seq))
		want = append(want, record.Record{
			Type:   record.TypeChange,
			Seq:    seq,
			Epoch:  1,
			Ops:    record.OpAttr,
			Handle: &record.FileHandle{Type: 1, Bytes: []byte{byte(seq)}},
		})
	}
	interrupted := func(gmsgs []genetlink.Message) []netlink.Message {
		// Interrupted from the second message on, as the kernel marks it:
		// every message after the change, NLMSG_DONE included.
		msgs := dump(gmsgs, 0, 0)
		for i := 1; i < len(msgs); i++ {
			msgs[i].Header.Flags |= netlink.DumpInterrupted
		}
		return msgs
	}

	tests := []struct {
		name  string
		call  func(c *Client) (any, error)
		reply []netlink.Message
		want  any
		msg   string  // the error's message, or its start
		is    []error // what the error is
	}{
		{
			name:  "records in several datagrams",
			call:  func(c *Client) (any, error) { return c.Records(3, 1) },
			reply: dump(records, 0, 0),
			want:  want,
		},
		{
			name:  "watches in several datagrams",
			call:  func(c *Client) (any, error) { return c.Watches() },
			reply: dump(watchMsg, 0, 0),
			want:  []Watch{statusWatch, statusWatch},
		},
		{
			name:  "records interrupted",
			call:  func(c *Client) (any, error) { return c.Records(3, 1) },
			reply: interrupted(records),
			msg:   "genl: records watch 3 from 1: the dump was interrupted by a concurrent change, retry",
			is:    []error{unix.EINTR},
		},
		{
			name:  "watches interrupted",
			call:  func(c *Client) (any, error) { return c.Watches() },
			reply: interrupted(watchMsg),
			msg:   "genl: list watches: the dump was interrupted by a concurrent change, retry",
			is:    []error{unix.EINTR},
		},
		{
			name:  "records acknowledged by another reader",
			call:  func(c *Client) (any, error) { return c.Records(3, 1) },
			reply: dump(nil, 0, unix.EBUSY),
			msg:   "genl: records watch 3 from 1: another reader acknowledges this watch's records (the daemon?): read without acknowledging, or stop it",
			is:    []error{unix.EBUSY},
		},
		{
			name:  "records error at the end of the dump",
			call:  func(c *Client) (any, error) { return c.Records(3, 1) },
			reply: dump(nil, 0, unix.ENOENT),
			msg:   "genl: records watch 3 from 1: no such watch",
			is:    []error{os.ErrNotExist, unix.ENOENT},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := dialRaw(func(genetlink.Message, netlink.Message) ([]netlink.Message, error) {
				return tt.reply, nil
			})
			c := newTestClient(t, conn, nil)

			got, err := tt.call(c)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("failed to call: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("unexpected result (-want +got):\n%s", diff)
				}
				return
			}
			checkError(t, err, tt.msg, tt.is)
		})
	}
}

// checkError fails the test unless err starts with msg and is each of is.
func checkError(t *testing.T, err error, msg string, is []error) {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error, got none")
	}
	if !strings.HasPrefix(err.Error(), msg) {
		t.Errorf("unexpected message:\n got: %s\nwant: %s...", err, msg)
	}
	for _, target := range is {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(err, %v) is false, want true", target)
		}
	}
}

func TestClientExtendedAck(t *testing.T) {
	conn := dialRaw(func(_ genetlink.Message, nreq netlink.Message) ([]netlink.Message, error) {
		// NLMSG_ERROR: the errno, the request, then the TLVs.
		req, err := nreq.MarshalBinary()
		if err != nil {
			return nil, err
		}
		tlvs, err := netlink.MarshalAttributes([]netlink.Attribute{
			{Type: unix.NLMSGERR_ATTR_MSG, Data: nlenc.Bytes("filesystem has no export operations")},
			{Type: unix.NLMSGERR_ATTR_OFFS, Data: nlenc.Uint32Bytes(20)},
		})
		if err != nil {
			return nil, err
		}
		data := append(nlenc.Int32Bytes(-int32(unix.EOPNOTSUPP)), req...)
		return []netlink.Message{{
			Header: netlink.Header{Type: netlink.Error, Flags: netlink.AcknowledgeTLVs},
			Data:   append(data, tlvs...),
		}}, nil
	})
	c := newTestClient(t, conn, nil)

	_, err := c.Watch("/proc")
	const want = `genl: watch "/proc": filesystem has no export operations`
	if err == nil || err.Error() != want {
		t.Fatalf("unexpected error:\n got: %v\nwant: %s", err, want)
	}
	if !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("errors.Is(err, unix.EOPNOTSUPP) is false, want true")
	}
}

func TestClientRecordsCopyBytes(t *testing.T) {
	// Records keep their bytes after the next receive reuses the buffers.
	c := testClient(t, func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
		return []genetlink.Message{recordMsg(1)}, nil
	})
	first, err := c.Records(3, 0)
	if err != nil {
		t.Fatalf("failed to read records: %v", err)
	}
	if _, err := c.Records(3, 0); err != nil {
		t.Fatalf("failed to read records: %v", err)
	}
	if diff := cmp.Diff([]byte{1}, first[0].Handle.Bytes); diff != "" {
		t.Fatalf("unexpected handle bytes (-want +got):\n%s", diff)
	}
}

func TestDial(t *testing.T) {
	tests := []struct {
		name   string
		family genetlink.Family
		errno  int // the lookup fails with it
		msg    string
		is     []error
	}{
		{
			name:  "not loaded",
			errno: int(unix.ENOENT),
			msg:   "genl: the wbarrier module is not loaded: ",
			is:    []error{ErrNotLoaded, os.ErrNotExist},
		},
		{
			name:  "lookup fails",
			errno: int(unix.EPERM),
			msg:   `genl: get family "wbarrier": `,
			is:    []error{os.ErrPermission},
		},
		{
			name:   "other version",
			family: genetlink.Family{ID: 30, Version: 1, Name: familyName},
			msg:    "genl: the wbarrier module speaks version 1 of the family, this client version 7",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := dialGenl(func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
				if tt.errno != 0 {
					return nil, unix.Errno(tt.errno)
				}
				return genltest.ServeFamily(tt.family, nil)(greq, nreq)
			})
			defer conn.Close()

			_, err := newClient(conn, nil)
			if err == nil {
				t.Fatal("expected an error, got none")
			}
			if !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("unexpected message:\n got: %s\nwant: %s...", err, tt.msg)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(err, %v) is false, want true", target)
				}
			}
			if len(tt.is) == 0 && errors.Is(err, ErrNotLoaded) {
				t.Errorf("errors.Is(err, ErrNotLoaded) is true, want false")
			}
		})
	}
}

func TestEachRecords(t *testing.T) {
	rec := func(seq uint64) record.Record {
		return record.Record{Type: record.TypeChange, Seq: seq, Epoch: 1, Ops: record.OpAttr,
			Handle: &record.FileHandle{Type: 1, Bytes: []byte{byte(seq)}}}
	}
	batch := func(seqs ...uint64) []record.Record {
		var rs []record.Record
		for _, s := range seqs {
			rs = append(rs, rec(s))
		}
		return rs
	}
	recordsMsg := func(rs []record.Record) genetlink.Message {
		m := msg(cmdRecords)
		m.Data = encodeRecords(rs...)
		return m
	}
	// Three messages: records 1-2, 3, 4-6.
	want := [][]record.Record{batch(1, 2), batch(3), batch(4, 5, 6)}
	var gmsgs []genetlink.Message
	for _, b := range want {
		gmsgs = append(gmsgs, recordsMsg(b))
	}
	// A message with the watch ID and no record, as an empty dump might end.
	empty := msg(cmdRecords, u32(attrWatchID, 3))
	errStop := errors.New("the log is full")

	tests := []struct {
		name   string
		reply  []netlink.Message
		stopAt int // fn fails on this batch (1-based; 0: never)
		want   [][]record.Record
		msg    string
		is     []error
	}{
		{name: "one batch per message", reply: dump(gmsgs, 0, 0), want: want},
		{name: "only the done message", reply: dump(nil, 0, 0)},
		{name: "a message without records", reply: dump(append(gmsgs[:1:1], empty), 0, 0), want: want[:1]},
		{
			name:  "an error in the done message after two batches",
			reply: dump(gmsgs[:2], 0, unix.ENOENT),
			want:  want[:2],
			msg:   "genl: records watch 3 from 1: no such watch",
			is:    []error{os.ErrNotExist},
		},
		{
			name: "interrupted from the second message",
			reply: func() []netlink.Message {
				msgs := dump(gmsgs, 0, 0)
				for i := 1; i < len(msgs); i++ {
					msgs[i].Header.Flags |= netlink.DumpInterrupted
				}
				return msgs
			}(),
			want: want[:1],
			msg:  "genl: records watch 3 from 1: the dump was interrupted",
			is:   []error{unix.EINTR},
		},
		{
			name:   "fn fails on the second batch",
			reply:  dump(gmsgs, 0, 0),
			stopAt: 2,
			want:   want[:2],
			msg:    errStop.Error(),
			is:     []error{errStop},
		},
	}
	for _, tt := range tests {
		for _, scan := range []bool{false, true} {
			name := tt.name
			if scan {
				name = "ScanRecords: " + name
			}
			t.Run(name, func(t *testing.T) {
				testEachRecords(t, tt.reply, scan, tt.stopAt, errStop, tt.want, tt.msg, tt.is)
			})
		}
	}
}

// testEachRecords is a case of TestEachRecords: EachRecords, or ScanRecords
// (whose batches fn copies); fn returns errStop on batch stopAt.
func testEachRecords(t *testing.T, reply []netlink.Message, scan bool, stopAt int, errStop error, want [][]record.Record, msg string, is []error) {
	t.Helper()
	c := newTestClient(t, dialRaw(func(genetlink.Message, netlink.Message) ([]netlink.Message, error) {
		return reply, nil
	}), nil)
	var got [][]record.Record
	each := c.EachRecords
	if scan {
		each = c.ScanRecords
	}
	err := each(3, 1, func(rs []record.Record) error {
		if scan {
			rs = cloneRecords(rs)
		}
		got = append(got, rs)
		if len(got) == stopAt {
			return errStop
		}
		return nil
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unexpected batches (-want +got):\n%s", diff)
	}
	if msg == "" {
		if err != nil {
			t.Fatalf("failed to read the records: %v", err)
		}
		return
	}
	checkError(t, err, msg, is)
	if stopAt == 0 {
		return
	}
	// The rest of the dump was read: the next request gets its own
	// replies.
	rs, err := c.Records(3, 1)
	if err != nil {
		t.Fatalf("the request after the stopped dump failed: %v", err)
	}
	if len(rs) != 6 {
		t.Fatalf("the request after the stopped dump got %d records, want 6", len(rs))
	}
}

// cloneRecords copies rs with their handles and names.
func cloneRecords(rs []record.Record) []record.Record {
	out := make([]record.Record, len(rs))
	for i, r := range rs {
		if r.Handle != nil {
			r.Handle = &record.FileHandle{Type: r.Handle.Type, Bytes: slices.Clone(r.Handle.Bytes)}
		}
		if r.Parent != nil {
			r.Parent = &record.FileHandle{Type: r.Parent.Type, Bytes: slices.Clone(r.Parent.Bytes)}
		}
		r.Name = strings.Clone(r.Name)
		out[i] = r
	}
	return out
}

// ScanRecords overwrites a batch with the next: once its buffers have
// grown, a message of the dump allocates nothing.
func TestScanRecordsReuses(t *testing.T) {
	rs := benchRecords(3000)
	msgs := packRecords(rs)
	if len(msgs) < 3 {
		t.Fatalf("%d messages, want several", len(msgs))
	}
	reply := dump(msgs, 0, 0)
	c := newTestClient(t, dialRaw(func(genetlink.Message, netlink.Message) ([]netlink.Message, error) {
		return reply, nil
	}), nil)
	var got []record.Record
	var first *record.Record
	reused := 0
	err := c.ScanRecords(3, 1, func(batch []record.Record) error {
		if first == nil {
			first = &batch[0]
		} else if &batch[0] == first {
			reused++
		}
		got = append(got, cloneRecords(batch)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rs, got); diff != "" {
		t.Errorf("unexpected records (-want +got):\n%s", diff)
	}
	if reused == 0 {
		t.Errorf("no batch reused the first one's memory")
	}
}
