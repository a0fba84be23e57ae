package compare

import (
	"errors"
	"fmt"
	"syscall"
)

// Section E of CONFORMANCE.md: RST handling.
var resetScenarios = []Scenario{
	{ID: "RS-01a", Title: "ESTABLISHED: RST at RCV.NXT aborts silently; the application sees ECONNRESET",
		RFC: "RFC 9293 §3.10.7.4 (second check), §3.5.3", Requirements: []string{"MUST-12"}, Run: exactReset},
	{ID: "RS-01b", Title: "ESTABLISHED: RST+ACK at RCV.NXT with text aborts",
		RFC: "RFC 9293 §3.10.7.4 (second check), §3.5.2", Requirements: []string{"SHLD-2", "MUST-12"}, Run: exactResetWithData},
	{ID: "RS-02", Title: "ESTABLISHED: in-window RST not at RCV.NXT gets a challenge ACK; the connection survives",
		RFC: "RFC 5961 §3.2; RFC 9293 §3.10.7.4 (second check)", Run: inWindowReset},
	{ID: "RS-03", Title: "ESTABLISHED: RST beyond the window is dropped silently",
		RFC: "RFC 9293 §3.10.7.4 (second check, (1))", Run: outOfWindowReset},
	{ID: "RS-04a", Title: "ABORT (SO_LINGER 0): <SEQ=SND.NXT><CTL=RST>",
		RFC: "RFC 9293 §3.10.5", Run: userAbort},
	{ID: "RS-04b", Title: "CLOSE with unread data sends RST, not FIN",
		RFC: "RFC 9293 §3.10.4; RFC 1122 §4.2.2.13; RFC 2525 §2.17", Requirements: []string{"SHLD-3"}, Run: closeWithUnreadData},
	{ID: "RS-05a", Title: "Text for an aborted connection gets <SEQ=SEG.ACK><CTL=RST>",
		RFC: "RFC 9293 §3.10.7.1", Run: dataAfterAbort},
	{ID: "RS-05b", Title: "ACK after LAST-ACK completed gets <SEQ=SEG.ACK><CTL=RST>",
		RFC: "RFC 9293 §3.10.7.1, §3.10.7.4 (LAST-ACK)", Run: ackAfterLastAck},
}

// wantReset fails unless err (from a socket call after the peer's RST)
// reports the reset (MUST-12: the application is informed).
func wantReset(t *T, err error, call string) {
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fail(call+" to fail with ECONNRESET", fmt.Sprintf("%v", err))
	}
}

// exactReset: in ESTABLISHED, "If the RST bit is set and the sequence
// number exactly matches the next expected sequence number (RCV.NXT), then
// ... any outstanding RECEIVEs and SEND should receive 'reset' responses
// ... Enter the CLOSED state" (RFC 9293 §3.10.7.4, second check; RFC 5961
// §3.2). Nothing answers the RST; afterwards the connection is unknown, so
// an ACK gets <SEQ=SEG.ACK><CTL=RST> (§3.10.7.1).
func exactReset(t *T) {
	c, s := t.Established()
	t.Send(c, TCP{Flags: Ptr(RST)})
	t.ExpectNone(c, "a RST is never answered")
	_, err := s.Recv(10, t.Timing.Reply)
	wantReset(t, err, "recv()")
	ack := t.Send(c, TCP{Flags: Ptr(ACK)})
	t.Expect(c, TCP{Flags: Ptr(RST), Seq: Ptr(ack.Ack)})
}

// exactResetWithData: "A TCP SHOULD allow a received RST segment to
// include data" (SHLD-2, RFC 9293 §3.5.2): an exact RST+ACK carrying text
// aborts the connection like any exact RST.
func exactResetWithData(t *T) {
	c, s := t.Established()
	t.Send(c, TCP{Flags: Ptr(RST | ACK), Payload: []byte("reset reason")})
	t.ExpectNone(c, "a RST is never answered")
	_, err := s.Recv(10, t.Timing.Reply)
	wantReset(t, err, "recv()")
}

