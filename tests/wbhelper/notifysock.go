package main

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// notifySock plays systemd's end of sd_notify: it binds a datagram socket
// at ADDR (a path, or @name in the abstract namespace), prints "listening",
// then each datagram it receives on one line (its assignments separated by
// spaces), until killed. Busybox has no datagram socket server.
func notifySock(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: notifysock ADDR")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: args[0], Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Println("listening")
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		fmt.Println(strings.ReplaceAll(strings.TrimSuffix(string(buf[:n]), "\n"), "\n", " "))
	}
}
