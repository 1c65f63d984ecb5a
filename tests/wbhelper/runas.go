package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// runAs runs a command as another user with no supplementary groups. A uid
// change away from 0 clears every capability (no PR_SET_KEEPCAPS). Busybox
// has no tool for it: its setpriv cannot change ids, su needs a passwd file.
func runAs(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: runas UID:GID CMD [ARG...]")
	}
	u, g, ok := strings.Cut(args[0], ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("bad UID:GID %q", args[0])
	}
	path, err := exec.LookPath(args[1])
	if err != nil {
		return err
	}
	// The syscall package applies these to every thread of the process.
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("setresgid: %w", err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("setresuid: %w", err)
	}
	return syscall.Exec(path, args[1:], syscall.Environ())
}
