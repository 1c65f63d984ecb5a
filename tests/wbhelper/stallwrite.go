package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// userfaultfd ABI (linux/userfaultfd.h), not in x/sys/unix.
const (
	uffdAPI            = 0xAA
	uffdioAPI          = 0xc018aa3f // _IOWR(0xAA, 0x3F, struct uffdio_api)
	uffdioRegister     = 0xc020aa00 // _IOWR(0xAA, 0x00, struct uffdio_register)
	uffdioCopy         = 0xc028aa03 // _IOWR(0xAA, 0x03, struct uffdio_copy)
	uffdRegModeMissing = 1
	uffdEventPagefault = 0x12
	pageSize           = 4096
)

type uffdioAPIArg struct{ api, features, ioctls uint64 }
type uffdioRegisterArg struct{ start, len, mode, ioctls uint64 }
type uffdioCopyArg struct {
	dst, src, len, mode uint64
	copied              int64
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

// stallWrite parks a write(2) inside the kernel: its source buffer is a page
// that userfaultfd keeps missing until the file RELEASE appears, so the
// kernel sleeps in the page fault while copying from it, within vfs_write.
//
// The release is not a signal: a process-directed signal may be given to the
// thread parked in the fault, which sleeps killable only and would never
// pass it on.
func stallWrite(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: stallwrite FILE RELEASE")
	}
	f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()

	uffd, _, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC, 0, 0)
	if e != 0 {
		return fmt.Errorf("userfaultfd: %w", e)
	}
	api := uffdioAPIArg{api: uffdAPI}
	if err := ioctl(int(uffd), uffdioAPI, unsafe.Pointer(&api)); err != nil {
		return fmt.Errorf("UFFDIO_API: %w", err)
	}
	page, err := unix.Mmap(-1, 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	addr := uint64(uintptr(unsafe.Pointer(&page[0])))
	reg := uffdioRegisterArg{start: addr, len: pageSize, mode: uffdRegModeMissing}
	if err := ioctl(int(uffd), uffdioRegister, unsafe.Pointer(&reg)); err != nil {
		return fmt.Errorf("UFFDIO_REGISTER: %w", err)
	}

	done := make(chan error, 1)
	go func() {
		n, err := unix.Write(int(f.Fd()), page)
		if err == nil && n != pageSize {
			err = fmt.Errorf("short write: %d bytes", n)
		}
		done <- err
	}()

	msg := make([]byte, 32)
	if _, err := unix.Read(int(uffd), msg); err != nil {
		return fmt.Errorf("reading the fault: %w", err)
	}
	if msg[0] != uffdEventPagefault {
		return fmt.Errorf("unexpected userfaultfd event %#x", msg[0])
	}
	fault := binary.LittleEndian.Uint64(msg[16:])
	fmt.Println("stalled")

	waitFile(args[1])
	src := make([]byte, pageSize)
	for i := range src {
		src[i] = 'S'
	}
	cp := uffdioCopyArg{dst: fault &^ (pageSize - 1), src: uint64(uintptr(unsafe.Pointer(&src[0]))), len: pageSize}
	if err := ioctl(int(uffd), uffdioCopy, unsafe.Pointer(&cp)); err != nil {
		return fmt.Errorf("UFFDIO_COPY: %w", err)
	}
	runtime.KeepAlive(src) // only its address went into the ioctl argument
	if err := <-done; err != nil {
		return err
	}
	fmt.Println("written")
	return nil
}

// waitFile returns once path exists: how the tests tell the helper to go on.
func waitFile(path string) {
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
