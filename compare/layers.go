package compare

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Flags are the TCP control bits.
type Flags uint8

// The TCP control bits (RFC 9293 §3.1, RFC 3168 for ECE and CWR).
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

// allButPSH is the default FlagsMask of a match: whether a DUT sets PSH is
// its own packetizing choice (RFC 9293 §3.9.1.2, MAY-16), and Linux and
// gVisor set it differently.
const allButPSH = ^PSH

// Has reports whether every bit of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// String renders f as tcpdump does: "S." is SYN-ACK, "." a bare ACK,
// "none" no bits at all.
func (f Flags) String() string {
	if f == 0 {
		return "none"
	}
	var b strings.Builder
	for _, x := range []struct {
		f Flags
		c byte
	}{{FIN, 'F'}, {SYN, 'S'}, {RST, 'R'}, {PSH, 'P'}, {ACK, '.'}, {URG, 'U'}, {ECE, 'E'}, {CWR, 'W'}} {
		if f&x.f != 0 {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}

// Ptr returns a pointer to v: the way to set a field of a layer.
func Ptr[V any](v V) *V { return &v }

// IPv4 is the IPv4 layer of a segment the bench sends or expects. A nil
// field is the connection's default when sending (the bench's and the
// DUT's addresses, TTL 64, DF set) and matches anything when expecting.
type IPv4 struct {
	Src, Dst *netip.Addr
	TOS      *uint8
	TTL      *uint8
	ID       *uint16
	DF       *bool
	// Options are IPv4 options to send (each with its type, length and
	// data; padded to a word); ignored when expecting.
	Options []IPv4Option
}

// IPv4Option is one IPv4 option (RFC 791 §3.1): Type alone for the
// one-octet options (0 EOL, 1 NOP), else Type, a length, and Data.
type IPv4Option struct {
	Type uint8
	Data []byte
}

// TCP is the TCP layer of a segment the bench sends or expects. A nil
// field is the connection's default when sending and matches anything
// when expecting.
type TCP struct {
	SrcPort, DstPort *uint16
	// Seq and Ack are absolute sequence numbers; the connection's helpers
	// (Conn.SndNxt, Conn.RcvNxt, Conn.ISS, Conn.IRS) give the values a
	// scenario means. Send defaults: Seq is SND.NXT of the bench, Ack is
	// RCV.NXT when the ACK flag is set and 0 otherwise.
	Seq, Ack *uint32
	// Flags defaults to ACK when sending. When expecting, the bits under
	// FlagsMask (default: all but PSH) must equal Flags.
	Flags, FlagsMask *Flags
	// Window defaults to the connection's advertised window (Conn.Window).
	Window *uint16
	Urgent *uint16
	// Options is the option set. Sending: nil is the connection's default
	// (its SYN options on a SYN, timestamps once negotiated otherwise),
	// non-nil is exactly these options. Expecting: nil matches anything,
	// non-nil is compared as Options.Match says.
	Options *Options
	// Payload is the segment text. Expecting: nil matches anything, non-nil
	// (empty included) must be equal.
	Payload []byte
	// BadChecksum, when sending, corrupts the TCP checksum after it was
	// computed (MUST-3 scenarios). Ignored when expecting.
	BadChecksum bool
}

// OptionKinds is a set of TCP option kinds, for Options.Present and
// Options.Absent.
type OptionKinds uint16

// Option kinds the bench knows (RFC 9293 §3.2, RFC 7323, RFC 2018).
const (
	MSSOpt OptionKinds = 1 << iota
	WSOpt
	SACKOKOpt
	SACKOpt
	TSOpt
)

func (k OptionKinds) String() string {
	var names []string
	for _, x := range []struct {
		k OptionKinds
		n string
	}{{MSSOpt, "mss"}, {WSOpt, "wscale"}, {SACKOKOpt, "sackOK"}, {SACKOpt, "sack"}, {TSOpt, "TS"}} {
		if k&x.k != 0 {
			names = append(names, x.n)
		}
	}
	return strings.Join(names, ",")
}

// Timestamps is the RFC 7323 timestamps option.
type Timestamps struct{ Val, Ecr uint32 }

// SACKBlock is one RFC 2018 block: the octets [Left, Right).
type SACKBlock struct{ Left, Right uint32 }

// RawOption is an option the bench does not interpret.
type RawOption struct {
	Kind uint8
	Data []byte
}

// Options is a parsed set of TCP options: order and NOP/EOL padding are not
// part of it. On a received Segment a non-nil field (true for SACKOK) is an
// option that was present.
type Options struct {
	MSS    *uint16
	WS     *uint8
	SACKOK bool
	TS     *Timestamps
	SACK   []SACKBlock
	// Unknown holds options of kinds the bench does not parse; when
	// sending they are written as they are (after the known ones).
	Unknown []RawOption

	// Present and Absent are for matching only: the kinds that must be
	// present (any value) or absent.
	Present, Absent OptionKinds
	// TSEcr, for matching only, is the echo reply the timestamps option
	// must carry, whatever its TSval.
	TSEcr *uint32
}

// Kinds is the set of kinds present in o.
func (o *Options) Kinds() OptionKinds {
	var k OptionKinds
	if o.MSS != nil {
		k |= MSSOpt
	}
	if o.WS != nil {
		k |= WSOpt
	}
	if o.SACKOK {
		k |= SACKOKOpt
	}
	if o.SACK != nil {
		k |= SACKOpt
	}
	if o.TS != nil {
		k |= TSOpt
	}
	return k
}

// Match reports why got (a received option set) does not satisfy o, or ""
// when it does. Fields set in o must be present in got with that value
// (SACK blocks compared as a set); nil fields and false SACKOK are
// wildcards; Present and Absent constrain the kinds.
func (o *Options) Match(got *Options) string {
	have := got.Kinds()
	var why []string
	if miss := o.Present &^ have; miss != 0 {
		why = append(why, "missing "+miss.String())
	}
	if extra := o.Absent & have; extra != 0 {
		why = append(why, "unexpected "+extra.String())
	}
	if o.MSS != nil && (got.MSS == nil || *got.MSS != *o.MSS) {
		why = append(why, fmt.Sprintf("mss %s, want %d", optString(got.MSS), *o.MSS))
	}
	if o.WS != nil && (got.WS == nil || *got.WS != *o.WS) {
		why = append(why, fmt.Sprintf("wscale %s, want %d", optString(got.WS), *o.WS))
	}
	if o.SACKOK && !got.SACKOK {
		why = append(why, "missing sackOK")
	}
	if o.TS != nil && (got.TS == nil || *got.TS != *o.TS) {
		why = append(why, fmt.Sprintf("TS %s, want val %d ecr %d", tsString(got.TS), o.TS.Val, o.TS.Ecr))
	}
	if o.TSEcr != nil && (got.TS == nil || got.TS.Ecr != *o.TSEcr) {
		why = append(why, fmt.Sprintf("TS %s, want ecr %d", tsString(got.TS), *o.TSEcr))
	}
	if o.SACK != nil && !sameBlocks(o.SACK, got.SACK) {
		why = append(why, fmt.Sprintf("sack %v, want %v", got.SACK, o.SACK))
	}
	return strings.Join(why, "; ")
}

func sameBlocks(a, b []SACKBlock) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(x SACKBlock) uint64 { return uint64(x.Left)<<32 | uint64(x.Right) }
	ka, kb := make([]uint64, len(a)), make([]uint64, len(b))
	for i := range a {
		ka[i], kb[i] = key(a[i]), key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

func optString[V any](v *V) string {
	if v == nil {
		return "absent"
	}
	return fmt.Sprint(*v)
}

func tsString(ts *Timestamps) string {
	if ts == nil {
		return "absent"
	}
	return fmt.Sprintf("val %d ecr %d", ts.Val, ts.Ecr)
}

// String renders o as tcpdump does, in a fixed order.
func (o *Options) String() string {
	var parts []string
	if o.MSS != nil {
		parts = append(parts, fmt.Sprintf("mss %d", *o.MSS))
	}
	if o.SACKOK {
		parts = append(parts, "sackOK")
	}
	if o.TS != nil {
		parts = append(parts, "TS "+tsString(o.TS))
	}
	if o.WS != nil {
		parts = append(parts, fmt.Sprintf("wscale %d", *o.WS))
	}
	if o.SACK != nil {
		var bs []string
		for _, b := range o.SACK {
			bs = append(bs, fmt.Sprintf("{%d:%d}", b.Left, b.Right))
		}
		parts = append(parts, "sack "+strings.Join(bs, ""))
	}
	for _, u := range o.Unknown {
		parts = append(parts, fmt.Sprintf("opt-%d:%x", u.Kind, u.Data))
	}
	if o.Present != 0 {
		parts = append(parts, "present:"+o.Present.String())
	}
	if o.Absent != 0 {
		parts = append(parts, "absent:"+o.Absent.String())
	}
	if o.TSEcr != nil {
		parts = append(parts, fmt.Sprintf("TS ecr %d", *o.TSEcr))
	}
	return "<" + strings.Join(parts, ",") + ">"
}

// IPRoute is an IPv4 source route option (RFC 791 §3.1: Loose or Strict
// Source and Record Route) as a segment carried it.
type IPRoute struct {
	Strict bool
	// Pointer is the option's pointer: the octet (from 1, the option's
	// type) of the next address to visit; past the data, the route is
	// completed and Addrs is the route recorded on the way.
	Pointer uint8
	Addrs   []netip.Addr
}

// Completed reports whether the datagram has been everywhere the route
// names: the pointer is past the addresses (RFC 791 §3.1).
func (r *IPRoute) Completed() bool { return int(r.Pointer) > 3+4*len(r.Addrs) }

func (r *IPRoute) String() string {
	kind := "LSRR"
	if r.Strict {
		kind = "SSRR"
	}
	return fmt.Sprintf("%s ptr %d %v", kind, r.Pointer, r.Addrs)
}

// Segment is an IPv4 TCP segment the bench received (or sent), parsed.
type Segment struct {
	At time.Time // when the bench read or wrote it
	// Src and Dst are the connection's ends. Dst is the final destination:
	// the header's destination field, unless a source route not yet
	// completed names the gateway the datagram goes to first (IPDst) and
	// puts the destination last in its route.
	Src, Dst netip.AddrPort
	IPDst    netip.Addr
	// Route is the IPv4 source route option the datagram carries; nil for
	// none.
	Route            *IPRoute
	TOS, TTL         uint8
	ID               uint16
	DF               bool
	Seq, Ack         uint32
	Flags            Flags
	Window           uint16
	Urgent           uint16
	Options          Options
	Payload          []byte
	IPChecksumOK     bool
	ChecksumOK       bool
	Raw              []byte // the whole IPv4 packet
	fromDUT, fromTB  bool
	seqBase, ackBase *uint32 // for relative rendering, set by the connection
}

// Len is SEG.LEN: the octets of text plus one each for SYN and FIN.
func (s *Segment) Len() uint32 {
	n := uint32(len(s.Payload))
	if s.Flags&SYN != 0 {
		n++
	}
	if s.Flags&FIN != 0 {
		n++
	}
	return n
}

// End is SEG.SEQ+SEG.LEN.
func (s *Segment) End() uint32 { return s.Seq + s.Len() }

// String renders s in tcpdump's style, sequence numbers relative to the
// ISNs of the connection that saw it where known.
func (s *Segment) String() string {
	var b strings.Builder
	switch {
	case s.fromDUT:
		b.WriteString("DUT>TB ")
	case s.fromTB:
		b.WriteString("TB>DUT ")
	default:
		fmt.Fprintf(&b, "%v>%v ", s.Src, s.Dst)
	}
	fmt.Fprintf(&b, "[%s] seq %s", s.Flags, rel(s.Seq, s.seqBase))
	if s.Flags&ACK != 0 || s.Ack != 0 {
		fmt.Fprintf(&b, " ack %s", rel(s.Ack, s.ackBase))
	}
	fmt.Fprintf(&b, " win %d", s.Window)
	if s.Urgent != 0 || s.Flags&URG != 0 {
		fmt.Fprintf(&b, " urg %d", s.Urgent)
	}
	if k := s.Options.Kinds(); k != 0 || len(s.Options.Unknown) > 0 {
		o := s.Options
		if s.ackBase != nil && len(o.SACK) > 0 {
			// SACK blocks name octets of the acknowledged direction.
			o.SACK = make([]SACKBlock, len(s.Options.SACK))
			for i, x := range s.Options.SACK {
				o.SACK[i] = SACKBlock{x.Left - *s.ackBase, x.Right - *s.ackBase}
			}
		}
		b.WriteString(" " + o.String())
	}
	fmt.Fprintf(&b, " len %d", len(s.Payload))
	if s.Route != nil {
		fmt.Fprintf(&b, " [IP %v to %v]", s.Route, s.IPDst)
	}
	if !s.ChecksumOK {
		b.WriteString(" BAD-TCP-CHECKSUM")
	}
	if !s.IPChecksumOK {
		b.WriteString(" BAD-IP-CHECKSUM")
	}
	return b.String()
}

// rel renders v relative to base, or absolute (marked) with no base.
func rel(v uint32, base *uint32) string {
	if base == nil {
		return fmt.Sprintf("%d(abs)", v)
	}
	return fmt.Sprint(v - *base)
}

// match reports why s does not satisfy ip and m, or "" when it does. The
// relative bases render sequence numbers the way the scenario thinks of
// them.
func match(ip *IPv4, m *TCP, s *Segment) string {
	var why []string
	add := func(f string, a ...any) { why = append(why, fmt.Sprintf(f, a...)) }
	if ip != nil {
		if ip.Src != nil && *ip.Src != s.Src.Addr() {
			add("src %v, want %v", s.Src.Addr(), *ip.Src)
		}
		if ip.Dst != nil && *ip.Dst != s.Dst.Addr() {
			add("dst %v, want %v", s.Dst.Addr(), *ip.Dst)
		}
		if ip.TOS != nil && *ip.TOS != s.TOS {
			add("tos %#x, want %#x", s.TOS, *ip.TOS)
		}
		if ip.TTL != nil && *ip.TTL != s.TTL {
			add("ttl %d, want %d", s.TTL, *ip.TTL)
		}
		if ip.ID != nil && *ip.ID != s.ID {
			add("id %d, want %d", s.ID, *ip.ID)
		}
		if ip.DF != nil && *ip.DF != s.DF {
			add("DF %t, want %t", s.DF, *ip.DF)
		}
	}
	if m.SrcPort != nil && *m.SrcPort != s.Src.Port() {
		add("sport %d, want %d", s.Src.Port(), *m.SrcPort)
	}
	if m.DstPort != nil && *m.DstPort != s.Dst.Port() {
		add("dport %d, want %d", s.Dst.Port(), *m.DstPort)
	}
	if m.Flags != nil {
		mask := allButPSH
		if m.FlagsMask != nil {
			mask = *m.FlagsMask
		}
		if s.Flags&mask != *m.Flags&mask {
			add("flags [%s], want [%s]", s.Flags, *m.Flags&mask)
		}
	}
	if m.Seq != nil && *m.Seq != s.Seq {
		add("seq %s, want %s", rel(s.Seq, s.seqBase), rel(*m.Seq, s.seqBase))
	}
	if m.Ack != nil && *m.Ack != s.Ack {
		add("ack %s, want %s", rel(s.Ack, s.ackBase), rel(*m.Ack, s.ackBase))
	}
	if m.Window != nil && *m.Window != s.Window {
		add("win %d, want %d", s.Window, *m.Window)
	}
	if m.Urgent != nil && *m.Urgent != s.Urgent {
		add("urg %d, want %d", s.Urgent, *m.Urgent)
	}
	if m.Options != nil {
		if w := m.Options.Match(&s.Options); w != "" {
			add("options: %s", w)
		}
	}
	if m.Payload != nil && !bytes.Equal(m.Payload, s.Payload) {
		add("payload of %d octets %q, want %d octets %q", len(s.Payload), abbrev(s.Payload), len(m.Payload), abbrev(m.Payload))
	}
	return strings.Join(why, ", ")
}

func abbrev(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

// describe renders a match for error text, sequence numbers relative to
// the given bases (nil: absolute).
func describe(ip *IPv4, m *TCP, seqBase, ackBase *uint32) string {
	var parts []string
	if m.Flags != nil {
		f := *m.Flags
		if m.FlagsMask != nil {
			f &= *m.FlagsMask
			parts = append(parts, fmt.Sprintf("[%s] (of %s)", f, *m.FlagsMask))
		} else {
			parts = append(parts, fmt.Sprintf("[%s]", f))
		}
	} else {
		parts = append(parts, "[any]")
	}
	if m.Seq != nil {
		parts = append(parts, "seq "+rel(*m.Seq, seqBase))
	}
	if m.Ack != nil {
		parts = append(parts, "ack "+rel(*m.Ack, ackBase))
	}
	if m.Window != nil {
		parts = append(parts, fmt.Sprintf("win %d", *m.Window))
	}
	if m.Urgent != nil {
		parts = append(parts, fmt.Sprintf("urg %d", *m.Urgent))
	}
	if m.Options != nil {
		parts = append(parts, m.Options.String())
	}
	if m.Payload != nil {
		parts = append(parts, fmt.Sprintf("len %d", len(m.Payload)))
	}
	if ip != nil {
		parts = append(parts, "(with IPv4 constraints)")
	}
	return strings.Join(parts, " ")
}
