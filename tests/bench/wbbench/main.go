// Command wbbench measures what wbarrier costs, inside the test VM (see
// docs/bench.md). "wbbench run" is the whole benchmark: it loads and unloads
// the module, starts the consumers and runs the other subcommands as child
// processes, so that every condition is measured in the same boot,
// interleaved, and only ratios are compared.
package main

import "github.com/wbarrier/wbarrier/tests/internal/subcmd"

func main() {
	subcmd.Main("wbbench", map[string]subcmd.Command{
		"run":          {Usage: "[flags]: the whole benchmark; a table on stdout, JSON between markers (see -h)", Run: runBench},
		"load":         {Usage: "KIND DIR N: N operations of workload KIND in DIR; prints one JSON line (ns per op)", Run: runLoad},
		"trace":        {Usage: "[flags]: the guest's half of ci/trace: traced 4 KiB rewrites under each condition, and the symbols that name their instructions", Run: runTrace},
		"trace-writes": {Usage: "PATH POS N: one untraced 4095-byte pwrite at POS of PATH, then N traced 4 KiB ones (trace's writer)", Run: runTraceWrites},
		"fanotify":     {Usage: "DIR...: a fanotify listener (FAN_MARK_FILESYSTEM, FAN_REPORT_DFID_NAME) on the filesystems of DIR; prints \"ready\", counts events until SIGTERM", Run: runFanotify},
	})
}
