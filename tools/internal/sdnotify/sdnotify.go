// Package sdnotify tells systemd about a service's state, as sd_notify(3)
// does: newline-separated VAR=VALUE assignments (READY=1, STATUS=...,
// STOPPING=1) in one datagram to the AF_UNIX socket named by
// $NOTIFY_SOCKET, which a Type=notify unit sets. A name starting with '@'
// is in the abstract namespace (the '@' stands for the leading NUL byte).
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// Env is the environment variable that names the socket.
const Env = "NOTIFY_SOCKET"

// Notifier sends to one notification socket. A nil *Notifier sends nothing:
// the service does not run under systemd (or not as Type=notify).
type Notifier struct {
	conn *net.UnixConn
}

// FromEnv returns a Notifier for $NOTIFY_SOCKET, nil if it is unset.
func FromEnv() (*Notifier, error) {
	addr := os.Getenv(Env)
	if addr == "" {
		return nil, nil
	}
	return Dial(addr)
}

// Dial returns a Notifier for the socket at addr: an absolute path, or an
// abstract name starting with '@'.
func Dial(addr string) (*Notifier, error) {
	if !strings.HasPrefix(addr, "/") && !strings.HasPrefix(addr, "@") {
		return nil, fmt.Errorf("sdnotify: $%s=%q: want an absolute path or @abstract name", Env, addr)
	}
	// Go's net package maps a leading '@' to the abstract namespace.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("sdnotify: %w", err)
	}
	return &Notifier{conn: conn}, nil
}

// Send sends the assignments (e.g. "READY=1", "STATUS=draining") in one
// datagram. A nil Notifier sends nothing.
func (n *Notifier) Send(assignments ...string) error {
	if n == nil {
		return nil
	}
	for _, a := range assignments {
		if !strings.Contains(a, "=") || strings.Contains(a, "\n") {
			return fmt.Errorf("sdnotify: bad assignment %q", a)
		}
	}
	msg := strings.Join(assignments, "\n") + "\n"
	if _, err := n.conn.Write([]byte(msg)); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	return nil
}

// Close closes the socket; a nil Notifier has nothing to close.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	return n.conn.Close()
}
