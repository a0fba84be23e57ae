package handmade

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// TCPHeader is a view over a TCP header and what follows it (RFC 9293
// §3.1). Accessors assume the view passed the checks in Decode.
type TCPHeader []byte

const (
	tcpMinLen   = 20
	tcpSrcPort  = 0
	tcpDstPort  = 2
	tcpSeq      = 4
	tcpAck      = 8
	tcpDataOff  = 12
	tcpFlags    = 13
	tcpWindow   = 14
	tcpChecksum = 16
	tcpUrgent   = 18
)

func (h TCPHeader) SrcPort() uint16  { return binary.BigEndian.Uint16(h[tcpSrcPort:]) }
func (h TCPHeader) DstPort() uint16  { return binary.BigEndian.Uint16(h[tcpDstPort:]) }
func (h TCPHeader) Seq() Seq         { return Seq(binary.BigEndian.Uint32(h[tcpSeq:])) }
func (h TCPHeader) Ack() Seq         { return Seq(binary.BigEndian.Uint32(h[tcpAck:])) }
func (h TCPHeader) HeaderLen() int   { return int(h[tcpDataOff]>>4) * 4 }
func (h TCPHeader) Flags() Flags     { return Flags(h[tcpFlags]) }
func (h TCPHeader) Window() uint16   { return binary.BigEndian.Uint16(h[tcpWindow:]) }
func (h TCPHeader) Checksum() uint16 { return binary.BigEndian.Uint16(h[tcpChecksum:]) }
func (h TCPHeader) Urgent() uint16   { return binary.BigEndian.Uint16(h[tcpUrgent:]) }
func (h TCPHeader) Options() []byte  { return h[tcpMinLen:h.HeaderLen()] }
func (h TCPHeader) Payload() []byte  { return h[h.HeaderLen():] }

// Flags are the TCP control bits (RFC 9293 §3.1). The four reserved bits
// of the data-offset octet are not part of it: RFC 9293 §3.1 ("Rsrvd")
// says they must be zero when sent and ignored when received, and Encoder
// sends zeros.
type Flags uint8

