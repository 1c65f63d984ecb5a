// Package genl is a client of the wbarrier kernel module's generic netlink
// family "wbarrier" (kmod/uapi/wbarrier.h): it starts and stops watches,
// takes barriers, reads the queued change records and listens for the
// module's notifications.
//
// Every command needs CAP_SYS_ADMIN; without it the methods return errors
// that satisfy errors.Is(err, os.ErrPermission).
package genl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/wbarrier/wbarrier/record"
)

// recvBufferSize is the receive buffer of the Client's sockets. It must
// hold any one datagram: the kernel's dump datagrams stop at 32 KiB, but an
// error echoes the request, which the socket's send buffer (212 992 bytes
// by default) bounds.
const recvBufferSize = 256 << 10

// ErrNotLoaded is returned, wrapped, by Dial when the kernel has no generic
// netlink family "wbarrier": the module is not loaded.
var ErrNotLoaded = errors.New("genl: the wbarrier module is not loaded")

// A Client talks to the wbarrier module. Its methods are safe for concurrent
// use; requests are sent one at a time, and a Barrier waits for its epoch
// to close without holding the others back.
type Client struct {
	family genetlink.Family

	mu sync.Mutex      // serializes requests on c
	c  *genetlink.Conn // requests and their replies
	nc *netlink.Conn   // the socket under c, for the records dump

	// dial opens the socket that joins the multicast group. Notifications
	// get a socket of their own so that they never mix with replies.
	dial func() (*genetlink.Conn, error)

	// The batch and arena ScanRecords reuses, under mu.
	scanBatch []record.Record
	scanArena arena

	evMu     sync.Mutex
	ev       *genetlink.Conn // nil until Subscribe
	deadline time.Time       // the read deadline of ev, kept until Subscribe
}

// Dial opens a generic netlink socket and looks up the family "wbarrier".
// If the module is not loaded, the error wraps ErrNotLoaded.
func Dial() (*Client, error) {
	nc, err := dialNetlink()
	if err != nil {
		return nil, fmt.Errorf("genl: dial generic netlink: %w", err)
	}
	cl, err := newClient(nc, dialEvents)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return cl, nil
}

// dialNetlink opens a generic netlink socket. Strict asks for extended
// acknowledgements: the kernel's own error messages. A receive buffer of
// recvBufferSize, reused, rather than one allocated per datagram after
// peeking at its size: the kernel sizes its dump datagrams by the reader's
// buffer, so the records dump comes in 32 KiB datagrams, not in pages.
func dialNetlink() (*netlink.Conn, error) {
	return netlink.Dial(unix.NETLINK_GENERIC, &netlink.Config{Strict: true, MessageBufferSize: recvBufferSize})
}

// NewClient is Dial on a netlink connection the caller opened: a generic
// netlink socket of its own configuration, or a fake kernel
// (nltest.Dial) in tests and benchmarks. It looks the family up on nc and
// takes nc over: Close closes it. Subscribe opens a socket of its own, as
// it does for a Client from Dial.
func NewClient(nc *netlink.Conn) (*Client, error) {
	return newClient(nc, dialEvents)
}

// dialEvents opens the socket for notifications (Subscribe).
func dialEvents() (*genetlink.Conn, error) {
	nc, err := dialNetlink()
	if err != nil {
		return nil, err
	}
	return genetlink.NewConn(nc), nil
}

// newClient looks the family up on nc. dial opens the notification socket.
func newClient(nc *netlink.Conn, dial func() (*genetlink.Conn, error)) (*Client, error) {
	c := genetlink.NewConn(nc)
	f, err := c.GetFamily(familyName)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %w", ErrNotLoaded, err)
		}
		return nil, fmt.Errorf("genl: get family %q: %w", familyName, err)
	}
	if f.Version != familyVersion {
		return nil, fmt.Errorf("genl: the wbarrier module speaks version %d of the family, this client version %d",
			f.Version, familyVersion)
	}
	return &Client{family: f, c: c, nc: nc, dial: dial}, nil
}

// Close closes the Client's sockets. A blocked ReceiveEvents returns an
// error.
func (c *Client) Close() error {
	c.evMu.Lock()
	ev := c.ev
	c.ev = nil
	c.evMu.Unlock()

	err := c.c.Close()
	if ev != nil {
		err = errors.Join(err, ev.Close())
	}
	if err != nil {
		return fmt.Errorf("genl: close: %w", err)
	}
	return nil
}

