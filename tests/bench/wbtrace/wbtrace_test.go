package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"strings"
	"testing"
)

// jobLogText is what "wbbench trace" prints: kernel symbols f1 at 0x1000
// and f2 at 0x1100, a module loaded at 0x9000, and two labels.
func jobLogText(t *testing.T) string {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("ffffffff00001100 f2\nffffffff00001000 f1\n"))
	zw.Close()
	b64 := base64.StdEncoding.EncodeToString(z.Bytes())
	return strings.Join([]string{
		markSymsBegin, b64[:10], b64[10:], markSymsEnd + "\r",
		markReady,
		prefixModule,
		"WBTRACE-LABEL 1048576 tmpfs unloaded",
		prefixModule,
		"WBTRACE-SYM ffffffffc0009000 hook [wbarrier]",
		"WBTRACE-LABEL 2097152 tmpfs watched",
		markEnd, "",
	}, "\n")
}

func TestParseJobLog(t *testing.T) {
	jl, err := parseJobLog(strings.NewReader(jobLogText(t)))
	if err != nil {
		t.Fatal(err)
	}
	if !jl.ready || !jl.end || len(jl.kernel) != 2 || len(jl.labels) != 2 {
		t.Fatalf("parsed %+v", jl)
	}
	tests := []struct {
		pos  uint64
		pc   uint64
		want string
	}{
		{1 << 20, 0xffffffff00001000, "f1"},
		{1 << 20, 0xffffffff000010ff, "f1"},
		{1 << 20, 0xffffffff00001100, "f2"},
		{1 << 20, 0xffffffff00000fff, "?"},
		{1 << 20, 0xffffffffc0009004, "?"}, // the module is not loaded here
		{2 << 20, 0xffffffffc0009004, "hook [wbarrier]"},
		{2 << 20, 0xffffffffc0009000 + farthest + 1, "?"},
	}
	for _, tt := range tests {
		if got := jl.labels[tt.pos].syms.name(tt.pc); got != tt.want {
			t.Errorf("name(%#x) at %d = %q, want %q", tt.pc, tt.pos, got, tt.want)
		}
	}
}

func TestReport(t *testing.T) {
	jl, err := parseJobLog(strings.NewReader(jobLogText(t)))
	if err != nil {
		t.Fatal(err)
	}
	f1, f2, hook := uint64(0xffffffff00001000), uint64(0xffffffff00001100), uint64(0xffffffffc0009000)
	traces := []trace{
		{1 << 20, []uint64{f1, f1, f2}},
		{2 << 20, []uint64{f1, hook, hook, f1, f2, f2}}, // longer: not the path shown
		{2 << 20, []uint64{f1, hook, f2}},
	}
	rep, err := newReport(jl, traces)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.print(&out)
	want := `tmpfs: instructions of a 4 KiB rewrite, __x64_sys_pwrite64 to its return
                                           unloaded    watched
all (each write)                                  3        3-6
f1                                                2          1
hook [wbarrier]                                   0          1
`
	if got := strings.TrimRight(out.String(), "\n") + "\n"; got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
	path := rep.Writes[1].Path
	if len(path) != 3 || path[1].Function != "hook [wbarrier]" || path[2].Instructions != 1 {
		t.Errorf("watched path %+v", path)
	}
	if _, err := newReport(jl, []trace{{3 << 20, []uint64{f1}}}); err == nil {
		t.Error("a write without a label: no error")
	}
}
