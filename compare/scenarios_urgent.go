package compare

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"
)

// Section I of CONFORMANCE.md: the urgent mechanism, as far as the wire
// and the byte stream show it. MUST-32 and MUST-33 (telling the
// application, asynchronously, that and how much urgent data is pending)
// and the DUT's own urgent pointer (MUST-62, send(MSG_OOB)) need socket
// calls the DUT interface does not have.
var urgentScenarios = []Scenario{
	{ID: "UR-01a", Title: "Text with URG and the urgent pointer after it is ACKed; the stream goes on",
		RFC: "RFC 9293 §3.8.5, §3.10.7.4 (sixth check)", Requirements: []string{"MUST-30"}, Run: urgentAccepted},
	{ID: "UR-01b", Title: "Urgent data longer than a segment: the pointer beyond it, each segment ACKed",
		RFC: "RFC 9293 §3.8.5, §3.10.7.4 (sixth check)", Requirements: []string{"MUST-31"}, Run: urgentSpansSegments},
	{ID: "UR-02", Title: "The application reads urgent text in the stream, in order (out of band tolerated)",
		RFC: "RFC 9293 §3.8.5; RFC 6093", Run: urgentInStream},
	{ID: "UR-03", Title: "Urgent data sent (MSG_OOB): URG on its segments, the pointer to the octet after it; none once it is ACKed",
		RFC: "RFC 9293 §3.8.5, §3.9.1; RFC 6093 §2", Requirements: []string{"MUST-62"}, Run: sendUrgent},
}

// urgentAccepted: "TCP implementations MUST still include support for the
// urgent mechanism" (MUST-30), whose pointer "MUST point to the sequence
// number of the octet following the urgent data" (MUST-62, §3.8.5): the
// bench sends it so. The sixth check records RCV.UP and the seventh takes
// the text as any other (RFC 9293 §3.10.7.4): the URG segment is ACKed,
// and so is what follows.
func urgentAccepted(t *T) {
	c, _ := t.Established()
	urgent := []byte("urgent!")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH | URG), Urgent: Ptr(uint16(len(urgent))), Payload: urgent})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: []byte("normal")})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
}

// urgentSpansSegments: urgent data of 250 octets over three segments of
// 100 ("A TCP implementation MUST support a sequence of urgent data of any
// length", MUST-31): the first two carry
// URG with the pointer beyond their end (at SEG.SEQ+250 and SEG.SEQ+150:
// the same octet), the third none. Each is ACKed; nothing waits for the
// urgent data to end.
func urgentSpansSegments(t *T) {
	c, _ := t.Established()
	seq0 := c.SndNxt()
	for i := range 3 {
		tcp := TCP{Flags: Ptr(ACK | PSH), Payload: pattern(100, byte(i))}
		if i < 2 {
			tcp.Flags, tcp.Urgent = Ptr(ACK|PSH|URG), Ptr(uint16(250-100*i))
		}
		t.Send(c, tcp)
		t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0 + uint32(100*(i+1)))})
	}
}

// urgentInStream: what the application reads after "abc" and "URGENT"
// with URG (the pointer after the T), then "xyz". RFC 6093 advises
// delivering urgent data in line, and every octet is text of the stream
// (RFC 9293 §3.8.5: the mechanism only marks a point in it): "abcURGENTxyz".
// Linux without SO_OOBINLINE takes the last urgent octet out of band (the
// BSD behaviour RFC 6093 describes): the stream lacks the T, which is
// application-visible only (CONFORMANCE.md UR-02), tolerated.
func urgentInStream(t *T) {
	c, s := t.Established()
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: []byte("abc")})
	t.Send(c, TCP{Flags: Ptr(ACK | PSH | URG), Urgent: Ptr[uint16](6), Payload: []byte("URGENT")})
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: []byte("xyz")})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
	want := []byte("abcURGENTxyz")
	got := readAll(t, s, len(want))
	switch {
	case bytes.Equal(got, want):
	case bytes.Equal(got, []byte("abcURGENxyz")):
		t.Allowed("takes the last urgent octet out of band (BSD semantics, as Linux without SO_OOBINLINE); RFC 6093 advises in-line delivery")
	default:
		t.Fail(fmt.Sprintf("the application to read %q", want), fmt.Sprintf("%q", got))
	}
}

// readAll reads from s until n octets came or nothing more came for
// Timing.Quiet.
func readAll(t *T, s Socket, n int) []byte {
	var got []byte
	end := time.Now().Add(t.Timing.Reply)
	for len(got) < n && time.Now().Before(end) {
		b, err := s.Recv(n-len(got), t.Timing.Quiet)
		got = append(got, b...)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fail(fmt.Sprintf("%d octets for the application", n), fmt.Sprintf("%q, then %v", got, err))
		}
	}
	return got
}

// sendUrgent: "The urgent pointer ... points to the sequence number of
// the octet following the urgent data" (RFC 9293 §3.8.5, MUST-62; RFC
// 6093 §2, which every stack follows), and a SEND with the urgent flag
// sets it "in the outgoing segments" (§3.9.1). The DUT sends "urgent!"
// with MSG_OOB: every segment carrying it has URG and SEG.SEQ+SEG.UP at
// its end; once the bench ACKs it, text sent normally carries no URG.
func sendUrgent(t *T) {
	c, s := t.Established()
	noDelay(t, s)
	start := c.RcvNxt()
	urgent := []byte("urgent!")
	if _, err := s.SendUrgent(urgent, t.Timing.Reply); errors.Is(err, errors.ErrUnsupported) {
		t.Allowed("cannot send urgent data: gVisor's TCP has no MSG_OOB (tcpip.WriteOptions has no urgent flag); RFC 9293 §3.8.5 MUST-30 asks for the urgent mechanism")
		return
	} else if err != nil {
		t.Fatal(fmt.Errorf("DUT send with MSG_OOB: %w", err))
	}
	end := start + uint32(len(urgent))
	st := newStream(start, len(urgent))
	for st.have < len(urgent) {
		seg := t.Expect(c, TCP{})
		if len(seg.Payload) == 0 {
			continue
		}
		if !seg.Flags.Has(URG) || seg.Seq+uint32(seg.Urgent) != end {
			t.Fail(fmt.Sprintf("URG with the pointer at the octet after the urgent data (SEG.SEQ+SEG.UP = relative %d)", end-c.IRS()), seg.String())
		}
		st.add(seg)
	}
	sameStream(t, "the urgent text", st.buf, urgent)
	t.Send(c, TCP{Ack: Ptr(end)})
	more := []byte("normal")
	if _, err := s.Send(more, t.Timing.Reply); err != nil {
		t.Fatal(fmt.Errorf("DUT send: %w", err))
	}
	seg := t.Expect(c, TCP{Seq: Ptr(end), Payload: more})
	if seg.Flags.Has(URG) {
		t.Fail("no URG once the urgent data is acknowledged", seg.String())
	}
	t.Send(c, TCP{Ack: Ptr(end + uint32(len(more)))})
}
