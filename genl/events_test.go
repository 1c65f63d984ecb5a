package genl

import (
	"errors"
	"iter"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// eventSocket is a fake netlink.Socket for notifications: genltest's socket
// cannot join groups nor take deadlines. Receive blocks until a test sends
// a batch, the read deadline passes, or the socket is closed.
type eventSocket struct {
	batches chan eventBatch

	mu       sync.Mutex
	groups   []uint32
	deadline time.Time
	changed  chan struct{} // closed when deadline changes or on Close
	closed   bool
}

// eventBatch is what one receive returns: messages, or an error.
type eventBatch struct {
	msgs []genetlink.Message
	err  error
}

func newEventSocket() *eventSocket {
	return &eventSocket{batches: make(chan eventBatch, 10), changed: make(chan struct{})}
}

func (s *eventSocket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.changed)
	}
	return nil
}

func (s *eventSocket) Send(netlink.Message) error {
	return errors.New("eventSocket: unexpected send")
}

func (s *eventSocket) SendMessages([]netlink.Message) error {
	return errors.New("eventSocket: unexpected send")
}

func (s *eventSocket) JoinGroup(group uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups = append(s.groups, group)
	return nil
}

func (s *eventSocket) LeaveGroup(uint32) error { return nil }

func (s *eventSocket) SetDeadline(t time.Time) error      { return s.SetReadDeadline(t) }
func (s *eventSocket) SetWriteDeadline(t time.Time) error { return nil }

func (s *eventSocket) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline = t
	if !s.closed {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return nil
}

func (s *eventSocket) Receive() ([]netlink.Message, error) {
	for {
		s.mu.Lock()
		closed, deadline, changed := s.closed, s.deadline, s.changed
		s.mu.Unlock()
		if closed {
			return nil, os.ErrClosed
		}
		var timeout <-chan time.Time
		if !deadline.IsZero() {
			if time.Until(deadline) <= 0 {
				return nil, os.ErrDeadlineExceeded
			}
			timer := time.NewTimer(time.Until(deadline))
			defer timer.Stop()
			timeout = timer.C
		}

		select {
		case b := <-s.batches:
			if b.err != nil {
				return nil, b.err
			}
			var msgs []netlink.Message
			for _, gm := range b.msgs {
				data, err := gm.MarshalBinary()
				if err != nil {
					return nil, err
				}
				// As the kernel multicasts: port ID 0, sequence 0.
				msgs = append(msgs, netlink.Message{
					Header: netlink.Header{Type: netlink.HeaderType(testFamily.ID)},
					Data:   data,
				})
			}
			return msgs, nil
		case <-timeout:
		case <-changed:
		}
	}
}

func (s *eventSocket) ReceiveIter() iter.Seq2[netlink.Message, error] {
	return func(yield func(netlink.Message, error) bool) {
		msgs, err := s.Receive()
		if err != nil {
			yield(netlink.Message{}, err)
			return
		}
		for _, m := range msgs {
			if !yield(m, nil) {
				return
			}
		}
	}
}

func (s *eventSocket) joined() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint32(nil), s.groups...)
}

// eventClient returns a Client whose Subscribe dials sock, and counts the
// dials in *dials.
func eventClient(t *testing.T, family genetlink.Family, sock *eventSocket, dials *int) *Client {
	t.Helper()
	conn := dialGenl(genltest.ServeFamily(family, func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
		return nil, errors.New("unexpected request")
	}))
	return newTestClient(t, conn, func() (*genetlink.Conn, error) {
		*dials++
		return genetlink.NewConn(netlink.NewConn(sock, 0)), nil
	})
}

func TestSubscribe(t *testing.T) {
	sock := newEventSocket()
	var dials int
	c := eventClient(t, testFamily, sock, &dials)

	for range 2 {
		if err := c.Subscribe(); err != nil {
			t.Fatalf("failed to subscribe: %v", err)
		}
	}
	if dials != 1 {
		t.Errorf("dialed %d times, want 1", dials)
	}
	if diff := cmp.Diff([]uint32{7}, sock.joined()); diff != "" {
		t.Errorf("unexpected groups joined (-want +got):\n%s", diff)
	}
}

func TestSubscribeNoGroup(t *testing.T) {
	f := testFamily
	f.Groups = []genetlink.MulticastGroup{{ID: 5, Name: "other"}}
	var dials int
	c := eventClient(t, f, newEventSocket(), &dials)

	err := c.Subscribe()
	const want = `genl: subscribe: the family has no multicast group "events"`
	if err == nil || err.Error() != want {
		t.Fatalf("unexpected error:\n got: %v\nwant: %s", err, want)
	}
	if dials != 0 {
		t.Errorf("dialed %d times, want 0", dials)
	}
}

