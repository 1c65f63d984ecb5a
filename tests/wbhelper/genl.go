package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The wbarrier family (kmod/uapi/wbarrier.h), spelled out here on purpose:
// this helper sends what the typed client in genl/ never would.
var genlCommands = map[string]uint8{
	"watch": 1, "unwatch": 2, "barrier": 3, "status": 4, "records": 5,
	"sync": 11,
}

var genlAttrs = map[string]struct {
	typ  uint16
	kind string
}{
	"id": {2, "u32"}, "path": {3, "str"}, "cursor": {13, "u64"},
}

// capability numbers (linux/capability.h) that -caps may keep
var capNumbers = map[string]uint{"net_admin": 12, "sys_admin": 21}

// genlRaw sends one raw request to the wbarrier family and prints the
// outcome as "ok: ..." or "error: ERRNO: extack message": the kernel's
// answer to malformed and unprivileged requests, for golden files.
func genlRaw(args []string) error {
	fs := flag.NewFlagSet("genl", flag.ContinueOnError)
	dump := fs.Bool("dump", false, "send with NLM_F_DUMP")
	rcvbuf := fs.Int("rcvbuf", 0, "SO_RCVBUF of the socket, if not 0")
	caps := fs.String("caps", "*", "keep only these capabilities (comma list of net_admin, sys_admin; empty: none), in every thread, before the socket is opened")
	closeAfter := fs.Int("closeafter", 0, "read one datagram of the reply, check it holds at least this many records, then close the socket mid-dump")
	join := fs.String("join", "", "join this multicast group of the family instead of sending")
	hold := fs.String("hold", "", "with -closeafter: print \"holding\" after the first datagram and close only once this file exists")
	seqs := fs.Bool("seqs", false, "check that the replies are records with contiguous sequence numbers and print their range")
	packed := fs.Bool("packed", false, "with -seqs: also say whether the records came several to a message, in several messages")
	reserved := fs.Uint("reserved", 0, "the generic netlink header's reserved field")
	extraFlags := fs.Uint("flags", 0, "netlink header flags to set beside NLM_F_REQUEST and NLM_F_ACK or NLM_F_DUMP")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *caps != "*" {
		if err := keepCaps(*caps); err != nil {
			return err
		}
	}

	c, err := genetlink.Dial(&netlink.Config{Strict: true})
	if err != nil {
		return err
	}
	defer c.Close()
	fam, err := c.GetFamily("wbarrier")
	if err != nil {
		return fmt.Errorf("get family: %w", err)
	}

	if *join != "" {
		for _, g := range fam.Groups {
			if g.Name == *join {
				report(c.JoinGroup(g.ID), "joined "+g.Name, true)
				return nil
			}
		}
		return fmt.Errorf("no multicast group %q", *join)
	}

	if fs.NArg() < 1 {
		return errors.New("usage: genl [flags] CMD [ATTR...]")
	}
	cmd, err := parseCmd(fs.Arg(0))
	if err != nil {
		return err
	}
	data, err := encodeAttrs(fs.Args()[1:])
	if err != nil {
		return err
	}
	req := genetlink.Message{Header: genetlink.Header{Command: cmd, Version: 2}, Data: data}
	flags := netlink.Request | netlink.Acknowledge
	if *dump {
		flags = netlink.Request | netlink.Dump
	}

	flags |= netlink.HeaderFlags(*extraFlags)
	if *reserved != 0 {
		report(sendReserved(fam.ID, req, flags, uint16(*reserved)), "1 replies", !*dump)
		return nil
	}

	if *closeAfter > 0 {
		return dumpAndClose(fam.ID, req, flags, *rcvbuf, *closeAfter, *hold)
	}
	if *rcvbuf > 0 {
		if err := c.SetReadBuffer(*rcvbuf); err != nil {
			return err
		}
	}
	msgs, err := c.Execute(req, fam.ID, flags)
	if err != nil {
		report(err, "", !*dump)
		return nil
	}
	if *seqs {
		return printSeqs(msgs, *packed)
	}
	report(nil, fmt.Sprintf("%d replies", len(msgs)), true)
	return nil
}

