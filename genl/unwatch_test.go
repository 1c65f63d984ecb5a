package genl

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func TestUnwatch(t *testing.T) {
	tests := []struct {
		name    string
		errno   unix.Errno // the request's answer; 0: acknowledged
		events  []genetlink.Message
		timeout time.Duration
		wantErr error
	}{
		{
			name:   "announced",
			events: []genetlink.Message{msg(cmdNotifyUnwatch, u32(attrWatchID, 3))},
		},
		{
			name: "other watches and events first",
			events: []genetlink.Message{
				msg(cmdNotifyUnwatch, u32(attrWatchID, 9)),
				closed(3, 4, false, 8),
				msg(cmdNotifyUnwatch, u32(attrWatchID, 3)),
			},
		},
		{
			name:    "operations still in flight",
			timeout: 50 * time.Millisecond,
			wantErr: context.DeadlineExceeded,
		},
		{
			name:    "no such watch",
			errno:   unix.ENOENT,
			wantErr: os.ErrNotExist,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := newEventSocket()
			var got request
			serve := func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
				got = capture(t, greq, nreq)
				if tt.errno != 0 {
					return nil, tt.errno
				}
				if tt.events != nil {
					sock.batches <- eventBatch{msgs: tt.events}
				}
				return nil, nil
			}
			c := newTestClient(t, dialGenl(genltest.ServeFamily(testFamily, serve)), func() (*genetlink.Conn, error) {
				return genetlink.NewConn(netlink.NewConn(sock, 0)), nil
			})
			ctx := timeoutContext(t, tt.timeout)
			err := c.UnwatchContext(ctx, 3)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("UnwatchContext: %v, want an error that is %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnwatchContext: %v", err)
			}
			want := request{
				Flags:   netlink.Request | netlink.Acknowledge,
				Command: cmdUnwatch,
				Attrs:   []netlink.Attribute{u32(attrWatchID, 3)},
			}
			want.Type = netlink.HeaderType(testFamily.ID)
			want.Version = familyVersion
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("unexpected request (-want +got):\n%s", diff)
			}
			if got := sock.joined(); len(got) != 1 || got[0] != 7 {
				t.Errorf("joined groups %v, want [7]", got)
			}
		})
	}
}
