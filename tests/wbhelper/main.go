// Command wbhelper does, inside the test VM, what a shell cannot: system
// calls with precise timing. Each subcommand is one experiment.
package main

import "github.com/wbarrier/wbarrier/tests/internal/subcmd"

func main() {
	subcmd.Main("wbhelper", map[string]subcmd.Command{
		"oracle":       {Usage: "MOUNT ROUNDS OPS SEED: random operations on the watched MOUNT; every change between two barriers must be in that epoch's records", Run: oracle},
		"treecmp":      {Usage: "SRC DEST: every path under SRC is under DEST with the same type, mode, owner, content, symlink target and extended attributes, and nothing more", Run: treeCmp},
		"workload":     {Usage: "MOUNT N SEED|random: N random operations of the oracle's workload under MOUNT", Run: runWorkload},
		"op":           {Usage: "NAME ARGS: one modifying system call (see op.go for the names)", Run: runOp},
		"barriersplit": {Usage: "MOUNT N: N files created and written while barriers close epochs back to back; each record must be in the epoch its timing allows", Run: barrierSplit},
		"fifoopens":    {Usage: "FIFO N RELEASE: park N opens of FIFO for writing (O_CREAT|O_APPEND) in fifo_open; print \"N opens parked\", let them return when the file RELEASE appears", Run: fifoOpens},
		"genl":         {Usage: "[-dump] [-rcvbuf N] [-caps LIST] [-closeafter N] [-seqs] [-join GROUP] CMD [ATTR...]: send one raw request to the wbarrier family, print \"ok: ...\" or \"error: ERRNO: message\"", Run: genlRaw},
		"notifysock":   {Usage: "ADDR: bind a datagram socket at ADDR (path or @abstract), print each sd_notify datagram received on one line", Run: notifySock},
		"runas":        {Usage: "UID:GID CMD [ARG...]: run CMD as that user, with no groups and no capabilities", Run: runAs},
		"splicewait":   {Usage: "FILE LEN RELEASE: splice up to LEN bytes into FILE from an empty pipe; print \"waiting for pipe data\" once the splice sleeps in the kernel, feed the pipe when the file RELEASE appears", Run: spliceWait},
		"stallwrite":   {Usage: "FILE RELEASE: write 4 KiB to FILE from a userfaultfd page; print \"stalled\" once the write is parked inside write(2), finish it when the file RELEASE appears", Run: stallWrite},
	})
}
