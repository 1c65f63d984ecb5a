// Command wbbench measures what wbarrier costs, inside the test VM (see
// docs/bench.md). "wbbench run" is the whole benchmark: it loads and unloads
// the module, starts the consumers and runs the other subcommands as child
// processes, so that every condition is measured in the same boot,
// interleaved, and only ratios are compared.
package main

import (
	"fmt"
	"os"
	"sort"
)

var commands = map[string]struct {
	usage string
	run   func(args []string) error
}{
	"run":      {"[flags]: the whole benchmark; a table on stdout, JSON between markers (see -h)", runBench},
	"load":     {"KIND DIR N: N operations of workload KIND in DIR; prints one JSON line (ns per op)", runLoad},
	"fanotify": {"DIR...: a fanotify listener (FAN_MARK_FILESYSTEM, FAN_REPORT_DFID_NAME) on the filesystems of DIR; prints \"ready\", counts events until SIGTERM", runFanotify},
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
		fmt.Fprintf(os.Stderr, "wbbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: wbbench COMMAND ARGS")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %s %s\n", n, commands[n].usage)
	}
	os.Exit(2)
}
