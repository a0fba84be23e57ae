package compare

import (
	"errors"
	"fmt"
	"io"
)

// Section F of CONFORMANCE.md: FIN and the closing states.
var closeScenarios = []Scenario{
	{ID: "FC-01", Title: "Passive close: FIN is ACKed, read() sees EOF, close() sends FIN, its ACK ends LAST-ACK",
		RFC: "RFC 9293 §3.6, §3.10.7.4 (eighth check), §3.10.4", Run: passiveCloseScenario},
	{ID: "FC-02", Title: "Half-close: shutdown(SHUT_WR) sends FIN; text from the peer is still taken",
		RFC: "RFC 9293 §3.6, §3.6.1", Requirements: []string{"MAY-1"}, Run: halfClose},
	{ID: "FC-03b", Title: "Simultaneous close: the peer's FIN in FIN-WAIT-1 is ACKed (CLOSING)",
		RFC: "RFC 9293 §3.6 (Figure 13), §3.10.7.4 (eighth check)", Run: simultaneousClose},
	{ID: "FC-04a", Title: "FIN on a data segment: one ACK covers text and FIN; read() gets the text, then EOF",
		RFC: "RFC 9293 §3.10.7.4 (seventh and eighth checks)", Run: finWithData},
	{ID: "FC-04b", Title: "FIN beyond a gap waits for the gap to fill; then one ACK covers text and FIN",
		RFC: "RFC 9293 §3.10.7.4 (eighth check: FIN only in sequence); RFC 5681 §4.2", Requirements: []string{"SHLD-31", "MAY-13"},
		Run: finAfterGap},
	{ID: "FC-10", Title: "TIME-WAIT: a new SYN with a higher sequence number and newer TSval opens a new connection above the old one",
		RFC: "RFC 9293 §3.10.7.4; RFC 1122 §4.2.2.13; RFC 6191 §2", Requirements: []string{"MAY-2", "SHLD-4"}, Run: timeWaitNewSYN},
	{ID: "FC-06a", Title: "TIME-WAIT: a retransmitted FIN is ACKed",
		RFC: "RFC 9293 §3.10.7.4 (eighth check, TIME-WAIT)", Requirements: []string{"MUST-13"}, Run: timeWaitFinRetransmit},
	{ID: "FC-07", Title: "TIME-WAIT: an exact RST closes the connection (RFC 1337 ignore tolerated)",
		RFC: "RFC 9293 §3.10.7.4 (second check, TIME-WAIT); RFC 1337", Run: timeWaitReset},
	{ID: "FC-09", Title: "SYN-SENT: close() sends nothing; a later SYN-ACK gets <SEQ=SEG.ACK><CTL=RST>",
		RFC: "RFC 9293 §3.10.4 (SYN-SENT), §3.10.7.1", Run: closeInSynSent},
}

// wantEOF fails unless the application reads end of file.
func wantEOF(t *T, s Socket) {
	b, err := s.Recv(10, t.Timing.Reply)
	if len(b) > 0 || !errors.Is(err, io.EOF) {
		t.Fail("read() to return end of file", fmt.Sprintf("%q, %v", b, err))
	}
}

// passiveClose runs the passive close of RFC 9293 §3.6: the bench's FIN is
// acknowledged (CLOSE-WAIT), the application reads EOF and closes, the
// DUT's FIN comes at SND.NXT (LAST-ACK) and the bench acknowledges it.
func passiveClose(t *T, c *Conn, s Socket) {
	fin := t.Send(c, TCP{Flags: Ptr(FIN | ACK)})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(fin.End())})
	wantEOF(t, s)
	want := c.RcvNxt()
	if err := s.Close(); err != nil {
		t.Fatal(fmt.Errorf("close: %w", err))
	}
	t.Expect(c, TCP{Flags: Ptr(FIN | ACK), Seq: Ptr(want), Ack: Ptr(fin.End())})
	t.Send(c, TCP{Flags: Ptr(ACK)})
}

// passiveCloseScenario: RFC 9293 §3.6 case 2 ("TCP receives a FIN from
// the network"): the FIN is ACKed, the user is told (EOF), and the user's
// CLOSE sends the DUT's FIN; the ACK of it ends LAST-ACK silently.
func passiveCloseScenario(t *T) {
	c, s := t.Established()
	passiveClose(t, c, s)
	t.ExpectNone(c, "nothing after the last ACK")
}

