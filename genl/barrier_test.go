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

// barrierKernel answers BARRIER requests with the epochs in replies, one a
// request (an error for a unix.Errno), and queues the notifications of
// events[i] on sock when it answers request i. STATUS says the open epoch
// is open.
type barrierKernel struct {
	replies []any
	events  [][]genetlink.Message
	open    uint64
	sock    *eventSocket
	n       int
}

func (k *barrierKernel) serve(greq genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
	if greq.Header.Command == cmdStatus {
		return []genetlink.Message{msg(cmdStatus, u32(attrWatchID, 3), pad, u64(attrEpoch, k.open))}, nil
	}
	if greq.Header.Command != cmdBarrier || k.n >= len(k.replies) {
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
		return []genetlink.Message{msg(cmdBarrier, u32(attrWatchID, 3), pad, u64(attrEpoch, r))}, nil
	}
	return nil, errors.New("bad reply in the test")
}

// timeoutContext ends after d, or never if d is 0, and with the test.
func timeoutContext(t *testing.T, d time.Duration) context.Context {
	if d == 0 {
		return context.Background()
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func closed(watch uint32, epoch uint64, lossy bool, next uint64) genetlink.Message {
	as := []netlink.Attribute{u32(attrWatchID, watch), pad, u64(attrEpoch, epoch), pad, u64(attrNextSeq, next)}
	if lossy {
		as = append(as, flag(attrLossy))
	}
	return msg(cmdNotifyClosed, as...)
}

func TestBarrier(t *testing.T) {
	tests := []struct {
		name    string
		replies []any
		events  [][]genetlink.Message
		open    uint64
		timeout time.Duration
		want    Barrier
		wantErr error
	}{
		{
			name:    "closed",
			replies: []any{uint64(12)},
			events:  [][]genetlink.Message{{closed(3, 12, true, 1001)}},
			want:    Barrier{WatchID: 3, Epoch: 12, Lossy: true, NextSeq: 1001},
		},
		{
			name:    "other watches and records first",
			replies: []any{uint64(4)},
			events: [][]genetlink.Message{{
				closed(9, 4, true, 7),
				msg(cmdNotifyRecords, u32(attrWatchID, 3), pad, u64(attrNextSeq, 5)),
				closed(3, 3, true, 2),
				closed(3, 4, false, 8),
			}},
			want: Barrier{WatchID: 3, Epoch: 4, NextSeq: 8},
		},
		{
			name:    "another barrier's epoch closes first",
			replies: []any{unix.EBUSY, uint64(12)},
			open:    12,
			events:  [][]genetlink.Message{{closed(3, 10, false, 30), closed(3, 11, false, 40)}, {closed(3, 12, false, 50)}},
			want:    Barrier{WatchID: 3, Epoch: 12, NextSeq: 50},
		},
		{
			name:    "unwatched meanwhile",
			replies: []any{uint64(2)},
			events:  [][]genetlink.Message{{msg(cmdNotifyUnwatch, u32(attrWatchID, 3))}},
			wantErr: os.ErrNotExist,
		},
		{
			name:    "gave up",
			replies: []any{uint64(2)},
			timeout: 50 * time.Millisecond,
			wantErr: context.DeadlineExceeded,
		},
		{
			name:    "no room for the marker",
			replies: []any{unix.ENOBUFS},
			wantErr: unix.ENOBUFS,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := newEventSocket()
			k := &barrierKernel{replies: tt.replies, events: tt.events, open: tt.open, sock: sock}
			c := newTestClient(t, dialGenl(genltest.ServeFamily(testFamily, k.serve)), func() (*genetlink.Conn, error) {
				return genetlink.NewConn(netlink.NewConn(sock, 0)), nil
			})
			ctx := timeoutContext(t, tt.timeout)
			b, err := c.BarrierContext(ctx, 3)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("BarrierContext: %v, want an error that is %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("BarrierContext: %v", err)
			}
			if b != tt.want {
				t.Errorf("BarrierContext = %+v, want %+v", b, tt.want)
			}
			if got := sock.joined(); len(got) != 1 || got[0] != 7 {
				t.Errorf("joined groups %v, want [7]", got)
			}
		})
	}
}