// report prints the kernel's answer: its errno and, with withMessage, its
// extended ack message. A dump's errors carry theirs on 6.12 but not on 6.1,
// so the tests, which run on both, compare only a dump's errno.
func report(err error, okText string, withMessage bool) {
	if err == nil {
		fmt.Println("ok:", okText)
		return
	}
	var errno unix.Errno
	if !errors.As(err, &errno) {
		fmt.Println("error:", err)
		return
	}
	line := "error: " + unix.ErrnoName(errno)
	var oerr *netlink.OpError
	if withMessage && errors.As(err, &oerr) && oerr.Message != "" {
		line += ": " + oerr.Message
	}
	fmt.Println(line)
}

func parseCmd(s string) (uint8, error) {
	if c, ok := genlCommands[s]; ok {
		return c, nil
	}
	n, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("bad command %q", s)
	}
	return uint8(n), nil
}

// encodeAttrs encodes NAME=VALUE (id, path, cursor) and raw TYPE:KIND=VALUE
// attributes, KIND one of u16, u32, u64, str (NUL-terminated), strn (a
// NUL-terminated string of VALUE 'a's), hex, flag. Attributes are written
// as given: no checks, that is the point.
func encodeAttrs(args []string) ([]byte, error) {
	var b []byte
	for _, a := range args {
		key, val, _ := strings.Cut(a, "=")
		var typ uint16
		var kind string
		if at, ok := genlAttrs[key]; ok {
			typ, kind = at.typ, at.kind
		} else {
			t, k, ok := strings.Cut(key, ":")
			n, err := strconv.ParseUint(t, 0, 16)
			if !ok || err != nil {
				return nil, fmt.Errorf("bad attribute %q", a)
			}
			typ, kind = uint16(n), k
		}
		var p []byte
		switch kind {
		case "u16", "u32", "u64":
			n, err := strconv.ParseUint(val, 0, 64)
			if err != nil {
				return nil, fmt.Errorf("bad attribute %q: %w", a, err)
			}
			// host endian, as netlink is
			switch kind {
			case "u16":
				p = binary.NativeEndian.AppendUint16(nil, uint16(n))
			case "u32":
				p = binary.NativeEndian.AppendUint32(nil, uint32(n))
			default:
				p = binary.NativeEndian.AppendUint64(nil, n)
			}
		case "str":
			p = append([]byte(val), 0)
		case "strn":
			n, err := strconv.Atoi(val)
			if err != nil {
				return nil, fmt.Errorf("bad attribute %q: %w", a, err)
			}
			p = append([]byte(strings.Repeat("a", n)), 0)
		case "hex":
			for i := 0; i+1 < len(val); i += 2 {
				x, err := strconv.ParseUint(val[i:i+2], 16, 8)
				if err != nil {
					return nil, fmt.Errorf("bad attribute %q: %w", a, err)
				}
				p = append(p, byte(x))
			}
		case "flag":
		default:
			return nil, fmt.Errorf("bad attribute kind in %q", a)
		}
		b = append(b, nlattr(typ, p)...)
	}
	return b, nil
}

func nlattr(typ uint16, p []byte) []byte {
	l := 4 + len(p)
	b := make([]byte, (l+3)&^3)
	binary.NativeEndian.PutUint16(b[0:], uint16(l))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], p)
	return b
}

// attrRecord is WBARRIER_A_RECORD: the RECORDS dump packs records in it.
const attrRecord = 27