func TestReceiveEvents(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]genetlink.Message
		want    []Event
	}{
		{
			name: "each kind",
			batches: [][]genetlink.Message{{
				msg(cmdNotifyRecords, u32(attrWatchID, 3), pad, u64(attrNextSeq, 99)),
				msg(cmdNotifyOverflow, u32(attrWatchID, 4), u64(attrEpoch, 12), u32(200, 1)),
				msg(cmdNotifyUnwatch, u32(attrWatchID, 5)),
				msg(cmdNotifyUnmount, u32(attrWatchID, 6), pad, u64(attrNextSeq, 41)),
			}},
			want: []Event{
				{Kind: EventRecords, WatchID: 3, NextSeq: 99},
				{Kind: EventOverflow, WatchID: 4, Epoch: 12},
				{Kind: EventUnwatch, WatchID: 5},
				{Kind: EventUnmount, WatchID: 6, NextSeq: 41},
			},
		},
		{
			name: "unknown commands skipped",
			batches: [][]genetlink.Message{
				{msg(100, u32(attrWatchID, 1))},
				{msg(cmdStatus, u32(attrWatchID, 1)), msg(cmdNotifyUnwatch, u32(attrWatchID, 2))},
			},
			want: []Event{{Kind: EventUnwatch, WatchID: 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := newEventSocket()
			var dials int
			c := eventClient(t, testFamily, sock, &dials)
			if err := c.Subscribe(); err != nil {
				t.Fatalf("failed to subscribe: %v", err)
			}
			for _, b := range tt.batches {
				sock.batches <- eventBatch{msgs: b}
			}

			got, err := c.ReceiveEvents()
			if err != nil {
				t.Fatalf("failed to receive: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("unexpected events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReceiveEventsErrors(t *testing.T) {
	tests := []struct {
		name      string
		subscribe bool
		setup     func(c *Client, sock *eventSocket)
		msg       string
		is        []error
	}{
		{
			name: "not subscribed",
			msg:  "genl: receive events: not subscribed",
		},
		{
			name:      "bad attribute",
			subscribe: true,
			setup: func(c *Client, sock *eventSocket) {
				sock.batches <- eventBatch{msgs: []genetlink.Message{msg(cmdNotifyRecords, bin(attrWatchID, 1))}}
			},
			msg: "genl: receive events: decode command 6: ",
		},
		{
			name:      "overrun",
			subscribe: true,
			setup: func(c *Client, sock *eventSocket) {
				sock.batches <- eventBatch{err: os.NewSyscallError("recvmsg", unix.ENOBUFS)}
			},
			msg: "genl: receive events: notifications were lost: ",
			is:  []error{unix.ENOBUFS},
		},
		{
			name: "deadline set before subscribing",
			setup: func(c *Client, sock *eventSocket) {
				if err := c.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
					t.Fatalf("failed to set the deadline: %v", err)
				}
				if err := c.Subscribe(); err != nil {
					t.Fatalf("failed to subscribe: %v", err)
				}
			},
			msg: "genl: receive events: ",
			is:  []error{os.ErrDeadlineExceeded},
		},
		{
			name:      "deadline set while blocked",
			subscribe: true,
			setup: func(c *Client, sock *eventSocket) {
				go func() {
					time.Sleep(10 * time.Millisecond)
					if err := c.SetReadDeadline(time.Now()); err != nil {
						panic(err)
					}
				}()
			},
			msg: "genl: receive events: ",
			is:  []error{os.ErrDeadlineExceeded},
		},
		{
			name:      "closed while blocked",
			subscribe: true,
			setup: func(c *Client, sock *eventSocket) {
				go func() {
					time.Sleep(10 * time.Millisecond)
					if err := c.Close(); err != nil {
						panic(err)
					}
				}()
			},
			msg: "genl: receive events: ",
			is:  []error{os.ErrClosed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := newEventSocket()
			var dials int
			c := eventClient(t, testFamily, sock, &dials)
			if tt.subscribe {
				if err := c.Subscribe(); err != nil {
					t.Fatalf("failed to subscribe: %v", err)
				}
			}
			if tt.setup != nil {
				tt.setup(c, sock)
			}

			_, err := c.ReceiveEvents()
			checkError(t, err, tt.msg, tt.is)
		})
	}
}

func TestEventKindString(t *testing.T) {
	tests := []struct {
		k    EventKind
		want string
	}{
		{EventRecords, "records"},
		{EventOverflow, "overflow"},
		{EventUnwatch, "unwatch"},
		{EventUnmount, "unmount"},
		{0, "EventKind(0)"},
		{99, "EventKind(99)"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("EventKind(%d).String() = %q, want %q", int(tt.k), got, tt.want)
		}
	}
}
