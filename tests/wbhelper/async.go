package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openForAsync opens FILE for writing, with O_DIRECT if mode is "direct"
// (then the kernel completes the write asynchronously) or O_APPEND if it is
// "append", and returns a page-aligned buffer of n bytes.
func openForAsync(path, mode string, n int) (int, []byte, error) {
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_CLOEXEC
	switch mode {
	case "direct":
		flags |= unix.O_DIRECT
	case "append":
		flags |= unix.O_APPEND
	}
	fd, err := unix.Open(path, flags, 0o644)
	if err != nil {
		return 0, nil, err
	}
	buf, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		unix.Close(fd)
		return 0, nil, err
	}
	copy(buf, fill(n))
	return fd, buf, nil
}

// pendingFile counts the SRCU sections that async writes hold until they
// complete (the module's debugfs).
const pendingFile = "/sys/kernel/debug/wbarrier/pending"

// reportPending prints how many sections are held, between the submission
// of a write and the wait for its completion. io_uring may hand the write
// to a worker (7.3 does: its first, nonblocking attempt returns -EAGAIN),
// which enters the section a moment after io_uring_enter() returned: the
// count is read again for up to 100 ms, a third of the slow disk's delay,
// until a section is held.
func reportPending() error {
	deadline := time.Now().Add(100 * time.Millisecond)
	for {
		b, err := os.ReadFile(pendingFile)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(b)) != "0" || time.Now().After(deadline) {
			fmt.Printf("held after submission: %s", b)
			return nil
		}
		time.Sleep(time.Millisecond)
	}
}

// aioWrite FILE OFF LEN buffered|direct|append: one IOCB_CMD_PWRITE with io_submit.
func aioWrite(a []string) error {
	return aioWriteThen(a, nil)
}

// aioWriteThen is aioWrite, calling afterSubmit (if any) once io_submit
// returned and before waiting for the completion.
func aioWriteThen(a []string, afterSubmit func() error) error {
	fd, buf, err := openForAsync(a[0], a[3], int(num(a[2])))
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var ctx uint64
	if _, _, e := unix.Syscall(unix.SYS_IO_SETUP, 1, uintptr(unsafe.Pointer(&ctx)), 0); e != 0 {
		return fmt.Errorf("io_setup: %w", e)
	}
	defer unix.Syscall(unix.SYS_IO_DESTROY, uintptr(ctx), 0, 0)

	// struct iocb, 64 bytes: data, key, rw_flags, opcode, prio, fd, buf,
	// nbytes, offset, reserved, flags, resfd.
	iocb := make([]byte, 64)
	le := binary.LittleEndian
	le.PutUint16(iocb[16:], 1) // IOCB_CMD_PWRITE
	le.PutUint32(iocb[20:], uint32(fd))
	le.PutUint64(iocb[24:], uint64(uintptr(unsafe.Pointer(&buf[0]))))
	le.PutUint64(iocb[32:], uint64(len(buf)))
	le.PutUint64(iocb[40:], uint64(num(a[1])))
	iocbs := []uintptr{uintptr(unsafe.Pointer(&iocb[0]))}
	if _, _, e := unix.Syscall(unix.SYS_IO_SUBMIT, uintptr(ctx), 1, uintptr(unsafe.Pointer(&iocbs[0]))); e != 0 {
		return fmt.Errorf("io_submit: %w", e)
	}
	if afterSubmit != nil {
		if err := afterSubmit(); err != nil {
			return err
		}
	}
	event := make([]byte, 32) // struct io_event: data, obj, res, res2
	if _, _, e := unix.Syscall6(unix.SYS_IO_GETEVENTS, uintptr(ctx), 1, 1, uintptr(unsafe.Pointer(&event[0])), 0, 0); e != 0 {
		return fmt.Errorf("io_getevents: %w", e)
	}
	runtime.KeepAlive(iocb)
	runtime.KeepAlive(buf)
	if res := int64(le.Uint64(event[16:])); res != int64(len(buf)) {
		return fmt.Errorf("aio write: result %d", res)
	}
	return nil
}

