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

// writeExample writes a log of three sealed epochs, a record of epoch 4
// before the seal of 3, into dir and returns its path.
func writeExample(dir string) string {
	path := filepath.Join(dir, "sda1.wblog")
	w, err := changelog.Create(path, changelog.Header{FSType: "ext4", Dev: 0x800001, Mount: "/srv"})
	if err != nil {
		log.Fatal(err)
	}
	seq := uint64(0)
	for e := uint64(1); e <= 3; e++ {
		for _, epoch := range []uint64{e, e, e + 1} {
			seq++
			h := &record.FileHandle{Type: 1, Bytes: []byte{byte(seq)}}
			if err := w.Append(record.Record{Type: record.TypeChange, Seq: seq, Epoch: epoch, Ops: record.OpData, Handle: h}); err != nil {
				log.Fatal(err)
			}
		}
		seq++
		if err := w.Seal(e, seq, false); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	return path
}

// OpenSince reads only what answers the epochs after 2: from the seal of
// 2, which the segment's index finds, or rather from the record of epoch 3
// that came before it.
func ExampleOpenSince() {
	dir, err := os.MkdirTemp("", "changelog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := changelog.OpenSince(writeExample(dir), 2)
	if err != nil {
		log.Fatal(err)
	}
	c, err := l.Changes(2, 3)
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range c.Objects {
		fmt.Println(o.Handle, o.Ops, "epoch", o.FirstEpoch)
	}
	// Output:
	// 1:07 data epoch 3
	// 1:09 data epoch 3
	// 1:0a data epoch 3
}

// Stream checks a log a frame at a time and hands over each frame once it
// has passed its checks, holding none of them.
func ExampleStream() {
	dir, err := os.MkdirTemp("", "changelog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	records := 0
	l, err := changelog.Stream(writeExample(dir), changelog.Visitor{
		Record: func(record.Record) error { records++; return nil },
		Seal: func(s changelog.Seal) error {
			fmt.Println(s)
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	last, _ := l.LastSealed()
	fmt.Println(records, "records, last sealed", last, "torn tail:", l.Recovery() != nil)
	// Output:
	// epoch 1 sealed (2 records, marker seq 4)
	// epoch 2 sealed (3 records, marker seq 8)
	// epoch 3 sealed (3 records, marker seq 12)
	// 9 records, last sealed 3 torn tail: false
}