const (
	FIN Flags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// Has reports whether every bit of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// String names the flags the way the article does: SYN, SYN-ACK, PSH-ACK,
// FIN-ACK, RST-ACK; "NONE" for no bits.
func (f Flags) String() string {
	if f == 0 {
		return "NONE"
	}
	names := [...]struct {
		f Flags
		n string
	}{{SYN, "SYN"}, {FIN, "FIN"}, {RST, "RST"}, {PSH, "PSH"}, {URG, "URG"}, {ECE, "ECE"}, {CWR, "CWR"}, {ACK, "ACK"}}
	var b strings.Builder
	for _, n := range names {
		if f.Has(n.f) {
			if b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteString(n.n)
		}
	}
	return b.String()
}

// TCP option kinds (IANA "TCP Option Kind Numbers").
const (
	optEOL       = 0
	optNOP       = 1
	optMSS       = 2
	optWScale    = 3
	optSACKPerm  = 4
	optSACK      = 5
	optTimestamp = 8
)

// SACKBlock is one block of a SACK option (RFC 2018 §3): [Left, Right).
type SACKBlock struct{ Left, Right Seq }

// Options are the TCP options tcplab understands. The Has fields say which
// were present. Unknown options are skipped by their length (RFC 9293
// §3.1, MUST-6 and MUST-68) and counted in Unknown.
type Options struct {
	MSS           uint16
	HasMSS        bool
	WScale        uint8
	HasWScale     bool
	SACKPermitted bool
	TSVal, TSEcr  uint32
	HasTimestamps bool
	SACK          [4]SACKBlock
	NumSACK       int
	Unknown       int
	// Malformed is set when an option's length is impossible (below 2, past
	// the header, or wrong for its kind). Parsing stops there and the
	// segment is kept with the options read so far: RFC 9293 §3.1 MUST-7
	// asks that an illegal option length not crash the receiver, and Linux
	// (tcp_parse_options) likewise stops at a "silly" length and keeps the
	// segment.
	Malformed bool
}

// parseOptions reads b, the option bytes of a TCP header.
func parseOptions(b []byte) (o Options) {
	for len(b) > 0 {
		kind := b[0]
		if kind == optEOL {
			return o
		}
		if kind == optNOP {
			b = b[1:]
			continue
		}
		if len(b) < 2 || int(b[1]) < 2 || int(b[1]) > len(b) {
			o.Malformed = true
			return o
		}
		n := int(b[1])
		v := b[2:n]
		switch {
		case kind == optMSS && n == 4:
			o.MSS, o.HasMSS = binary.BigEndian.Uint16(v), true
		case kind == optWScale && n == 3:
			o.WScale, o.HasWScale = v[0], true
		case kind == optSACKPerm && n == 2:
			o.SACKPermitted = true
		case kind == optTimestamp && n == 10:
			o.TSVal, o.TSEcr, o.HasTimestamps = binary.BigEndian.Uint32(v), binary.BigEndian.Uint32(v[4:]), true
		case kind == optSACK && (n-2)%8 == 0 && n > 2:
			for i := 0; i+8 <= len(v) && o.NumSACK < len(o.SACK); i += 8 {
				o.SACK[o.NumSACK] = SACKBlock{Seq(binary.BigEndian.Uint32(v[i:])), Seq(binary.BigEndian.Uint32(v[i+4:]))}
				o.NumSACK++
			}
		case kind == optMSS || kind == optWScale || kind == optSACKPerm || kind == optTimestamp || kind == optSACK:
			o.Malformed = true
			return o
		default:
			o.Unknown++
		}
		b = b[n:]
	}
	return o
}

// appendOptions appends o in the order Linux sends them (MSS, SACK-permitted
// with timestamps, window scale, SACK blocks), NOP-aligned to 4 octets.
func appendOptions(b []byte, o *Options) []byte {
	if o.HasMSS {
		b = append(b, optMSS, 4, byte(o.MSS>>8), byte(o.MSS))
	}
	switch {
	case o.SACKPermitted && o.HasTimestamps:
		b = append(b, optSACKPerm, 2)
		b = appendTimestamps(b, o)
	case o.HasTimestamps:
		b = append(b, optNOP, optNOP)
		b = appendTimestamps(b, o)
	case o.SACKPermitted:
		b = append(b, optNOP, optNOP, optSACKPerm, 2)
	}
	if o.HasWScale {
		b = append(b, optNOP, optWScale, 3, o.WScale)
	}
	if o.NumSACK > 0 {
		b = append(b, optNOP, optNOP, optSACK, byte(2+8*o.NumSACK))
		for _, s := range o.SACK[:o.NumSACK] {
			b = binary.BigEndian.AppendUint32(b, uint32(s.Left))
			b = binary.BigEndian.AppendUint32(b, uint32(s.Right))
		}
	}
	return b
}

func appendTimestamps(b []byte, o *Options) []byte {
	b = append(b, optTimestamp, 10)
	b = binary.BigEndian.AppendUint32(b, o.TSVal)
	return binary.BigEndian.AppendUint32(b, o.TSEcr)
}

// Segment is a decoded TCP segment with the RFC 9293 §3.3.1 names, plus
// the IPv4 addresses it travelled between.
type Segment struct {
	Src, Dst netip.AddrPort
	SEQ, ACK Seq
	Flags    Flags
	WND      uint16
	UP       uint16
	Options  Options
	// Payload aliases the decoded packet.
	Payload []byte
	// TTL and TOS are the IPv4 header's Time to Live and Type of Service
	// (the DS field and ECN, RFC 2474, RFC 3168): read by Decode, written
	// by Encoder.Append, where a zero TTL means defaultTTL.
	TTL, TOS uint8
	// Route is the IPv4 source route of the datagram (RFC 791 §3.1;
	// RFC 9293 §3.9.2.1): read by Decode from a completed route (the
	// gateways it came by from Src), written by Encoder.Append (the
	// gateways it is to pass on the way to Dst). Dst is the final
	// destination either way.
	Route SourceRoute
}

// LEN is SEG.LEN: the octets of data plus one for SYN and one for FIN
// (RFC 9293 §3.3.1).
func (s *Segment) LEN() uint32 {
	n := uint32(len(s.Payload))
	if s.Flags.Has(SYN) {
		n++
	}
	if s.Flags.Has(FIN) {
		n++
	}
	return n
}

// String is a one-line summary in the article's words.
func (s *Segment) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s > %s seq=%d", s.Flags, s.Src, s.Dst, s.SEQ)
	if s.Flags.Has(ACK) {
		fmt.Fprintf(&b, " ack=%d", s.ACK)
	}
	fmt.Fprintf(&b, " win=%d len=%d", s.WND, len(s.Payload))
	if o := s.Options; o.HasMSS {
		fmt.Fprintf(&b, " mss=%d", o.MSS)
	}
	return b.String()
}

