// Package subcmd runs the test programs that are made of subcommands,
// "PROG COMMAND ARGS...", each command one experiment.
package subcmd

import (
	"fmt"
	"os"
	"sort"
)

// Command is one subcommand: its usage line (after its name) and its body.
type Command struct {
	Usage string
	Run   func(args []string) error
}

// Main runs the command that os.Args names and exits: 1 if it failed (with
// "PROG COMMAND: error" on stderr), 2 with the usage if there is no such
// command.
func Main(prog string, commands map[string]Command) {
	if len(os.Args) >= 2 {
		if cmd, ok := commands[os.Args[1]]; ok {
			if err := cmd.Run(os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "%s %s: %v\n", prog, os.Args[1], err)
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "usage: %s COMMAND ARGS\n", prog)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %s %s\n", n, commands[n].Usage)
	}
	os.Exit(2)
}
