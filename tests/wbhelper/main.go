// Command wbhelper does, inside the test VM, what a shell cannot: system
// calls with precise timing. Each subcommand is one experiment.
package main

import (
	"fmt"
	"os"
)

var commands = map[string]struct {
	usage string
	run   func(args []string) error
}{
	"oracle":     {"MOUNT ROUNDS OPS SEED: random operations on the watched MOUNT; every change between two barriers must be in that epoch's records", oracle},
	"op":         {"NAME ARGS: one modifying system call (see op.go for the names)", runOp},
	"genl":       {"[-dump] [-rcvbuf N] [-caps LIST] [-closeafter N] [-seqs] [-join GROUP] CMD [ATTR...]: send one raw request to the wbarrier family, print \"ok: ...\" or \"error: ERRNO: message\"", genlRaw},
	"runas":      {"UID:GID CMD [ARG...]: run CMD as that user, with no groups and no capabilities", runAs},
	"stallwrite": {"FILE RELEASE: write 4 KiB to FILE from a userfaultfd page; print \"stalled\" once the write is parked inside write(2), finish it when the file RELEASE appears", stallWrite},
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		usage()
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "wbhelper %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: wbhelper COMMAND ARGS")
	for name, c := range commands {
		fmt.Fprintf(os.Stderr, "  %s %s\n", name, c.usage)
	}
	os.Exit(2)
}
