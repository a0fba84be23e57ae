package handmade

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// IPv4Header is a view over the bytes of an IPv4 header (RFC 791 §3.1).
// Accessors assume the view passed ValidateIPv4.
type IPv4Header []byte

const (
	ipv4MinLen = 20
	protoTCP   = 6

	ipv4VerIHL   = 0
	ipv4TOS      = 1
	ipv4TotalLen = 2
	ipv4ID       = 4
	ipv4FlagsOff = 6
	ipv4TTL      = 8
	ipv4Proto    = 9
	ipv4Checksum = 10
	ipv4Src      = 12
	ipv4Dst      = 16

	ipv4FlagDF      = 0x4000
	ipv4FlagMF      = 0x2000
	ipv4FragOffMask = 0x1fff
)

func (h IPv4Header) Version() uint8   { return h[ipv4VerIHL] >> 4 }
func (h IPv4Header) HeaderLen() int   { return int(h[ipv4VerIHL]&0xf) * 4 }
func (h IPv4Header) TotalLen() int    { return int(binary.BigEndian.Uint16(h[ipv4TotalLen:])) }
func (h IPv4Header) ID() uint16       { return binary.BigEndian.Uint16(h[ipv4ID:]) }
func (h IPv4Header) TTL() uint8       { return h[ipv4TTL] }
func (h IPv4Header) TOS() uint8       { return h[ipv4TOS] }
func (h IPv4Header) Protocol() uint8  { return h[ipv4Proto] }
func (h IPv4Header) Checksum() uint16 { return binary.BigEndian.Uint16(h[ipv4Checksum:]) }
func (h IPv4Header) Src() (a [4]byte) { copy(a[:], h[ipv4Src:]); return a }
func (h IPv4Header) Dst() (a [4]byte) { copy(a[:], h[ipv4Dst:]); return a }
func (h IPv4Header) fragmented() bool {
	return binary.BigEndian.Uint16(h[ipv4FlagsOff:])&(ipv4FlagMF|ipv4FragOffMask) != 0
}
func (h IPv4Header) checksumValid() bool { return Checksum(h[:h.HeaderLen()]) == 0 }
func (h IPv4Header) setChecksum() {
	h[ipv4Checksum], h[ipv4Checksum+1] = 0, 0
	binary.BigEndian.PutUint16(h[ipv4Checksum:], Checksum(h[:h.HeaderLen()]))
}

// ValidateIPv4 checks that b holds one whole IPv4 packet whose header
// accessors cannot panic, and returns the packet trimmed to its total
// length (a link may pad). It does not check the protocol.
func ValidateIPv4(b []byte) (IPv4Header, error) {
	if len(b) < ipv4MinLen {
		return nil, ErrTruncated
	}
	h := IPv4Header(b)
	if h.Version() != 4 {
		return nil, ErrNotIPv4
	}
	hl, tl := h.HeaderLen(), h.TotalLen()
	if hl < ipv4MinLen || hl > len(b) || tl < hl {
		return nil, ErrBadIPHeader
	}
	if tl > len(b) {
		return nil, ErrTruncated
	}
	h = h[:tl]
	if !h.checksumValid() {
		return nil, ErrBadIPChecksum
	}
	return h, nil
}

// IPv4 option types this stack interprets (RFC 791 §3.1): the ends of the
// list and the two source routes. Every other option is skipped by its
// length (RFC 1122 §3.2.1.8: "silently ignore any IP option it does not
// implement"; RFC 9293 §3.9.2.1, MUST-50).
const (
	ipOptEOL  = 0
	ipOptNOP  = 1
	ipOptLSRR = 131 // Loose Source and Record Route
	ipOptSSRR = 137 // Strict Source and Record Route
	// ipv4MaxOptions is the option space of an IPv4 header: a 4-bit IHL
	// counts at most 60 octets, 20 of them fixed.
	ipv4MaxOptions = 40
)

// MaxRouteHops is the most gateways an IPv4 source route can name: its
// option has a type, a length and a pointer, then 4 octets per address
// (RFC 791 §3.1), in 40 octets. Sent, the first hop is the header's
// destination and the final destination takes the last slot; received,
// the slots hold the gateways the datagram passed.
const MaxRouteHops = (ipv4MaxOptions - 3) / 4

// SourceRoute is an IPv4 source route (RFC 791 §3.1, Loose or Strict
// Source and Record Route): the gateways a datagram passes between its
// source and its final destination, in the order it passes them. On a
// Segment that Decode read it is the route the datagram came by (the
// recorded route of a completed option); on one that Encoder.Append
// writes, the route it is to take. The zero value is no route.
type SourceRoute struct {
	// Strict is SSRR: each hop must be directly connected to the one
	// before; otherwise LSRR, where gateways may lie between them.
	Strict bool
	n      uint8
	hops   [MaxRouteHops][4]byte
}

// NewSourceRoute makes a route through hops, in order, for an
// application's active OPEN (Stack.DialWith): RFC 9293 §3.9.2.1 (MUST-51).
// Every hop must be a unicast IPv4 address, and at most MaxRouteHops.
func NewSourceRoute(strict bool, hops ...netip.Addr) (SourceRoute, error) {
	r := SourceRoute{Strict: strict}
	if len(hops) > MaxRouteHops {
		return SourceRoute{}, fmt.Errorf("handmade: a source route of %d hops: an IPv4 header holds at most %d", len(hops), MaxRouteHops)
	}
	for _, h := range hops {
		if !h.Is4() || !validSource(h) {
			return SourceRoute{}, fmt.Errorf("handmade: source route hop %v is not a unicast IPv4 address", h)
		}
		r.hops[r.n] = h.As4()
		r.n++
	}
	return r, nil
}

