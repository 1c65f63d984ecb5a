package changelog

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/wbarrier/wbarrier/record"
)

// Changes answers "what changed in epochs (Since, Until]".
type Changes struct {
	Since, Until uint64

	// Objects are the changed objects, one per object, in the order of
	// their first record in the log.
	Objects []Object

	// Rescan is true when the log cannot vouch for the whole range: an
	// epoch in it is not sealed (not reached yet, lost in a crash, or
	// before the log began), is sealed as lossy, or was purged (Base). Objects still lists
	// every change the log holds, but other objects may have changed too:
	// the caller must rescan (by ctime, say) from epoch RescanFrom on.
	Rescan bool
	// RescanFrom is the first epoch in the range that is unsealed or lossy.
	RescanFrom uint64
	// Reason says why, for people: "epoch 7 is not sealed".
	Reason string
}

// Object is everything the records of one object say, merged.
//
// Records that carry a handle are merged by handle (type and bytes).
// Records without one (a create is recorded before the object has a
// handle) are merged by parent handle and name; a later record of the same
// file that carries its handle is a separate Object.
type Object struct {
	Handle *record.FileHandle // nil for an object known by parent and name only
	Parent *record.FileHandle // from the last record with a parent or name
	Name   string             // likewise
	Ops    record.Op          // the OR of the records' ops

	// Ranges are the data ranges of the records that had one, sorted by
	// offset, overlapping and adjacent ranges joined.
	Ranges []Range
	// Entries are the distinct (parent, name) pairs the records named, in
	// order of first appearance, each with the OR of the ops of the records
	// naming it: for a rename, the old and the new name.
	Entries []Entry

	Records    int    // how many records were merged
	FirstEpoch uint64 // epoch of the first record
	LastEpoch  uint64 // epoch of the last record
}

// Range is a byte range of a data change.
type Range struct {
	Offset, Length uint64
}

// Entry is a name of an object in a directory.
type Entry struct {
	Parent *record.FileHandle
	Name   string
	Ops    record.Op
}

// Changes merges the records of the epochs e with since < e <= until, and
// tells whether each of those epochs is sealed and not lossy. A sealed
// epoch without records is complete and empty. until < since is an error;
// until == since is an empty, complete answer.
func (l *Log) Changes(since, until uint64) (Changes, error) {
	c := Changes{Since: since, Until: until}
	if until < since {
		return c, fmt.Errorf("changelog: changes since epoch %d until epoch %d: the range is reversed", since, until)
	}
	if l.partial && since < l.since {
		return c, fmt.Errorf("changelog: changes since epoch %d: the log was read for the epochs after %d only", since, l.since)
	}
	if until == since {
		return c, nil
	}
	if b := l.Base(); since < b {
		c.rescan(since+1, fmt.Sprintf("epochs up to %d were purged from the log (its oldest segment starts after epoch %d)", b, b))
	} else {
		c.checkSealed(l.seals, l.gens)
		c.explainBreak(l.gens)
	}

	c.Objects = Merge(l.records, since, until)
	return c, nil
}

// Merge merges the records of recs whose epoch e is since < e <= until,
// one Object per object in the order of its first record, as Changes does:
// for records of a log read elsewhere (an exported stream).
func Merge(recs []record.Record, since, until uint64) []Object {
	var objs []Object
	index := make(map[string]int)
	var key []byte
	for i := range recs {
		r := &recs[i]
		if r.Epoch <= since || r.Epoch > until {
			continue
		}
		key = objectKey(key[:0], r)
		j, ok := index[string(key)]
		if !ok {
			j = len(objs)
			index[string(key)] = j
			objs = append(objs, Object{Handle: r.Handle, FirstEpoch: r.Epoch})
		}
		o := &objs[j]
		o.Ops |= r.Ops
		o.Records++
		o.LastEpoch = max(o.LastEpoch, r.Epoch)
		o.FirstEpoch = min(o.FirstEpoch, r.Epoch)
		if r.HasRange {
			o.Ranges = append(o.Ranges, Range{r.Offset, r.Length})
		}
		if r.Parent != nil || r.Name != "" {
			o.Parent, o.Name = r.Parent, r.Name
			o.addEntry(r)
		}
	}
	for i := range objs {
		objs[i].Ranges = joinRanges(objs[i].Ranges)
	}
	return objs
}

