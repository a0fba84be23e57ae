package compare

import (
	"fmt"
	"strings"
	"time"
)

// Section K of CONFORMANCE.md: initial sequence numbers, from the
// SYN-ACKs of a listener; a tuple is reused at once (a RST returns the
// half-open connection to LISTEN), not after TIME-WAIT.
var isnScenarios = []Scenario{
	{ID: "IS-01a", Title: "Same 4-tuple again after 150 ms: the ISN has advanced with the clock",
		RFC: "RFC 9293 §3.4.1; RFC 6528 §3", Requirements: []string{"MUST-8"}, Run: isnAdvancesWithClock},
	{ID: "IS-01b", Title: "Different 4-tuples at once: ISNs that no clock alone explains",
		RFC: "RFC 9293 §3.4.1; RFC 6528 §3", Requirements: []string{"SHLD-1"}, Run: isnPerTuple},
}

// ISN clocks, in ticks per millisecond: RFC 9293 §3.4.1's "incremented
// roughly every 4 microseconds", and the 64 ns of Linux (secure_tcp_seq:
// ns >> 6) and gVisor (generateSecureISN).
const (
	isnRFCRate   = 250.0
	isnFast64ns  = 15625.0
	isnRateSlack = 2.0 // a measured rate within [rate/2, rate*2] counts as that rate
)

// synISN sends a SYN on c from sequence number seq and returns the DUT's
// SYN-ACK; then a RST (SEQ = seq+1, acceptable in SYN-RECEIVED) returns
// the half-open connection to LISTEN (RFC 9293 §3.10.7.4, second check),
// so the tuple is free again.
func synISN(t *T, c *Conn, seq uint32) *Segment {
	t.Send(c, TCP{Flags: Ptr(SYN), Seq: Ptr(seq), Options: &Options{MSS: Ptr[uint16](1460)}})
	sa := t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(seq + 1)})
	t.Send(c, TCP{Flags: Ptr(RST), Seq: Ptr(seq + 1)})
	return sa
}

// isnAdvancesWithClock: "the ISN generator ... is bound to a (possibly
// fictitious) 32-bit clock whose low-order bit is incremented roughly
// every 4 microseconds" (RFC 9293 §3.4.1, MUST-8), and with RFC 6528's
// ISN = M + F(4-tuple, secret) the same tuple's ISNs differ by the clock
// alone. The bench opens the same tuple twice, 150 ms apart: the second
// ISN is ahead of the first by the elapsed time at the clock's rate. A
// 64 ns clock (Linux, gVisor) is tolerated: faster than the RFC's, which
// §3.4.1 describes rather than requires.
func isnAdvancesWithClock(t *T) {
	t.Listen(DUTPort)
	c := t.TB.Dial(DUTPort)
	seq := c.ISS()
	first := synISN(t, c, seq)
	time.Sleep(150 * time.Millisecond)
	second := synISN(t, c, seq+100_000)
	ms := float64(second.At.Sub(first.At).Microseconds()) / 1000
	adv := int32(second.Seq - first.Seq)
	rate := float64(adv) / ms
	t.Logf("ISN advanced %d in %.1f ms: %.0f ticks/ms", adv, ms, rate)
	switch {
	case near(rate, isnRFCRate):
	case near(rate, isnFast64ns):
		t.Allowed("the ISN clock ticks every 64 ns, as Linux (secure_tcp_seq) and gVisor (generateSecureISN); RFC 9293 §3.4.1 describes 4 µs")
	default:
		t.Fail(fmt.Sprintf("the ISN of the same 4-tuple ahead by the elapsed %.1f ms at a 4 µs (or 64 ns) clock", ms),
			fmt.Sprintf("%d (%.0f ticks/ms)", adv, rate))
	}
}

func near(rate, want float64) bool { return rate >= want/isnRateSlack && rate <= want*isnRateSlack }

// isnPerTuple: ISN = M + F(localip, localport, remoteip, remoteport,
// secretkey) with F a pseudorandom function (RFC 6528 §3; SHLD-1: a
// secure ISN generator, RFC 9293 §3.4.1). Four tuples opened within milliseconds: if every ISN lay
// where one global clock would put it (within the elapsed time at twice
// the fastest clock, and 65536 of slack, of the first), an attacker
// seeing one connection would know the others. With a PRF each lands
// there by chance once in 2^15 or so; all three, never.
func isnPerTuple(t *T) {
	t.Listen(DUTPort)
	var segs []*Segment
	for range 4 {
		c := t.TB.Dial(DUTPort)
		segs = append(segs, synISN(t, c, c.ISS()))
	}
	var why []string
	predictable := 0
	for _, s := range segs[1:] {
		ms := float64(s.At.Sub(segs[0].At).Microseconds()) / 1000
		d := int64(int32(s.Seq - segs[0].Seq))
		why = append(why, fmt.Sprintf("%+d after %.1f ms", d, ms))
		if d >= -65536 && float64(d) <= ms*isnFast64ns*isnRateSlack+65536 {
			predictable++
		}
	}
	if predictable == len(segs)-1 {
		t.Fail("ISNs of different 4-tuples apart by more than a shared clock explains (RFC 6528 §3)",
			"ISNs relative to the first: "+strings.Join(why, ", "))
	}
}
