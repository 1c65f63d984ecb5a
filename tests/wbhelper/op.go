package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ops are single modifying system calls, each named after what it does.
var ops = map[string]struct {
	args int
	run  func(a []string) error
}{
	"pwrite":          {3, func(a []string) error { return pwrite(a[0], num(a[1]), int(num(a[2]))) }},
	"pwritev":         {2, pwritev},
	"splice":          {2, splice},
	"sendfile":        {2, sendfile},
	"copy_range":      {2, copyRange},
	"clone":           {2, func(a []string) error { return remap(a, unix.FICLONE) }},
	"clone_range":     {2, func(a []string) error { return remap(a, unix.FICLONERANGE) }},
	"dedupe":          {2, dedupe},
	"fallocate":       {4, fallocate},
	"ftruncate":       {2, ftruncate},
	"utimens":         {1, func(a []string) error { return unix.UtimesNanoAt(unix.AT_FDCWD, a[0], make([]unix.Timespec, 2), 0) }},
	"setxattr":        {3, func(a []string) error { return unix.Setxattr(a[0], a[1], []byte(a[2]), 0) }},
	"removexattr":     {2, func(a []string) error { return unix.Removexattr(a[0], a[1]) }},
	"setacl":          {1, setACL},
	"setflags":        {1, setNoatimeFlag},
	"exchange":        {2, func(a []string) error { return rename2(a, unix.RENAME_EXCHANGE) }},
	"whiteout":        {2, func(a []string) error { return rename2(a, unix.RENAME_WHITEOUT) }},
	"tmpfile_link":    {2, tmpfileLink},
	"create_excl":     {1, func(a []string) error { return openClose(a[0], unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL) }},
	"mknod_reg":       {1, func(a []string) error { return unix.Mknod(a[0], unix.S_IFREG|0o644, 0) }},
	"mmap_write":      {2, mmapWrite},
	"mmap_stores":     {3, mmapStores},
	"mmap_readfirst":  {2, mmapReadFirst},
	"pwritev2_append": {2, pwritev2Append},
	"move_ext":        {2, moveExt},
	"btrfs_subvol":    {2, func(a []string) error { return btrfsVolIoctl(a[0], a[1], -1, btrfsIocSubvolCreate) }},
	"btrfs_snapshot":  {3, btrfsSnapshot},
	"btrfs_destroy":   {2, func(a []string) error { return btrfsVolIoctl(a[0], a[1], -1, btrfsIocSnapDestroy) }},
	"xfs_swapext_bad": {1, xfsSwapextBad},
	"aio_write":       {4, aioWrite},
	"uring_write":     {4, uringWrite},
	// The same, printing how many async sections are held once submitted.
	"aio_write_held":   {4, func(a []string) error { return aioWriteThen(a, reportPending) }},
	"uring_write_held": {4, func(a []string) error { return uringWriteThen(a, reportPending) }},
}

// runOp runs "op NAME ARGS...".
func runOp(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: op NAME ARGS...")
	}
	op, ok := ops[args[0]]
	if !ok {
		return fmt.Errorf("unknown op %q", args[0])
	}
	if len(args)-1 != op.args {
		return fmt.Errorf("op %s takes %d arguments", args[0], op.args)
	}
	return op.run(args[1:])
}

func num(s string) int64 {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		panic(fmt.Sprintf("not a number: %q", s))
	}
	return n
}

func fill(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'w'
	}
	return b
}

func openRW(path string) (int, error) {
	return unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
}

func pwrite(path string, off int64, n int) error {
	fd, err := openRW(path)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Pwrite(fd, fill(n), off)
	return err
}

// pwritev FILE OFF: two 3-byte buffers at OFF.
func pwritev(a []string) error {
	fd, err := openRW(a[0])
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Pwritev(fd, [][]byte{fill(3), fill(3)}, num(a[1]))
	return err
}

// pwritev2Append FILE LEN: pwritev2(RWF_APPEND) of LEN bytes at offset 0,
// which the flag overrides: the bytes go to the end of FILE.
func pwritev2Append(a []string) error {
	fd, err := openRW(a[0])
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Pwritev2(fd, [][]byte{fill(int(num(a[1])))}, 0, unix.RWF_APPEND)
	return err
}

