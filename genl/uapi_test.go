package genl

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wbarrier/wbarrier/record"
)

const headerPath = "../kmod/uapi/wbarrier.h"

// uapiConsts pairs every name of the header with the Go constant that
// mirrors it. TestUAPIConstants fails if the header has a name that is not
// here, if the values differ, and TestUAPIMirrored if uapi.go or record.go
// has a constant that is not here.
var uapiConsts = []struct {
	c      string // the header's name
	goName string // the Go constant's name, for messages and TestUAPIMirrored
	v      any    // its value: int64 or string
}{
	{"WBARRIER_GENL_NAME", "familyName", familyName},
	{"WBARRIER_GENL_VERSION", "familyVersion", int64(familyVersion)},
	{"WBARRIER_MCGRP_EVENTS", "groupEvents", groupEvents},
	{"WBARRIER_FH_MAX", "fhMax", int64(fhMax)},

	{"WBARRIER_CMD_UNSPEC", "cmdUnspec", int64(cmdUnspec)},
	{"WBARRIER_CMD_WATCH", "cmdWatch", int64(cmdWatch)},
	{"WBARRIER_CMD_UNWATCH", "cmdUnwatch", int64(cmdUnwatch)},
	{"WBARRIER_CMD_BARRIER", "cmdBarrier", int64(cmdBarrier)},
	{"WBARRIER_CMD_STATUS", "cmdStatus", int64(cmdStatus)},
	{"WBARRIER_CMD_RECORDS", "cmdRecords", int64(cmdRecords)},
	{"WBARRIER_CMD_NOTIFY_RECORDS", "cmdNotifyRecords", int64(cmdNotifyRecords)},
	{"WBARRIER_CMD_NOTIFY_OVERFLOW", "cmdNotifyOverflow", int64(cmdNotifyOverflow)},
	{"WBARRIER_CMD_NOTIFY_UNWATCH", "cmdNotifyUnwatch", int64(cmdNotifyUnwatch)},
	{"WBARRIER_CMD_NOTIFY_UNMOUNT", "cmdNotifyUnmount", int64(cmdNotifyUnmount)},
	{"WBARRIER_CMD_NOTIFY_EPOCH_CLOSED", "cmdNotifyClosed", int64(cmdNotifyClosed)},
	{"WBARRIER_CMD_SYNC", "cmdSync", int64(cmdSync)},
	{"WBARRIER_CMD_NOTIFY_SYNCED", "cmdNotifySynced", int64(cmdNotifySynced)},

	{"WBARRIER_A_UNSPEC", "attrUnspec", int64(attrUnspec)},
	{"WBARRIER_A_PAD", "attrPad", int64(attrPad)},
	{"WBARRIER_A_WATCH_ID", "attrWatchID", int64(attrWatchID)},
	{"WBARRIER_A_PATH", "attrPath", int64(attrPath)},
	{"WBARRIER_A_DEV", "attrDev", int64(attrDev)},
	{"WBARRIER_A_FSTYPE", "attrFSType", int64(attrFSType)},
	{"WBARRIER_A_EPOCH", "attrEpoch", int64(attrEpoch)},
	{"WBARRIER_A_LOSSY", "attrLossy", int64(attrLossy)},
	{"WBARRIER_A_NEXT_SEQ", "attrNextSeq", int64(attrNextSeq)},
	{"WBARRIER_A_FIRST_SEQ", "attrFirstSeq", int64(attrFirstSeq)},
	{"WBARRIER_A_QUEUED", "attrQueued", int64(attrQueued)},
	{"WBARRIER_A_EMITTED", "attrEmitted", int64(attrEmitted)},
	{"WBARRIER_A_LOST", "attrLost", int64(attrLost)},
	{"WBARRIER_A_CURSOR", "attrCursor", int64(attrCursor)},
	{"WBARRIER_A_REC_TYPE", "attrRecType", int64(attrRecType)},
	{"WBARRIER_A_REC_SEQ", "attrRecSeq", int64(attrRecSeq)},
	{"WBARRIER_A_REC_EPOCH", "attrRecEpoch", int64(attrRecEpoch)},
	{"WBARRIER_A_REC_OPS", "attrRecOps", int64(attrRecOps)},
	{"WBARRIER_A_REC_FH_TYPE", "attrRecFHType", int64(attrRecFHType)},
	{"WBARRIER_A_REC_FH", "attrRecFH", int64(attrRecFH)},
	{"WBARRIER_A_REC_PARENT_FH_TYPE", "attrRecParentFHType", int64(attrRecParentFHType)},
	{"WBARRIER_A_REC_PARENT_FH", "attrRecParentFH", int64(attrRecParentFH)},
	{"WBARRIER_A_REC_NAME", "attrRecName", int64(attrRecName)},
	{"WBARRIER_A_REC_OFFSET", "attrRecOffset", int64(attrRecOffset)},
	{"WBARRIER_A_REC_LENGTH", "attrRecLength", int64(attrRecLength)},
	{"WBARRIER_A_REC_LOSSY", "attrRecLossy", int64(attrRecLossy)},
	{"WBARRIER_A_UNMOUNTED", "attrUnmounted", int64(attrUnmounted)},
	{"WBARRIER_A_LOAD_ID", "attrLoadID", int64(attrLoadID)},
	{"WBARRIER_A_ACK", "attrAck", int64(attrAck)},
	{"WBARRIER_A_SYNC", "attrSync", int64(attrSync)},
	{"WBARRIER_A_ERRNO", "attrErrno", int64(attrErrno)},
	{"WBARRIER_A_AT_MOUNT", "attrAtMount", int64(attrAtMount)},
	{"WBARRIER_A_WAITING", "attrWaiting", int64(attrWaiting)},
	{"WBARRIER_A_RECORD", "attrRecord", int64(attrRecord)},

	// record.Type has no name for the zero value.
	{"WBARRIER_REC_UNSPEC", "", int64(0)},
	{"WBARRIER_REC_CHANGE", "record.TypeChange", int64(record.TypeChange)},
	{"WBARRIER_REC_EPOCH_CLOSED", "record.TypeEpochClosed", int64(record.TypeEpochClosed)},

	{"WBARRIER_OP_DATA", "record.OpData", int64(record.OpData)},
	{"WBARRIER_OP_SIZE", "record.OpSize", int64(record.OpSize)},
	{"WBARRIER_OP_ATTR", "record.OpAttr", int64(record.OpAttr)},
	{"WBARRIER_OP_XATTR", "record.OpXattr", int64(record.OpXattr)},
	{"WBARRIER_OP_CREATE", "record.OpCreate", int64(record.OpCreate)},
	{"WBARRIER_OP_REMOVE", "record.OpRemove", int64(record.OpRemove)},
	{"WBARRIER_OP_RENAME_FROM", "record.OpRenameFrom", int64(record.OpRenameFrom)},
	{"WBARRIER_OP_RENAME_TO", "record.OpRenameTo", int64(record.OpRenameTo)},
	{"WBARRIER_OP_LINK", "record.OpLink", int64(record.OpLink)},
	{"WBARRIER_OP_MMAP", "record.OpMmap", int64(record.OpMmap)},
}

