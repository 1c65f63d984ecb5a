package xfsstate

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wbarrier/wbarrier/tools/internal/xfsstate/xfsstatetest"
)

// fake is a device laid out by hand, at the offsets of struct xfs_dsb and
// struct xlog_rec_header rather than through the code tested: 512-byte
// fs blocks, allocation groups of 16 blocks, an 8-block log at fs block
// 17 (group 1, block 1).
type fake struct {
	b []byte
}

const fakeLogStart = 17 * 512

func newFake(lsn uint64) *fake {
	f := &fake{b: make([]byte, fakeLogStart+8*512)}
	s := f.b
	binary.BigEndian.PutUint32(s[0:], Magic)
	binary.BigEndian.PutUint32(s[4:], 512)
	copy(s[32:48], "0123456789abcdef")
	binary.BigEndian.PutUint64(s[48:], 1<<4|1)
	binary.BigEndian.PutUint32(s[84:], 16)
	binary.BigEndian.PutUint32(s[96:], 8)
	binary.BigEndian.PutUint16(s[100:], 0xb4a5)
	s[120] = 9
	s[124] = 4
	binary.BigEndian.PutUint64(s[240:], lsn)
	return f
}

// record writes a record header at log block blk of cycle, with dataLen
// bytes of data whose first op has flags, and h_size size (v2).
func (f *fake) record(cycle, blk, dataLen, ops, size uint32, flags byte) {
	h := f.b[fakeLogStart+int(blk)*512:]
	binary.BigEndian.PutUint32(h[0:], 0xFEEDBABE)
	binary.BigEndian.PutUint32(h[4:], cycle)
	binary.BigEndian.PutUint32(h[8:], 2)
	binary.BigEndian.PutUint32(h[12:], dataLen)
	binary.BigEndian.PutUint64(h[16:], uint64(cycle)<<32|uint64(blk))
	binary.BigEndian.PutUint32(h[40:], ops)
	binary.BigEndian.PutUint32(h[320:], size)
	hblks := uint32(1)
	if size > 32*1024 {
		hblks = (size + 32*1024 - 1) / (32 * 1024)
	}
	d := (blk + hblks) % 8
	f.b[fakeLogStart+int(d)*512+9] = flags
}

func TestReadUnmountedFake(t *testing.T) {
	tests := []struct {
		name  string
		make  func() *fake
		want  Position
		error string
	}{{
		name: "xfsstatetest's device",
		make: func() *fake { return &fake{b: xfsstatetest.Device([16]byte{1}, 3, 4, true)} },
		want: Position{3, 6},
	}, {
		name: "mkfs's log",
		make: func() *fake {
			f := newFake(0)
			f.record(1, 0, 512, 1, 32*1024, unmountTrans)
			return f
		},
		want: Position{1, 2},
	}, {
		name: "from the superblock's lsn to the unmount record",
		make: func() *fake {
			f := newFake(1<<32 | 2)
			f.record(1, 0, 512, 5, 32*1024, 0) // before the lsn: not read
			f.record(1, 2, 1024, 3, 32*1024, 0)
			f.record(1, 5, 512, 1, 32*1024, unmountTrans)
			return f
		},
		want: Position{1, 7},
	}, {
		name: "the unmount record ends the log: the next cycle begins",
		make: func() *fake {
			f := newFake(3<<32 | 4)
			f.record(3, 4, 512, 2, 32*1024, 0)
			f.record(3, 6, 512, 1, 32*1024, unmountTrans)
			return f
		},
		want: Position{4, 0},
	}, {
		name: "records wrap into the next cycle; an older cycle's record stops the walk",
		make: func() *fake {
			f := newFake(2<<32 | 5)
			f.record(2, 5, 1536, 4, 32*1024, 0) // blocks 5-7, data wrapping
			f.record(3, 1, 512, 1, 32*1024, unmountTrans)
			f.record(2, 3, 512, 1, 32*1024, 0) // after it: cycle 2, stale
			return f
		},
		want: Position{3, 3},
	}, {
		name: "v2 headers of a 64 KiB buffer take two blocks",
		make: func() *fake {
			f := newFake(1<<32 | 0)
			f.record(1, 0, 512, 1, 64*1024, unmountTrans)
			return f
		},
		want: Position{1, 3},
	}, {
		name: "no unmount record last",
		make: func() *fake {
			f := newFake(1<<32 | 0)
			f.record(1, 0, 512, 1, 32*1024, unmountTrans)
			f.record(1, 2, 512, 3, 32*1024, 0)
			return f
		},
		error: "the log's last record, at 1:2, has 3 operations",
	}, {
		name: "one op but not an unmount",
		make: func() *fake {
			f := newFake(1<<32 | 0)
			f.record(1, 0, 512, 1, 32*1024, 0x02)
			return f
		},
		error: "is not an unmount record (operation flags 0x02)",
	}, {
		name: "no record where the superblock points",
		make: func() *fake {
			f := newFake(1<<32 | 4)
			f.record(1, 0, 512, 1, 32*1024, unmountTrans)
			return f
		},
		error: "no log record at 1:4",
	}, {
		name:  "lsn beyond the log",
		make:  func() *fake { return newFake(1<<32 | 9) },
		error: "beyond the log's 8 blocks",
	}, {
		name: "a record longer than the log",
		make: func() *fake {
			f := newFake(1<<32 | 0)
			f.record(1, 0, 8*512, 1, 32*1024, unmountTrans)
			return f
		},
		error: "has a length of 4096 bytes",
	}, {
		name: "records fill the log: the next cycle begins",
		make: func() *fake {
			f := newFake(1<<32 | 0)
			for blk := uint32(0); blk < 6; blk += 2 {
				f.record(1, blk, 512, 2, 32*1024, 0)
			}
			f.record(1, 6, 512, 1, 32*1024, unmountTrans)
			return f
		},
		want: Position{2, 0},
	}, {
		name: "bad magic",
		make: func() *fake {
			f := newFake(0)
			f.b[0] = 'Y'
			return f
		},
		error: "not xfs's",
	}, {
		name: "v4",
		make: func() *fake {
			f := newFake(0)
			binary.BigEndian.PutUint16(f.b[100:], 0xb4a4)
			return f
		},
		error: "a v4 filesystem: only v5 (crc) filesystems are read",
	}, {
		name: "external log",
		make: func() *fake {
			f := newFake(0)
			binary.BigEndian.PutUint64(f.b[48:], 0)
			return f
		},
		error: "the log is external",
	}, {
		name: "truncated in the log",
		make: func() *fake {
			f := newFake(1<<32 | 0)
			f.record(1, 0, 512, 3, 32*1024, 0)
			f.b = f.b[:fakeLogStart+2*512]
			return f
		},
		error: "reading log block 2: EOF",
	}, {
		name: "truncated superblock",
		make: func() *fake {
			f := newFake(0)
			f.b = f.b[:100]
			return f
		},
		error: "reading the superblock: EOF",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ReadUnmounted(bytes.NewReader(tt.make().b))
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("got %v, %v; want an error with %q", u.After, err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.After != tt.want {
				t.Errorf("after the unmount record: got %v, want %v", u.After, tt.want)
			}
		})
	}
}

