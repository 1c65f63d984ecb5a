package blockdev_test

import (
	"strings"
	"testing"

	"github.com/wbarrier/wbarrier/tools/internal/blockdev/blockdevtest"
)

func TestDevName(t *testing.T) {
	s := blockdevtest.NewSystem(t, nil)
	// new_encode_dev(MKDEV(8, 1)) = 0x801; a minor above 255 goes to bits 20 and up.
	if name, err := s.DevName(0x801); err != nil || name != "sda1" {
		t.Errorf("DevName(8:1) = %q, %v; want sda1", name, err)
	}
	if _, err := s.DevName(0x700); err == nil || !strings.Contains(err.Error(), "names no DEVNAME") {
		t.Errorf("DevName(7:0) without DEVNAME: %v", err)
	}
	if _, err := s.DevName(0x10_0803); err == nil || !strings.Contains(err.Error(), "device 8:259") {
		t.Errorf("DevName(8:259), not listed: %v", err)
	}
}