// notMirrored are the header's names that Go has no use for: the *_MAX
// bounds of the enums. Names starting with "__" are skipped too.
var notMirrored = map[string]bool{
	"WBARRIER_CMD_MAX": true,
	"WBARRIER_A_MAX":   true,
	"WBARRIER_REC_MAX": true,
}

func TestUAPIConstants(t *testing.T) {
	b, err := os.ReadFile(headerPath)
	if err != nil {
		t.Fatalf("failed to read the header: %v", err)
	}
	h, err := parseHeader(string(b))
	if err != nil {
		t.Fatalf("failed to parse %s: %v", headerPath, err)
	}

	want := make(map[string]any)
	for name, v := range h {
		if strings.HasPrefix(name, "__") || notMirrored[name] {
			continue
		}
		want[name] = v
	}
	got := make(map[string]any)
	for _, c := range uapiConsts {
		got[c.c] = c.v
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Go constants differ from %s (-want +got):\n%s", headerPath, diff)
	}
	for name := range notMirrored {
		if _, ok := h[name]; !ok {
			t.Errorf("notMirrored names %s, which the header does not define", name)
		}
	}
}

// TestUAPIMirrored checks that uapiConsts covers every constant of uapi.go
// and every record.Type* and record.Op*, so that TestUAPIConstants checks
// them all.
func TestUAPIMirrored(t *testing.T) {
	listed := make(map[string]bool)
	for _, c := range uapiConsts {
		listed[c.goName] = true
	}

	for _, f := range []struct {
		path, prefix string
		keep         func(name string) bool
	}{
		{"uapi.go", "", func(string) bool { return true }},
		{"../record/record.go", "record.", func(name string) bool {
			return strings.HasPrefix(name, "Type") || strings.HasPrefix(name, "Op")
		}},
	} {
		names, err := constNames(f.path)
		if err != nil {
			t.Fatalf("failed to read the constants of %s: %v", f.path, err)
		}
		if len(names) == 0 {
			t.Fatalf("found no constants in %s", f.path)
		}
		for _, name := range names {
			if f.keep(name) && !listed[f.prefix+name] {
				t.Errorf("%s: constant %s is not in uapiConsts, so it is not checked against %s",
					f.path, name, headerPath)
			}
		}
	}
}

