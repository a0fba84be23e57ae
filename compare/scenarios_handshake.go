package compare

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// Section A of CONFORMANCE.md: the handshake.
var handshakeScenarios = []Scenario{
	{ID: "HS-01a", Title: "SYN to a port with no listener gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>",
		RFC: "RFC 9293 §3.10.7.1", Run: synToClosedPort},
	{ID: "HS-01b", Title: "ACK to a listening port gets <SEQ=SEG.ACK><CTL=RST>",
		RFC: "RFC 9293 §3.10.7.2 (second check)", Run: ackToListener},
	{ID: "HS-01c", Title: "RST to a listening or closed port is never answered",
		RFC: "RFC 9293 §3.10.7.1, §3.10.7.2 (first check), §3.5.2", Run: rstToListenerOrClosed},
	{ID: "HS-02a", Title: "SYN-ACK answers offered MSS, WS, SACK-permitted and TS; ACK completes accept()",
		RFC: "RFC 9293 §3.10.7.2, §3.7.1; RFC 7323 §2.2, §3.2; RFC 2018 §2", Requirements: []string{"MUST-14", "MUST-4"},
		Run: synAckOptionsOffered},
	{ID: "HS-02b", Title: "SYN-ACK carries no WS, SACK-permitted or TS when the SYN offered none",
		RFC: "RFC 7323 §2.2, §3.2; RFC 2018 §2; RFC 9293 §3.7.1", Requirements: []string{"MUST-14", "SHLD-5"},
		Run: synAckOptionsNotOffered},
	{ID: "HS-03a", Title: "SYN-RECEIVED: ACK of ISS (nothing sent) gets <SEQ=SEG.ACK><CTL=RST>; ISS+1 still completes",
		RFC: "RFC 9293 §3.10.7.4 (fifth check, SYN-RECEIVED)", Run: synRcvdBadAck(0)},
	{ID: "HS-03b", Title: "SYN-RECEIVED: ACK of ISS+2 (beyond SND.NXT) gets <SEQ=SEG.ACK><CTL=RST>; ISS+1 still completes",
		RFC: "RFC 9293 §3.10.7.4 (fifth check, SYN-RECEIVED)", Run: synRcvdBadAck(2)},
	{ID: "HS-04", Title: "SYN-RECEIVED: a retransmitted SYN gets an ACK (or the same SYN-ACK), never a new ISS",
		RFC: "RFC 9293 §3.10.7.4 (first check)", Run: synRcvdDuplicateSYN},
	{ID: "HS-05", Title: "SYN-RECEIVED (passive): an exact RST returns to LISTEN silently; a later ACK gets RST",
		RFC: "RFC 9293 §3.10.7.4 (second check, SYN-RECEIVED), §3.5.3", Requirements: []string{"MUST-11"},
		Run: synRcvdReset},
	{ID: "HS-06a", Title: "SYN-SENT: SYN-ACK acking outside (ISS, SND.NXT] gets <SEQ=SEG.ACK><CTL=RST>; connect goes on",
		RFC: "RFC 9293 §3.10.7.3 (first check)", Run: synSentBadAck},
	{ID: "HS-06b", Title: "SYN-SENT: RST without ACK is ignored",
		RFC: "RFC 9293 §3.10.7.3 (second check)", Run: synSentRSTNoACK},
	{ID: "HS-06c", Title: "SYN-SENT: RST+ACK of ISS+1 refuses the connection, silently",
		RFC: "RFC 9293 §3.10.7.3 (second check)", Requirements: []string{"MUST-12"}, Run: synSentRefused},
	{ID: "HS-06d", Title: "SYN-SENT: RST+ACK with an unacceptable ACK is ignored",
		RFC: "RFC 9293 §3.10.7.3 (first check)", Run: synSentRSTBadAck},
	{ID: "HS-07", Title: "Simultaneous open: SYN in SYN-SENT gets SYN-ACK <SEQ=ISS><ACK=IRS+1>; ACK establishes",
		RFC: "RFC 9293 §3.5 (Figure 8), §3.10.7.3 (fourth check)", Requirements: []string{"MUST-10", "MUST-11", "MUST-44", "MUST-45"},
		Run: simultaneousOpen},
	{ID: "HS-08b", Title: "SYN with text to a listener: SYN-ACK acks the SYN only",
		RFC: "RFC 9293 §3.10.7.2 (third check); RFC 7413 (no TFO cookie)", Run: synWithData},
}

