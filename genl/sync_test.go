package genl

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// syncKernel answers SYNC requests with replies, one a request: a sync
// number, unmounted (the string "unmounted") or an error (a unix.Errno);
// it queues the notifications of events[i] on sock when it answers
// request i.
type syncKernel struct {
	replies []any
	events  [][]genetlink.Message
	sock    *eventSocket
	n       int
}

func (k *syncKernel) serve(greq genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
	if greq.Header.Command != cmdSync || k.n >= len(k.replies) {
		return nil, errors.New("unexpected request")
	}
	i := k.n
	k.n++
	if i < len(k.events) && k.events[i] != nil {
		k.sock.batches <- eventBatch{msgs: k.events[i]}
	}
	switch r := k.replies[i].(type) {
	case unix.Errno:
		return nil, r
	case uint64:
		return []genetlink.Message{msg(cmdSync, u32(attrWatchID, 3), pad, u64(attrSync, r))}, nil
	case string:
		return []genetlink.Message{msg(cmdSync, u32(attrWatchID, 3), flag(attrUnmounted))}, nil
	}
	return nil, errors.New("bad reply in the test")
}

// syncedMsg is a NOTIFY_SYNCED of watch for the syncs up to n; errno 0 is
// none.
func syncedMsg(watch uint32, n uint64, errno unix.Errno, unmounted bool) genetlink.Message {
	as := []netlink.Attribute{u32(attrWatchID, watch), pad, u64(attrSync, n)}
	if errno != 0 {
		as = append(as, u32(attrErrno, uint32(errno)))
	}
	if unmounted {
		as = append(as, flag(attrUnmounted))
	}
	return msg(cmdNotifySynced, as...)
}

func TestSync(t *testing.T) {
	tests := []struct {
		name     string
		replies  []any
		events   [][]genetlink.Message
		timeout  time.Duration
		want     Synced
		wantErr  error
		wantReqs int
	}{
		{
			name:     "synced",
			replies:  []any{uint64(5)},
			events:   [][]genetlink.Message{{syncedMsg(3, 5, 0, false)}},
			want:     Synced{WatchID: 3},
			wantReqs: 1,
		},
		{
			name:    "other watches and earlier syncs first",
			replies: []any{uint64(5)},
			events: [][]genetlink.Message{{
				syncedMsg(9, 5, 0, false),
				syncedMsg(3, 4, unix.EIO, false),
				closed(3, 2, false, 10),
				syncedMsg(3, 6, 0, false),
			}},
			want:     Synced{WatchID: 3},
			wantReqs: 1,
		},
		{
			name:     "unmounted: nothing to sync",
			replies:  []any{"unmounted"},
			want:     Synced{WatchID: 3, Unmounted: true},
			wantReqs: 1,
		},
		{
			name:     "unmounted before the sync began",
			replies:  []any{uint64(2)},
			events:   [][]genetlink.Message{{syncedMsg(3, 2, 0, true)}},
			want:     Synced{WatchID: 3, Unmounted: true},
			wantReqs: 1,
		},
		{
			name:     "the sync failed",
			replies:  []any{uint64(2)},
			events:   [][]genetlink.Message{{syncedMsg(3, 2, unix.EIO, false)}},
			wantErr:  unix.EIO,
			wantReqs: 1,
		},
		{
			name:     "unwatched before the sync began",
			replies:  []any{uint64(2)},
			events:   [][]genetlink.Message{{syncedMsg(3, 2, unix.ENOENT, false)}},
			wantErr:  os.ErrNotExist,
			wantReqs: 1,
		},
		{
			name:     "unwatched meanwhile",
			replies:  []any{uint64(2)},
			events:   [][]genetlink.Message{{msg(cmdNotifyUnwatch, u32(attrWatchID, 3))}},
			wantErr:  os.ErrNotExist,
			wantReqs: 1,
		},
		{
			name:     "no such watch",
			replies:  []any{unix.ENOENT},
			wantErr:  os.ErrNotExist,
			wantReqs: 1,
		},
		{
			name:     "announcement lost: asks again",
			replies:  []any{uint64(2), uint64(3)},
			events:   [][]genetlink.Message{nil, {syncedMsg(3, 3, 0, false)}},
			want:     Synced{WatchID: 3},
			wantReqs: 2,
		},
		{
			name:     "gave up",
			replies:  []any{uint64(2), uint64(3), uint64(4), uint64(5), uint64(6), uint64(7), uint64(8)},
			timeout:  50 * time.Millisecond,
			wantErr:  context.DeadlineExceeded,
			wantReqs: -1,
		},
	}
	defer func(d time.Duration) { syncResend = d }(syncResend)
	syncResend = 20 * time.Millisecond
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := newEventSocket()
			k := &syncKernel{replies: tt.replies, events: tt.events, sock: sock}
			c := newTestClient(t, dialGenl(genltest.ServeFamily(testFamily, k.serve)), func() (*genetlink.Conn, error) {
				return genetlink.NewConn(netlink.NewConn(sock, 0)), nil
			})
			ctx := timeoutContext(t, tt.timeout)
			s, err := c.SyncContext(ctx, 3)
			if tt.wantReqs >= 0 && k.n != tt.wantReqs {
				t.Errorf("%d SYNC requests, want %d", k.n, tt.wantReqs)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("SyncContext: %v, want an error that is %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("SyncContext: %v", err)
			}
			if s != tt.want {
				t.Errorf("SyncContext = %+v, want %+v", s, tt.want)
			}
		})
	}
}