// checkSealed sets Rescan if an epoch in (Since, Until] is not sealed or is
// lossy. seals are in strictly increasing epoch order. The break epoch of
// a continuous generation in gens counts as sealed and empty: the log
// knows nothing changed then (see Generation.Continuous).
func (c *Changes) checkSealed(seals []Seal, gens []Generation) {
	i := sort.Search(len(seals), func(i int) bool { return seals[i].Epoch > c.Since })
	// want is the next epoch that needs a seal; Since < Until, so no overflow.
	for want := c.Since + 1; ; want++ {
		switch {
		case slices.ContainsFunc(gens, func(g Generation) bool { return g.Continuous && g.Offset == want }):
		case i == len(seals) || seals[i].Epoch != want:
			c.rescan(want, fmt.Sprintf("epoch %d is not sealed", want))
			return
		case seals[i].Lossy:
			c.rescan(want, fmt.Sprintf("epoch %d is lossy: records of it were lost", want))
			return
		default:
			i++
		}
		if want == c.Until {
			return
		}
	}
}

// explainBreak says why an unsealed epoch is unknown if it is the break
// before a generation (see Generation), or if one lies between it and
// Until.
func (c *Changes) explainBreak(gens []Generation) {
	if !c.Rescan {
		return
	}
	for i, g := range gens {
		if !g.Break || g.Continuous || g.Offset < c.RescanFrom || g.Offset > c.Until {
			continue
		}
		what := "a reboot, a module reload, or an unwatch and a new watch"
		if i > 0 && gens[i-1].LoadID == g.LoadID {
			what = "an unwatch and a new watch"
		}
		gap := fmt.Sprintf("epoch %d is the break between two watches of the filesystem (the watch was made anew: %s): what changed from the last change the log holds of the earlier watch to the start of the new one is unknown; after the rescan, go on from epoch %d", g.Offset, what, g.Offset)
		if g.Offset == c.RescanFrom {
			c.Reason = gap
		} else {
			c.Reason += "; and " + gap
		}
		return
	}
}

func (c *Changes) rescan(from uint64, why string) {
	c.Rescan, c.RescanFrom, c.Reason = true, from, why
}

// objectKey appends the merge key of r to b: 'h', handle type, handle
// bytes; or 'n', parent presence, type, length and bytes, then the name.
func objectKey(b []byte, r *record.Record) []byte {
	if h := r.Handle; h != nil {
		b = append(b, 'h')
		b = binary.LittleEndian.AppendUint32(b, h.Type)
		return append(b, h.Bytes...)
	}
	b = append(b, 'n')
	if p := r.Parent; p != nil {
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint32(b, p.Type)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Bytes)))
		b = append(b, p.Bytes...)
	} else {
		b = append(b, 0)
	}
	return append(b, r.Name...)
}

func (o *Object) addEntry(r *record.Record) {
	for i := range o.Entries {
		e := &o.Entries[i]
		if e.Name == r.Name && sameHandle(e.Parent, r.Parent) {
			e.Ops |= r.Ops
			return
		}
	}
	o.Entries = append(o.Entries, Entry{Parent: r.Parent, Name: r.Name, Ops: r.Ops})
}

func sameHandle(a, b *record.FileHandle) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Type == b.Type && string(a.Bytes) == string(b.Bytes)
}

// joinRanges sorts ranges by offset and joins the overlapping and adjacent
// ones. A range reaching past 2^64 is taken to end there.
func joinRanges(rs []Range) []Range {
	if len(rs) < 2 {
		return rs
	}
	slices.SortFunc(rs, func(a, b Range) int { return cmp.Compare(a.Offset, b.Offset) })
	end := func(r Range) uint64 {
		if r.Length > math.MaxUint64-r.Offset {
			return math.MaxUint64
		}
		return r.Offset + r.Length
	}
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if e := end(*last); r.Offset <= e {
			last.Length = max(e, end(r)) - last.Offset
			continue
		}
		out = append(out, r)
	}
	return out
}