// Watch starts tracking the filesystem that path is on and returns the new
// watch. The path is passed to the kernel as it is; a relative path is
// resolved against the caller's working directory. The watch does not pin
// the filesystem: its unmount ends the watch, which stays listed, unmounted,
// until Unwatch.
//
// The error satisfies errors.Is(err, os.ErrNotExist) if path does not exist,
// errors.Is(err, os.ErrExist) if the filesystem is already watched, and
// errors.Is(err, unix.EOPNOTSUPP) if it cannot encode file handles.
func (c *Client) Watch(path string) (Watch, error) {
	ae := netlink.NewAttributeEncoder()
	ae.String(attrPath, path)
	return c.watchRequest(fmt.Sprintf("watch %q", path), cmdWatch, ae)
}

// Unwatch stops the watch id: it waits for the operations in flight, then
// drops the watch and its queued records. The error satisfies
// errors.Is(err, os.ErrNotExist) if there is no such watch.
func (c *Client) Unwatch(id uint32) error {
	return c.UnwatchContext(context.Background(), id)
}

// UnwatchContext is Unwatch, but stops waiting when ctx is done: the watch
// is then gone already (no request finds it, the filesystem can be watched
// anew), and the module drops it once its operations have finished; the
// error wraps ctx.Err(). As for a barrier, the module does the waiting.
func (c *Client) UnwatchContext(ctx context.Context, id uint32) error {
	op := fmt.Sprintf("unwatch watch %d", id)
	// Joined before the request: the watch may be gone before the reply.
	ev, err := c.joinEvents(op)
	if err != nil {
		return err
	}
	defer ev.Close()
	// UNWATCH has no reply: ask for the acknowledgement to know it is done.
	if _, err := c.execute(op, cmdUnwatch, netlink.Acknowledge, watchID(id)); err != nil {
		return err
	}
	_, err = awaitEvent(ctx, ev, op, id, func(e Event) (bool, error) {
		return e.Kind == EventUnwatch, nil
	}, "the watch is unlisted, and is dropped once its operations finish")
	return err
}

// Barrier closes the open epoch N of watch id: it opens epoch N+1 and waits
// until every operation that recorded into N has finished and N's closing
// marker is queued. Operations are never blocked by it.
//
// If another barrier of the watch is still closing an epoch, Barrier waits
// for it first and then closes the next one, so that every operation that
// began before the call is in a closed epoch when it returns.
//
// The error satisfies errors.Is(err, os.ErrNotExist) if there is no such
// watch, and errors.Is(err, unix.ENOBUFS) if the record queue has no room
// for the marker: read and acknowledge records (see Records), then retry.
func (c *Client) Barrier(id uint32) (Barrier, error) {
	return c.BarrierContext(context.Background(), id)
}

// BarrierContext is Barrier, but stops waiting when ctx is done: the epoch
// then closes later, by itself, once its operations have finished, and the
// error wraps ctx.Err(). The module does the waiting: no request of any
// client is held meanwhile.
func (c *Client) BarrierContext(ctx context.Context, id uint32) (Barrier, error) {
	op := fmt.Sprintf("barrier watch %d", id)
	// A socket of its own, joined before the request (the epoch may close
	// before the reply comes), and only for as long as it waits: it holds
	// no backlog of older notifications and keeps no other barrier waiting.
	ev, err := c.joinEvents(op)
	if err != nil {
		return Barrier{}, err
	}
	defer ev.Close()
	for {
		msgs, err := c.execute(op, cmdBarrier, 0, watchID(id))
		if errors.Is(err, unix.EBUSY) {
			// Another barrier's epoch is closing, the one before the
			// open epoch (or a later one by now): wait for it.
			w, err := c.Status(id)
			if err != nil {
				return Barrier{}, err
			}
			if _, err := awaitClosed(ctx, ev, op, id, w.Epoch-1); err != nil {
				return Barrier{}, err
			}
			continue
		}
		if err != nil {
			return Barrier{}, err
		}
		m, err := oneReply(op, msgs)
		if err != nil {
			return Barrier{}, err
		}
		_, epoch, err := parseBarrier(m)
		if err != nil {
			return Barrier{}, fmt.Errorf("genl: %s: decode reply: %w", op, err)
		}
		e, err := awaitClosed(ctx, ev, op, id, epoch)
		if err != nil {
			return Barrier{}, err
		}
		return Barrier{WatchID: id, Epoch: epoch, Lossy: e.Lossy, NextSeq: e.NextSeq}, nil
	}
}

