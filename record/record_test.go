package record

import "testing"

func TestOpString(t *testing.T) {
	tests := []struct {
		op   Op
		want string
	}{
		{0, "none"},
		{OpData, "data"},
		{OpCreate | OpData, "data|create"},
		{OpRenameFrom | OpRenameTo | OpMmap, "rename-from|rename-to|mmap"},
		{OpData | 1<<20, "data|0x100000"},
	}
	for _, tt := range tests {
		if got := tt.op.String(); got != tt.want {
			t.Errorf("Op(%#x).String() = %q, want %q", uint32(tt.op), got, tt.want)
		}
	}
}

func TestParseOp(t *testing.T) {
	for _, op := range []Op{0, OpData, OpSize | OpAttr | OpXattr, OpCreate | OpRemove | OpLink} {
		got, err := ParseOp(op.String())
		if err != nil || got != op {
			t.Errorf("ParseOp(%q) = %v, %v; want %v", op.String(), got, err, op)
		}
	}
	if _, err := ParseOp("data|bogus"); err == nil {
		t.Error("ParseOp(data|bogus) succeeded, want an error")
	}
}