// halfClose: "a TCP MAY implement half-duplex close" (MAY-1, §3.6.1);
// the socket API's shutdown(SHUT_WR) does: FIN at SND.NXT (FIN-WAIT-1,
// then FIN-WAIT-2 once ACKed), and in FIN-WAIT-2 text from the peer is
// still acknowledged and delivered (§3.10.7.4, seventh check); the peer's
// FIN is ACKed and read() sees EOF.
func halfClose(t *T) {
	c, s := t.Established()
	want := c.RcvNxt()
	if err := s.ShutdownWrite(); err != nil {
		t.Fatal(fmt.Errorf("shutdown: %w", err))
	}
	t.Expect(c, TCP{Flags: Ptr(FIN | ACK), Seq: Ptr(want)})
	t.Send(c, TCP{Flags: Ptr(ACK)})
	data := []byte("after the half-close")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data})
	t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(want + 1), Ack: Ptr(c.SndNxt())})
	t.Recv(s, data)
	fin := t.Send(c, TCP{Flags: Ptr(FIN | ACK)})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(fin.End())})
	wantEOF(t, s)
}

// simultaneousClose: Figure 13 of RFC 9293 §3.6. In FIN-WAIT-1 the
// peer's FIN that does not ACK ours is acknowledged ("Enter the CLOSING
// state", §3.10.7.4 eighth check): ack = its FIN+1. The answer is an ACK
// at SND.NXT, or a retransmission of our FIN carrying that ACK.
func simultaneousClose(t *T) {
	c, s := t.Established()
	x := c.RcvNxt()
	if err := s.ShutdownWrite(); err != nil {
		t.Fatal(fmt.Errorf("shutdown: %w", err))
	}
	t.Expect(c, TCP{Flags: Ptr(FIN | ACK), Seq: Ptr(x)})
	fin := t.Send(c, TCP{Flags: Ptr(FIN | ACK), Ack: Ptr(x)})
	seg := t.Expect(c, TCP{Flags: Ptr(ACK), FlagsMask: Ptr(ACK | RST | SYN), Ack: Ptr(fin.End())})
	if !(seg.Seq == x+1 && seg.Flags&FIN == 0) && !(seg.Seq == x && seg.Flags&FIN != 0) {
		t.Fail(fmt.Sprintf("an ACK at SND.NXT (seq %d) or the FIN again (seq %d)", x+1-c.IRS(), x-c.IRS()), seg.String())
	}
	t.Send(c, TCP{Flags: Ptr(ACK)})
	t.ExpectNone(c, "CLOSING ends in TIME-WAIT on the ACK of our FIN")
}

// finWithData: text and FIN in one segment: the text is taken (seventh
// check), then "advance RCV.NXT over the FIN" and "send an acknowledgment
// for the FIN" (eighth check): one ACK = SEG.SEQ+SEG.LEN.
func finWithData(t *T) {
	c, s := t.Established()
	data := []byte("last words")
	seg := t.Send(c, TCP{Flags: Ptr(FIN | ACK | PSH), Payload: data})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seg.End())})
	t.Recv(s, data)
	wantEOF(t, s)
}

// finAfterGap: a FIN beyond a hole is not processed: the eighth check
// applies to segments processed in sequence, out-of-order ones are queued
// (SHLD-31) and "a TCP receiver SHOULD send an immediate duplicate ACK
// when an out-of-order segment arrives" (RFC 5681 §4.2; MAY-13). Once the
// hole is filled, one ACK covers the text and the FIN.
func finAfterGap(t *T) {
	c, s := t.Established()
	seq0 := c.SndNxt()
	first, second := []byte("0123456789"), []byte("abcdefghij")
	t.Send(c, TCP{Flags: Ptr(FIN | ACK | PSH), Seq: Ptr(seq0 + uint32(len(first))), Payload: second})
	if seg := t.Next(c); seg != nil && (seg.Flags&ACK == 0 || seg.Ack != seq0) {
		t.Fail(fmt.Sprintf("a duplicate ACK (ack %d) or nothing for the segment beyond the hole", seq0-c.ISS()), seg.String())
	}
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0), Payload: first})
	end := seq0 + uint32(len(first)+len(second)) + 1
	c.SetSndNxt(end)
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(end)})
	t.Recv(s, append(append([]byte{}, first...), second...))
	wantEOF(t, s)
}

// toTimeWait runs an active close to TIME-WAIT: the application closes,
// the DUT's FIN comes, the bench's FIN+ACK acknowledges it and is
// acknowledged. It returns the bench's FIN.
func toTimeWait(t *T, c *Conn, s Socket) *Segment {
	want := c.RcvNxt()
	if err := s.Close(); err != nil {
		t.Fatal(fmt.Errorf("close: %w", err))
	}
	t.Expect(c, TCP{Flags: Ptr(FIN | ACK), Seq: Ptr(want)})
	fin := t.Send(c, TCP{Flags: Ptr(FIN | ACK)})
	t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(want + 1), Ack: Ptr(fin.End())})
	return fin
}

// timeWaitFinRetransmit: in TIME-WAIT "The only thing that can arrive in
// this state is a retransmission of the remote FIN. Acknowledge it, and
// restart the 2 MSL timeout" (RFC 9293 §3.10.7.4, eighth check; MUST-13
// is the TIME-WAIT state itself).
func timeWaitFinRetransmit(t *T) {
	c, s := t.Established()
	fin := toTimeWait(t, c, s)
	t.Send(c, TCP{Flags: Ptr(FIN | ACK), Seq: Ptr(fin.Seq)})
	t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(c.RcvNxt()), Ack: Ptr(fin.End()), Payload: []byte{}})
}

