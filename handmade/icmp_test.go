package handmade

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"
)

// icmpAbout builds an ICMP error of typ and code from a router to us,
// quoting the segment q we sent (its IP header and 8 octets of TCP), with
// mtu in a Fragmentation Needed.
func icmpAbout(typ, code uint8, mtu uint16, q *Segment) []byte {
	var e Encoder
	return icmpFrom(peerAddr, ourAddr, typ, code, mtu, e.Append(nil, q))
}

// icmpFrom builds an ICMP error from router to us quoting the IP header
// and 8 octets of the packet sent.
func icmpFrom(router, us netip.AddrPort, typ, code uint8, mtu uint16, sent []byte) []byte {
	quoted := sent[:20+8]
	p := make([]byte, 20+8+len(quoted))
	p[0], p[8], p[9] = 0x45, 64, protoICMP
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	r, d := router.Addr().As4(), us.Addr().As4()
	copy(p[12:], r[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], Checksum(p[:20]))
	m := p[20:]
	m[0], m[1] = typ, code
	binary.BigEndian.PutUint16(m[6:], mtu)
	copy(m[8:], quoted)
	binary.BigEndian.PutUint16(m[2:], Checksum(m))
	return p
}

// established with 100 octets in flight, and the ICMP error about them.
func inFlight(t *testing.T) (*harness, func(typ, code uint8, mtu uint16) icmpError) {
	h := established(t, exactCfg())
	h.Write(bytesOf(100, 0), h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 100})
	return h, func(typ, code uint8, mtu uint16) icmpError {
		pkt := icmpAbout(typ, code, mtu, &Segment{Src: ourAddr, Dst: peerAddr, SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Payload: bytesOf(100, 0)})
		e, ok := parseICMPError(pkt)
		if !ok || e.Local != ourAddr || e.Remote != peerAddr || e.SEQ != h.snd || e.Type != typ || e.Code != code {
			t.Fatalf("parseICMPError: %+v, %v", e, ok)
		}
		return e
	}
}

// RFC 9293 §3.9.2.2: soft errors (Destination Unreachable 0, 1, 5, Time
// Exceeded, Parameter Problem) "MUST NOT abort the connection" (MUST-56)
// and reach the application (SHLD-25); Source Quench is discarded
// (MUST-55).
func TestICMPSoftErrorsDoNotAbort(t *testing.T) {
	for _, m := range []struct{ typ, code uint8 }{{3, 0}, {3, 1}, {3, 5}, {11, 0}, {12, 0}, {4, 0}} {
		h, about := inFlight(t)
		h.ICMP(about(m.typ, m.code, 0), h.now)
		wantState(t, h, Established)
		expectNothing(t, h)
		soft := h.Info().SoftError
		if (m.typ == icmpSourceQuench) != (soft == "") {
			t.Errorf("type %d code %d: SoftError %q", m.typ, m.code, soft)
		}
	}
}

// RFC 9293 §3.9.2.2: "Destination Unreachable -- codes 2-4 ... SHOULD
// abort the connection" (SHLD-26); protocol and port unreachable do, as
// a refusal, and send nothing.
func TestICMPHardErrorsAbort(t *testing.T) {
	for _, code := range []uint8{icmpProtoUnreachable, icmpPortUnreachable} {
		h, about := inFlight(t)
		h.ICMP(about(icmpDestUnreachable, code, 0), h.now)
		wantState(t, h, Closed)
		expectNothing(t, h)
		if !errors.Is(h.Err, syscall.ECONNREFUSED) || h.Counters.ICMPHardErrors != 1 {
			t.Errorf("code %d: Err %v, hard errors %d", code, h.Err, h.Counters.ICMPHardErrors)
		}
	}
}

// RFC 5927 §4.1: an error quoting a sequence number not in flight is
// ignored, however hard.
func TestICMPOutOfFlightIgnored(t *testing.T) {
	h, about := inFlight(t)
	e := about(icmpDestUnreachable, icmpPortUnreachable, 0)
	e.SEQ = h.snd.Add(100) // SND.NXT: nothing sent there yet
	h.ICMP(e, h.now)
	wantState(t, h, Established)
	if h.Counters.ICMPIgnored != 1 {
		t.Errorf("ignored %d, want 1", h.Counters.ICMPIgnored)
	}
}

// RFC 1191 §6.3 (RFC 9293 §3.7.2, SHLD-6): Fragmentation Needed with a
// next-hop MTU of 1000 lowers the send MSS to 960; one without an MTU
// takes the plateau below the quoted datagram (RFC 1191 §7); nothing
// raises it; an MTU below 68 is ignored.
func TestICMPFragNeededLowersMSS(t *testing.T) {
	h, about := inFlight(t)
	if h.sndMSS != 1460 {
		t.Fatalf("send MSS %d before", h.sndMSS)
	}
	for _, c := range []struct {
		mtu  uint16
		want int
	}{{1000, 960}, {1400, 960}, {40, 960}} {
		h.ICMP(about(icmpDestUnreachable, icmpFragNeeded, c.mtu), h.now)
		if h.sndMSS != c.want {
			t.Errorf("after MTU %d: send MSS %d, want %d", c.mtu, h.sndMSS, c.want)
		}
	}
	wantState(t, h, Established)
	// The next segment fits the path.
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(100), Flags: ACK})
	h.snd = h.snd.Add(100)
	h.Write(bytesOf(2000, 0), h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, Len: 960})

	// No next-hop MTU, a 1500-octet datagram quoted: the 1492 plateau.
	h, about = inFlight(t)
	e := about(icmpDestUnreachable, icmpFragNeeded, 0)
	e.QuotedLen = 1500
	h.ICMP(e, h.now)
	if h.sndMSS != 1492-40 {
		t.Errorf("plateau: send MSS %d, want %d", h.sndMSS, 1492-40)
	}
}

// parseICMPError refuses what is not an ICMP error about a TCP segment.
func TestParseICMPErrorRefuses(t *testing.T) {
	q := &Segment{Src: ourAddr, Dst: peerAddr, SEQ: 1, Flags: ACK}
	good := icmpAbout(3, 1, 0, q)
	if _, ok := parseICMPError(good); !ok {
		t.Fatal("a good one refused")
	}
	echo := append([]byte(nil), good...)
	echo[20] = 8 // echo request
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 1 // ICMP checksum
	short := good[:20+8+20+4]
	for name, p := range map[string][]byte{"echo request": echo, "bad checksum": bad, "short quote": short} {
		if e, ok := parseICMPError(p); ok {
			t.Errorf("%s: parsed %+v", name, e)
		}
	}
}