// mkfs makes a sparse 320 MiB xfs image with mkfs.xfs in a temporary
// directory (mkfs refuses smaller ones) and returns its path.
func mkfs(t *testing.T, args ...string) string {
	t.Helper()
	mk, err := exec.LookPath("mkfs.xfs")
	if err != nil {
		t.Skip("mkfs.xfs is not installed")
	}
	path := filepath.Join(t.TempDir(), "xfs.img")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 320<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(mk, append(append([]string{"-q", "-f"}, args...), path)...).CombinedOutput()
	if err != nil {
		t.Fatalf("mkfs.xfs: %v: %s", err, out)
	}
	return path
}

// patch writes b at off of the image at path.
func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestReadUnmountedMkfs(t *testing.T) {
	path := mkfs(t)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	u, err := ReadUnmounted(f)
	f.Close()
	if err != nil {
		t.Fatalf("a fresh mkfs.xfs image: %v", err)
	}
	// mkfs writes one unmount record, of one header and one data block,
	// at the start of cycle 1.
	if want := (Position{1, 2}); u.After != want {
		t.Errorf("after the unmount record: got %v, want %v", u.After, want)
	}
	if u.LSN != 0 {
		t.Errorf("sb_lsn of a fresh image: got %#x, want 0", u.LSN)
	}
	start, _ := u.logStart()
	logOff := int64(start) * basicBlock

	tests := []struct {
		name  string
		off   int64
		b     []byte
		error string
	}{
		{"bad magic", 0, []byte("XFSC"), "not xfs's"},
		{"v4", 100, []byte{0xb4, 0xa4}, "a v4 filesystem"},
		{"no unmount record", logOff + 512 + 9, []byte{0}, "is not an unmount record"},
		{"two ops", logOff + 40, []byte{0, 0, 0, 2}, "has 2 operations"},
		{"torn header", logOff, make([]byte, 512), "no log record at 1:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "xfs.img")
			if err := exec.Command("cp", "--sparse=always", path, img).Run(); err != nil {
				t.Fatal(err)
			}
			patch(t, img, tt.off, tt.b)
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			u, err := ReadUnmounted(f)
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Fatalf("got %v, %v; want an error with %q", u.After, err, tt.error)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		img := filepath.Join(t.TempDir(), "xfs.img")
		if err := exec.Command("cp", "--sparse=always", path, img).Run(); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, logOff+512); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := ReadUnmounted(f); err == nil || !strings.Contains(err.Error(), "reading log block 2: EOF") {
			t.Fatalf("got %v; want EOF reading log block 2", err)
		}
	})
}

func TestReadUnmountedMkfsV4(t *testing.T) {
	path := mkfs(t, "-m", "crc=0")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ReadUnmounted(f); err == nil || !strings.Contains(err.Error(), "a v4 filesystem") {
		t.Fatalf("mkfs.xfs -m crc=0: got %v, want a v4 filesystem refused", err)
	}
}

func TestParsePosition(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Position
		ok   bool
	}{
		{"1:2\n", Position{1, 2}, true},
		{"4294967295:0", Position{1<<32 - 1, 0}, true},
		{"1", Position{}, false},
		{"1:x", Position{}, false},
		{"-1:2", Position{}, false},
		{"", Position{}, false},
	} {
		got, err := ParsePosition(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParsePosition(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
