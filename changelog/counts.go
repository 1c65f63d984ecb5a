package changelog

import "container/heap"

// epochCounts counts records per epoch for the epochs after the last seal.
type epochCounts struct {
	n map[uint64]uint64
	h epochHeap // the keys of n, to drop the sealed ones in order
}

func (c *epochCounts) add(epoch uint64) {
	if c.n == nil {
		c.n = make(map[uint64]uint64)
	}
	if _, ok := c.n[epoch]; !ok {
		heap.Push(&c.h, epoch)
	}
	c.n[epoch]++
}

func (c *epochCounts) get(epoch uint64) uint64 { return c.n[epoch] }

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