// IsZero reports whether r is no route.
func (r SourceRoute) IsZero() bool { return r.n == 0 }

// Hops are the gateways of r, in order.
func (r SourceRoute) Hops() []netip.Addr {
	out := make([]netip.Addr, r.n)
	for i := range out {
		out[i] = netip.AddrFrom4(r.hops[i])
	}
	return out
}

func (r SourceRoute) String() string {
	if r.IsZero() {
		return "no route"
	}
	kind := "LSRR"
	if r.Strict {
		kind = "SSRR"
	}
	return fmt.Sprintf("%s %v", kind, r.Hops())
}

// Return is the route back to src of a datagram that came from src to
// dst by r: the recorded route reversed (RFC 1122 §3.2.1.8(c): "This
// recorded route will be reversed and used to form a return source route
// for reply datagrams"). A recorded route that includes the source host
// (RFC 1122's case (B), a sender that put itself first) or the
// destination is still turned into a correct one: "When a return source
// route is built, it MUST be correctly formed even if the recorded route
// included the source host", so neither end is a hop of it.
func (r SourceRoute) Return(src, dst [4]byte) SourceRoute {
	back := SourceRoute{Strict: r.Strict}
	for i := int(r.n) - 1; i >= 0; i-- {
		if h := r.hops[i]; h != src && h != dst && back.n < MaxRouteHops {
			back.hops[back.n] = h
			back.n++
		}
	}
	return back
}

// optionLen is what r takes in an IPv4 header: a NOP, then the option
// (type, length, pointer) with the hops after the first and the final
// destination, so that the addresses fall on word boundaries.
func (r SourceRoute) optionLen() int {
	if r.IsZero() {
		return 0
	}
	return 4 + 4*int(r.n)
}

// appendOption appends r's option for a datagram to dst: the first hop
// goes in the header's destination field, the rest and dst in the option,
// the pointer at the first of them (RFC 791 §3.1; RFC 1122 §3.2.1.8(c)'s
// case (A), "{>>G2, G3, ... Gn, D} <--- CORRECT").
func (r SourceRoute) appendOption(b []byte, dst [4]byte) []byte {
	typ := byte(ipOptLSRR)
	if r.Strict {
		typ = ipOptSSRR
	}
	b = append(b, ipOptNOP, typ, byte(3+4*int(r.n)), 4)
	for _, h := range r.hops[1:r.n] {
		b = append(b, h[:]...)
	}
	return append(b, dst[:]...)
}

// Reasons a datagram's IPv4 options make it undeliverable.
var (
	// ErrBadIPOptions: an option whose length runs past the header or
	// is below 2, a source route whose length or pointer RFC 791 §3.1
	// does not allow, or two source routes ("Appears at most once in a
	// datagram"). Linux (ip_options_compile) and gVisor
	// (processIPOptions) drop such a datagram too.
	ErrBadIPOptions = errors.New("malformed IPv4 options")
	// ErrSourceRouted: a datagram whose source route is not completed
	// names us as a gateway on its way. RFC 1122 §3.3.5: a host "MAY be
	// able to act as an intermediate hop in a source route"; this one
	// does not forward, and drops it. Deviation: RFC 1122 §3.3.5 has a
	// forwarding host send Destination Unreachable (Source Route
	// Failed); we send no ICMP at all.
	ErrSourceRouted = errors.New("IPv4 source route not completed: this host does not forward")
)

// parseIPv4Options reads the option octets of an IPv4 header addressed to
// us, and returns the source route the datagram came by, if any (RFC
// 1122 §3.2.1.8(c): a completed route "MUST be passed up to the transport
// layer"). It does not allocate.
func parseIPv4Options(b []byte) (SourceRoute, error) {
	var r SourceRoute
	seen := false
	for len(b) > 0 {
		typ := b[0]
		if typ == ipOptEOL {
			break
		}
		if typ == ipOptNOP {
			b = b[1:]
			continue
		}
		if len(b) < 2 || b[1] < 2 || int(b[1]) > len(b) {
			return SourceRoute{}, ErrBadIPOptions
		}
		n := int(b[1])
		if typ == ipOptLSRR || typ == ipOptSSRR {
			// RFC 791 §3.1: type, length, pointer ("The smallest legal
			// value is 4"), then route data of 4-octet addresses; at most
			// once in a datagram.
			if seen || n < 3 || (n-3)%4 != 0 {
				return SourceRoute{}, ErrBadIPOptions
			}
			ptr := int(b[2])
			if ptr < 4 || (ptr-4)%4 != 0 || ptr > n+1 {
				return SourceRoute{}, ErrBadIPOptions
			}
			if ptr <= n {
				// "If the pointer is greater than the length, the source
				// route is empty (and the recorded route full) and the
				// routing is to be based on the destination address
				// field": below it, the route goes on past us.
				return SourceRoute{}, ErrSourceRouted
			}
			seen = true
			r.Strict = typ == ipOptSSRR
			for i := 3; i+4 <= n && r.n < MaxRouteHops; i += 4 {
				copy(r.hops[r.n][:], b[i:i+4])
				r.n++
			}
		}
		b = b[n:]
	}
	return r, nil
}
