package compare

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Section D of CONFORMANCE.md: out-of-window segments and RFC 5961;
// first, text left out of the window by the peer (DT-05, section C, whose
// other cases are transferScenarios, the slice before this one).
var windowScenarios = []Scenario{
	{ID: "DT-05c", Title: "Text left past a right edge shrunk to zero, every probe answered: the connection outlives R2",
		RFC: "RFC 9293 §3.8.6, §3.8.3", Requirements: []string{"SHLD-17"},
		Setup: Setup{VirtualClock: true, MaxRetries: shrinkRetries}, Run: shrunkEdgeNoTimeout},
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

// shrinkRetries is R2 in DT-05c: two retransmissions (Setup.MaxRetries),
// which Linux turns into 1.4 s from a 200 ms RTO (linuxDataGiveUp).
const shrinkRetries = 2

// shrinkHorizon bounds how long DT-05c waits for the DUT's retransmissions
// and probes: on a virtual clock, long enough for a probe timer backed
// off to gVisor's or handmade's 120 s cap; in real time (linux), a few
// of its 200 ms RTOs doubling.
func shrinkHorizon(t *T) time.Duration {
	if t.Virtual() {
		return 10 * time.Minute
	}
	return 8 * time.Second
}

// shrunkEdgeNoTimeout: "The sender MAY also retransmit old data beyond
// SND.UNA+SND.WND (MAY-7), but SHOULD NOT time out the connection if data
// beyond the right window edge is not acknowledged (SHLD-17)" (RFC 9293
// §3.8.6). R2 is set to two retransmissions. The DUT sends text; the
// bench acknowledges none of it and shrinks the window to zero, so the
// whole text lies past the right edge. Every segment the DUT sends then
// (the text again, MAY-7, or a zero-window probe, MUST-36) is answered
// <ACK=SND.UNA><WND=0>: the receiver is there, its window shut. No RST
// may come before the DUT has sent R2 + 2 of them, past R2 by count and
// by Linux's time; then the window opens with the text acknowledged, and
// the connection carries more.
func shrunkEdgeNoTimeout(t *T) {
	c, s := t.Established()
	noDelay(t, s)
	una := c.RcvNxt()
	text := []byte("past the right edge")
	write(t, s, text)
	t.Expect(c, TCP{Seq: Ptr(una), Payload: text})
	t.Send(c, TCP{Ack: Ptr(una), Window: Ptr[uint16](0)})
	t.Settle()
	start, seen, horizon := t.Now(), 0, shrinkHorizon(t)
	for seen < shrinkRetries+2 {
		left := horizon - t.Now().Sub(start)
		if left <= 0 {
			break
		}
		seg := t.NextSegment(c, left, stepFor(stackMinRTO))
		if seg == nil {
			break
		}
		switch {
		case seg.Flags.Has(RST):
			t.Fail(fmt.Sprintf("no time-out while the window stays shut and probes are answered (SHLD-17; R2 is %d retransmissions, %v on Linux)", shrinkRetries, linuxDataGiveUp(shrinkRetries)),
				fmt.Sprintf("%v after %d retransmissions or probes, %v in", seg, seen, roundDur(seg.At.Sub(start))))
		case seqLT(una+uint32(len(text)), seg.End()):
			t.Fail("nothing but the text again or a probe (SHLD-15)", seg.String())
		}
		seen++
		t.Logf("retransmission or probe %d, %v after the window shut: %v", seen, roundDur(seg.At.Sub(start)), seg)
		t.Send(c, TCP{Ack: Ptr(una), Window: Ptr[uint16](0)})
		t.Settle()
	}
	if seen < shrinkRetries+2 {
		t.Fail(fmt.Sprintf("%d retransmissions or probes within %v of the window shutting (MUST-36), past R2", shrinkRetries+2, horizon), fmt.Sprint(seen))
	}
	t.Send(c, TCP{Ack: Ptr(una + uint32(len(text))), Window: Ptr[uint16](65535)})
	more := []byte("still here")
	got := transfer(t, c, s, more, ackWith(t, c, 65535))
	sameStream(t, "text after the window opened", got, more)
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