// synToClosedPort: "If the state is CLOSED ... If the ACK bit is off,
// sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>"
// (RFC 9293 §3.10.7.1).
func synToClosedPort(t *T) {
	c := t.TB.Dial(DUTPort)
	syn := t.Send(c, TCP{Flags: Ptr(SYN)})
	t.Expect(c, TCP{Flags: Ptr(RST | ACK), Seq: Ptr[uint32](0), Ack: Ptr(syn.End())})
}

// ackToListener: "Any acknowledgment is bad if it arrives on a connection
// still in the LISTEN state. An acceptable reset segment should be formed
// for any arriving ACK-bearing segment ... <SEQ=SEG.ACK><CTL=RST>" (RFC
// 9293 §3.10.7.2, second check).
func ackToListener(t *T) {
	t.Listen(DUTPort)
	c := t.TB.Dial(DUTPort)
	const ack = 0x1234_5678
	t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr[uint32](ack)})
	t.Expect(c, TCP{Flags: Ptr(RST), Seq: Ptr[uint32](ack)})
}

// rstToListenerOrClosed: "An incoming segment containing a RST is
// discarded" in CLOSED (§3.10.7.1) and "an incoming RST should be ignored"
// in LISTEN (§3.10.7.2, first check): never a RST for a RST (§3.5.2).
func rstToListenerOrClosed(t *T) {
	t.Listen(DUTPort)
	listening := t.TB.Dial(DUTPort)
	closed := t.TB.Dial(DUTPort + 1)
	t.Send(listening, TCP{Flags: Ptr(RST | ACK), Ack: Ptr[uint32](0x0bad_cafe)})
	t.Send(closed, TCP{Flags: Ptr(RST)})
	t.ExpectNone(listening, "a RST to a listener is ignored")
	t.ExpectNone(closed, "a RST to a closed port is discarded")
}

// synAckOptionsOffered: the SYN-ACK answers a SYN offering every option
// with MSS (MUST-14: always sent by common stacks, SHLD-5), window scale
// (RFC 7323 §2.2), SACK-permitted (RFC 2018 §2) and timestamps whose TSecr
// echoes the SYN's TSval (RFC 7323 §3.2); the final ACK completes the
// handshake and accept() returns. Option order and values are not
// compared: they legitimately differ (CONFORMANCE.md HS-02).
func synAckOptionsOffered(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	c.SYNOptions.WS = Ptr[uint8](7)
	syn := t.Send(c, TCP{Flags: Ptr(SYN)})
	t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(syn.Seq + 1),
		Options: &Options{Present: MSSOpt | WSOpt | SACKOKOpt | TSOpt, TSEcr: Ptr(syn.Options.TS.Val)}})
	t.Send(c, TCP{Flags: Ptr(ACK)})
	t.Accepted(acc)
}

// synAckOptionsNotOffered: "A TCP MUST NOT send a Window Scale option in
// a <SYN,ACK> segment unless it received one in the initial <SYN>" (RFC
// 7323 §2.2); the same for TSopt (§3.2) and SACK-permitted (RFC 2018 §2).
// The MSS option is still sent (SHLD-5).
func synAckOptionsNotOffered(t *T) {
	t.Listen(DUTPort)
	c := t.TB.Dial(DUTPort)
	c.SYNOptions = Options{MSS: Ptr[uint16](1460)}
	syn := t.Send(c, TCP{Flags: Ptr(SYN)})
	t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(syn.Seq + 1),
		Options: &Options{Present: MSSOpt, Absent: WSOpt | SACKOKOpt | TSOpt}})
}

// synRcvdBadAck: in SYN-RECEIVED, "If SND.UNA < SEG.ACK =< SND.NXT, then
// enter ESTABLISHED state ... If the segment acknowledgment is not
// acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it"
// (RFC 9293 §3.10.7.4, fifth check); the half-open connection stays, so
// the right ACK still completes it.
func synRcvdBadAck(offset uint32) func(t *T) {
	return func(t *T) {
		l := t.Listen(DUTPort)
		acc := l.Accept()
		c := t.TB.Dial(DUTPort)
		t.Send(c, TCP{Flags: Ptr(SYN)})
		t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(c.ISS() + 1)})
		bad := c.IRS() + offset
		t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(bad)})
		t.Expect(c, TCP{Flags: Ptr(RST), Seq: Ptr(bad)})
		if acc.Done() {
			t.Fail("no connection for accept() after an unacceptable ACK", "accept() returned")
		}
		t.Send(c, TCP{Flags: Ptr(ACK)})
		t.Accepted(acc)
	}
}

