package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// remote speaks the debugger's remote protocol to qemu's gdbstub: just
// what single-stepping needs (continue, interrupt, step, registers,
// memory, breakpoints), with acknowledgements, as qemu starts.
type remote struct {
	conn net.Conn
	r    *bufio.Reader
}

// x86-64 register numbers in the protocol.
const (
	regRAX = 0
	regRDI = 5
	regRSP = 7
	regRIP = 16
)

// errClosed is the guest gone: qemu exits when the guest powers off.
var errClosed = errors.New("the guest closed the connection")

// dial connects to qemu's gdbstub at addr, retrying until qemu listens
// or the deadline passes. qemu stops the guest when a debugger connects.
func dial(addr string, deadline time.Time) (*remote, error) {
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			rm := &remote{conn: c, r: bufio.NewReader(c)}
			_, err = rm.cmd("?")
			return rm, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("connect to qemu's gdbstub at %s: %w", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (rm *remote) close() { rm.conn.Close() }

// send writes one packet and waits for its acknowledgement.
func (rm *remote) send(data string) error {
	var sum byte
	for i := 0; i < len(data); i++ {
		sum += data[i]
	}
	if _, err := fmt.Fprintf(rm.conn, "$%s#%02x", data, sum); err != nil {
		return fmt.Errorf("send %q: %w", data, err)
	}
	for {
		b, err := rm.r.ReadByte()
		if err != nil {
			return rm.eof(err)
		}
		switch b {
		case '+':
			return nil
		case '-':
			return fmt.Errorf("qemu refused packet %q", data)
		}
	}
}

// recv reads one packet and acknowledges it.
func (rm *remote) recv() (string, error) {
	for {
		b, err := rm.r.ReadByte()
		if err != nil {
			return "", rm.eof(err)
		}
		if b == '$' {
			break
		}
	}
	data, err := rm.r.ReadString('#')
	if err != nil {
		return "", rm.eof(err)
	}
	if _, err := io.ReadFull(rm.r, make([]byte, 2)); err != nil {
		return "", rm.eof(err)
	}
	if _, err := rm.conn.Write([]byte{'+'}); err != nil {
		return "", rm.eof(err)
	}
	return strings.TrimSuffix(data, "#"), nil
}

func (rm *remote) eof(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return errClosed
	}
	return err
}

// cmd sends a packet and returns the reply; "E.." replies are errors.
func (rm *remote) cmd(data string) (string, error) {
	if err := rm.send(data); err != nil {
		return "", err
	}
	reply, err := rm.recv()
	if err != nil {
		return "", err
	}
	if len(reply) == 3 && reply[0] == 'E' {
		return "", fmt.Errorf("%q: qemu replied %s", data, reply)
	}
	return reply, nil
}

// stopped checks a stop reply: the guest stopped (T or S), or ended.
func stopped(reply string) error {
	if reply == "" {
		return fmt.Errorf("empty stop reply")
	}
	switch reply[0] {
	case 'T', 'S':
		return nil
	case 'W', 'X':
		return errClosed
	}
	return fmt.Errorf("unexpected stop reply %q", reply)
}

// cont lets the guest run until it stops by itself (a breakpoint) or
// until interrupt is closed, when it is interrupted.
func (rm *remote) cont(interrupt <-chan struct{}) error {
	if err := rm.send("c"); err != nil {
		return err
	}
	type result struct {
		reply string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		r, err := rm.recv()
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			return res.err
		}
		return stopped(res.reply)
	case <-interrupt:
		if _, err := rm.conn.Write([]byte{0x03}); err != nil {
			return rm.eof(err)
		}
		res := <-done
		if res.err != nil {
			return res.err
		}
		return stopped(res.reply)
	}
}

// step executes one instruction (qemu keeps interrupts and timers off
// while it single-steps).
func (rm *remote) step() error {
	reply, err := rm.cmd("s")
	if err != nil {
		return err
	}
	return stopped(reply)
}

// reg reads register n, from all of them ("g": qemu answers "p" only to
// a debugger that read its target description).
func (rm *remote) reg(n int) (uint64, error) {
	reply, err := rm.cmd("g")
	if err != nil {
		return 0, err
	}
	if len(reply) < (n+1)*16 {
		return 0, fmt.Errorf("short register reply (%d hex digits)", len(reply))
	}
	return leHex(reply[n*16 : (n+1)*16])
}

// setReg sets register n to v.
func (rm *remote) setReg(n int, v uint64) error {
	reply, err := rm.cmd("g")
	if err != nil {
		return err
	}
	if len(reply) < (n+1)*16 {
		return fmt.Errorf("short register reply (%d hex digits)", len(reply))
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	if reply, err = rm.cmd("G" + reply[:n*16] + hex.EncodeToString(b[:]) + reply[(n+1)*16:]); err != nil {
		return err
	}
	if reply != "OK" {
		return fmt.Errorf("set register %d: qemu replied %q", n, reply)
	}
	return nil
}

func (rm *remote) read64(addr uint64) (uint64, error) {
	reply, err := rm.cmd(fmt.Sprintf("m%x,8", addr))
	if err != nil {
		return 0, err
	}
	return leHex(reply)
}

// breakpoint inserts (on) or removes a breakpoint at addr.
func (rm *remote) breakpoint(addr uint64, on bool) error {
	op := "z"
	if on {
		op = "Z"
	}
	reply, err := rm.cmd(fmt.Sprintf("%s0,%x,1", op, addr))
	if err != nil {
		return err
	}
	if reply != "OK" {
		return fmt.Errorf("breakpoint at %#x: qemu replied %q", addr, reply)
	}
	return nil
}

// leHex decodes a register or memory word: hex, little-endian.
func leHex(s string) (uint64, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) < 8 {
		return 0, fmt.Errorf("bad register or memory reply %q", s)
	}
	return binary.LittleEndian.Uint64(b[:8]), nil
}
