package changelog_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/record"
)

func Example() {
	dir, err := os.MkdirTemp("", "changelog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sda1.wblog")

	// The daemon: create the log, append what the kernel reports, seal
	// each epoch when its epoch-closed marker arrives.
	w, err := changelog.Create(path, changelog.Header{FSType: "ext4", Dev: 0x800001, Mount: "/srv"})
	if err != nil {
		log.Fatal(err)
	}
	file := &record.FileHandle{Type: 1, Bytes: []byte{0x0c, 0, 0, 0}}
	for _, r := range []record.Record{
		{Type: record.TypeChange, Seq: 1, Epoch: 1, Ops: record.OpData, Handle: file, HasRange: true, Offset: 0, Length: 4096},
		{Type: record.TypeChange, Seq: 2, Epoch: 1, Ops: record.OpData, Handle: file, HasRange: true, Offset: 4096, Length: 100},
		{Type: record.TypeEpochClosed, Seq: 3, Epoch: 1},
		{Type: record.TypeChange, Seq: 4, Epoch: 2, Ops: record.OpAttr, Handle: file},
	} {
		if err := w.Append(r); err != nil { // the marker seals epoch 1
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	// A consumer: what changed since epoch 0?
	l, err := changelog.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	for _, until := range []uint64{1, 2} {
		c, err := l.Changes(0, until)
		if err != nil {
			log.Fatal(err)
		}
		for _, o := range c.Objects {
			fmt.Printf("until %d: %v %v %v\n", until, o.Handle, o.Ops, o.Ranges)
		}
		if c.Rescan {
			fmt.Printf("until %d: rescan: %s\n", until, c.Reason)
		}
	}
	// Output:
	// until 1: 1:0c000000 data [{0 4196}]
	// until 2: 1:0c000000 data|attr [{0 4196}]
	// until 2: rescan: epoch 2 is not sealed
}
