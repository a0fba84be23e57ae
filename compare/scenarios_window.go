package compare

import (
	"errors"
	"fmt"
	"os"
)

// Section D of CONFORMANCE.md: out-of-window segments and RFC 5961.
var windowScenarios = []Scenario{
	{ID: "OW-01", Title: "ESTABLISHED: pure ACK with SEQ = RCV.NXT+RCV.WND (right edge)",
		RFC: "RFC 9293 §3.10.7.4 (first check, acceptability table)", Run: ackAtWindowEdge},
	{ID: "OW-02a", Title: "ESTABLISHED: pure ACK beyond the window gets <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>",
		RFC: "RFC 9293 §3.10.7.4 (first check)", Run: ackBeyondWindow},
	{ID: "OW-02b", Title: "ESTABLISHED: text beyond the window is ACKed and not delivered",
		RFC: "RFC 9293 §3.10.7.4 (first check)", Run: dataBeyondWindow},
	{ID: "OW-03", Title: "ESTABLISHED: in-window SYN gets a challenge ACK; the connection survives",
		RFC: "RFC 5961 §4.2; RFC 9293 §3.10.7.4 (fourth check)", Run: synInEstablished},
	{ID: "OW-04", Title: "ESTABLISHED: text whose ACK acks unsent data: ACK, drop",
		RFC: "RFC 9293 §3.10.7.4 (fifth check, ESTABLISHED)", Run: ackOfUnsentData},
	{ID: "OW-05", Title: "ESTABLISHED: text with SEG.ACK < SND.UNA - MAX.SND.WND: ACK, drop",
		RFC: "RFC 5961 §5.2", Requirements: []string{"MAY-12"}, Run: ackTooOld},
}

// settle makes sure nothing unprompted is in flight before a stimulus
// whose expected answer (an ACK) a window update would imitate.
func settle(t *T, c *Conn) {
	t.ExpectNone(c, "nothing unprompted after the handshake")
}

// isAck reports a pure ACK <SEQ=seq><ACK=ack> (PSH ignored).
func isAck(seg *Segment, seq, ack uint32) bool {
	return seg.Flags&^PSH == ACK && seg.Seq == seq && seg.Ack == ack && len(seg.Payload) == 0
}

// ackAtWindowEdge: a zero-length segment is acceptable when "RCV.NXT =<
// SEG.SEQ < RCV.NXT+RCV.WND" (RFC 9293 §3.10.7.4): SEQ = RCV.NXT+RCV.WND
// is not, and "If an incoming segment is not acceptable, an
// acknowledgment should be sent in reply". Linux (tcp_sequence) and
// gVisor (header.Acceptable: "rcvWnd is incremented by 1 because that is
// Linux's behavior despite the RFC") accept it silently: tolerated.
func ackAtWindowEdge(t *T) {
	c, _ := t.Established()
	settle(t, c)
	t.Send(c, TCP{Flags: Ptr(ACK), Seq: Ptr(c.OutOfWindowSeq(0))})
	seg := t.Next(c)
	switch {
	case seg == nil:
		t.Allowed("accepts a pure ACK at RCV.NXT+RCV.WND silently, as Linux (tcp_sequence) and gVisor (header.Acceptable) do; RFC 9293 §3.10.7.4 finds it unacceptable and ACKs")
	case isAck(seg, c.RcvNxt(), c.SndNxt()):
	default:
		t.Fail("<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, or nothing as Linux and gVisor", seg.String())
	}
}

// ackBeyondWindow: a pure ACK one octet beyond the right edge is not
// acceptable: "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>" (RFC 9293 §3.10.7.4,
// first check).
func ackBeyondWindow(t *T) {
	c, _ := t.Established()
	settle(t, c)
	t.Send(c, TCP{Flags: Ptr(ACK), Seq: Ptr(c.OutOfWindowSeq(1))})
	t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(c.RcvNxt()), Ack: Ptr(c.SndNxt()), Payload: []byte{}})
}

// dataBeyondWindow: text starting beyond the right edge is not acceptable:
// ACK, and the text is dropped (RFC 9293 §3.10.7.4, first check).
func dataBeyondWindow(t *T) {
	c, s := t.Established()
	settle(t, c)
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(c.OutOfWindowSeq(1)), Payload: []byte("0123456789")})
	t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(c.RcvNxt()), Ack: Ptr(c.SndNxt()), Payload: []byte{}})
	nothingToRead(t, s, "text beyond the window is dropped")
}

