package consumer_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/consumer"
	"github.com/wbarrier/wbarrier/export"
	"github.com/wbarrier/wbarrier/export/jetstream/jstest"
	"github.com/wbarrier/wbarrier/record"
)

// A backup service follows a host's log through the fleet's stream on a
// durable consumer: the server keeps its cursor, acknowledged after each
// epoch is processed, so a restarted service (on any machine) goes on
// where it left off. The server runs in the process here.
func ExampleStreamConsumer() {
	dir, err := os.MkdirTemp("", "consumer-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := jstest.NewServer(filepath.Join(dir, "nats"))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown()
	nc, js, err := jstest.Dial(srv.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()

	// The host web1 exports its log (as wbctl export does): epoch 1,
	// then epoch 2, lossy.
	logPath := filepath.Join(dir, "data.log")
	w, err := changelog.Create(logPath, changelog.Header{FSType: "ext4", Mount: "/srv/data"})
	if err != nil {
		log.Fatal(err)
	}
	appendAll(w,
		record.Record{Type: record.TypeChange, Seq: 1, Epoch: 1, Ops: record.OpCreate, Parent: srvDir, Name: "report"},
		record.Record{Type: record.TypeEpochClosed, Seq: 2, Epoch: 1},
		record.Record{Type: record.TypeChange, Seq: 3, Epoch: 2, Ops: record.OpAttr, Handle: file},
		record.Record{Type: record.TypeEpochClosed, Seq: 4, Epoch: 2, Lossy: true})
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	src := export.Source{Log: consumer.LogID(w.Header()), Host: "web1", FS: "data"}
	if _, err := jstest.ExportLog(ctx, js, "wbarrier", logPath, src, export.Options{}); err != nil {
		log.Fatal(err)
	}

	// The backup service, once: a consumer from the start.
	if _, err := consumer.AddStreamConsumer(ctx, js, "wbarrier", "web1", "data", "backup", consumer.Cursor{}, 0); err != nil {
		log.Fatal(err)
	}
	// Each run of the service opens it by name and handles the epochs.
	sc, err := consumer.OpenStreamConsumer(ctx, js, "wbarrier", "web1", "data", "backup")
	if err != nil {
		log.Fatal(err)
	}
	handle := func(ctx context.Context, c *consumer.Changes, rescan *consumer.RescanError) error {
		if rescan != nil {
			fmt.Printf("epochs %d-%d: rescan (%v)\n", c.Since+1, c.Until, rescan.Reason)
			return nil // rescanned: acknowledge
		}
		for _, o := range c.Objects {
			fmt.Printf("epochs %d-%d: %v %q\n", c.Since+1, c.Until, o.Ops, o.Name)
		}
		return nil // copied: acknowledge
	}
	for range 2 {
		if _, err := sc.Next(ctx, 5*time.Second, handle); err != nil {
			log.Fatal(err)
		}
	}
	info, err := sc.Info(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("cursor at epoch %d, %d behind\n", info.Cursor.Epoch, info.Behind)
	// Output:
	// epochs 1-1: create "report"
	// epochs 2-2: rescan (lossy)
	// cursor at epoch 2, 0 behind
}
