// Command wbctl controls wbarrier, the VFS write-barrier module: it watches
// filesystems, closes epochs with barriers, drains change records into a
// durable log and reads that log back.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "wbctl: %v\n", err)
		os.Exit(exitCode(err))
	}
}