// moveExt ORIG DONOR: EXT4_IOC_MOVE_EXT swaps the first block of the two
// files (written back first, as e4defrag does).
func moveExt(a []string) error {
	var fds [2]int
	for i, p := range a {
		fd, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Fsync(fd); err != nil {
			return err
		}
		fds[i] = fd
	}
	// struct move_extent: reserved, donor_fd, orig_start, donor_start,
	// len, moved_len.
	me := make([]byte, 40)
	binary.LittleEndian.PutUint32(me[4:], uint32(fds[1]))
	binary.LittleEndian.PutUint64(me[24:], 1)
	const ext4IocMoveExt = 0xc028660f // _IOWR('f', 15, struct move_extent)
	if err := ioctl(fds[0], ext4IocMoveExt, unsafe.Pointer(&me[0])); err != nil {
		return fmt.Errorf("EXT4_IOC_MOVE_EXT: %w", err)
	}
	if moved := binary.LittleEndian.Uint64(me[32:]); moved != 1 {
		return fmt.Errorf("EXT4_IOC_MOVE_EXT moved %d blocks", moved)
	}
	return nil
}

// The btrfs ioctls on struct btrfs_ioctl_vol_args (an fd and a 4088-byte
// name): _IOW(0x94, nr, 4096 bytes).
const (
	btrfsIocSnapCreate   = 0x50009401
	btrfsIocSubvolCreate = 0x5000940e
	btrfsIocSnapDestroy  = 0x5000940f
)

// btrfsVolIoctl runs a btrfs volume ioctl on DIR for NAME, with fd (the
// snapshot's source) when it is not -1.
func btrfsVolIoctl(dir, name string, fd int, req uintptr) error {
	d, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(d)
	args := make([]byte, 4096)
	binary.LittleEndian.PutUint64(args, uint64(int64(fd)))
	copy(args[8:4095], name)
	return ioctl(d, req, unsafe.Pointer(&args[0]))
}

// btrfsSnapshot SUBVOL DIR NAME: a snapshot of SUBVOL as DIR/NAME.
func btrfsSnapshot(a []string) error {
	src, err := unix.Open(a[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	return btrfsVolIoctl(a[1], a[2], src, btrfsIocSnapCreate)
}

// xfsSwapextBad FILE: XFS_IOC_SWAPEXT on FILE with a zeroed struct
// xfs_swapext (192 bytes), which xfs refuses: the ioctl is seen all the
// same.
func xfsSwapextBad(a []string) error {
	fd, err := openRW(a[0])
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	sx := make([]byte, 192)
	const xfsIocSwapext = 0xc0c0586d // _IOWR('X', 109, struct xfs_swapext)
	return ioctl(fd, xfsIocSwapext, unsafe.Pointer(&sx[0]))
}

// openPair opens SRC for reading and DST (created) for writing.
func openPair(a []string) (src, dst int, err error) {
	if src, err = unix.Open(a[0], unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return 0, 0, err
	}
	if dst, err = openRW(a[1]); err != nil {
		unix.Close(src)
		return 0, 0, err
	}
	return src, dst, nil
}

func size(fd int) int {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		panic(err)
	}
	return int(st.Size)
}

// splice SRC DST: SRC's bytes into DST through a pipe.
func splice(a []string) error {
	src, dst, err := openPair(a)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	defer unix.Close(dst)
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return err
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	n := size(src)
	if _, err := unix.Splice(src, nil, p[1], nil, n, 0); err != nil {
		return err
	}
	_, err = unix.Splice(p[0], nil, dst, nil, n, 0)
	return err
}

func sendfile(a []string) error {
	src, dst, err := openPair(a)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	defer unix.Close(dst)
	_, err = unix.Sendfile(dst, src, nil, size(src))
	return err
}

func copyRange(a []string) error {
	src, dst, err := openPair(a)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	defer unix.Close(dst)
	_, err = unix.CopyFileRange(src, nil, dst, nil, size(src), 0)
	return err
}

// remap clones SRC into DST: whole file (FICLONE) or its first 4 KiB.
func remap(a []string, req uint) error {
	src, dst, err := openPair(a)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	defer unix.Close(dst)
	if req == unix.FICLONE {
		return unix.IoctlFileClone(dst, src)
	}
	return unix.IoctlFileCloneRange(dst, &unix.FileCloneRange{Src_fd: int64(src), Src_length: 4096})
}

// dedupe shares SRC's first 4 KiB with DST's, which must be identical.
func dedupe(a []string) error {
	src, dst, err := openPair(a)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	defer unix.Close(dst)
	r := unix.FileDedupeRange{Src_length: 4096, Info: []unix.FileDedupeRangeInfo{{Dest_fd: int64(dst)}}}
	if err := unix.IoctlFileDedupeRange(src, &r); err != nil {
		return err
	}
	if s := r.Info[0].Status; s != 0 {
		return fmt.Errorf("dedupe status %d", s)
	}
	return nil
}

var fallocModes = map[string]uint32{
	"alloc":    0,
	"keep":     unix.FALLOC_FL_KEEP_SIZE,
	"punch":    unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE,
	"zero":     unix.FALLOC_FL_ZERO_RANGE,
	"collapse": unix.FALLOC_FL_COLLAPSE_RANGE,
	"insert":   unix.FALLOC_FL_INSERT_RANGE,
}

// fallocate FILE MODE OFF LEN
func fallocate(a []string) error {
	mode, ok := fallocModes[a[1]]
	if !ok {
		return fmt.Errorf("unknown fallocate mode %q", a[1])
	}
	fd, err := openRW(a[0])
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fallocate(fd, mode, num(a[2]), num(a[3]))
}

func ftruncate(a []string) error {
	fd, err := openRW(a[0])
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Ftruncate(fd, num(a[1]))
}

// setACL gives user 1000 read-write access: a POSIX ACL in its xattr form.
func setACL(a []string) error {
	const (
		userObj, user, groupObj, mask, other = 0x01, 0x02, 0x04, 0x10, 0x20
		undefinedID                          = 0xffffffff
	)
	entries := []struct {
		tag, perm uint16
		id        uint32
	}{{userObj, 6, undefinedID}, {user, 6, 1000}, {groupObj, 4, undefinedID}, {mask, 6, undefinedID}, {other, 4, undefinedID}}
	b := binary.LittleEndian.AppendUint32(nil, 2) // POSIX_ACL_XATTR_VERSION
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return unix.Setxattr(a[0], "system.posix_acl_access", b, 0)
}

// setNoatimeFlag sets FS_NOATIME_FL with FS_IOC_SETFLAGS (chattr +A).
func setNoatimeFlag(a []string) error {
	fd, err := unix.Open(a[0], unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return err
	}
	const noatime = 0x80 // FS_NOATIME_FL
	flags |= noatime
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.FS_IOC_SETFLAGS, uintptr(unsafe.Pointer(&flags)))
	if e != 0 {
		return e
	}
	return nil
}

