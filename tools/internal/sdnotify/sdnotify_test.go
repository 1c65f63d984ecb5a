package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSend(t *testing.T) {
	tests := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"path", func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify") }},
		{"abstract", func(*testing.T) string { return fmt.Sprintf("@wbarrier-sdnotify-test-%d", os.Getpid()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.addr(t)
			srv, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			t.Setenv(Env, addr)
			n, err := FromEnv()
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			for _, want := range []struct {
				send []string
				got  string
			}{
				{[]string{"READY=1", "STATUS=epoch 2 open"}, "READY=1\nSTATUS=epoch 2 open\n"},
				{[]string{"STOPPING=1"}, "STOPPING=1\n"},
			} {
				if err := n.Send(want.send...); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 256)
				srv.SetReadDeadline(time.Now().Add(5 * time.Second))
				k, err := srv.Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(buf[:k]); got != want.got {
					t.Errorf("datagram %q, want %q", got, want.got)
				}
			}
			if err := n.Send("no assignment"); err == nil {
				t.Error("Send of a line without '=' succeeded")
			}
		})
	}
}

func TestNoSocket(t *testing.T) {
	t.Setenv(Env, "")
	n, err := FromEnv()
	if n != nil || err != nil {
		t.Fatalf("FromEnv() = %v, %v; want nil, nil", n, err)
	}
	if err := n.Send("READY=1"); err != nil {
		t.Errorf("nil Send: %v", err)
	}
	for _, addr := range []string{"relative/path", filepath.Join(t.TempDir(), "absent")} {
		if _, err := Dial(addr); err == nil {
			t.Errorf("Dial(%q) succeeded", addr)
		}
	}
}
