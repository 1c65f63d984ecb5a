package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// fanotifyMask is what a change tracker needs: data, attributes and the
// namespace. Events name the parent directory's file handle and the entry.
const fanotifyMask = unix.FAN_MODIFY | unix.FAN_ATTRIB | unix.FAN_CREATE | unix.FAN_DELETE |
	unix.FAN_MOVED_FROM | unix.FAN_MOVED_TO | unix.FAN_ONDIR

// runFanotify is the in-kernel alternative a change tracker would use: one
// group reporting directory file handles and names, marks on whole
// filesystems, an unlimited queue (no overflow, like a big max_records), a
// reader that walks every event. It counts events and prints the count on
// SIGTERM.
func runFanotify(dirs []string) error {
	if len(dirs) == 0 {
		return fmt.Errorf("usage: wbbench fanotify DIR...")
	}
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_CLOEXEC|unix.FAN_UNLIMITED_QUEUE|unix.FAN_REPORT_DFID_NAME,
		unix.O_RDONLY|unix.O_LARGEFILE)
	if err != nil {
		return fmt.Errorf("fanotify_init: %w", err)
	}
	for _, d := range dirs {
		if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, fanotifyMask, unix.AT_FDCWD, d); err != nil {
			return fmt.Errorf("fanotify_mark %s: %w", d, err)
		}
	}
	var events, infos, overflows atomic.Int64
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				errc <- fmt.Errorf("read: %w", err)
				return
			}
			for off := 0; off+unix.FAN_EVENT_METADATA_LEN <= n; {
				evLen := int(binary.NativeEndian.Uint32(buf[off:]))
				metaLen := int(binary.NativeEndian.Uint16(buf[off+6:]))
				mask := binary.NativeEndian.Uint64(buf[off+8:])
				if evLen < unix.FAN_EVENT_METADATA_LEN || off+evLen > n {
					errc <- fmt.Errorf("bad event length %d", evLen)
					return
				}
				if mask&unix.FAN_Q_OVERFLOW != 0 {
					overflows.Add(1)
				}
				// The info records: header (type, pad, len) then the fid.
				for p := off + metaLen; p+4 <= off+evLen; {
					l := int(binary.NativeEndian.Uint16(buf[p+2:]))
					if l < 4 {
						break
					}
					infos.Add(1)
					p += l
				}
				events.Add(1)
				off += evLen
			}
		}
	}()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	fmt.Println("ready")
	select {
	case <-stop:
	case err := <-errc:
		return err
	}
	fmt.Printf("{\"events\":%d,\"infos\":%d,\"overflows\":%d}\n", events.Load(), infos.Load(), overflows.Load())
	return nil
}