func rename2(a []string, flags uint) error {
	return unix.Renameat2(unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], flags)
}

// tmpfileLink DIR NAME: an O_TMPFILE in DIR, written, then linked as NAME.
func tmpfileLink(a []string) error {
	fd, err := unix.Open(a[0], unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, fill(5)); err != nil {
		return err
	}
	return unix.Linkat(fd, "", unix.AT_FDCWD, filepath.Join(a[0], a[1]), unix.AT_EMPTY_PATH)
}

// mmapWrite FILE OFF: one store through a shared mapping of FILE's page at
// OFF; the file must be at least that long.
func mmapWrite(a []string) error {
	f, err := os.OpenFile(a[0], os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	off := num(a[1])
	m, err := unix.Mmap(int(f.Fd()), off, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	m[0] = 'm'
	return unix.Munmap(m)
}

// mmapReadFirst FILE OFF: maps FILE's page at OFF shared and writable,
// reads from it first, then stores into it, and unmaps it.
func mmapReadFirst(a []string) error {
	f, err := os.OpenFile(a[0], os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), num(a[1]), 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	if m[0] == 'r' {
		m[1] = 'r'
	}
	m[0] = 'r'
	return unix.Munmap(m)
}

// mmapStores FILE N DIR: maps FILE's first page shared once, then for i in
// 1..N waits for DIR/go.i, stores into the page and creates DIR/done.i; it
// unmaps only after DIR/go.N+1, so the mapping stays writable throughout.
func mmapStores(a []string) error {
	f, err := os.OpenFile(a[0], os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	defer unix.Munmap(m)
	n := int(num(a[1]))
	for i := 1; i <= n+1; i++ {
		waitFile(filepath.Join(a[2], fmt.Sprintf("go.%d", i)))
		if i > n {
			break
		}
		m[i] = 'm'
		if err := os.WriteFile(filepath.Join(a[2], fmt.Sprintf("done.%d", i)), nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func openClose(path string, flags int) error {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	return unix.Close(fd)
}
