package consumer_test

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/consumer"
	"github.com/wbarrier/wbarrier/record"
)

var (
	file   = &record.FileHandle{Type: 1, Bytes: []byte{0x0c, 0, 0, 0}}
	srvDir = &record.FileHandle{Type: 1, Bytes: []byte{0x02, 0, 0, 0}}
)

// appendAll appends records to the log as the daemon would; a marker
// seals its epoch.
func appendAll(w *changelog.Writer, recs ...record.Record) {
	for _, r := range recs {
		if err := w.Append(r); err != nil {
			log.Fatal(err)
		}
	}
}

// consume is one run of a consumer: read the cursor it kept, ask for the
// changes since, process them, keep the new cursor. Told to rescan, it
// scans everything and goes on from the log's cursor as it was before the
// scan.
func consume(logPath, cursorPath string) {
	l, err := consumer.Open(logPath)
	if err != nil {
		log.Fatal(err)
	}
	since, err := consumer.LoadCursor(cursorPath)
	if errors.Is(err, fs.ErrNotExist) {
		since = consumer.Cursor{Epoch: 0} // the first run: from the start
	} else if err != nil {
		log.Fatal(err)
	}
	c, err := l.Changes(since)
	var rescan *consumer.RescanError
	switch {
	case errors.As(err, &rescan):
		fmt.Printf("rescan: %s from epoch %d\n", rescan.Reason, rescan.From)
		next := l.Cursor() // taken before the scan starts
		// ... scan everything ...
		err = consumer.SaveCursor(cursorPath, next)
	case err != nil:
		log.Fatal(err)
	default:
		if len(c.Objects) == 0 {
			fmt.Printf("up to epoch %d: nothing changed\n", c.Until)
		}
		for _, o := range c.Objects {
			if o.Handle == nil { // a create: known by its name
				fmt.Printf("up to epoch %d: %v %q\n", c.Until, o.Ops, o.Name)
			} else {
				fmt.Printf("up to epoch %d: %v %v\n", c.Until, o.Ops, o.Handle)
			}
		}
		// ... process the changes, then keep the cursor ...
		err = consumer.SaveCursor(cursorPath, c.Cursor)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// A consumer that keeps its cursor in a file, run after each epoch the
// daemon seals.
func Example() {
	dir, err := os.MkdirTemp("", "consumer-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	logPath, cursorPath := filepath.Join(dir, "data.log"), filepath.Join(dir, "cursor")
	w, err := changelog.Create(logPath, changelog.Header{FSType: "ext4", Dev: 0x800001, Mount: "/srv/data"})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	appendAll(w,
		record.Record{Type: record.TypeChange, Seq: 1, Epoch: 1, Ops: record.OpCreate, Parent: srvDir, Name: "report"},
		record.Record{Type: record.TypeChange, Seq: 2, Epoch: 1, Ops: record.OpData, Handle: file, HasRange: true, Length: 4096},
		record.Record{Type: record.TypeEpochClosed, Seq: 3, Epoch: 1})
	consume(logPath, cursorPath)

	// Epoch 2 lost records (its marker says lossy): the log cannot say
	// what changed in it.
	appendAll(w,
		record.Record{Type: record.TypeChange, Seq: 4, Epoch: 2, Ops: record.OpAttr, Handle: file},
		record.Record{Type: record.TypeEpochClosed, Seq: 5, Epoch: 2, Lossy: true})
	consume(logPath, cursorPath)

	appendAll(w,
		record.Record{Type: record.TypeChange, Seq: 6, Epoch: 3, Ops: record.OpData, Handle: file, HasRange: true, Length: 10},
		record.Record{Type: record.TypeEpochClosed, Seq: 7, Epoch: 3})
	consume(logPath, cursorPath)
	consume(logPath, cursorPath) // nothing new
	// Output:
	// up to epoch 1: create "report"
	// up to epoch 1: data 1:0c000000
	// rescan: lossy from epoch 2
	// up to epoch 3: data 1:0c000000
	// up to epoch 3: nothing changed
}

// Consumers registered beside the log: the cursor is kept for them, and
// the log's oldest segments go once every consumer has acknowledged them.
func ExampleLog_Ack() {
	dir, err := os.MkdirTemp("", "consumer-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	logPath := filepath.Join(dir, "data.log")
	w, err := changelog.Create(logPath, changelog.Header{FSType: "ext4", Dev: 0x800001, Mount: "/srv/data"})
	if err != nil {
		log.Fatal(err)
	}
	w.SetSegmentSize(1) // a new segment at every seal
	appendAll(w,
		record.Record{Type: record.TypeEpochClosed, Seq: 1, Epoch: 1},
		record.Record{Type: record.TypeChange, Seq: 2, Epoch: 2, Ops: record.OpData, Handle: file},
		record.Record{Type: record.TypeEpochClosed, Seq: 3, Epoch: 2})
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	l, err := consumer.Open(logPath)
	if err != nil {
		log.Fatal(err)
	}
	if err := l.AddConsumer("backup", 0); err != nil { // it has seen nothing yet
		log.Fatal(err)
	}
	r, err := l.Consumers()
	if err != nil {
		log.Fatal(err)
	}
	pos, err := r.Find("backup")
	if err != nil {
		log.Fatal(err)
	}
	c, err := l.Changes(consumer.Cursor{Epoch: pos.Epoch})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d object changed up to epoch %d\n", len(c.Objects), c.Until)
	// ... process the changes, then acknowledge them ...
	p, err := l.Ack("backup", c.Until)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range p.Files {
		fmt.Printf("removed %s: every consumer has acknowledged up to epoch %d\n", filepath.Base(f), p.UpTo)
	}
	// Output:
	// 1 object changed up to epoch 2
	// removed data.log: every consumer has acknowledged up to epoch 2
	// removed data.log.000001: every consumer has acknowledged up to epoch 2
}

// The paths of what changed, for rsync --files-from --from0 (see
// docs/changes.md for its options). Resolving handles needs
// CAP_DAC_READ_SEARCH, and the mount the log's daemon watches.
func ExampleMount_Paths() {
	l, err := consumer.Open("/var/lib/wbarrier/srv-data.log")
	if err != nil {
		log.Fatal(err)
	}
	since, err := consumer.LoadCursor("/var/lib/backup/cursor")
	if err != nil {
		log.Fatal(err)
	}
	c, err := l.Changes(since)
	if err != nil {
		log.Fatal(err) // a *consumer.RescanError: copy everything instead
	}
	m, err := consumer.OpenMount("/srv/data")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	paths, err := m.Paths(c.Objects)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range paths {
		fmt.Printf("%s\x00", p)
	}
}

// A log damaged in its middle: Salvage copies the epochs it can prove
// intact into a new log, and a consumer of the new log is told to rescan
// across the damage, why, and nothing more.
func ExampleSalvage() {
	dir, err := os.MkdirTemp("", "consumer-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	logPath := filepath.Join(dir, "data.log")
	w, err := changelog.Create(logPath, changelog.Header{FSType: "ext4", Dev: 0x800001, Mount: "/srv/data"})
	if err != nil {
		log.Fatal(err)
	}
	var epoch2 int64 // where the record of epoch 2 starts
	for e := uint64(1); e <= 3; e++ {
		if e == 2 {
			fi, err := os.Stat(logPath) // Append seals: synced
			if err != nil {
				log.Fatal(err)
			}
			epoch2 = fi.Size()
		}
		appendAll(w,
			record.Record{Type: record.TypeChange, Seq: 2*e - 1, Epoch: e, Ops: record.OpData, Handle: file, HasRange: true, Length: 4},
			record.Record{Type: record.TypeEpochClosed, Seq: 2 * e, Epoch: e})
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	f, err := os.OpenFile(logPath, os.O_RDWR, 0)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, epoch2+30); err != nil { // a byte of its payload
		log.Fatal(err)
	}
	f.Close()

	damaged, err := consumer.Open(logPath) // reads from the last seal on
	if err != nil {
		log.Fatal(err)
	}
	if _, err := damaged.Changes(consumer.Cursor{Epoch: 1}); errors.Is(err, changelog.ErrCorrupt) {
		fmt.Println("the log is corrupt")
	}
	r, err := consumer.Salvage(logPath, filepath.Join(dir, "salvaged.log"), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("kept epochs %v, lost %v; %d damaged range\n", r.Kept, r.Lost, len(r.Damage))
	l, err := consumer.Open(r.Output)
	if err != nil {
		log.Fatal(err)
	}
	// A cursor of the damaged log, before the damage.
	_, err = l.Changes(consumer.Cursor{Log: r.SourceLog, Epoch: 1})
	var rescan *consumer.RescanError
	if errors.As(err, &rescan) {
		fmt.Printf("rescan: %s from epoch %d\n", rescan.Reason, rescan.From)
	}
	// After it, the log answers.
	c, err := l.Changes(consumer.Cursor{Log: r.SourceLog, Epoch: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("up to epoch %d: %d object\n", c.Until, len(c.Objects))
	// Output:
	// the log is corrupt
	// kept epochs [1 3], lost [2]; 1 damaged range
	// rescan: unsealed from epoch 2
	// up to epoch 3: 1 object
}
