package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/wbarrier/wbarrier/record"
)

// handleOut is a file handle as printed: its type and its bytes in hex.
type handleOut struct {
	Type uint32 `json:"type"`
	Hex  string `json:"hex"`
}

// recordOut is a record as printed by "records" and "log dump".
type recordOut struct {
	Seq    uint64     `json:"seq"`
	Epoch  uint64     `json:"epoch"`
	Type   string     `json:"type"`
	Ops    string     `json:"ops,omitempty"`
	Handle *handleOut `json:"handle,omitempty"`
	Parent *handleOut `json:"parent,omitempty"`
	Name   string     `json:"name,omitempty"`
	Offset *uint64    `json:"offset,omitempty"`
	Length *uint64    `json:"length,omitempty"`
	EOF    bool       `json:"eof,omitempty"` // the range runs to the end of the file
	Lossy  bool       `json:"lossy,omitempty"`
	Path   string     `json:"path,omitempty"` // of the object, with --paths
	Dir    string     `json:"dir,omitempty"`  // of the parent, with --paths
	// The bytes of Name, Path and Dir, where they are not UTF-8 (which
	// JSON cannot carry: the strings above have U+FFFD in their place).
	NameBase64 string `json:"name_base64,omitempty"`
	PathBase64 string `json:"path_base64,omitempty"`
	DirBase64  string `json:"dir_base64,omitempty"`
}

// MarshalJSON adds the base64 form of the names that are not UTF-8.
func (r recordOut) MarshalJSON() ([]byte, error) {
	type plain recordOut
	p := plain(r)
	p.NameBase64, p.PathBase64, p.DirBase64 = rawBytes(r.Name), rawBytes(r.Path), rawBytes(r.Dir)
	return json.Marshal(p)
}

// rawBytes is the base64 of s if s is not UTF-8, else "": a file name is
// any bytes but '/' and NUL.
func rawBytes(s string) string {
	if utf8.ValidString(s) {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(s))
}

func handleJSON(h *record.FileHandle) *handleOut {
	if h == nil {
		return nil
	}
	return &handleOut{Type: h.Type, Hex: fmt.Sprintf("%x", h.Bytes)}
}

func newRecordOut(r record.Record) recordOut {
	out := recordOut{Seq: r.Seq, Epoch: r.Epoch, Type: r.Type.String(), Lossy: r.Lossy,
		Handle: handleJSON(r.Handle), Parent: handleJSON(r.Parent), Name: r.Name}
	if r.Type == record.TypeChange {
		out.Ops = r.Ops.String()
	}
	if r.HasRange {
		out.Offset, out.Length = &r.Offset, &r.Length
		out.EOF = toEOF(r.Offset, r.Length)
	}
	return out
}

// toEOF reports whether a range runs to the end of the file: the kernel
// says so with the largest length the offset allows.
func toEOF(off, length uint64) bool { return off+length == math.MaxUint64 }

// rangeText is "offset+length", or "offset+eof" for a range that runs to the
// end of the file (an append, whose offset the kernel picks later).
func rangeText(off, length uint64) string {
	if toEOF(off, length) {
		return fmt.Sprintf("%d+eof", off)
	}
	return fmt.Sprintf("%d+%d", off, length)
}

// writeText prints the record as one line of key=value fields, in a fixed
// order, so that tests and scripts can filter it.
func (r recordOut) writeText(w io.Writer) error {
	f := []string{fmt.Sprintf("seq=%d", r.Seq), fmt.Sprintf("epoch=%d", r.Epoch), r.Type}
	if r.Ops != "" {
		f = append(f, "ops="+r.Ops)
	}
	if r.Handle != nil {
		f = append(f, fmt.Sprintf("fh=%d:%s", r.Handle.Type, r.Handle.Hex))
	}
	if r.Parent != nil {
		f = append(f, fmt.Sprintf("parent=%d:%s", r.Parent.Type, r.Parent.Hex))
	}
	if r.Name != "" {
		f = append(f, fmt.Sprintf("name=%q", r.Name))
	}
	if r.Offset != nil {
		f = append(f, "range="+rangeText(*r.Offset, *r.Length))
	}
	if r.Lossy {
		f = append(f, "lossy")
	}
	if r.Path != "" {
		f = append(f, fmt.Sprintf("path=%q", r.Path))
	}
	if r.Dir != "" {
		f = append(f, fmt.Sprintf("dir=%q", r.Dir))
	}
	_, err := fmt.Fprintln(w, strings.Join(f, " "))
	return err
}