// inWindowReset: "If the RST bit is set and the sequence number does not
// exactly match the next expected sequence value, yet is within the
// current receive window, TCP MUST send an acknowledgment (challenge ACK):
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. After sending the challenge ACK,
// TCP MUST drop the unacceptable segment" (RFC 5961 §3.2, in RFC 9293
// §3.10.7.4 second check). The connection must still carry data.
func inWindowReset(t *T) {
	c, s := t.Established()
	t.Send(c, TCP{Flags: Ptr(RST), Seq: Ptr(c.InWindowSeq(100))})
	t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(c.RcvNxt()), Ack: Ptr(c.SndNxt()), Payload: []byte{}})
	exchange(t, c, s)
}

// outOfWindowReset: "If the RST bit is set and the sequence number is
// outside the current receive window, silently drop the segment" (RFC
// 9293 §3.10.7.4, second check (1)).
func outOfWindowReset(t *T) {
	c, s := t.Established()
	t.Send(c, TCP{Flags: Ptr(RST), Seq: Ptr(c.OutOfWindowSeq(100))})
	t.ExpectNone(c, "a RST outside the window is dropped silently")
	exchange(t, c, s)
}

// userAbort: ABORT in ESTABLISHED: "Send a reset segment:
// <SEQ=SND.NXT><CTL=RST>" (RFC 9293 §3.10.5). An ACK on it is allowed
// (both Linux and gVisor send RST+ACK).
func userAbort(t *T) {
	c, s := t.Established()
	if err := s.Abort(); err != nil {
		t.Fatal(fmt.Errorf("abort: %w", err))
	}
	t.Expect(c, TCP{Flags: Ptr(RST), FlagsMask: Ptr(RST | SYN | FIN), Seq: Ptr(c.RcvNxt()), Payload: []byte{}})
}

// closeWithUnreadData: "If such a host issues a CLOSE call while received
// data is still pending in TCP ... its TCP SHOULD send a RST to show that
// data was lost" (RFC 1122 §4.2.2.13, SHLD-3 in RFC 9293; RFC 2525 §2.17).
func closeWithUnreadData(t *T) {
	c, s := t.Established()
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: []byte("unread")})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
	if err := s.Close(); err != nil {
		t.Fatal(fmt.Errorf("close: %w", err))
	}
	t.Expect(c, TCP{Flags: Ptr(RST), FlagsMask: Ptr(RST | SYN | FIN), Seq: Ptr(c.RcvNxt())})
}

// dataAfterAbort: once a connection is aborted, "If the state is CLOSED
// (i.e., TCB does not exist) ... If the ACK bit is on,
// <SEQ=SEG.ACK><CTL=RST>" (RFC 9293 §3.10.7.1).
func dataAfterAbort(t *T) {
	c, s := t.Established()
	if err := s.Abort(); err != nil {
		t.Fatal(fmt.Errorf("abort: %w", err))
	}
	t.Expect(c, TCP{Flags: Ptr(RST), FlagsMask: Ptr(RST | SYN | FIN)})
	seg := t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: []byte("anyone?")})
	t.Expect(c, TCP{Flags: Ptr(RST), Seq: Ptr(seg.Ack)})
}

// ackAfterLastAck: after a passive close completes (LAST-ACK: "If our FIN
// has been acknowledged, delete the TCB, enter the CLOSED state", RFC 9293
// §3.10.7.4), a further ACK is for no connection:
// <SEQ=SEG.ACK><CTL=RST> (§3.10.7.1).
func ackAfterLastAck(t *T) {
	c, s := t.Established()
	passiveClose(t, c, s)
	ack := t.Send(c, TCP{Flags: Ptr(ACK)})
	t.Expect(c, TCP{Flags: Ptr(RST), Seq: Ptr(ack.Ack)})
}
