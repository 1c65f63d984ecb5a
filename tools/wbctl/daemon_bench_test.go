package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/genl"
	"github.com/wbarrier/wbarrier/record"
	"github.com/wbarrier/wbarrier/tools/internal/blockdev"
	"github.com/wbarrier/wbarrier/tools/internal/epochs"
)

// The ABI numbers the fake kernel below speaks (kmod/uapi/wbarrier.h; genl's
// uapi_test checks genl's copy of them). A mismatch fails the benchmark:
// it checks what the log holds.
const (
	fkFamilyID      = 0x1d
	fkFamilyVersion = 7  // WBARRIER_GENL_VERSION
	fkCmdRecords    = 5  // WBARRIER_CMD_RECORDS
	fkAttrPad       = 1  // WBARRIER_A_PAD
	fkAttrWatchID   = 2  // WBARRIER_A_WATCH_ID
	fkAttrCursor    = 13 // WBARRIER_A_CURSOR
	fkAttrRecType   = 14
	fkAttrRecSeq    = 15
	fkAttrRecEpoch  = 16
	fkAttrRecOps    = 17
	fkAttrRecFHType = 18
	fkAttrRecFH     = 19
	fkAttrRecPFHTyp = 20
	fkAttrRecPFH    = 21
	fkAttrRecName   = 22
	fkAttrRecOffset = 23
	fkAttrRecLength = 24
	fkAttrRecLossy  = 25
	fkAttrRecord    = 27
	fkDumpSize      = 32 << 10 // the module fills dump buffers of the reader's 32 KiB
)

// fkTemplate is one record encoded as the module nests it in
// WBARRIER_A_RECORD, with its seq and epoch patched in at seq and epoch.
type fkTemplate struct {
	b          []byte
	seq, epoch int
}

