package ext4state_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wbarrier/wbarrier/tools/internal/blockdev"
	"github.com/wbarrier/wbarrier/tools/internal/ext4state"
	"github.com/wbarrier/wbarrier/tools/internal/ext4state/ext4statetest"
	"golang.org/x/sys/unix"
)

// testSuper is the superblock the tests build devices of.
var testSuper = ext4state.Superblock{
	Magic:         ext4state.Magic,
	State:         ext4state.StateValid,
	Incompat:      0x2c2, // filetype, extents, 64bit, flex_bg: no recovery
	UUID:          [16]byte{0x0f, 0x3c, 0x2a, 0x8e, 0x5b, 0x7d, 0x4c, 0x1e, 0x9a, 0x2f, 0x6d, 0x8e, 0x1b, 0x4c, 0x7a, 0x90},
	MountCount:    41,
	MTime:         1764990000,
	WTime:         1765000000,
	KBytesWritten: 0x1_0000_2345, // past 32 bits: all 8 bytes count
}

var (
	superBytes = ext4statetest.Superblock
	device     = ext4statetest.Device
)

func TestParse(t *testing.T) {
	with := func(f func(*ext4state.Superblock)) ext4state.Superblock {
		s := testSuper
		f(&s)
		return s
	}
	tests := []struct {
		name  string
		b     []byte
		err   string // in ext4state.Parse's error; "" if it succeeds
		clean string // in Clean's error; "" if clean
	}{
		{"clean", superBytes(testSuper), "", ""},
		{"mounted or crashed", superBytes(with(func(s *ext4state.Superblock) { s.State = 0 })), "", "not cleanly unmounted (state 0"},
		{"errors", superBytes(with(func(s *ext4state.Superblock) { s.State = ext4state.StateValid | ext4state.StateError })), "", "errors were detected"},
		{"journal needs recovery", superBytes(with(func(s *ext4state.Superblock) { s.Incompat |= ext4state.IncompatRecover })), "", "journal needs recovery"},
		{"orphans being recovered, valid", superBytes(with(func(s *ext4state.Superblock) { s.State = ext4state.StateValid | 0x4 })), "", ""},
		{"bad magic", superBytes(with(func(s *ext4state.Superblock) { s.Magic = 0x5342 })), "magic 0x5342", ""},
		{"short", superBytes(testSuper)[:1023], "1023 bytes", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ext4state.Parse(tt.b)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ext4state.Parse: %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = s.Clean()
			if (tt.clean == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.clean)) {
				t.Errorf("Clean() = %v, want %q", err, tt.clean)
			}
		})
	}
	s, err := ext4state.Parse(superBytes(testSuper))
	if err != nil || s != testSuper {
		t.Errorf("ext4state.Parse = %+v, %v; want %+v", s, err, testSuper)
	}
	if got, want := s.UUIDString(), "0f3c2a8e-5b7d-4c1e-9a2f-6d8e1b4c7a90"; got != want {
		t.Errorf("UUIDString() = %q, want %q", got, want)
	}
}

func fakeSystem(t *testing.T, dev []byte, lifetime, session string) *blockdev.System {
	return ext4statetest.NewSystem(t, dev, lifetime, session).System
}

// WaitUnmounted retries while the device is busy, reads the superblock
// once it is not, and gives up after its bound.
func TestWaitUnmounted(t *testing.T) {
	s := fakeSystem(t, device(testSuper), "", "")
	s.Poll, s.Wait = time.Millisecond, 200*time.Millisecond
	busy := 3
	var opened []bool
	s.Open = func(path string, excl bool) (blockdev.Device, error) {
		opened = append(opened, excl)
		if busy > 0 {
			busy--
			return nil, &os.PathError{Op: "open", Path: path, Err: unix.EBUSY}
		}
		return os.Open(path)
	}
	sb, err := ext4state.WaitUnmounted(s, "sda1")
	if err != nil || sb != testSuper {
		t.Fatalf("WaitUnmounted = %+v, %v; want %+v", sb, err, testSuper)
	}
	if len(opened) != 4 || !opened[0] || !opened[3] {
		t.Errorf("opens (exclusive?) %v, want 4 exclusive", opened)
	}
	busy = 1 << 30
	if _, err := ext4state.WaitUnmounted(s, "sda1"); err == nil || !strings.Contains(err.Error(), "still in use after 200ms") {
		t.Errorf("WaitUnmounted of a device that stays busy: %v", err)
	}
	s.Open = func(path string, excl bool) (blockdev.Device, error) {
		return nil, &os.PathError{Op: "open", Path: path, Err: unix.ENOENT}
	}
	if _, err := ext4state.WaitUnmounted(s, "sda1"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("WaitUnmounted of a missing device: %v, want ENOENT at once", err)
	}
}

// Mount reads the superblock without excluding the mount, and the KiB
// written before the mount from sysfs.
func TestMount(t *testing.T) {
	tests := []struct {
		name              string
		lifetime, session string
		want              uint64
		err               string
	}{
		{"counters", "5000\n", "120\n", 4880, ""},
		{"not the ext4 driver", "", "", 0, "is the filesystem mounted by the ext4 driver?"},
		{"session above lifetime", "100\n", "120\n", 0, "fewer than the 120 of this mount"},
		{"garbage", "x\n", "1\n", 0, "invalid syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeSystem(t, device(testSuper), tt.lifetime, tt.session)
			s.Open = func(path string, excl bool) (blockdev.Device, error) {
				if excl {
					t.Errorf("Mount opened %s exclusively", path)
				}
				return os.Open(path)
			}
			m, err := ext4state.Mount(s, "sda1")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Mount: %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil || m.KBytesBeforeMount != tt.want || m.Superblock != testSuper {
				t.Errorf("Mount = %+v, %v; want %d KiB before, %+v", m, err, tt.want, testSuper)
			}
		})
	}
}