// printSeqs checks that msgs hold records numbered without a gap. With
// packed, it also says whether every message but the last held more than
// one record, and there was more than one message.
func printSeqs(msgs []genetlink.Message, packed bool) error {
	var first, last uint64
	n, single := 0, 0
	for i, m := range msgs {
		before := n
		ad, err := netlink.NewAttributeDecoder(m.Data)
		if err != nil {
			return err
		}
		for ad.Next() {
			if ad.Type() != attrRecord {
				continue
			}
			var seq uint64
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() == 15 { // WBARRIER_A_REC_SEQ
						seq = nad.Uint64()
					}
				}
				return nil
			})
			if n == 0 {
				first = seq
			} else if seq != last+1 {
				return fmt.Errorf("seq %d after %d", seq, last)
			}
			last = seq
			n++
		}
		if err := ad.Err(); err != nil {
			return err
		}
		if n-before < 2 && i < len(msgs)-1 {
			single++
		}
	}
	fmt.Printf("ok: %d records, seq %d..%d without a gap\n", n, first, last)
	if packed {
		if len(msgs) > 1 && single == 0 {
			fmt.Println("packed: several messages, several records in each")
		} else {
			fmt.Printf("not packed: %d records in %d messages, %d with fewer than 2\n", n, len(msgs), single)
		}
	}
	return nil
}

// sendReserved sends req with its generic netlink header's reserved field
// set, which genetlink.Header cannot say, and returns the kernel's answer.
func sendReserved(family uint16, req genetlink.Message, flags netlink.HeaderFlags, reserved uint16) error {
	body, err := req.MarshalBinary()
	if err != nil {
		return err
	}
	binary.NativeEndian.PutUint16(body[2:], reserved)
	c, err := netlink.Dial(unix.NETLINK_GENERIC, &netlink.Config{Strict: true})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Execute(netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(family), Flags: flags}, Data: body})
	return err
}

// dumpAndClose sends a dump request on a raw socket, reads one datagram of
// the reply and closes the socket with the dump unfinished.
func dumpAndClose(family uint16, req genetlink.Message, flags netlink.HeaderFlags, rcvbuf, atLeast int, hold string) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			unix.Close(fd)
		}
	}()
	if rcvbuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
			return err
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	body, err := req.MarshalBinary()
	if err != nil {
		return err
	}
	nm := netlink.Message{Header: netlink.Header{Length: uint32(unix.NLMSG_HDRLEN + len(body)), Type: netlink.HeaderType(family), Flags: flags, Sequence: 1}, Data: body}
	b, err := nm.MarshalBinary()
	if err != nil {
		return err
	}
	if err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 65536)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	recs := 0
	for p := buf[:n]; len(p) >= unix.NLMSG_HDRLEN; {
		l := int(binary.NativeEndian.Uint32(p))
		if l < unix.NLMSG_HDRLEN || l > len(p) {
			return fmt.Errorf("bad message length %d", l)
		}
		if typ := binary.NativeEndian.Uint16(p[4:]); typ == unix.NLMSG_ERROR || typ == unix.NLMSG_DONE {
			return fmt.Errorf("the dump ended in the first datagram (type %d): not a test of closing mid-dump", typ)
		}
		// The records: the attributes past the generic netlink header.
		ad, err := netlink.NewAttributeDecoder(p[unix.NLMSG_HDRLEN+unix.GENL_HDRLEN : l])
		if err != nil {
			return err
		}
		for ad.Next() {
			if ad.Type() == attrRecord {
				recs++
			}
		}
		p = p[min((l+3)&^3, len(p)):]
	}
	if recs < atLeast {
		return fmt.Errorf("got %d records in the first datagram, want at least %d", recs, atLeast)
	}
	if hold != "" {
		fmt.Println("holding")
		for {
			if _, err := os.Stat(hold); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	closed = true
	if err := unix.Close(fd); err != nil {
		return err
	}
	fmt.Println("ok: closed the socket mid-dump")
	return nil
}

// keepCaps reduces every thread's capabilities to list (the Go runtime runs
// on several threads, and capset changes only the caller's).
func keepCaps(list string) error {
	var mask uint64
	if list != "" {
		for _, name := range strings.Split(list, ",") {
			n, ok := capNumbers[name]
			if !ok {
				return fmt.Errorf("unknown capability %q", name)
			}
			mask |= 1 << n
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		v := uint32(mask >> (32 * i))
		data[i] = unix.CapUserData{Effective: v, Permitted: v}
	}
	_, _, e := syscall.AllThreadsSyscall(syscall.SYS_CAPSET,
		uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	if e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	if list == "" {
		fmt.Fprintln(os.Stderr, "wbhelper genl: no capabilities left")
	}
	return nil
}