// nothingToRead fails the scenario if the application can read anything
// within Timing.Quiet.
func nothingToRead(t *T, s Socket, why string) {
	b, err := s.Recv(100, t.Timing.Quiet)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fail("nothing for the application to read ("+why+")", fmt.Sprintf("read %q, %v", b, err))
	}
}

// exchange checks the connection still carries data: the bench sends
// text, the DUT ACKs it and the application reads it.
func exchange(t *T, c *Conn, s Socket) {
	data := []byte("ping")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
	t.Recv(s, data)
}

// synInEstablished: "If the SYN bit is set, irrespective of the sequence
// number, TCP MUST send an ACK (also referred to as challenge ACK) to the
// remote peer: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>" and drop the segment
// (RFC 5961 §4.2; RFC 9293 §3.10.7.4, fourth check). The connection is
// unaffected.
func synInEstablished(t *T) {
	c, s := t.Established()
	settle(t, c)
	t.Send(c, TCP{Flags: Ptr(SYN), Seq: Ptr(c.SndNxt())})
	t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(c.RcvNxt()), Ack: Ptr(c.SndNxt()), Payload: []byte{}})
	exchange(t, c, s)
}

// ackOfUnsentData: "If the ACK acks something not yet sent (SEG.ACK >
// SND.NXT), then send an ACK, drop the segment, and return" (RFC 9293
// §3.10.7.4, fifth check, ESTABLISHED). Linux drops silently
// (tcp_rcv_established: tcp_ack() < 0 → discard); gVisor checks the ACK
// only in closing states and takes the text: both tolerated
// (CONFORMANCE.md, "Both deviate from the RFC").
func ackOfUnsentData(t *T) {
	c, s := t.Established()
	settle(t, c)
	seq0 := c.SndNxt()
	data := []byte("0123456789")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Ack: Ptr(c.UnacceptableAck(1)), Payload: data})
	seg := t.Next(c)
	switch {
	case seg == nil:
		c.SetSndNxt(seq0)
		t.Allowed("drops text whose ACK acks unsent data silently, as Linux does (tcp_rcv_established); RFC 9293 §3.10.7.4 asks for an ACK")
		nothingToRead(t, s, "the segment was dropped")
	case isAck(seg, c.RcvNxt(), seq0):
		c.SetSndNxt(seq0)
		nothingToRead(t, s, "the segment was dropped")
	case seg.Flags&ACK != 0 && seg.Ack == seq0+uint32(len(data)):
		t.Allowed("takes the text of a segment whose ACK acks unsent data, as gVisor does (rcv.go checks SEG.ACK only in closing states); RFC 9293 §3.10.7.4 drops it")
		t.Recv(s, data)
	default:
		t.Fail("<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and the text dropped", seg.String())
	}
}

// ackTooOld: RFC 5961 §5.2 (MAY-12 in RFC 9293): "All incoming segments
// whose ACK value doesn't satisfy [(SND.UNA - MAX.SND.WND) =< SEG.ACK =<
// SND.NXT] MUST be discarded and an ACK sent back." A stack without the
// data-injection protection (gVisor) treats the old ACK as a duplicate and
// takes the text: allowed, since the protection is a MAY.
func ackTooOld(t *T) {
	c, s := t.Established()
	settle(t, c)
	seq0 := c.SndNxt()
	data := []byte("0123456789")
	old := c.RcvNxt() - 65535 - 1000 // SND.UNA is RCV.NXT here: the DUT sent nothing
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Ack: Ptr(old), Payload: data})
	seg := t.Next(c)
	switch {
	case seg != nil && isAck(seg, c.RcvNxt(), seq0):
		c.SetSndNxt(seq0)
		nothingToRead(t, s, "the segment was dropped")
	case seg != nil && seg.Flags&ACK != 0 && seg.Ack == seq0+uint32(len(data)):
		t.Allowed("no RFC 5961 §5 data-injection check (MAY-12): the text of a segment with a too old ACK is taken, as gVisor does")
		t.Recv(s, data)
	case seg == nil:
		t.Fail("an ACK <SEQ=SND.NXT><ACK=RCV.NXT> (RFC 5961 §5.2), or the text taken and ACKed", "nothing")
	default:
		t.Fail("<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and the text dropped (RFC 5961 §5.2)", seg.String())
	}
}