func fkAttr(b []byte, typ uint16, val []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(val)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func fkU32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func fkU64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

// fkEncode encodes r as wb_nl_records_dump does: a u64 after a pad
// attribute (nla_put_u64_64bit), the handles, name and range if present.
func fkEncode(r record.Record) fkTemplate {
	var t fkTemplate
	var in []byte
	in = fkAttr(in, fkAttrRecType, fkU32(uint32(r.Type)))
	in = fkAttr(in, fkAttrPad, nil)
	t.seq = len(in) + 4
	in = fkAttr(in, fkAttrRecSeq, fkU64(r.Seq))
	in = fkAttr(in, fkAttrPad, nil)
	t.epoch = len(in) + 4
	in = fkAttr(in, fkAttrRecEpoch, fkU64(r.Epoch))
	in = fkAttr(in, fkAttrRecOps, fkU32(uint32(r.Ops)))
	if r.Handle != nil {
		in = fkAttr(in, fkAttrRecFHType, fkU32(r.Handle.Type))
		in = fkAttr(in, fkAttrRecFH, r.Handle.Bytes)
	}
	if r.Parent != nil {
		in = fkAttr(in, fkAttrRecPFHTyp, fkU32(r.Parent.Type))
		in = fkAttr(in, fkAttrRecPFH, r.Parent.Bytes)
	}
	if r.Name != "" {
		in = fkAttr(in, fkAttrRecName, append([]byte(r.Name), 0))
	}
	if r.HasRange {
		in = fkAttr(in, fkAttrPad, nil)
		in = fkAttr(in, fkAttrRecOffset, fkU64(r.Offset))
		in = fkAttr(in, fkAttrPad, nil)
		in = fkAttr(in, fkAttrRecLength, fkU64(r.Length))
	}
	if r.Lossy {
		in = fkAttr(in, fkAttrRecLossy, nil)
	}
	t.b = fkAttr(nil, fkAttrRecord|netlink.Nested, in)
	t.seq += 4
	t.epoch += 4
	return t
}

// fkItem is a queued record: a change (shape indexes the templates) or an
// epoch-closed marker (shape -1).
type fkItem struct {
	seq, epoch uint64
	shape      int
}

// fakeKernel queues records of one watch and serves the RECORDS dump as
// the module does: everything queued from the cursor on, packed in
// messages of up to 32 KiB; the records below the cursor are freed.
type fakeKernel struct {
	shapes []fkTemplate
	marker fkTemplate
	queue  []fkItem
	seq    uint64 // the next record's
	epoch  uint64 // the open one
	bufs   [][]byte
}

// newFakeKernel queues records shaped as logbench writes them: data
// writes with a range over 1000 handles, every tenth record a create with
// the parent's handle and a name.
func newFakeKernel() *fakeKernel {
	k := &fakeKernel{seq: 1, epoch: 1}
	for i := range 1000 {
		h := &record.FileHandle{Type: 1, Bytes: binary.LittleEndian.AppendUint64(nil, uint64(1000+i))}
		k.shapes = append(k.shapes, fkEncode(record.Record{Type: record.TypeChange, Ops: record.OpData,
			Handle: h, HasRange: true, Offset: uint64(i) * 4096, Length: 4096}))
	}
	parent := &record.FileHandle{Type: 1, Bytes: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	for i := range 1000 {
		k.shapes = append(k.shapes, fkEncode(record.Record{Type: record.TypeChange, Ops: record.OpCreate,
			Parent: parent, Name: fmt.Sprintf("file-%06d", i)}))
	}
	k.marker = fkEncode(record.Record{Type: record.TypeEpochClosed})
	return k
}

// produce queues n change records in the open epoch.
func (k *fakeKernel) produce(n int) {
	for range n {
		s := int(k.seq % 1000)
		if k.seq%10 == 0 {
			s += 1000
		}
		k.queue = append(k.queue, fkItem{k.seq, k.epoch, s})
		k.seq++
	}
}

// barrier closes the open epoch: its marker is queued, the next opens.
func (k *fakeKernel) barrier() (uint64, bool, error) {
	k.queue = append(k.queue, fkItem{k.seq, k.epoch, -1})
	k.seq++
	k.epoch++
	return k.epoch - 1, false, nil
}

// serve answers the family lookup and the RECORDS dump.
func (k *fakeKernel) serve(reqs []netlink.Message) ([]netlink.Message, error) {
	if len(reqs) != 1 {
		return nil, io.EOF
	}
	nreq := reqs[0]
	var greq genetlink.Message
	if err := greq.UnmarshalBinary(nreq.Data); err != nil {
		return nil, err
	}
	var msgs []netlink.Message
	if nreq.Header.Type == unix.GENL_ID_CTRL {
		family := genltest.ServeFamily(genetlink.Family{ID: fkFamilyID, Version: fkFamilyVersion, Name: "wbarrier"}, nil)
		gmsgs, err := family(greq, nreq)
		if err != nil {
			return nil, err
		}
		for _, gm := range gmsgs {
			b, err := gm.MarshalBinary()
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, netlink.Message{Data: b})
		}
	} else {
		var err error
		if msgs, err = k.dump(greq); err != nil {
			return nil, err
		}
	}
	for i := range msgs {
		msgs[i].Header.Sequence = nreq.Header.Sequence
		msgs[i].Header.PID = nreq.Header.PID
	}
	return msgs, nil
}

func (k *fakeKernel) dump(greq genetlink.Message) ([]netlink.Message, error) {
	if greq.Header.Command != fkCmdRecords {
		return nil, fmt.Errorf("fake kernel: command %d", greq.Header.Command)
	}
	ad, err := netlink.NewAttributeDecoder(greq.Data)
	if err != nil {
		return nil, err
	}
	var cursor uint64
	for ad.Next() {
		if ad.Type() == fkAttrCursor {
			cursor = ad.Uint64()
		}
	}
	i := 0
	for i < len(k.queue) && k.queue[i].seq < cursor {
		i++
	}
	k.queue = append(k.queue[:0], k.queue[i:]...) // acknowledged: freed
	var msgs []netlink.Message
	start := func() []byte {
		var b []byte
		if len(msgs) < len(k.bufs) {
			b = k.bufs[len(msgs)][:0]
		} else {
			b = make([]byte, 0, fkDumpSize)
			k.bufs = append(k.bufs, b)
		}
		b = append(b, fkCmdRecords, fkFamilyVersion, 0, 0)
		return fkAttr(b, fkAttrWatchID, fkU32(1))
	}
	b := start()
	for _, it := range k.queue {
		t := k.marker
		if it.shape >= 0 {
			t = k.shapes[it.shape]
		}
		if len(b)+len(t.b) > fkDumpSize {
			msgs = append(msgs, netlink.Message{Header: netlink.Header{Type: fkFamilyID, Flags: netlink.Multi}, Data: b})
			b = start()
		}
		n := len(b)
		b = append(b, t.b...)
		binary.NativeEndian.PutUint64(b[n+t.seq:], it.seq)
		binary.NativeEndian.PutUint64(b[n+t.epoch:], it.epoch)
	}
	msgs = append(msgs, netlink.Message{Header: netlink.Header{Type: fkFamilyID, Flags: netlink.Multi}, Data: b})
	return append(msgs, netlink.Message{Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi}, Data: make([]byte, 4)}), nil
}