// Decode parses one IPv4 packet carrying TCP into s, verifying the IPv4
// header checksum and the TCP checksum over the pseudo-header (RFC 9293
// §3.1, MUST-2 and MUST-3). On error s is unspecified; the error is one of
// the Err values of this package. Decode does not allocate.
func Decode(pkt []byte, s *Segment) error {
	ip, err := ValidateIPv4(pkt)
	if err != nil {
		return err
	}
	if ip.fragmented() {
		return ErrFragment
	}
	if ip.Protocol() != protoTCP {
		return ErrNotTCP
	}
	t := TCPHeader(ip[ip.HeaderLen():])
	if len(t) < tcpMinLen {
		return ErrTruncated
	}
	if hl := t.HeaderLen(); hl < tcpMinLen || hl > len(t) {
		return ErrBadTCPHeader
	}
	var route SourceRoute
	if hl := ip.HeaderLen(); hl > ipv4MinLen {
		// RFC 1122 §3.2.1.8(c): a completed source route "MUST be passed
		// up to the transport layer".
		if route, err = parseIPv4Options(ip[ipv4MinLen:hl]); err != nil {
			return err
		}
	}
	src, dst := ip.Src(), ip.Dst()
	if checksumFold(checksumAdd(pseudoHeaderSum(src, dst, len(t)), t)) != 0 {
		return ErrBadTCPChecksum
	}
	*s = Segment{
		Src:     netip.AddrPortFrom(netip.AddrFrom4(src), t.SrcPort()),
		Dst:     netip.AddrPortFrom(netip.AddrFrom4(dst), t.DstPort()),
		SEQ:     t.Seq(),
		ACK:     t.Ack(),
		Flags:   t.Flags(),
		WND:     t.Window(),
		UP:      t.Urgent(),
		Options: parseOptions(t.Options()),
		Payload: t.Payload(),
		TTL:     ip.TTL(),
		TOS:     ip.TOS(),
		Route:   route,
	}
	return nil
}

// Encoder appends whole IPv4 packets; it numbers them with its own IP ID
// counter. The zero value is ready to use.
type Encoder struct{ id uint16 }

// defaultTTL is the IPv4 TTL of every packet we send (RFC 1700's 64, what
// Linux uses).
const defaultTTL = 64

// Append appends s as an IPv4 packet with DF set and both checksums
// computed, and returns the extended buffer. Src and Dst must be IPv4.
// A segment with a Route goes to its first hop, the rest of the route in
// a source route option (SourceRoute.appendOption).
func (e *Encoder) Append(b []byte, s *Segment) []byte {
	start := len(b)
	e.id++
	ttl := s.TTL
	if ttl == 0 {
		ttl = defaultTTL
	}
	ihl := byte((ipv4MinLen + s.Route.optionLen()) / 4)
	b = append(b, 0x40|ihl, s.TOS, 0, 0, byte(e.id>>8), byte(e.id), byte(ipv4FlagDF>>8), 0, ttl, protoTCP, 0, 0)
	src, dst := s.Src.Addr().As4(), s.Dst.Addr().As4()
	b = append(b, src[:]...)
	if s.Route.IsZero() {
		b = append(b, dst[:]...)
	} else {
		b = append(b, s.Route.hops[0][:]...)
		b = s.Route.appendOption(b, dst)
	}
	tcpStart := len(b)
	b = binary.BigEndian.AppendUint16(b, s.Src.Port())
	b = binary.BigEndian.AppendUint16(b, s.Dst.Port())
	b = binary.BigEndian.AppendUint32(b, uint32(s.SEQ))
	b = binary.BigEndian.AppendUint32(b, uint32(s.ACK))
	b = append(b, 0, byte(s.Flags))
	b = binary.BigEndian.AppendUint16(b, s.WND)
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint16(b, s.UP)
	b = appendOptions(b, &s.Options)
	for (len(b)-tcpStart)%4 != 0 {
		b = append(b, optEOL)
	}
	b[tcpStart+tcpDataOff] = byte((len(b)-tcpStart)/4) << 4
	b = append(b, s.Payload...)
	binary.BigEndian.PutUint16(b[start+ipv4TotalLen:], uint16(len(b)-start))
	IPv4Header(b[start:]).setChecksum()
	t := b[tcpStart:]
	// The pseudo-header names the final destination, which is what the
	// header's destination field holds when the datagram arrives (RFC
	// 9293 §3.1; each hop of a source route puts the next address there,
	// RFC 791 §3.1), as Linux's ip_queue_xmit sends to the first hop
	// while TCP sums over the connection's address.
	binary.BigEndian.PutUint16(t[tcpChecksum:], checksumFold(checksumAdd(pseudoHeaderSum(src, dst, len(t)), t)))
	return b
}