// synRcvdDuplicateSYN: a retransmitted SYN in SYN-RECEIVED fails the
// sequence check (it is below RCV.NXT) and "an acknowledgment should be
// sent in reply" (RFC 9293 §3.10.7.4, first check). Resending the SYN-ACK
// (same ISS) is the tolerated alternative: Linux's tcp_check_req does it
// for a "pure retransmitted SYN". A SYN-ACK with another ISS would be a
// new connection, which is wrong.
func synRcvdDuplicateSYN(t *T) {
	t.Listen(DUTPort)
	c := t.TB.Dial(DUTPort)
	syn := t.Send(c, TCP{Flags: Ptr(SYN)})
	synAck := t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(syn.Seq + 1)})
	t.Send(c, TCP{Flags: Ptr(SYN), Seq: Ptr(syn.Seq), Options: &syn.Options})
	seg := t.Expect(c, TCP{Flags: Ptr(ACK), FlagsMask: Ptr(ACK | RST)})
	switch {
	case seg.Flags&SYN == 0:
		if seg.Seq != synAck.Seq+1 || seg.Ack != syn.Seq+1 {
			t.Fail("ACK <SEQ=ISS+1><ACK=IRS+1>", seg.String())
		}
	case seg.Seq != synAck.Seq:
		t.Fail("the same ISS if the SYN-ACK is resent", fmt.Sprintf("%s (ISS was %d, now %d)", seg, synAck.Seq, seg.Seq))
	default:
		t.Allowed("resends the SYN-ACK for a retransmitted SYN, as Linux does (tcp_check_req); RFC 9293 §3.10.7.4 asks for an ACK")
	}
}

// synRcvdReset: in SYN-RECEIVED, "If this connection was initiated with a
// passive OPEN (i.e., came from the LISTEN state), then return this
// connection to LISTEN state and return. The user need not be informed"
// (RFC 9293 §3.10.7.4, second check; MUST-11). The RST gets no answer; the
// listener's half-open connection is gone, so an ACK for it is answered
// with <SEQ=SEG.ACK><CTL=RST> (§3.10.7.2).
func synRcvdReset(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	t.Send(c, TCP{Flags: Ptr(SYN)})
	t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(c.ISS() + 1)})
	t.Send(c, TCP{Flags: Ptr(RST)})
	t.ExpectNone(c, "an acceptable RST in SYN-RECEIVED is not answered")
	ack := t.Send(c, TCP{Flags: Ptr(ACK)})
	t.Expect(c, TCP{Flags: Ptr(RST), Seq: Ptr(ack.Ack)})
	if acc.Done() {
		t.Fail("no connection for accept() after the RST", "accept() returned")
	}
}

// dutConnect starts a DUT active open toward a listening bench connection
// and returns both with the DUT's SYN.
func dutConnect(t *T) (*Conn, *Pending[Socket], *Segment) {
	c := t.TB.Listen(BenchPort)
	p := t.DUT.Connect(netip.AddrPortFrom(t.TB.local, BenchPort))
	t.Cleanup(func() {
		p.Cancel()
		if s, err := p.Wait(0); err == nil {
			s.Close()
		}
	})
	syn := t.Expect(c, TCP{Flags: Ptr(SYN)})
	return c, p, syn
}

// completeConnect answers the DUT's SYN correctly (after whatever the
// scenario tried) and checks the connect succeeds: the connection stayed
// in SYN-SENT.
func completeConnect(t *T, c *Conn, p *Pending[Socket], syn *Segment) {
	t.Send(c, TCP{Flags: Ptr(SYN | ACK), Seq: Ptr(c.ISS()), Ack: Ptr(syn.Seq + 1), Options: &Options{MSS: Ptr[uint16](1460)}})
	t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(syn.Seq + 1), Ack: Ptr(c.ISS() + 1)})
	if _, err := p.Wait(t.Timing.Reply); err != nil {
		t.Fail("connect() to succeed once the right SYN-ACK came", err.Error())
	}
}

// synSentBadAck: in SYN-SENT, "If SEG.ACK =< ISS or SEG.ACK > SND.NXT,
// send a reset (unless the RST bit is set, if so drop the segment and
// return) <SEQ=SEG.ACK><CTL=RST>" (RFC 9293 §3.10.7.3, first check). The
// connection stays in SYN-SENT.
func synSentBadAck(t *T) {
	c, p, syn := dutConnect(t)
	bad := syn.Seq + 2
	t.Send(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(bad), Options: &Options{MSS: Ptr[uint16](1460)}})
	t.Expect(c, TCP{Flags: Ptr(RST), Seq: Ptr(bad)})
	if p.Done() {
		t.Fail("connect() still in progress after an unacceptable SYN-ACK", "it returned")
	}
	completeConnect(t, c, p, syn)
}