// BenchmarkDaemonRecords measures what the daemon spends per drained
// record in the steady state, without the kernel: a fake kernel (above)
// queues a stream of 100 000 records at a given rate, and the daemon's own
// code moves them, as runDaemon does: a drain pass (Drainer.Once on a
// genl.Client: the RECORDS dump decoded, each record appended to the
// changelog.Writer, the log fsync-ed before the cursor acknowledges)
// every --min-interval (100 ms) of a simulated clock, and a checkpoint
// (epochs.Checkpoint through epochs.SyncLog: barrier, drain, seal with its
// two fsyncs) once --barrier-interval (1 s) has passed by epochs.Schedule.
// The log is in a temporary directory, 64 MiB segments. Not measured: the
// kernel's side (the dump's copy, the barrier, the syncfs, all fakes
// here), the wait between passes, the daemon's start.
//
// ns/record is wall clock, cpu-ns/record the process's user and system
// CPU time (getrusage: the garbage collector's included, fsync's wait not),
// allocs/record the heap allocations.
func BenchmarkDaemonRecords(b *testing.B) {
	for _, rate := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			benchDaemon(b, rate)
		})
	}
}

func benchDaemon(b *testing.B, rate int) {
	const (
		stream      = 100000
		minInterval = 100 * time.Millisecond
	)
	k := newFakeKernel()
	c, err := genl.NewClient(nltest.Dial(k.serve))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := cli.NewContext(&cli.App{ErrWriter: io.Discard}, nil, nil)
	path := filepath.Join(b.TempDir(), "d.log")
	w := genl.Watch{ID: 1, LoadID: 0xaaaa, FSType: "ext4", Path: "/mnt/t", Dev: 42, NextSeq: 1}
	d, log, err := openDrain(ctx, c, w, path, new(blockdev.System))
	if err != nil {
		b.Fatal(err)
	}
	log.SetSegmentSize(defaultSegmentSize)
	syncs := 0
	d.Log = epochs.SyncLog{Log: log, Syncfs: func() error { syncs++; return nil }}
	now := time.Unix(0, 0)
	sched := epochs.NewSchedule(epochs.Policy{Interval: time.Second}, now)
	perPass := int(int64(rate) * int64(minInterval) / int64(time.Second))
	drained, checkpoints := 0, 0

	var ms0, ms1 runtime.MemStats
	var ru0, ru1 syscall.Rusage
	runtime.ReadMemStats(&ms0)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	n := 0
	for b.Loop() {
		for left := stream; left > 0; left -= perPass {
			k.produce(min(perPass, left))
			now = now.Add(minInterval)
			st, err := d.Once()
			reportStats(ctx, st)
			if err != nil {
				b.Fatal(err)
			}
			drained += st.Records
			sched.Add(st.Records)
			if sched.Due(now) {
				_, st, err := epochs.Checkpoint(epochs.Steps{Barrier: k.barrier, Drain: d.Once})
				reportStats(ctx, st)
				if err != nil {
					b.Fatal(err)
				}
				drained += st.Records
				checkpoints++
				sched.Reset(now)
			}
		}
		n += stream
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	runtime.ReadMemStats(&ms1)
	if drained != n || syncs != checkpoints {
		b.Fatalf("drained %d records of %d, %d syncfs for %d checkpoints", drained, n, syncs, checkpoints)
	}
	cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/record")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(n), "allocs/record")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(n), "B/record")

	// What the log holds reads and verifies: every record, every seal.
	if err := log.Close(); err != nil {
		b.Fatal(err)
	}
	l, err := changelog.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	if got, _ := l.LastSealed(); got != uint64(checkpoints) {
		b.Fatalf("log: last sealed epoch %d, want %d", got, checkpoints)
	}
	if got := l.NextSeq(); got != k.seq {
		b.Fatalf("log: next seq %d, want %d", got, k.seq)
	}
}