// constNames returns the names of the package-level constants of a Go file.
func constNames(path string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			for _, n := range s.(*ast.ValueSpec).Names {
				names = append(names, n.Name)
			}
		}
	}
	return names, nil
}

func TestParseHeader(t *testing.T) {
	const h = `
/* a comment with enum x { NOT_ME }; and #define NOT_ME_EITHER 1 */
#ifndef GUARD_H
#define GUARD_H
#define NAME "fam"		/* trailing comment */
#define BIT (1U << 3) // another
#define SUM ((A_TWO + 1) | 0x10)
enum e {
	A_ZERO,
	A_ONE,		/* u32 */
	A_TWO,
	A_TEN = 10,
	A_ELEVEN,
	__A_MAX
};
#define A_MAX (__A_MAX - 1)
#endif
`
	got, err := parseHeader(h)
	if err != nil {
		t.Fatalf("failed to parse: %v", err)
	}
	want := map[string]any{
		"NAME":     "fam",
		"BIT":      int64(8),
		"SUM":      int64(0x13),
		"A_ZERO":   int64(0),
		"A_ONE":    int64(1),
		"A_TWO":    int64(2),
		"A_TEN":    int64(10),
		"A_ELEVEN": int64(11),
		"__A_MAX":  int64(12),
		"A_MAX":    int64(11),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("unexpected names (-want +got):\n%s", diff)
	}
}

var (
	commentRE = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	defineRE  = regexp.MustCompile(`(?m)^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+(.+?)[ \t]*$`)
	enumRE    = regexp.MustCompile(`(?s)\benum\s+\w*\s*\{(.*?)\}\s*;`)
	memberRE  = regexp.MustCompile(`^(\w+)\s*(?:=\s*(.+))?$`)
)

// parseHeader returns the value of every valued #define and every enum
// member of a C header: an int64, or a string for a string literal. Enum
// members count from 0 in order unless given a value.
func parseHeader(src string) (map[string]any, error) {
	src = commentRE.ReplaceAllString(src, " ")
	vals := make(map[string]any)
	exprs := make(map[string]string) // #define values, evaluated lazily

	for _, m := range enumRE.FindAllStringSubmatch(src, -1) {
		var next int64
		for _, item := range strings.Split(m[1], ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			mm := memberRE.FindStringSubmatch(item)
			if mm == nil {
				return nil, fmt.Errorf("cannot parse enum member %q", item)
			}
			if mm[2] != "" {
				v, err := evalExpr(mm[2], vals, exprs)
				if err != nil {
					return nil, fmt.Errorf("enum member %s: %v", mm[1], err)
				}
				n, ok := v.(int64)
				if !ok {
					return nil, fmt.Errorf("enum member %s: value %q is not an integer", mm[1], mm[2])
				}
				next = n
			}
			if _, dup := vals[mm[1]]; dup {
				return nil, fmt.Errorf("%s defined twice", mm[1])
			}
			vals[mm[1]] = next
			next++
		}
	}
	for _, m := range defineRE.FindAllStringSubmatch(src, -1) {
		if _, dup := exprs[m[1]]; dup {
			return nil, fmt.Errorf("%s defined twice", m[1])
		}
		exprs[m[1]] = m[2]
	}
	for name := range exprs {
		v, err := evalExpr(name, vals, exprs)
		if err != nil {
			return nil, fmt.Errorf("#define %s: %v", name, err)
		}
		vals[name] = v
	}
	return vals, nil
}

