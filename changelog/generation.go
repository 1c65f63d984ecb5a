package changelog

import "fmt"

// A Generation is one watch the log follows. The kernel numbers each
// watch's epochs from 1 and its records' seqs from 1, so the log keeps its
// own epoch numbering: from the watch's generation frame on, the log's
// epoch E is the watch's epoch E - Offset. Seqs are the kernel's, per
// generation (Log.NextSeq is the current generation's).
//
// A later generation starts after every epoch the log holds: its Offset is
// past every sealed epoch and every record's epoch, and the log's epoch
// Offset itself (the watch's epoch 0, which never exists) is never sealed.
// That epoch is the break: it stands for everything that happened between
// the last change the log holds of the earlier watch and the start of the
// new one, which is unknown. Changes across it are a rescan.
type Generation struct {
	LoadID  uint64 // the module's load id (genl.Watch.LoadID)
	WatchID uint32 // the watch's id in that load
	Dev     uint32 // the watched superblock's device number then
	// Offset maps the watch's epochs to the log's: log epoch = watch
	// epoch + Offset. 0 for the first generation of a log.
	Offset uint64
	// Break is true if the log held anything (records, seals, an earlier
	// generation) before this generation: then epoch Offset is the break.
	// Set by the reader and by Writer.StartGeneration.
	Break bool
	// Continuous is true for a break that directly follows an unmount
	// frame (Writer.Unmount) whose filesystem the new watch found
	// unchanged since, watched from its mount on: the break epoch is then
	// known to be empty, and counts as sealed and complete. The daemon
	// decides it (see the generation contract in docs/changes.md); the
	// log checks that it follows an unmount frame.
	Continuous bool
}

// Same reports whether g and o name the same watch.
func (g Generation) Same(o Generation) bool {
	return g.LoadID == o.LoadID && g.WatchID == o.WatchID
}

// LogEpoch maps the watch's epoch e to the log's.
func (g Generation) LogEpoch(e uint64) uint64 { return e + g.Offset }

func (g Generation) String() string {
	s := fmt.Sprintf("watch %d of module load %016x, epochs from %d", g.WatchID, g.LoadID, g.Offset+1)
	if g.Continuous {
		s += ", continuous"
	}
	return s
}

// The generation payload; doc.go has the layout. Version 2 has a flags
// byte where version 1 has a reserved one: the writer writes version 2
// only for a continuous generation, so that a log without one stays
// readable by readers that know version 1 only.
const (
	generationPayloadSize = 32
	generationVersion1    = 1
	generationVersion2    = 2
	generationContinuous  = 1 << 0 // flags bit 0 (version 2)
	generationFlagsKnown  = generationContinuous
)

// appendGenerationPayload appends a generation payload.
func appendGenerationPayload(b []byte, g Generation) []byte {
	if g.Continuous {
		b = append(b, generationVersion2, generationContinuous, 0, 0)
	} else {
		b = append(b, generationVersion1, 0, 0, 0)
	}
	b = le.AppendUint32(b, g.WatchID)
	b = le.AppendUint64(b, g.Offset)
	b = le.AppendUint64(b, g.LoadID)
	b = le.AppendUint32(b, g.Dev)
	return le.AppendUint32(b, 0)
}

func decodeGenerationPayload(p []byte) (Generation, error) {
	var g Generation
	if len(p) == 0 || (p[0] != generationVersion1 && p[0] != generationVersion2) {
		return g, fmt.Errorf("generation payload version unknown, this reader knows %d and %d", generationVersion1, generationVersion2)
	}
	if len(p) != generationPayloadSize {
		return g, fmt.Errorf("generation payload is %d bytes, not %d", len(p), generationPayloadSize)
	}
	flags := p[1]
	if p[0] == generationVersion1 && flags != 0 {
		return g, fmt.Errorf("generation reserved field is not 0")
	}
	if flags&^generationFlagsKnown != 0 {
		return g, fmt.Errorf("generation has unknown flags %#x", flags)
	}
	if p[0] == generationVersion2 && flags == 0 {
		return g, fmt.Errorf("version 2 generation without a flag (the writer writes version 1 then)")
	}
	if p[2] != 0 || p[3] != 0 || le.Uint32(p[28:]) != 0 {
		return g, fmt.Errorf("generation reserved field is not 0")
	}
	g.Continuous = flags&generationContinuous != 0
	g.WatchID = le.Uint32(p[4:])
	g.Offset = le.Uint64(p[8:])
	g.LoadID = le.Uint64(p[16:])
	g.Dev = le.Uint32(p[24:])
	return g, nil
}
