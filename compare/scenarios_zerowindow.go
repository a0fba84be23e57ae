package compare

import (
	"fmt"
)

// Section H of CONFORMANCE.md: zero windows, the parts of ZW-03 (the DUT
// as a receiver) that need no timer. ZW-01 and ZW-02 (the DUT's probes
// and their backoff) wait for virtual time.
var zeroWindowScenarios = []Scenario{
	{ID: "ZW-03a", Title: "Receiver at zero window: a probe below RCV.NXT is answered with ACK=RCV.NXT and window 0",
		RFC:   "RFC 9293 §3.8.6.1, §3.10.7.4 (first check)",
		Setup: Setup{RecvBuffer: zeroWindowBuffer}, Run: zeroWindowProbeAnswered},
	{ID: "ZW-03b", Title: "Receiver at zero window: a one-octet probe at RCV.NXT is refused, and taken once the window opens",
		RFC: "RFC 9293 §3.8.6.1, §3.10.7.4 (first check)", Setup: Setup{RecvBuffer: zeroWindowBuffer}, Run: zeroWindowOctetRefused},
	{ID: "ZW-03c", Title: "Receiver at zero window: an exact RST still resets the connection",
		RFC: "RFC 9293 §3.10.7.4 (first and second checks)", Requirements: []string{"MUST-66"},
		Setup: Setup{RecvBuffer: zeroWindowBuffer}, Run: zeroWindowReset},
}

// zeroWindowBuffer is the DUT's receive buffer in the zero-window
// scenarios: small enough to fill in a few segments.
const zeroWindowBuffer = 4096

// fillWindow sends text, the application reading none of it, until the
// DUT advertises a zero window, and returns what was sent. Each segment
// fits the window the DUT's latest ACK offered, so none is refused.
func fillWindow(t *T, c *Conn) []byte {
	var sent []byte
	for i := 0; c.DUTWindow() > 0; i++ {
		if i == 64 {
			t.Fail("a zero window once the receive buffer is full and unread",
				fmt.Sprintf("window %d after %d octets", c.DUTWindow(), len(sent)))
		}
		n := min(int(c.DUTWindow()), 1000)
		p := pattern(n, byte(i))
		t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: p})
		sent = append(sent, p...)
		t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
	}
	return sent
}

// zeroWindowProbeAnswered: "When the receiving TCP peer has a zero window
// and a segment arrives, it must still send an acknowledgment showing its
// next expected sequence number and current window (zero)" (RFC 9293
// §3.8.6.1); the first check answers the unacceptable segment with
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (§3.10.7.4). The probe is the keep-alive form, SEQ = RCV.NXT-1,
// no text.
func zeroWindowProbeAnswered(t *T) {
	c, s := t.Established()
	sent := fillWindow(t, c)
	t.Send(c, TCP{Flags: Ptr(ACK), Seq: Ptr(c.SndNxt() - 1)})
	t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(c.RcvNxt()), Ack: Ptr(c.SndNxt()), Window: Ptr[uint16](0), Payload: []byte{}})
	t.Recv(s, sent)
}

// zeroWindowOctetRefused: a segment with text at RCV.NXT while the window
// is zero is not acceptable (RFC 9293 §3.10.7.4: "If the RCV.WND is zero,
// no segments will be acceptable"): the answer is an ACK that does not
// cover the octet, window 0. Once the application has read everything and
// the window opened, the same octet is taken, and the stream holds it
// once.
func zeroWindowOctetRefused(t *T) {
	c, s := t.Established()
	sent := fillWindow(t, c)
	seq := c.SndNxt()
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: []byte("!")})
	c.SetSndNxt(seq)
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq), Window: Ptr[uint16](0), Payload: []byte{}})
	t.Recv(s, sent)
	nothingToRead(t, s, "the octet sent into a zero window was refused")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: []byte("!")})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq + 1)})
	t.Recv(s, []byte("!"))
}

// zeroWindowReset: RST and URG are processed even when the receive window
// is zero (MUST-66; §3.10.7.4: "special allowance should be made to
// accept valid ACKs, URGs, and RSTs"): a RST at RCV.NXT is
// acceptable with a zero window (the first check's zero-length case) and
// closes the connection (second check), silently; an ACK afterwards is for
// no connection and gets <SEQ=SEG.ACK><CTL=RST> (§3.10.7.1).
func zeroWindowReset(t *T) {
	c, _ := t.Established()
	fillWindow(t, c)
	t.Send(c, TCP{Flags: Ptr(RST)})
	t.ExpectNone(c, "a RST is never answered")
	ack := t.Send(c, TCP{Flags: Ptr(ACK)})
	t.Expect(c, TCP{Flags: Ptr(RST), Seq: Ptr(ack.Ack)})
}