// evalExpr evaluates a C constant expression of integers (with U and L
// suffixes), string literals, names, parentheses and the operators
// | & << >> + - * ~.
func evalExpr(expr string, vals map[string]any, exprs map[string]string) (any, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	p := &exprParser{toks: toks, vals: vals, exprs: exprs, busy: make(map[string]bool)}
	v, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q in %q", p.toks[p.pos], expr)
	}
	return v, nil
}

var tokenRE = regexp.MustCompile(`\s*("(?:[^"\\]|\\.)*"|0[xX][0-9a-fA-F]+[uUlL]*|[0-9]+[uUlL]*|\w+|<<|>>|[()|&+\-*~])`)

func tokenize(s string) ([]string, error) {
	var toks []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return toks, nil
		}
		m := tokenRE.FindStringSubmatchIndex(s)
		if m == nil || m[0] != 0 {
			return nil, fmt.Errorf("cannot tokenize %q", s)
		}
		toks = append(toks, s[m[2]:m[3]])
		s = s[m[1]:]
	}
}

type exprParser struct {
	toks  []string
	pos   int
	vals  map[string]any
	exprs map[string]string
	busy  map[string]bool // names being evaluated, to catch cycles
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

// binary parses operands joined by the operators ops, left to right.
func (p *exprParser) binary(next func() (any, error), ops ...string) (any, error) {
	l, err := next()
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		found := false
		for _, o := range ops {
			found = found || op == o
		}
		if !found {
			return l, nil
		}
		p.pos++
		r, err := next()
		if err != nil {
			return nil, err
		}
		a, aok := l.(int64)
		b, bok := r.(int64)
		if !aok || !bok {
			return nil, fmt.Errorf("operator %s on a string", op)
		}
		switch op {
		case "|":
			l = a | b
		case "&":
			l = a & b
		case "<<":
			l = a << b
		case ">>":
			l = a >> b
		case "+":
			l = a + b
		case "-":
			l = a - b
		case "*":
			l = a * b
		}
	}
}

func (p *exprParser) or() (any, error)    { return p.binary(p.and, "|") }
func (p *exprParser) and() (any, error)   { return p.binary(p.shift, "&") }
func (p *exprParser) shift() (any, error) { return p.binary(p.sum, "<<", ">>") }
func (p *exprParser) sum() (any, error)   { return p.binary(p.mul, "+", "-") }
func (p *exprParser) mul() (any, error)   { return p.binary(p.unary, "*") }

func (p *exprParser) unary() (any, error) {
	switch op := p.peek(); op {
	case "-", "~":
		p.pos++
		v, err := p.unary()
		if err != nil {
			return nil, err
		}
		n, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("operator %s on a string", op)
		}
		if op == "-" {
			return -n, nil
		}
		return ^n, nil
	}
	return p.primary()
}

func (p *exprParser) primary() (any, error) {
	tok := p.peek()
	p.pos++
	switch {
	case tok == "":
		return nil, fmt.Errorf("unexpected end of expression")
	case tok == "(":
		v, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return v, nil
	case tok[0] == '"':
		return strconv.Unquote(tok)
	case tok[0] >= '0' && tok[0] <= '9':
		return strconv.ParseInt(strings.TrimRight(tok, "uUlL"), 0, 64)
	case tok[0] == '_' || tok[0] >= 'A' && tok[0] <= 'Z' || tok[0] >= 'a' && tok[0] <= 'z':
		if v, ok := p.vals[tok]; ok {
			return v, nil
		}
		e, ok := p.exprs[tok]
		if !ok {
			return nil, fmt.Errorf("unknown name %s", tok)
		}
		if p.busy[tok] {
			return nil, fmt.Errorf("%s is defined in terms of itself", tok)
		}
		p.busy[tok] = true
		defer delete(p.busy, tok)
		toks, err := tokenize(e)
		if err != nil {
			return nil, err
		}
		sub := &exprParser{toks: toks, vals: p.vals, exprs: p.exprs, busy: p.busy}
		v, err := sub.or()
		if err != nil {
			return nil, err
		}
		if sub.pos != len(sub.toks) {
			return nil, fmt.Errorf("unexpected %q in %q", sub.toks[sub.pos], e)
		}
		return v, nil
	}
	return nil, fmt.Errorf("unexpected %q", tok)
}
