package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// notifySock plays systemd's end of sd_notify: it binds a datagram socket
// at ADDR (a path, or @name in the abstract namespace), prints "listening",
// then each datagram it receives on one line (its assignments separated by
// spaces). On SIGTERM it prints the datagrams already queued and exits:
// those of a sender that has exited are all there. Busybox has no datagram
// socket server.
func notifySock(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: notifysock ADDR")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: args[0], Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, unix.SIGTERM)
	go func() {
		<-stop
		// Reads go on until the queue is empty, then time out.
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	}()
	fmt.Println("listening")
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Println(strings.ReplaceAll(strings.TrimSuffix(string(buf[:n]), "\n"), "\n", " "))
	}
}