// awaitClosed reads ev until watch id announces that epoch closed, and
// returns that announcement.
func awaitClosed(ctx context.Context, ev *genetlink.Conn, op string, id uint32, epoch uint64) (Event, error) {
	return awaitEvent(ctx, ev, op, id, func(e Event) (bool, error) {
		switch {
		case e.Kind == EventEpochClosed && e.Epoch == epoch:
			return true, nil
		case e.Kind == EventEpochClosed && e.Epoch > epoch:
			return false, fmt.Errorf("genl: %s: epoch %d closed, but epoch %d was not announced", op, e.Epoch, epoch)
		case e.Kind == EventUnwatch:
			return false, fmt.Errorf("genl: %s: the watch was removed while epoch %d closed: %w", op, epoch, os.ErrNotExist)
		}
		return false, nil
	}, fmt.Sprintf("epoch %d is still closing (it closes by itself once its operations finish)", epoch))
}

// awaitEvent reads ev until match, given each event of watch id, says it
// is the one (or fails), and returns that event. pending says what goes on
// when ctx ends the wait.
func awaitEvent(ctx context.Context, ev *genetlink.Conn, op string, id uint32, match func(Event) (bool, error), pending string) (Event, error) {
	if err := ev.SetReadDeadline(time.Time{}); err != nil {
		return Event{}, fmt.Errorf("genl: %s: %w", op, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = ev.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		msgs, _, err := ev.Receive()
		if err != nil {
			if ctx.Err() != nil {
				return Event{}, fmt.Errorf("genl: %s: %s: %w", op, pending, ctx.Err())
			}
			if errors.Is(err, unix.ENOBUFS) {
				return Event{}, fmt.Errorf("genl: %s: notifications were lost while waiting (%s): %w", op, pending, err)
			}
			return Event{}, mapError(op, 0, err)
		}
		for _, m := range msgs {
			e, ok, err := parseEvent(m)
			if err != nil || !ok || e.WatchID != id {
				continue
			}
			done, err := match(e)
			if err != nil {
				return Event{}, err
			}
			if done {
				return e, nil
			}
		}
	}
}

// Status returns the state of watch id. The error satisfies
// errors.Is(err, os.ErrNotExist) if there is no such watch.
func (c *Client) Status(id uint32) (Watch, error) {
	return c.watchRequest(fmt.Sprintf("status watch %d", id), cmdStatus, watchID(id))
}

// StatusOf returns the state of the watch of the filesystem that path is on.
// The kernel resolves path, so this works where stat's st_dev is not the
// superblock's device (btrfs subvolumes). An error satisfying
// errors.Is(err, os.ErrNotExist) means no such path or no such watch.
func (c *Client) StatusOf(path string) (Watch, error) {
	ae := netlink.NewAttributeEncoder()
	ae.String(attrPath, path)
	return c.watchRequest(fmt.Sprintf("status of %q", path), cmdStatus, ae)
}

// watchRequest sends a request whose one reply is a watch's state.
func (c *Client) watchRequest(op string, cmd uint8, ae *netlink.AttributeEncoder) (Watch, error) {
	msgs, err := c.execute(op, cmd, 0, ae)
	if err != nil {
		return Watch{}, err
	}
	m, err := oneReply(op, msgs)
	if err != nil {
		return Watch{}, err
	}
	w, err := parseWatch(m)
	if err != nil {
		return Watch{}, fmt.Errorf("genl: %s: decode reply: %w", op, err)
	}
	return w, nil
}

// Watches returns the state of every watch.
//
// If the set of watches changed during the dump, the error satisfies
// errors.Is(err, unix.EINTR): call Watches again.
func (c *Client) Watches() ([]Watch, error) {
	const op = "list watches"
	msgs, err := c.execute(op, cmdStatus, netlink.Dump, nil)
	if err != nil {
		return nil, err
	}
	ws, err := parseWatches(msgs)
	if err != nil {
		return nil, fmt.Errorf("genl: %s: decode reply: %w", op, err)
	}
	return ws, nil
}

// Records returns the records of watch id queued with a sequence number of at
// least cursor, in sequence order. It acknowledges the records below cursor:
// the kernel frees them, and they cannot be read again. Only one socket at
// a time may acknowledge a watch's records (the daemon's): the first that
// does holds the watch until it is closed, and on another Client Records
// fails with an error satisfying errors.Is(err, unix.EBUSY). PeekRecords
// reads without acknowledging.
//
// The error satisfies errors.Is(err, os.ErrNotExist) if there is no such
// watch. If the kernel reports the dump inconsistent, the error satisfies
// errors.Is(err, unix.EINTR): call Records again with the same cursor.
func (c *Client) Records(id uint32, cursor uint64) ([]record.Record, error) {
	rs := []record.Record{}
	err := c.EachRecords(id, cursor, func(batch []record.Record) error {
		rs = append(rs, batch...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// EachRecords is Records that hands the records to fn as they arrive, one
// reply message (up to a datagram) at a time, rather than holding the whole
// dump: fn gets each batch in sequence order and may keep it. The Client's
// other requests wait until EachRecords returns, so fn must not call them.
//
// If fn returns an error, EachRecords reads the rest of the dump, drops it,
// and returns fn's error as it is. The errors are otherwise those of
// Records, and batches before an error have been handed over: a caller that
// resumes reads again from one past the last record it kept.
func (c *Client) EachRecords(id uint32, cursor uint64, fn func([]record.Record) error) error {
	return c.eachRecords(id, cursor, true, false, fn)
}

// ScanRecords is EachRecords for a caller that is done with each batch
// when fn returns, as the daemon's drain is once it has appended the
// records to its log: the batch, with its handles and names (strings
// included), is overwritten by the next one, so fn must copy what it
// keeps. Once its buffers have grown to the largest message, a batch
// allocates nothing. The errors are those of EachRecords.
func (c *Client) ScanRecords(id uint32, cursor uint64, fn func([]record.Record) error) error {
	return c.eachRecords(id, cursor, true, true, fn)
}

// PeekRecords is Records without acknowledging anything: the records stay
// queued for the watch's acknowledging reader, and no socket is held.
func (c *Client) PeekRecords(id uint32, cursor uint64) ([]record.Record, error) {
	rs := []record.Record{}
	err := c.eachRecords(id, cursor, false, false, func(batch []record.Record) error {
		rs = append(rs, batch...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

func (c *Client) eachRecords(id uint32, cursor uint64, ack, reuse bool, fn func([]record.Record) error) error {
	op := fmt.Sprintf("records watch %d from %d", id, cursor)
	ae := watchID(id)
	ae.Uint64(attrCursor, cursor)
	if ack {
		ae.Flag(attrAck, true)
	}

	c.mu.Lock()
	defer c.mu.Unlock()

	nreq, err := c.send(op, cmdRecords, netlink.Dump, ae)
	if err != nil {
		return err
	}
	// The iterator reads the dump to its end even if the loop stops.
	for nm, err := range c.nc.ReceiveIter() {
		if err != nil {
			return mapError(op, cmdRecords, err)
		}
		if err := netlink.Validate(nreq, []netlink.Message{nm}); err != nil {
			return fmt.Errorf("genl: %s: %w", op, err)
		}
		if nm.Header.Flags&netlink.DumpInterrupted != 0 {
			return &interruptedError{op: op}
		}
		var gm genetlink.Message
		if err := gm.UnmarshalBinary(nm.Data); err != nil {
			return fmt.Errorf("genl: %s: decode reply: %w", op, err)
		}
		var rs []record.Record
		if reuse {
			c.scanArena.reuse = true
			rs, err = parseRecordsInto(gm.Data, c.scanBatch, &c.scanArena)
			c.scanBatch = rs
		} else {
			rs, err = parseRecords(gm.Data)
		}
		if err != nil {
			return fmt.Errorf("genl: %s: decode reply: %w", op, err)
		}
		if len(rs) == 0 {
			continue
		}
		if err := fn(rs); err != nil {
			return err
		}
	}
	return nil
}

// Subscribe joins the multicast group "events" so that ReceiveEvents returns
// the module's notifications. It opens a socket of its own for them; calling
// it again does nothing.
func (c *Client) Subscribe() error {
	const op = "subscribe"
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.ev != nil {
		return nil
	}

	ev, err := c.joinEvents(op)
	if err != nil {
		return err
	}
	if !c.deadline.IsZero() {
		if err := ev.SetReadDeadline(c.deadline); err != nil {
			_ = ev.Close()
			return fmt.Errorf("genl: %s: %w", op, err)
		}
	}
	c.ev = ev
	return nil
}

// joinEvents opens a socket joined to the group "events".
func (c *Client) joinEvents(op string) (*genetlink.Conn, error) {
	var (
		id    uint32
		found bool
	)
	for _, g := range c.family.Groups {
		if g.Name == groupEvents {
			id, found = g.ID, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("genl: %s: the family has no multicast group %q", op, groupEvents)
	}
	ev, err := c.dial()
	if err != nil {
		return nil, fmt.Errorf("genl: %s: dial generic netlink: %w", op, err)
	}
	if err := ev.JoinGroup(id); err != nil {
		_ = ev.Close()
		return nil, mapError(op, 0, err)
	}
	return ev, nil
}

// ReceiveEvents blocks until notifications arrive and returns them. It needs
// Subscribe first.
//
// Notifications are lost if they come faster than they are received: then
// the error satisfies errors.Is(err, unix.ENOBUFS), and the caller should
// read every watch's records (see Watches) as if each had notified. After a
// deadline set by SetReadDeadline the error satisfies
// errors.Is(err, os.ErrDeadlineExceeded).
func (c *Client) ReceiveEvents() ([]Event, error) {
	const op = "receive events"
	c.evMu.Lock()
	ev := c.ev
	c.evMu.Unlock()
	if ev == nil {
		return nil, fmt.Errorf("genl: %s: not subscribed", op)
	}

	for {
		msgs, _, err := ev.Receive()
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				return nil, fmt.Errorf("genl: %s: notifications were lost: %w", op, err)
			}
			return nil, mapError(op, 0, err)
		}
		events := make([]Event, 0, len(msgs))
		for _, m := range msgs {
			e, ok, err := parseEvent(m)
			if err != nil {
				return nil, fmt.Errorf("genl: %s: decode command %d: %w", op, m.Header.Command, err)
			}
			if ok {
				events = append(events, e)
			}
		}
		if len(events) > 0 {
			return events, nil
		}
		// Only commands this package does not know: wait for more.
	}
}

// SetReadDeadline sets the deadline for ReceiveEvents, as
// net.Conn.SetReadDeadline does: a blocked or later ReceiveEvents returns
// an error once t has passed. The zero time means no deadline. It may be
// called before Subscribe. Requests are not affected.
func (c *Client) SetReadDeadline(t time.Time) error {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	c.deadline = t
	if c.ev == nil {
		return nil
	}
	if err := c.ev.SetReadDeadline(t); err != nil {
		return fmt.Errorf("genl: set read deadline: %w", err)
	}
	return nil
}

// watchID returns an encoder holding WBARRIER_A_WATCH_ID.
func watchID(id uint32) *netlink.AttributeEncoder {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrWatchID, id)
	return ae
}

// oneReply returns the only reply of a doit command.
func oneReply(op string, msgs []genetlink.Message) (genetlink.Message, error) {
	if len(msgs) != 1 {
		return genetlink.Message{}, fmt.Errorf("genl: %s: got %d replies, want 1", op, len(msgs))
	}
	return msgs[0], nil
}

// execute sends command cmd with attributes ae (which may be nil) and
// netlink.Request|flags, and returns the replies. op names the operation in
// errors.
//
// It sends and receives itself rather than calling genetlink.Conn.Execute,
// which hides the netlink headers: a dump whose replies carry
// NLM_F_DUMP_INTR is an error here.
func (c *Client) execute(op string, cmd uint8, flags netlink.HeaderFlags, ae *netlink.AttributeEncoder) ([]genetlink.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	nreq, err := c.send(op, cmd, flags, ae)
	if err != nil {
		return nil, err
	}
	msgs, nmsgs, err := c.c.Receive()
	if err != nil {
		return nil, mapError(op, cmd, err)
	}
	if err := netlink.Validate(nreq, nmsgs); err != nil {
		return nil, fmt.Errorf("genl: %s: %w", op, err)
	}
	for _, nm := range nmsgs {
		if nm.Header.Flags&netlink.DumpInterrupted != 0 {
			return nil, &interruptedError{op: op}
		}
	}
	if flags&netlink.Acknowledge != 0 {
		// The only reply is the acknowledgement.
		return nil, nil
	}
	return msgs, nil
}

// send sends command cmd with attributes ae (which may be nil) and
// netlink.Request|flags, and returns the request as sent, which its replies
// must match. The caller holds c.mu.
func (c *Client) send(op string, cmd uint8, flags netlink.HeaderFlags, ae *netlink.AttributeEncoder) (netlink.Message, error) {
	var data []byte
	if ae != nil {
		b, err := ae.Encode()
		if err != nil {
			return netlink.Message{}, fmt.Errorf("genl: %s: encode request: %w", op, err)
		}
		data = b
	}
	req := genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: familyVersion},
		Data:   data,
	}
	nreq, err := c.c.Send(req, c.family.ID, netlink.Request|flags)
	if err != nil {
		return netlink.Message{}, mapError(op, cmd, err)
	}
	return nreq, nil
}

// interruptedError reports a dump that the kernel marked NLM_F_DUMP_INTR:
// what it dumps changed meanwhile, so the replies may be inconsistent.
type interruptedError struct{ op string }

func (e *interruptedError) Error() string {
	return "genl: " + e.op + ": the dump was interrupted by a concurrent change, retry"
}

// Unwrap makes errors.Is(err, unix.EINTR) true.
func (e *interruptedError) Unwrap() error { return unix.EINTR }

// kernelError is an errno the kernel answered a request with.
type kernelError struct {
	op    string     // the operation, e.g. "barrier watch 3"
	text  string     // what went wrong, e.g. "no such watch"
	errno unix.Errno // the kernel's errno
	err   error      // as netlink returned it: a *netlink.OpError
}

func (e *kernelError) Error() string {
	return "genl: " + e.op + ": " + e.text
}

// Unwrap returns the netlink error, which holds the errno, and the os error
// the errno stands for, so that errors.Is matches both unix.ENOENT and
// os.ErrNotExist, for example.
func (e *kernelError) Unwrap() []error {
	errs := []error{e.err}
	switch e.errno {
	case unix.ENOENT:
		errs = append(errs, os.ErrNotExist)
	case unix.EEXIST:
		errs = append(errs, os.ErrExist)
	case unix.EPERM, unix.EACCES:
		errs = append(errs, os.ErrPermission)
	}
	return errs
}

// mapError turns the error of request op (command cmd; 0 for no command)
// into a kernelError if the kernel answered with an errno, and prefixes it
// otherwise. The kernel's extended acknowledgement, if any, is the message.
func mapError(op string, cmd uint8, err error) error {
	// An errno from a netlink message is the OpError's Err itself; one
	// from a system call is wrapped in an *os.SyscallError.
	var oerr *netlink.OpError
	if !errors.As(err, &oerr) {
		return fmt.Errorf("genl: %s: %w", op, err)
	}
	errno, ok := oerr.Err.(unix.Errno)
	if !ok {
		return fmt.Errorf("genl: %s: %w", op, err)
	}
	// The kernel's extended acknowledgement says best what went wrong;
	// without one, say what the header documents errno to mean.
	text := oerr.Message
	if text == "" {
		text = errnoText(cmd, errno)
	}
	return &kernelError{op: op, text: text, errno: errno, err: err}
}

// errnoText says what errno means as the answer to cmd, as
// kmod/uapi/wbarrier.h documents the errors, for a kernel that sent no
// extended acknowledgement.
func errnoText(cmd uint8, errno unix.Errno) string {
	switch errno {
	case unix.EPERM, unix.EACCES:
		return errno.Error() + " (CAP_SYS_ADMIN is needed)"
	case unix.ENOENT:
		switch cmd {
		case cmdUnwatch, cmdBarrier, cmdStatus, cmdRecords:
			return "no such watch"
		}
	case unix.EEXIST:
		if cmd == cmdWatch {
			return "the filesystem is already watched"
		}
	case unix.EOPNOTSUPP:
		if cmd == cmdWatch {
			return "the filesystem cannot encode file handles"
		}
	case unix.ENODEV:
		if cmd == cmdBarrier {
			return "the filesystem was unmounted"
		}
	case unix.EBUSY:
		if cmd == cmdRecords {
			return "another reader acknowledges this watch's records (the daemon?): read without acknowledging, or stop it"
		}
	}
	return errno.Error()
}