// uringWrite FILE OFF LEN buffered|direct: one IORING_OP_WRITE. A buffered
// write is punted to an io-wq worker, and creating one fails (the request
// ends with -ECANCELED) when a signal is pending: the Go runtime's
// preemption signals can be. Such a write is submitted again; its records
// merge with the first attempt's.
func uringWrite(a []string) error {
	return uringWriteThen(a, nil)
}

// uringWriteThen is uringWrite, calling afterSubmit (if any) once the write
// is submitted and before waiting for its completion.
func uringWriteThen(a []string, afterSubmit func() error) error {
	for attempt := 1; ; attempt++ {
		err := uringWriteOnce(a, afterSubmit)
		if !errors.Is(err, unix.ECANCELED) || attempt == 5 {
			return err
		}
	}
}

func uringWriteOnce(a []string, afterSubmit func() error) error {
	fd, buf, err := openForAsync(a[0], a[3], int(num(a[2])))
	if err != nil {
		return err
	}
	defer unix.Close(fd)

	// struct io_uring_params, 120 bytes; the ring offsets start at 40.
	params := make([]byte, 120)
	rfd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
	if e != 0 {
		return fmt.Errorf("io_uring_setup: %w", e)
	}
	defer unix.Close(int(rfd))
	le := binary.LittleEndian
	sqEntries, cqEntries := le.Uint32(params[0:]), le.Uint32(params[4:])
	sqOff, cqOff := params[40:80], params[80:120]

	sqRing, err := unix.Mmap(int(rfd), 0, int(le.Uint32(sqOff[24:])+sqEntries*4), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	defer unix.Munmap(sqRing)
	cqRing, err := unix.Mmap(int(rfd), 0x8000000, int(le.Uint32(cqOff[20:])+cqEntries*16), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	defer unix.Munmap(cqRing)
	sqes, err := unix.Mmap(int(rfd), 0x10000000, int(sqEntries*64), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	defer unix.Munmap(sqes)

	// SQE 0: opcode, flags, ioprio, fd, off, addr, len.
	sqes[0] = 23 // IORING_OP_WRITE
	le.PutUint32(sqes[4:], uint32(fd))
	le.PutUint64(sqes[8:], uint64(num(a[1])))
	le.PutUint64(sqes[16:], uint64(uintptr(unsafe.Pointer(&buf[0]))))
	le.PutUint32(sqes[24:], uint32(len(buf)))
	tail := (*uint32)(unsafe.Pointer(&sqRing[le.Uint32(sqOff[4:])]))
	mask := le.Uint32(sqRing[le.Uint32(sqOff[8:]):])
	t := atomic.LoadUint32(tail)
	le.PutUint32(sqRing[le.Uint32(sqOff[24:])+4*(t&mask):], 0)
	atomic.StoreUint32(tail, t+1)

	if _, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, rfd, 1, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("io_uring_enter: %w", e)
	}
	if afterSubmit != nil {
		if err := afterSubmit(); err != nil {
			return err
		}
	}
	const enterGetEvents = 1
	if _, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, rfd, 0, 1, enterGetEvents, 0, 0); e != 0 {
		return fmt.Errorf("io_uring_enter: %w", e)
	}
	head := le.Uint32(cqRing[le.Uint32(cqOff[0:]):])
	cqe := cqRing[le.Uint32(cqOff[20:])+16*(head&le.Uint32(cqRing[le.Uint32(cqOff[8:]):])):]
	runtime.KeepAlive(buf)
	if res := int32(le.Uint32(cqe[8:])); res < 0 {
		return fmt.Errorf("io_uring write: %w", unix.Errno(-res))
	} else if res != int32(len(buf)) {
		return fmt.Errorf("io_uring write: wrote %d bytes of %d", res, len(buf))
	}
	return nil
}
