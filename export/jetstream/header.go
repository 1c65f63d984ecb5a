package jetstream

import (
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/wbarrier/wbarrier/export"
)

// The headers of the sink's messages. A batch carries all but Records,
// Batches and Marker-Seq; a seal all but Batch, First, Count, First-Seq and
// Last-Seq. Numbers are decimal; Lossy is "true" or "false".
const (
	HeaderLog        = "Wbarrier-Log"        // the log's ID
	HeaderGeneration = "Wbarrier-Generation" // the offset of the epoch's generation
	HeaderEpoch      = "Wbarrier-Epoch"
	HeaderLossy      = "Wbarrier-Lossy"
	HeaderBatch      = "Wbarrier-Batch"     // the batch's index in its epoch, from 0
	HeaderFirst      = "Wbarrier-First"     // records of the epoch before the batch
	HeaderCount      = "Wbarrier-Count"     // records in the batch
	HeaderFirstSeq   = "Wbarrier-First-Seq" // the seq of its first record
	HeaderLastSeq    = "Wbarrier-Last-Seq"  // the seq of its last record
	HeaderRecords    = "Wbarrier-Records"   // records of the sealed epoch
	HeaderBatches    = "Wbarrier-Batches"   // batches of the sealed epoch
	HeaderMarkerSeq  = "Wbarrier-Marker-Seq"
)

func batchMsg(b *export.Batch) *nats.Msg {
	m := nats.NewMsg(Subject(b.Source, KindRecords))
	setCommon(m.Header, b.Source.Log, b.Generation, b.Epoch, b.Lossy)
	m.Header.Set(HeaderBatch, strconv.Itoa(b.Index))
	m.Header.Set(HeaderFirst, strconv.FormatUint(b.First, 10))
	m.Header.Set(HeaderCount, strconv.Itoa(b.Count))
	m.Header.Set(HeaderFirstSeq, strconv.FormatUint(b.FirstSeq, 10))
	m.Header.Set(HeaderLastSeq, strconv.FormatUint(b.LastSeq, 10))
	m.Data = b.Data
	return m
}

func sealMsg(s *export.Seal) *nats.Msg {
	m := nats.NewMsg(Subject(s.Source, KindSeal))
	setCommon(m.Header, s.Source.Log, s.Generation, s.Epoch, s.Lossy)
	m.Header.Set(HeaderRecords, strconv.FormatUint(s.Records, 10))
	m.Header.Set(HeaderBatches, strconv.Itoa(s.Batches))
	m.Header.Set(HeaderMarkerSeq, strconv.FormatUint(s.Seq, 10))
	return m
}

func setCommon(h nats.Header, log string, gen, epoch uint64, lossy bool) {
	h.Set(HeaderLog, log)
	h.Set(HeaderGeneration, strconv.FormatUint(gen, 10))
	h.Set(HeaderEpoch, strconv.FormatUint(epoch, 10))
	h.Set(HeaderLossy, strconv.FormatBool(lossy))
}

// ParseBatch reads a batch from a message of a records subject.
func ParseBatch(subject string, h nats.Header, data []byte) (*export.Batch, error) {
	host, fs, kind, err := parseSubject(subject)
	if err != nil {
		return nil, err
	}
	if kind != KindRecords {
		return nil, fmt.Errorf("jetstream: %s is not a records subject", subject)
	}
	p := headerParser{h: h}
	b := &export.Batch{Source: export.Source{Log: p.text(HeaderLog), Host: host, FS: fs},
		Generation: p.uint(HeaderGeneration), Epoch: p.uint(HeaderEpoch), Lossy: p.bool(HeaderLossy),
		Index: int(p.uint(HeaderBatch)), First: p.uint(HeaderFirst), Count: int(p.uint(HeaderCount)),
		FirstSeq: p.uint(HeaderFirstSeq), LastSeq: p.uint(HeaderLastSeq), Data: data}
	if p.err != nil {
		return nil, fmt.Errorf("jetstream: batch on %s: %w", subject, p.err)
	}
	return b, nil
}

// ParseSeal reads a seal from a message of a seal subject.
func ParseSeal(subject string, h nats.Header) (*export.Seal, error) {
	host, fs, kind, err := parseSubject(subject)
	if err != nil {
		return nil, err
	}
	if kind != KindSeal {
		return nil, fmt.Errorf("jetstream: %s is not a seal subject", subject)
	}
	p := headerParser{h: h}
	s := &export.Seal{Source: export.Source{Log: p.text(HeaderLog), Host: host, FS: fs},
		Generation: p.uint(HeaderGeneration), Epoch: p.uint(HeaderEpoch), Lossy: p.bool(HeaderLossy),
		Records: p.uint(HeaderRecords), Batches: int(p.uint(HeaderBatches)), Seq: p.uint(HeaderMarkerSeq)}
	if p.err != nil {
		return nil, fmt.Errorf("jetstream: seal on %s: %w", subject, p.err)
	}
	return s, nil
}

// headerParser reads headers, keeping the first error.
type headerParser struct {
	h   nats.Header
	err error
}

func (p *headerParser) text(key string) string {
	v := p.h.Get(key)
	if v == "" && p.err == nil {
		p.err = fmt.Errorf("header %s is missing", key)
	}
	return v
}

func (p *headerParser) uint(key string) uint64 {
	v := p.text(key)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("header %s: %q is not a number", key, v)
	}
	return n
}

func (p *headerParser) bool(key string) bool {
	v := p.text(key)
	b, err := strconv.ParseBool(v)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("header %s: %q is not true or false", key, v)
	}
	return b
}
