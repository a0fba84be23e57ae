package handmade

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// ICMP error messages about the connection's own segments (RFC 9293
// §3.9.2.2, RFC 792, RFC 1191, RFC 5927). IP hands them to TCP; TCP
// finds the connection from the quoted header and acts by the kind.

// ICMP types TCP acts on (RFC 792).
const (
	icmpDestUnreachable = 3
	icmpSourceQuench    = 4
	icmpTimeExceeded    = 11
	icmpParamProblem    = 12
	protoICMP           = 1
)

// Destination Unreachable codes with their own handling (RFC 792, RFC
// 1191 §4).
const (
	icmpProtoUnreachable = 2
	icmpPortUnreachable  = 3
	icmpFragNeeded       = 4
)

// icmpError is an ICMP error message that quotes a TCP segment we sent.
type icmpError struct {
	Type, Code uint8
	// MTU is a Fragmentation Needed's next-hop MTU (RFC 1191 §4; 0 from
	// routers older than it); QuotedLen the quoted datagram's total length.
	MTU, QuotedLen uint16
	// Local and Remote are the quoted segment's source and destination:
	// ours and the peer's. SEQ is its sequence number.
	Local, Remote netip.AddrPort
	SEQ           Seq
}

// parseICMPError reads an IPv4 packet carrying an ICMP error about a TCP
// segment: the quoted IP header and at least the 8 octets after it
// (RFC 792: ports and sequence number). ok is false for anything else,
// a bad checksum included.
func parseICMPError(pkt []byte) (e icmpError, ok bool) {
	ip, err := ValidateIPv4(pkt)
	if err != nil || ip.Protocol() != protoICMP || ip.fragmented() {
		return e, false
	}
	m := []byte(ip[ip.HeaderLen():])
	if len(m) < 8 || Checksum(m) != 0 {
		return e, false
	}
	e.Type, e.Code = m[0], m[1]
	switch e.Type {
	case icmpDestUnreachable, icmpSourceQuench, icmpTimeExceeded, icmpParamProblem:
	default:
		return e, false
	}
	q := m[8:]
	if len(q) < ipv4MinLen || q[0]>>4 != 4 {
		return e, false
	}
	qh := IPv4Header(q)
	hl := qh.HeaderLen()
	if hl < ipv4MinLen || len(q) < hl+8 || qh.Protocol() != protoTCP {
		return e, false
	}
	t := q[hl:]
	e.Local = netip.AddrPortFrom(netip.AddrFrom4(qh.Src()), binary.BigEndian.Uint16(t))
	e.Remote = netip.AddrPortFrom(netip.AddrFrom4(qh.Dst()), binary.BigEndian.Uint16(t[2:]))
	e.SEQ = Seq(binary.BigEndian.Uint32(t[4:]))
	e.QuotedLen = uint16(qh.TotalLen())
	if e.Type == icmpDestUnreachable && e.Code == icmpFragNeeded {
		e.MTU = binary.BigEndian.Uint16(m[6:])
	}
	return e, true
}

// mtuPlateaus are RFC 1191 §7's table, for a Fragmentation Needed
// without a next-hop MTU: the next plateau below the quoted datagram.
var mtuPlateaus = []uint16{32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68}

// ICMP acts on an ICMP error about one of the connection's segments.
func (t *TCB) ICMP(e icmpError, now time.Time) {
	// RFC 5927 §4.1: act only when the quoted sequence number is of data
	// in flight (SND.UNA <= SEG.SEQ < SND.NXT); a forged message seldom
	// guesses one.
	if t.State == Closed || t.State == Listen || !t.SND.UNA.LessEq(e.SEQ) || !e.SEQ.LessThan(t.SND.NXT) {
		t.Counters.ICMPIgnored++
		return
	}
	switch {
	case e.Type == icmpSourceQuench:
		// RFC 9293 §3.9.2.2 (MUST-55): "TCP implementations MUST silently
		// discard any received ICMP Source Quench messages".
		t.Counters.ICMPIgnored++
	case e.Type == icmpDestUnreachable && (e.Code == icmpProtoUnreachable || e.Code == icmpPortUnreachable):
		// RFC 9293 §3.9.2.2 (SHLD-26): "Destination Unreachable -- codes
		// 2-4. These are hard error conditions, so TCP implementations
		// SHOULD abort the connection." Nobody is there to send a RST to.
		t.Counters.ICMPHardErrors++
		t.enterClosed(ErrRefused)
	case e.Type == icmpDestUnreachable && e.Code == icmpFragNeeded:
		// Code 4 is Path MTU Discovery's (RFC 1191 §6.3; RFC 9293 §3.7.2,
		// SHLD-6: the MSS follows the path's MTU): later segments fit it.
		t.Counters.ICMPFragNeeded++
		t.pathMTU(e.MTU, e.QuotedLen)
	default:
		// RFC 9293 §3.9.2.2 (MUST-56): codes 0, 1, 5 of Destination
		// Unreachable, Time Exceeded and Parameter Problem are soft
		// errors: "a TCP implementation MUST NOT abort the connection";
		// the application learns of it (SHLD-25) from Info.SoftError.
		t.Counters.ICMPSoftErrors++
		t.softErr = fmt.Sprintf("ICMP type %d code %d from the path to %v", e.Type, e.Code, e.Remote.Addr())
	}
}

// pathMTU lowers the send MSS to fit a path MTU learnt from a
// Fragmentation Needed (RFC 1191 §6.3); it never raises it. quoted is the
// length of the datagram that was too big, for a message without an MTU.
func (t *TCB) pathMTU(mtu, quoted uint16) {
	if mtu == 0 {
		// RFC 1191 §5: an old router; guess the next plateau down.
		for _, p := range mtuPlateaus {
			if p < quoted {
				mtu = p
				break
			}
		}
	}
	// RFC 791: every host takes 68-octet datagrams; RFC 1191 §3: never
	// below that. 40 octets go to the IPv4 and TCP headers.
	if mtu < 68 {
		t.Counters.ICMPIgnored++
		return
	}
	if mss := max(int(mtu)-40-t.optionSpace()-t.ipOptionSpace(), 1); mss < t.sndMSS {
		t.sndMSS = mss
	}
}
