package genl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mdlayher/genetlink"
	"golang.org/x/sys/unix"
)

// syncResend is how long SyncContext waits for the module's announcement
// before it asks again: the module sends none if it cannot allocate it, and
// the socket drops it if notifications come faster than they are read. A
// new request is answered by the next sync.
var syncResend = 10 * time.Second

// Sync syncs the filesystem of watch id as syncfs(2) does, writeback errors
// included, but without holding a mount of it: an unmount meanwhile never
// fails because of it. The module syncs on a worker and announces the end;
// Sync waits for that on a socket of its own.
//
// If the filesystem was unmounted, there is nothing to sync: the kernel
// synced it when it shut it down, before the watch closed its last epoch.
// Sync then returns a Synced whose Unmounted is true, and no error.
//
// The error satisfies errors.Is(err, os.ErrNotExist) if there is no such
// watch (or it was removed meanwhile), and errors.Is(err, unix.EIO) (or
// the errno of the failure) if the sync failed.
func (c *Client) Sync(id uint32) (Synced, error) {
	return c.SyncContext(context.Background(), id)
}

// SyncContext is Sync, but stops waiting when ctx is done; the error then
// wraps ctx.Err(). The sync itself goes on in the kernel.
func (c *Client) SyncContext(ctx context.Context, id uint32) (Synced, error) {
	op := fmt.Sprintf("sync watch %d", id)
	// Joined before the request: the sync may end before the reply comes.
	ev, err := c.joinEvents(op)
	if err != nil {
		return Synced{}, err
	}
	defer ev.Close()
	stop := context.AfterFunc(ctx, func() { _ = ev.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		msgs, err := c.execute(op, cmdSync, 0, watchID(id))
		if err != nil {
			return Synced{}, err
		}
		m, err := oneReply(op, msgs)
		if err != nil {
			return Synced{}, err
		}
		n, unmounted, err := parseSyncReply(m)
		if err != nil {
			return Synced{}, fmt.Errorf("genl: %s: decode reply: %w", op, err)
		}
		if unmounted {
			return Synced{WatchID: id, Unmounted: true}, nil
		}
		s, err := awaitSynced(ctx, ev, op, id, n)
		if errors.Is(err, errAskAgain) {
			continue
		}
		return s, err
	}
}

// errAskAgain says that the announcement of a sync did not come: ask again.
var errAskAgain = errors.New("no announcement")

// awaitSynced reads ev until watch id announces that its sync n (or a later
// one) is done.
func awaitSynced(ctx context.Context, ev *genetlink.Conn, op string, id uint32, n uint64) (Synced, error) {
	if err := ev.SetReadDeadline(time.Now().Add(syncResend)); err != nil {
		return Synced{}, fmt.Errorf("genl: %s: %w", op, err)
	}
	for {
		// After the deadline is set: ctx's own may have come before it.
		if ctx.Err() != nil {
			return Synced{}, fmt.Errorf("genl: %s: still syncing (the sync goes on in the kernel): %w", op, ctx.Err())
		}
		msgs, _, err := ev.Receive()
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, unix.ENOBUFS) {
				return Synced{}, errAskAgain
			}
			return Synced{}, mapError(op, 0, err)
		}
		for _, m := range msgs {
			switch m.Header.Command {
			case cmdNotifyUnwatch:
				if e, _, err := parseEvent(m); err == nil && e.WatchID == id {
					return Synced{}, fmt.Errorf("genl: %s: the watch was removed: %w", op, os.ErrNotExist)
				}
			case cmdNotifySynced:
				s, err := parseSynced(m)
				if err != nil || s.watch != id || s.sync < n {
					continue
				}
				switch {
				case s.errno == unix.ENOENT:
					return Synced{}, fmt.Errorf("genl: %s: the watch was removed: %w", op, os.ErrNotExist)
				case s.errno != 0:
					return Synced{}, fmt.Errorf("genl: %s: %w", op, s.errno)
				}
				return Synced{WatchID: id, Unmounted: s.unmounted}, nil
			}
		}
	}
}
