package jetstream_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/consumer"
	"github.com/wbarrier/wbarrier/export"
	"github.com/wbarrier/wbarrier/export/jetstream"
	"github.com/wbarrier/wbarrier/export/jetstream/jstest"
	"github.com/wbarrier/wbarrier/record"
)

// A host exports its log to a stream; a consumer elsewhere reads what
// changed from the stream. The server runs in the process here; on a site
// it is the fleet's NATS server.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := jstest.NewServer(filepath.Join(dir, "nats"))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown()

	// The host: its log holds epoch 1, sealed, and epoch 2, open.
	path := filepath.Join(dir, "data.log")
	w, err := changelog.Create(path, changelog.Header{FSType: "ext4", Mount: "/srv/data"})
	if err != nil {
		log.Fatal(err)
	}
	parent := &record.FileHandle{Type: 1, Bytes: []byte{2}}
	for _, r := range []record.Record{
		{Type: record.TypeChange, Seq: 1, Epoch: 1, Ops: record.OpCreate, Parent: parent, Name: "report.txt"},
		{Type: record.TypeEpochClosed, Seq: 2, Epoch: 1},
		{Type: record.TypeChange, Seq: 3, Epoch: 2, Ops: record.OpCreate, Parent: parent, Name: "draft.txt"},
	} {
		if err := w.Append(r); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	l, err := changelog.Open(path)
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	if err := jetstream.CreateStream(ctx, js, "wbarrier"); err != nil {
		log.Fatal(err)
	}
	sink, err := jetstream.New(ctx, js, "wbarrier")
	if err != nil {
		log.Fatal(err)
	}
	src := export.Source{Log: consumer.LogID(l.Header()), Host: "web1", FS: "data"}
	p, err := export.Export(ctx, l, src, sink, export.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("exported %d epoch(s) on %s\n", p.Epochs, jetstream.Subject(src, jetstream.KindSeal))

	// The consumer, on another machine.
	st, err := consumer.ReadStream(ctx, js, "wbarrier", "web1", "data")
	if err != nil {
		log.Fatal(err)
	}
	c, err := st.Changes(consumer.Cursor{})
	if err != nil {
		log.Fatal(err) // a *consumer.RescanError: rescan
	}
	for _, o := range c.Objects {
		fmt.Printf("%v %q in epochs %d-%d\n", o.Ops, o.Name, o.FirstEpoch, o.LastEpoch)
	}
	fmt.Println("cursor is log's:", c.Cursor.Log == src.Log, "epoch", c.Cursor.Epoch)
	// Output:
	// exported 1 epoch(s) on wbarrier.web1.data.seal
	// create "report.txt" in epochs 1-1
	// cursor is log's: true epoch 1
}