// timeWaitReset: in TIME-WAIT, "If the RST bit is set, then enter the
// CLOSED state, delete the TCB, and return" (RFC 9293 §3.10.7.4, second
// check), so a later ACK is for no connection and gets a RST. Ignoring
// the RST (RFC 1337's fix for TIME-WAIT assassination, as gVisor does and
// Linux with tcp_rfc1337=1) is tolerated.
func timeWaitReset(t *T) {
	c, s := t.Established()
	toTimeWait(t, c, s)
	t.Send(c, TCP{Flags: Ptr(RST)})
	t.ExpectNone(c, "a RST is never answered")
	ack := t.Send(c, TCP{Flags: Ptr(ACK)})
	seg := t.Next(c)
	switch {
	case seg != nil && seg.Flags&RST != 0 && seg.Seq == ack.Ack:
	case seg == nil || seg.Flags&(RST|SYN|FIN) == 0:
		t.Allowed("ignores a RST in TIME-WAIT (RFC 1337 TIME-WAIT assassination fix), as gVisor does (handleTimeWaitSegment) and Linux with tcp_rfc1337=1; RFC 9293 closes")
	default:
		t.Fail("<SEQ=SEG.ACK><CTL=RST> (closed by the RST) or nothing (RFC 1337)", seg.String())
	}
}

// closeInSynSent: CLOSE in SYN-SENT: "Delete the TCB and return
// 'error: closing' responses to any queued SENDs, or RECEIVEs" (RFC 9293
// §3.10.4): nothing is sent, and the SYN-ACK that comes later is for no
// connection: <SEQ=SEG.ACK><CTL=RST> (§3.10.7.1).
func closeInSynSent(t *T) {
	c, p, syn := dutConnect(t)
	p.Cancel()
	if _, err := p.Wait(t.Timing.Reply); err == nil {
		t.Fail("connect() to fail once the socket is closed", "it succeeded")
	}
	t.ExpectNone(c, "closing a SYN-SENT connection sends nothing")
	t.Send(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(syn.Seq + 1), Options: &Options{MSS: Ptr[uint16](1460)}})
	t.Expect(c, TCP{Flags: Ptr(RST), Seq: Ptr(syn.Seq + 1)})
}

// timeWaitNewSYN: a stack in TIME-WAIT "MAY accept a new SYN from the
// remote TCP endpoint to reopen the connection directly from TIME-WAIT
// state (MAY-2), if it: (1) assigns its initial sequence number for the
// new connection to be larger than the largest sequence number it used on
// the previous connection incarnation, and (2) returns to TIME-WAIT state
// if the SYN turns out to be an old duplicate"; "When the TCP Timestamp
// options are available, an improved algorithm is described in RFC 6191
// in order to support higher connection establishment rates" (SHLD-4)
// (RFC 9293 §3.6.1): a SYN whose TSval is newer than the last one seen
// reopens the connection. The bench's new SYN is newer both ways; the
// SYN-ACK must start above the old incarnation's SND.NXT, and accept()
// returns the new connection. Answering it as any SYN in a synchronized
// state (an ACK, RFC 9293 §3.10.7.4 and RFC 5961 §4) is also right.
func timeWaitNewSYN(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	_, err := c.Handshake(t.ctx, t.Timing.Reply)
	t.Check(err)
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	fin := toTimeWait(t, c, s)
	oldSndNxt := c.RcvNxt() // the DUT's FIN acknowledged: its SND.NXT
	again := l.Accept()
	syn := t.Send(c, TCP{Flags: Ptr(SYN), Seq: Ptr(fin.End() + 1<<20)})
	seg := t.Expect(c, TCP{})
	switch {
	case seg.Flags&^PSH == SYN|ACK && seg.Ack == syn.End():
		if int32(seg.Seq-oldSndNxt) <= 0 {
			t.Fail(fmt.Sprintf("a new ISS above the old incarnation's SND.NXT %d", oldSndNxt), seg.String())
		}
		t.Send(c, TCP{Flags: Ptr(ACK), Seq: Ptr(syn.End()), Ack: Ptr(seg.Seq + 1)})
		s2 := t.Accepted(again)
		s2.Close()
	case seg.Flags&^PSH == ACK && len(seg.Payload) == 0:
		again.Cancel()
		t.AllowedRFC("answers a new SYN in TIME-WAIT with an ACK, as in any synchronized state (RFC 9293 §3.10.7.4, RFC 5961 §4); reopening from TIME-WAIT is a MAY (MAY-2), with timestamps a SHOULD (SHLD-4, RFC 6191)")
	default:
		t.Fail("a SYN-ACK for the new connection (ISS above the old SND.NXT) or an ACK", seg.String())
	}
}
