package openssh

import (
	"syscall"
)

// Counts are a TCP socket's byte counts as the kernel keeps them, payload
// only: SYN and FIN are not counted.
type Counts struct {
	// Received is what the peer sent and the kernel accepted in order
	// (tcpi_bytes_received, less the FIN when one was received).
	Received uint64
	// Sent is what was written to the socket: acknowledged by the peer
	// plus still in the send queue (tcpi_bytes_acked + SIOCOUTQ, less a
	// FIN of ours). This is what a relay that writes the bytes would count.
	Sent uint64
	// Acked is the part of Sent that the peer acknowledged.
	Acked uint64
}

// TCP states (include/net/tcp_states.h).
const (
	tcpFinWait1  = 4
	tcpFinWait2  = 5
	tcpTimeWait  = 6
	tcpCloseWait = 8
	tcpLastAck   = 9
	tcpClosing   = 11
)

// raw is what the kernel says about a socket at one moment.
type raw struct {
	state           uint8
	received, acked uint64 // tcpi_bytes_received, tcpi_bytes_acked
	outq, inq       uint64 // SIOCOUTQ (unacknowledged), SIOCINQ (unread)
}

// ReadCounts reads the byte counts of a TCP socket from the kernel
// (TCP_INFO, SIOCOUTQ), without touching its data. It works on any
// descriptor of the socket, also while another process (an ssh master)
// reads and writes it. On a socket that this side opened (connect), Sent
// and Acked include the SYN; a Meter started at once avoids that. Linux
// only.
func ReadCounts(c syscall.Conn) (Counts, error) {
	r, err := readRaw(c)
	if err != nil {
		return Counts{}, err
	}
	return countsOf(r.state, r.received, r.acked, r.outq), nil
}

// Meter counts a TCP socket's bytes from the moment NewMeter was called:
// what the peer sends from then on (including what it had sent already
// and nobody had read yet), and what is written to the socket from then
// on. A handshake that socksd did itself is thus left out, and so is the
// SYN of a socket that socksd opened.
type Meter struct {
	c          syscall.Conn
	base, sent uint64 // received less unread; acked plus queued
	acked      uint64
}

// NewMeter takes the socket's counts now as the base.
func NewMeter(c syscall.Conn) (*Meter, error) {
	r, err := readRaw(c)
	if err != nil {
		return nil, err
	}
	k := countsOf(r.state, r.received, r.acked, r.outq)
	return &Meter{c: c, base: k.Received - r.inq, sent: k.Sent, acked: k.Acked}, nil
}

// Read returns the counts since NewMeter. Acked counts only what was
// written since then and acknowledged.
func (m *Meter) Read() (Counts, error) {
	k, err := ReadCounts(m.c)
	if err != nil {
		return Counts{}, err
	}
	out := Counts{Received: sub(k.Received, m.base), Sent: sub(k.Sent, m.sent)}
	// Bytes queued at the base are acknowledged first.
	out.Acked = sub(k.Acked, m.sent)
	return out, nil
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// countsOf takes the kernel's numbers apart: which states mean a FIN was
// received (it counts one in bytes_received), and where a FIN of ours sits
// (in the send queue until the peer acknowledges it, then in bytes_acked).
func countsOf(state uint8, received, acked, outq uint64) Counts {
	switch state {
	case tcpCloseWait, tcpLastAck, tcpClosing, tcpTimeWait:
		if received > 0 {
			received--
		}
	}
	switch state {
	case tcpFinWait1, tcpClosing, tcpLastAck: // our FIN sent, not acknowledged
		if outq > 0 {
			outq--
		}
	case tcpFinWait2, tcpTimeWait: // our FIN acknowledged
		if acked > 0 {
			acked--
		}
	}
	return Counts{Received: received, Sent: acked + outq, Acked: acked}
}
