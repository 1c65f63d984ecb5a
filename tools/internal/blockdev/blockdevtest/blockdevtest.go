// Package blockdevtest lays out, in a temporary directory, what package
// blockdev reads: a block device, its entry in sysfs, and files under sysfs
// and procfs that the filesystems' test packages fill in.
package blockdevtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wbarrier/wbarrier/tools/internal/blockdev"
)

// Dev is the device number of the fake device (8:1, named sda1), encoded
// as stat(2)'s st_dev.
const Dev = 0x801

// System is a fake system in a temporary directory: block device 8:1 is
// sda1 (and 7:0 a device without a name), and /dev/sda1 holds an image.
type System struct {
	*blockdev.System
	root string
}

// NewSystem lays out a System whose sda1 holds the image dev.
func NewSystem(t testing.TB, dev []byte) *System {
	t.Helper()
	root := t.TempDir()
	s := &System{System: &blockdev.System{Sys: filepath.Join(root, "sys"), Dev: filepath.Join(root, "dev"), Proc: filepath.Join(root, "proc")}, root: root}
	s.SetFile(t, "sys/dev/block/8:1/uevent", "MAJOR=8\nMINOR=1\nDEVNAME=sda1\nDEVTYPE=partition\n")
	s.SetFile(t, "sys/dev/block/7:0/uevent", "MAJOR=7\nMINOR=0\n")
	s.SetDevice(t, dev)
	return s
}

// SetDevice replaces the device's image.
func (s *System) SetDevice(t testing.TB, dev []byte) { s.SetFile(t, "dev/sda1", string(dev)) }

// SetMountinfo sets the mount table, /proc/self/mountinfo.
func (s *System) SetMountinfo(t testing.TB, mountinfo string) {
	s.SetFile(t, "proc/self/mountinfo", mountinfo)
}

// SetFile writes the file name ("sys/fs/...", "proc/...") of the layout.
func (s *System) SetFile(t testing.TB, name, data string) {
	t.Helper()
	p := filepath.Join(s.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
