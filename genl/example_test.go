package genl_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/wbarrier/wbarrier/genl"
)

// This example watches a filesystem, closes its open epoch with a barrier,
// and reads the epoch's records up to the closing marker, then acknowledges
// them. It needs the wbarrier module and CAP_SYS_ADMIN.
func ExampleClient_Barrier() {
	c, err := genl.Dial()
	if errors.Is(err, genl.ErrNotLoaded) {
		log.Fatal("load wbarrier.ko first")
	}
	if err != nil {
		log.Fatalf("failed to dial: %v", err)
	}
	defer c.Close()

	w, err := c.Watch("/srv")
	if err != nil {
		log.Fatalf("failed to watch: %v", err)
	}
	defer c.Unwatch(w.ID)

	// ... the filesystem changes ...

	b, err := c.Barrier(w.ID)
	if err != nil {
		log.Fatalf("failed to take a barrier: %v", err)
	}

	// Read from the oldest queued record up to the epoch's closing marker.
	cursor := w.FirstSeq
	for cursor < b.NextSeq {
		rs, err := c.Records(w.ID, cursor)
		if err != nil {
			log.Fatalf("failed to read records: %v", err)
		}
		if len(rs) == 0 {
			break
		}
		for _, r := range rs {
			if r.Seq >= b.NextSeq {
				break
			}
			fmt.Printf("%d %s epoch %d %s %v %q\n", r.Seq, r.Type, r.Epoch, r.Ops, r.Handle, r.Name)
		}
		cursor = rs[len(rs)-1].Seq + 1
	}
	if b.Lossy {
		fmt.Printf("epoch %d lost records: rescan\n", b.Epoch)
	}

	// Acknowledge what was read: the kernel frees the records below the
	// cursor.
	if _, err := c.Records(w.ID, b.NextSeq); err != nil {
		log.Fatalf("failed to acknowledge records: %v", err)
	}
}
