// Package export publishes the sealed epochs of a change log to a message
// sink, so that a consumer on another machine learns what changed: the
// drain (Export) reads the log, cuts each sealed epoch's records into
// batches and hands them to a Sink, then the epoch's seal. A Sink only
// stores and tells where it stands; package export/jetstream is one for
// NATS JetStream, and another engine needs only the three methods.
//
// The contract a sink keeps, and a reader on the other side relies on:
//
//   - A seal is published only after every batch of its epoch was
//     acknowledged (stored) by the sink: a reader that sees the seal of
//     epoch E has all of E, its Records and Batches say how much.
//   - Only sealed epochs are exported, lossy ones as lossy. An epoch the log
//     never sealed, or one whose records were purged from the log before
//     they were exported, gets no seal: a reader must rescan across it.
//   - Every batch and seal has an ID made of the source, the generation,
//     the epoch and the batch's index (Batch.ID, Seal.ID), the same on
//     every run: a sink that deduplicates by ID never stores one twice.
//   - Export resumes from the sink's Position: after the last epoch the
//     sink holds sealed, and within the next epoch after the records it
//     already holds. Nothing is skipped, nothing sent twice.
package export

import (
	"context"
	"fmt"
)

// Source names a log among those exported to one sink: its ID
// (consumer.LogID) and the host and filesystem it records, which the sink
// may put in its subjects or topics.
type Source struct {
	Log  string // the log's ID: 16 hex digits
	Host string // the host's name
	FS   string // the filesystem's ID on that host
}

// String is HOST.FS.LOG.
func (s Source) String() string { return s.Host + "." + s.FS + "." + s.Log }

// Batch is a run of records of one sealed epoch, in log order.
type Batch struct {
	Source     Source
	Generation uint64 // the offset of the generation the epoch is of (changelog.Generation)
	Epoch      uint64
	Index      int    // 0 for the epoch's first batch
	First      uint64 // how many records of the epoch come before this batch
	Count      int    // how many records it holds
	FirstSeq   uint64 // the seq of its first record
	LastSeq    uint64 // the seq of its last record
	Lossy      bool   // the epoch's seal is lossy
	// Data holds the records, each a 4-byte little-endian length and the
	// record as changelog.AppendRecord lays it out (DecodeRecords).
	Data []byte
}

// ID is the batch's deduplication ID: HOST.FS.LOG.GENERATION.EPOCH.INDEX.
func (b *Batch) ID() string {
	return fmt.Sprintf("%s.%d.%d.%d", b.Source, b.Generation, b.Epoch, b.Index)
}

// Seal says that an epoch is complete in the sink: its Batches batches,
// holding Records records, were all acknowledged before it.
type Seal struct {
	Source     Source
	Generation uint64
	Epoch      uint64
	Lossy      bool
	Records    uint64
	Batches    int
	Seq        uint64 // the seq of the epoch-closed marker (changelog.Seal)
}

// ID is the seal's deduplication ID: HOST.FS.LOG.GENERATION.EPOCH.seal.
func (s *Seal) ID() string {
	return fmt.Sprintf("%s.%d.%d.seal", s.Source, s.Generation, s.Epoch)
}

// Position is where a sink stands for a source's log.
type Position struct {
	// Sealed is the last epoch of the log the sink holds a seal of; 0 if
	// none.
	Sealed uint64
	// Epoch, Batches and Records: the sink holds Batches batches (Records
	// records) of Epoch, an epoch after Sealed it holds no seal of yet.
	// Batches is 0 if the sink holds no batch after its last seal.
	Epoch   uint64
	Batches int
	Records uint64
}

// Sink stores batches and seals. Each method returns once the sink has
// stored what it was given (acknowledged it), or an error: the drain then
// stops, and a later Export resumes from Position.
type Sink interface {
	// Position tells where the sink stands for src's log.
	Position(ctx context.Context, src Source) (Position, error)
	// PublishBatch stores b.
	PublishBatch(ctx context.Context, b *Batch) error
	// PublishSeal stores s; every batch of its epoch was stored before.
	PublishSeal(ctx context.Context, s *Seal) error
}
