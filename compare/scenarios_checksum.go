package compare

import (
	"fmt"
	"strings"
)

// Section J of CONFORMANCE.md: checksums.
var checksumScenarios = []Scenario{
	{ID: "CK-02a", Title: "SYN-RECEIVED: the final ACK with a bad checksum is discarded",
		RFC: "RFC 9293 §3.1 (Checksum)", Requirements: []string{"MUST-3"}, Run: badChecksumFinalAck},
	{ID: "CK-02b", Title: "ESTABLISHED: text with a bad checksum is neither ACKed nor delivered; the good copy is",
		RFC: "RFC 9293 §3.1 (Checksum)", Requirements: []string{"MUST-3"}, Run: badChecksumData},
	{ID: "CK-02c", Title: "LISTEN: a SYN with a bad checksum gets no SYN-ACK",
		RFC: "RFC 9293 §3.1 (Checksum)", Requirements: []string{"MUST-3"}, Run: badChecksumSYN},
	{ID: "CK-03", Title: "Every segment the DUT sends (SYN-ACK, data, challenge ACK, RSTs) has a valid checksum",
		RFC: "RFC 9293 §3.1 (Checksum)", Requirements: []string{"MUST-2"}, Run: dutChecksums},
}

// badChecksumFinalAck: "A TCP implementation MUST ... check the checksum
// on every segment that it receives" (MUST-3, RFC 9293 §3.1): the ACK
// that would complete the handshake is discarded, so accept() has
// nothing; the good ACK completes it.
func badChecksumFinalAck(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	t.Send(c, TCP{Flags: Ptr(SYN)})
	t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(c.ISS() + 1)})
	t.Send(c, TCP{Flags: Ptr(ACK), BadChecksum: true})
	t.ExpectNone(c, "a segment with a bad checksum is discarded")
	if acc.Done() {
		t.Fail("no connection for accept() after an ACK with a bad checksum", "accept() returned")
	}
	t.Send(c, TCP{Flags: Ptr(ACK)})
	t.Accepted(acc)
}

// badChecksumData: text with a bad checksum is discarded (MUST-3): no
// ACK, nothing to read; the same text with a good checksum is ACKed and
// delivered.
func badChecksumData(t *T) {
	c, s := t.Established()
	data := []byte("checksummed")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data, BadChecksum: true})
	t.ExpectNone(c, "a segment with a bad checksum is discarded")
	nothingToRead(t, s, "a segment with a bad checksum is discarded")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
	t.Recv(s, data)
}

// badChecksumSYN: a SYN with a bad checksum is discarded (MUST-3) before
// the listener sees it; the good SYN gets its SYN-ACK.
func badChecksumSYN(t *T) {
	t.Listen(DUTPort)
	c := t.TB.Dial(DUTPort)
	t.Send(c, TCP{Flags: Ptr(SYN), BadChecksum: true})
	t.ExpectNone(c, "a SYN with a bad checksum is discarded")
	syn := t.Send(c, TCP{Flags: Ptr(SYN)})
	t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(syn.Seq + 1)})
}

// dutChecksums: "The checksum field is the 16-bit ones' complement of the
// ones' complement sum of all 16-bit words in the header and text", with
// the pseudo-header (RFC 9293 §3.1; MUST-2: the sender computes it). The
// bench checks every segment of every scenario; this one collects the
// kinds a DUT sends — SYN-ACK, data, challenge ACK, RST for an abort, RST
// for a closed port — and verifies each one explicitly.
func dutChecksums(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	synAck, err := c.Handshake(t.Context(), t.Timing.Reply)
	t.Check(err)
	segs := []*Segment{synAck}
	s := t.Accepted(acc)
	if err := s.SetNoDelay(true); err != nil {
		t.Fatal(err)
	}
	data := []byte("checksum me")
	want := c.RcvNxt()
	if _, err := s.Send(data, t.Timing.Reply); err != nil {
		t.Fatal(fmt.Errorf("send: %w", err))
	}
	segs = append(segs, t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(want), Payload: data}))
	t.Send(c, TCP{Flags: Ptr(ACK)})
	t.Send(c, TCP{Flags: Ptr(SYN), Seq: Ptr(c.SndNxt())})
	segs = append(segs, t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt()), Payload: []byte{}}))
	if err := s.Abort(); err != nil {
		t.Fatal(fmt.Errorf("abort: %w", err))
	}
	segs = append(segs, t.Expect(c, TCP{Flags: Ptr(RST), FlagsMask: Ptr(RST | SYN | FIN)}))
	closed := t.TB.Dial(DUTPort + 1)
	t.Send(closed, TCP{Flags: Ptr(SYN)})
	segs = append(segs, t.Expect(closed, TCP{Flags: Ptr(RST | ACK)}))
	var bad []string
	for _, seg := range segs {
		if !seg.ChecksumOK || !seg.IPChecksumOK {
			bad = append(bad, seg.String())
		}
	}
	if len(bad) > 0 {
		t.Fail("valid IPv4 and TCP checksums on every segment", strings.Join(bad, "; "))
	}
}