// synSentRSTNoACK: in SYN-SENT, a RST without ACK: "If the ACK was
// acceptable ... Otherwise (no ACK), drop the segment and return" (RFC
// 9293 §3.10.7.3, second check; RFC 5961 §3 blind-reset protection).
func synSentRSTNoACK(t *T) {
	c, p, syn := dutConnect(t)
	t.Send(c, TCP{Flags: Ptr(RST), Seq: Ptr(c.ISS())})
	t.ExpectNone(c, "a RST is never answered")
	if p.Done() {
		_, err := p.Wait(0)
		t.Fail("the RST without ACK ignored", fmt.Sprintf("connect() returned %v", err))
	}
	completeConnect(t, c, p, syn)
}

// synSentRefused: "If the ACK was acceptable, then signal to the user
// 'error: connection reset', drop the segment, enter CLOSED state" (RFC
// 9293 §3.10.7.3, second check; MUST-12: the application is told). Sockets
// report it as ECONNREFUSED.
func synSentRefused(t *T) {
	c, p, syn := dutConnect(t)
	t.Send(c, TCP{Flags: Ptr(RST | ACK), Seq: Ptr[uint32](0), Ack: Ptr(syn.Seq + 1)})
	t.ExpectNone(c, "a RST is never answered")
	_, err := p.Wait(t.Timing.Reply)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fail("connect() to fail with ECONNREFUSED", fmt.Sprintf("%v", err))
	}
}

// synSentRSTBadAck: a RST whose ACK is unacceptable in SYN-SENT: "send a
// reset (unless the RST bit is set, if so drop the segment and return)"
// (RFC 9293 §3.10.7.3, first check). Nothing answers the RST. Linux
// retransmits its SYN at once, the same SYN (tcp_rcv_synsent_state_process
// re-arms the SYN timer to TCP_TIMEOUT_MIN on any unacceptable ACK, as
// for HS-06a, where CONFORMANCE.md notes it): a retransmission, not a
// reply, and tolerated; anything else is not.
func synSentRSTBadAck(t *T) {
	c, p, syn := dutConnect(t)
	t.Send(c, TCP{Flags: Ptr(RST | ACK), Seq: Ptr[uint32](0), Ack: Ptr(syn.Seq + 100)})
	resent := false
	for seg := t.Next(c); seg != nil; seg = t.Next(c) {
		if seg.Flags&^(PSH|ECE|CWR) != SYN || seg.Seq != syn.Seq || len(seg.Payload) != 0 {
			t.Fail("no reply to a RST (or a retransmission of the SYN)", seg.String())
		}
		resent = true
	}
	if resent {
		t.Allowed("retransmits its SYN at once after an unacceptable ACK on a RST, as Linux does (tcp_rcv_synsent_state_process re-arms the SYN timer to its minimum); RFC 9293 §3.10.7.3 only drops the RST")
	}
	if p.Done() {
		_, err := p.Wait(0)
		t.Fail("the RST with a bad ACK dropped", fmt.Sprintf("connect() returned %v", err))
	}
	completeConnect(t, c, p, syn)
}

// simultaneousOpen: Figure 8 of RFC 9293 §3.5. A SYN in SYN-SENT (no ACK)
// moves to SYN-RECEIVED and sends <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
// (§3.10.7.3, fourth check); the ACK of it establishes the connection and
// connect() returns (MUST-10; MUST-11: this SYN-RECEIVED came from an
// active OPEN, so it must not go back to LISTEN).
func simultaneousOpen(t *T) {
	c, p, syn := dutConnect(t)
	t.Send(c, TCP{Flags: Ptr(SYN), Options: &Options{MSS: Ptr[uint16](1460)}})
	t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Seq: Ptr(syn.Seq), Ack: Ptr(c.ISS() + 1)})
	t.Send(c, TCP{Flags: Ptr(ACK)})
	if _, err := p.Wait(t.Timing.Reply); err != nil {
		t.Fail("connect() to succeed after the simultaneous open", err.Error())
	}
}

// synWithData: a SYN carrying text to a listener, without a TCP Fast Open
// cookie (RFC 7413 then makes it a plain handshake). In LISTEN, "any other
// control or text should be queued for processing later" (RFC 9293
// §3.10.7.2, third check): the SYN-ACK acknowledges the SYN alone, ack =
// IRS+1, whether the text was queued or dropped (Linux and gVisor drop
// it and the peer sends it again).
func synWithData(t *T) {
	t.Listen(DUTPort)
	c := t.TB.Dial(DUTPort)
	syn := t.Send(c, TCP{Flags: Ptr(SYN), Payload: []byte("0123456789")})
	t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(syn.Seq + 1)})
}
