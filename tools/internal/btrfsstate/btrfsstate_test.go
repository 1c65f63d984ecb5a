package btrfsstate

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wbarrier/wbarrier/tools/internal/btrfsstate/btrfsstatetest"
)

var fsid = [16]byte{0xc4, 0x27, 0x0e, 0xd4, 0x47, 0xff, 0x4c, 0x59, 0x9d, 0xe6, 0xe6, 0x16, 0x5b, 0xe2, 0x5e, 0xbd}

func TestRead(t *testing.T) {
	super := func(b []byte) []byte { return b[SuperblockOffset:] }
	tests := []struct {
		name  string
		dev   func() []byte
		error string // of Read
		clean string // of Clean, if Read succeeds
	}{
		{name: "clean", dev: func() []byte { return btrfsstatetest.Device(fsid, 12, true) }},
		{name: "log tree left", dev: func() []byte { return dirtyDevice() }, clean: "log tree is left to replay"},
		{name: "error flag", dev: func() []byte {
			b := btrfsstatetest.Device(fsid, 12, true)
			le.PutUint64(super(b)[offFlags:], FlagError)
			btrfsstatetest.Checksum(b)
			return b
		}, clean: "met an error"},
		{name: "two devices", dev: func() []byte {
			b := btrfsstatetest.Device(fsid, 12, true)
			le.PutUint64(super(b)[offNumDevices:], 2)
			btrfsstatetest.Checksum(b)
			return b
		}, clean: "has 2 devices"},
		{name: "bad magic", dev: func() []byte {
			b := btrfsstatetest.Device(fsid, 12, true)
			super(b)[offMagic] = 'X'
			return b
		}, error: "not btrfs's"},
		{name: "bad checksum", dev: func() []byte {
			b := btrfsstatetest.Device(fsid, 12, true)
			super(b)[offGeneration]++
			return b
		}, error: "checksum"},
		{name: "other checksum type", dev: func() []byte {
			b := btrfsstatetest.Device(fsid, 12, true)
			le.PutUint16(super(b)[offCsumType:], 1)
			btrfsstatetest.Checksum(b)
			return b
		}, error: "checksum type 1"},
		{name: "a copy elsewhere", dev: func() []byte {
			b := btrfsstatetest.Device(fsid, 12, true)
			le.PutUint64(super(b)[offBytenr:], 64<<20)
			btrfsstatetest.Checksum(b)
			return b
		}, error: "not 65536"},
		{name: "short device", dev: func() []byte { return make([]byte, 66*1024) }, error: "reading the superblock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Read(bytes.NewReader(tt.dev()))
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("Read: %v, want an error with %q", err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if s.FSID != fsid || s.Generation != 12 {
				t.Errorf("Read: %+v, want fsid %x generation 12", s, fsid)
			}
			err = s.Clean()
			if tt.clean == "" && err != nil || tt.clean != "" && (err == nil || !strings.Contains(err.Error(), tt.clean)) {
				t.Errorf("Clean: %v, want %q", err, tt.clean)
			}
		})
	}
}

func dirtyDevice() []byte { return btrfsstatetest.Device(fsid, 12, false) }

func TestUUIDString(t *testing.T) {
	if got, want := UUIDString(fsid), "c4270ed4-47ff-4c59-9de6-e6165be25ebd"; got != want {
		t.Errorf("UUIDString: %s, want %s", got, want)
	}
}

func TestMountSource(t *testing.T) {
	const info = `22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
40 22 0:23 / /mnt/btrfs rw,relatime shared:20 - btrfs /dev/vdc rw,space_cache=v2,subvolid=5,subvol=/
41 22 0:23 /sv /mnt/b\040two rw,relatime - btrfs /dev/vdc rw,subvolid=256,subvol=/sv
42 22 0:24 / /mnt/other rw - btrfs /dev/with\040space rw
43 22 0:25 / /tmp rw - tmpfs tmpfs rw
`
	tests := []struct {
		dev   uint32
		want  string
		error string
	}{
		{dev: 23, want: "/dev/vdc"},
		{dev: 24, want: "/dev/with space"},
		{dev: 25, error: "mounted as tmpfs"},
		{dev: 26, error: "no mount of device 0:26"},
		{dev: 254<<8 | 1, error: "mounted as ext4"},
		{dev: 0x100145, error: "no mount of device 1:325"}, // new_encode_dev: the minor's high bits above the major's
	}
	for _, tt := range tests {
		got, err := MountSource(strings.NewReader(info), tt.dev)
		if tt.error != "" {
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Errorf("MountSource(%#x): %q, %v, want an error with %q", tt.dev, got, err, tt.error)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("MountSource(%#x): %q, %v, want %q", tt.dev, got, err, tt.want)
		}
	}
}

func TestParseSysfs(t *testing.T) {
	n, err := ParseCommits("commits 3\nlast_commit_ms 10\nmax_commit_ms 12\ntotal_commit_ms 30\n")
	if err != nil || n != 3 {
		t.Errorf("ParseCommits: %d, %v, want 3", n, err)
	}
	for _, bad := range []string{"", "last_commit_ms 10\n", "commits x\n"} {
		if _, err := ParseCommits(bad); err == nil {
			t.Errorf("ParseCommits(%q) succeeds", bad)
		}
	}
	g, err := ParseGeneration("10\n")
	if err != nil || g != 10 {
		t.Errorf("ParseGeneration: %d, %v, want 10", g, err)
	}
	if _, err := ParseGeneration("ten\n"); err == nil {
		t.Error("ParseGeneration(\"ten\") succeeds")
	}
}

// A filesystem made by mkfs.btrfs reads as clean, with its fsid.
func TestReadMkfs(t *testing.T) {
	mk, err := exec.LookPath("mkfs.btrfs")
	if err != nil {
		t.Skip("mkfs.btrfs is not installed")
	}
	path := filepath.Join(t.TempDir(), "btrfs.img")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 128<<20); err != nil {
		t.Fatal(err)
	}
	const uuid = "c4270ed4-47ff-4c59-9de6-e6165be25ebd"
	if out, err := exec.Command(mk, "-q", "-f", "-U", uuid, path).CombinedOutput(); err != nil {
		t.Skipf("mkfs.btrfs: %v: %s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := Read(f)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if err := s.Clean(); err != nil {
		t.Errorf("Clean: %v", err)
	}
	if s.UUIDString() != uuid || s.Generation == 0 {
		t.Errorf("Read: fsid %s generation %d, want %s and a generation", s.UUIDString(), s.Generation, uuid)
	}
}
