package changelog

import "container/heap"

// epochCounts counts records per epoch for the epochs after the last seal,
// and where in the segment each one's records start.
type epochCounts struct {
	n map[uint64]*openEpoch
	h epochHeap // the keys of n, to drop the sealed ones in order
	// The epoch counted last, which the next record is nearly always
	// of: counted without a map lookup.
	last      *openEpoch
	lastEpoch uint64
}

// openEpoch is what epochCounts knows of one epoch.
type openEpoch struct {
	records uint64
	first   frameRef // its first record in this segment, or the segment's start
}

// add counts a record of epoch, whose frame is at.
func (c *epochCounts) add(epoch uint64, at frameRef) {
	if c.last != nil && c.lastEpoch == epoch {
		c.last.records++
		return
	}
	if c.n == nil {
		c.n = make(map[uint64]*openEpoch)
	}
	e := c.n[epoch]
	if e == nil {
		e = &openEpoch{first: at}
		c.n[epoch] = e
		heap.Push(&c.h, epoch)
	}
	e.records++
	c.last, c.lastEpoch = e, epoch
}

func (c *epochCounts) get(epoch uint64) uint64 {
	if e := c.n[epoch]; e != nil {
		return e.records
	}
	return 0
}

// restart says that a new segment starts at at: the records of the open
// epochs before it are in the segments before.
func (c *epochCounts) restart(at frameRef) {
	for _, e := range c.n {
		e.first = at
	}
}

// start returns where the records of the epochs after epoch start in the
// segment: the first of them, or at (the seal of epoch) if none comes
// before it.
func (c *epochCounts) start(epoch uint64, at frameRef) frameRef {
	for k, e := range c.n {
		if k > epoch && e.first.off < at.off {
			at = e.first
		}
	}
	return at
}

// max returns the greatest epoch counted, 0 if none.
func (c *epochCounts) max() uint64 {
	var m uint64
	for e := range c.n {
		m = max(m, e)
	}
	return m
}

// dropThrough forgets the epochs up to and including epoch.
func (c *epochCounts) dropThrough(epoch uint64) {
	for len(c.h) > 0 && c.h[0] <= epoch {
		delete(c.n, heap.Pop(&c.h).(uint64))
	}
	if c.lastEpoch <= epoch {
		c.last = nil
	}
}

type epochHeap []uint64

func (h epochHeap) Len() int           { return len(h) }
func (h epochHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h epochHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *epochHeap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *epochHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
