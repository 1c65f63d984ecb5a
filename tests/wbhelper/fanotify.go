package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wbarrier/wbarrier/record"
	"golang.org/x/sys/unix"
)

// fanListener is the second oracle: fanotify, which the kernel feeds from
// its own fsnotify calls, shares nothing with the module. It reports each
// modification of the marked filesystem by file handle and, where there is
// one, by parent handle and name.
type fanListener struct {
	fd int
}

// fanEvents are the modifications fanotify reports: everything but access,
// open and close (FAN_RENAME aside, whose MOVED_FROM/MOVED_TO say the same).
const fanEvents = unix.FAN_MODIFY | unix.FAN_ATTRIB | unix.FAN_CREATE | unix.FAN_DELETE |
	unix.FAN_DELETE_SELF | unix.FAN_MOVED_FROM | unix.FAN_MOVED_TO | unix.FAN_MOVE_SELF | unix.FAN_ONDIR

func newFanListener(mount string) (*fanListener, error) {
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_REPORT_DFID_NAME_TARGET|
		unix.FAN_UNLIMITED_QUEUE|unix.FAN_NONBLOCK|unix.FAN_CLOEXEC, unix.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("fanotify_init: %w", err)
	}
	if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, fanEvents, unix.AT_FDCWD, mount); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("fanotify_mark %s: %w", mount, err)
	}
	return &fanListener{fd: fd}, nil
}

func (l *fanListener) Close() error { return unix.Close(l.fd) }

// fanEvent is one reported modification: what an epoch's records must
// name, by object handle or by parent handle and name.
type fanEvent struct {
	mask    uint64
	objects []string // handle keys
	entries []string // entry keys (parent handle key / name)
}

func (e fanEvent) String() string {
	return fmt.Sprintf("mask=%#x objects=%v entries=%q", e.mask, e.objects, e.entries)
}

// drain reads every event queued so far.
func (l *fanListener) drain() ([]fanEvent, error) {
	var out []fanEvent
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(l.fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("fanotify read: %w", err)
		}
		evs, err := parseFanEvents(buf[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
}

// parseFanEvents decodes struct fanotify_event_metadata records and their
// info records (header, fsid, struct file_handle, name).
func parseFanEvents(b []byte) ([]fanEvent, error) {
	le := binary.LittleEndian
	var out []fanEvent
	for len(b) >= unix.FAN_EVENT_METADATA_LEN {
		evLen := int(le.Uint32(b[0:]))
		metaLen := int(le.Uint16(b[6:]))
		if evLen < metaLen || evLen > len(b) {
			return nil, fmt.Errorf("fanotify: event of %d bytes in %d", evLen, len(b))
		}
		ev := fanEvent{mask: le.Uint64(b[8:])}
		if ev.mask&unix.FAN_Q_OVERFLOW != 0 {
			return nil, errors.New("fanotify: the event queue overflowed")
		}
		for info := b[metaLen:evLen]; len(info) >= 4; {
			typ, ilen := info[0], int(le.Uint16(info[2:]))
			if ilen < 4+8+8 || ilen > len(info) {
				return nil, fmt.Errorf("fanotify: info record of %d bytes", ilen)
			}
			fh := info[12:ilen]
			hlen := int(le.Uint32(fh[0:]))
			if 8+hlen > len(fh) {
				return nil, fmt.Errorf("fanotify: handle of %d bytes", hlen)
			}
			key := handleKey(record.FileHandle{Type: uint32(le.Uint32(fh[4:])), Bytes: fh[8 : 8+hlen]})
			switch typ {
			case unix.FAN_EVENT_INFO_TYPE_FID, unix.FAN_EVENT_INFO_TYPE_DFID:
				ev.objects = append(ev.objects, key)
			case unix.FAN_EVENT_INFO_TYPE_DFID_NAME:
				// A directory's own event (DELETE_SELF, MOVE_SELF) is
				// reported by its handle and the name ".".
				name, _, _ := bytes.Cut(fh[8+hlen:], []byte{0})
				if string(name) == "." {
					ev.objects = append(ev.objects, key)
				} else {
					ev.entries = append(ev.entries, entryKey(key, string(name)))
				}
			}
			info = info[ilen:]
		}
		out = append(out, ev)
		b = b[evLen:]
	}
	return out, nil
}

// recorded reports whether the records name what ev reports: one of its
// objects, or one of its entries.
func (ev fanEvent) recorded(handles, entries map[string]bool) bool {
	for _, h := range ev.objects {
		if handles[h] {
			return true
		}
	}
	for _, e := range ev.entries {
		if entries[e] {
			return true
		}
	}
	return false
}
