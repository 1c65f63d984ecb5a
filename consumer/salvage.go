package consumer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/wbarrier/wbarrier/changelog"
)

// SalvageReport says what Salvage copied from a damaged log and what it
// lost. Salvage keeps it beside the new log, in FILE.salvage, for Log to
// name the damage in the rescans it causes.
type SalvageReport struct {
	Source    string `json:"source"`     // the damaged log's path
	SourceLog string `json:"source_log"` // and ID
	Output    string `json:"output"`     // the new log's path
	Log       string `json:"log"`        // and ID
	// Damage are the byte ranges of the source that could not be
	// verified, in file order.
	Damage []Damage `json:"damage"`
	// Kept are the epochs the new log seals, with their Records records
	// and Seals seals.
	Kept    []changelog.EpochRange `json:"kept"`
	Records uint64                 `json:"records"`
	Seals   uint64                 `json:"seals"`
	// Lost are the epochs, between the first and the last the source
	// showed, that the new log does not seal; DroppedRecords verified
	// records of theirs were not copied.
	Lost           []changelog.EpochRange `json:"lost"`
	DroppedRecords uint64                 `json:"dropped_records"`
	// UnknownAfter is set if the source ends in damage: the epochs after
	// it may have been sealed there.
	UnknownAfter *uint64 `json:"unknown_after,omitempty"`
}

// Damage is a range of bytes of a damaged log that could not be verified.
type Damage struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Bytes  int64  `json:"bytes"`
	Reason string `json:"reason"`
}

func (d Damage) String() string {
	return fmt.Sprintf("%d bytes at offset %d of %s (%s)", d.Bytes, d.Offset, d.File, d.Reason)
}

// salvagePath is the file where Salvage keeps the report of the log at
// logPath.
func salvagePath(logPath string) string { return logPath + ".salvage" }

// Salvage copies what can be proven intact of the damaged log at src into
// a new log at dst (changelog.Salvage says what that is) and writes the
// report to dst.salvage. Neither may exist (errors.Is(err, fs.ErrExist)).
// The source is only read. progress, if not nil, is called as the source
// is read: done bytes of total.
func Salvage(src, dst string, progress func(done, total int64)) (*SalvageReport, error) {
	if _, err := os.Lstat(salvagePath(dst)); err == nil {
		return nil, fmt.Errorf("consumer: salvage: %s: %w", salvagePath(dst), fs.ErrExist)
	}
	sv, err := changelog.Salvage(src, dst, progress)
	if err != nil {
		return nil, err
	}
	r := &SalvageReport{Source: src, SourceLog: LogID(sv.Source), Output: dst, Log: LogID(sv.Header),
		Damage: []Damage{}, Kept: append([]changelog.EpochRange{}, sv.Kept...), Records: sv.Records, Seals: sv.Seals,
		Lost: append([]changelog.EpochRange{}, sv.Lost...), DroppedRecords: sv.DroppedRecords}
	for _, d := range sv.Damage {
		r.Damage = append(r.Damage, Damage{d.Path, d.Offset, d.Bytes, d.Reason})
	}
	if sv.TailDamaged {
		var last uint64
		if n := len(sv.Kept); n > 0 {
			last = sv.Kept[n-1].Last
		}
		if n := len(sv.Lost); n > 0 {
			last = max(last, sv.Lost[n-1].Last)
		}
		r.UnknownAfter = &last
	}
	b, err := json.Marshal(r)
	if err == nil {
		err = writeAtomic(salvagePath(dst), append(b, '\n'), 0o600)
	}
	if err != nil {
		os.Remove(dst)
		return nil, fmt.Errorf("consumer: salvage: writing the report: %w", err)
	}
	return r, nil
}

// readSalvage reads the salvage report of the log at path, nil if it has
// none.
func readSalvage(path string) (*SalvageReport, error) {
	b, err := os.ReadFile(salvagePath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var r SalvageReport
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: the salvage report of %s: %w", path, err)
	}
	return &r, nil
}

// explains says why epoch is not in the salvaged log, "" if the salvage
// did not lose it.
func (r *SalvageReport) explains(epoch uint64) string {
	lost := r.UnknownAfter != nil && epoch > *r.UnknownAfter
	for _, l := range r.Lost {
		lost = lost || l.Contains(epoch)
	}
	if !lost {
		return ""
	}
	d := make([]string, len(r.Damage))
	for i, x := range r.Damage {
		d[i] = x.String()
	}
	return fmt.Sprintf("this log was salvaged from the damaged log %s (%s), which lost epoch %d to damage: %s",
		r.Source, r.SourceLog, epoch, strings.Join(d, "; "))
}
