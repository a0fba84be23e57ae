package compare

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Scenarios about IPv4 source routes (RFC 9293 §3.9.2.1, after RFC 1122
// §4.2.3.8 and §3.2.1.8(c)): the bench stands in for the gateways of the
// routes, so a segment the DUT sends to one of them, with the bench last
// in its route, is the bench's. Only loose routes (LSRR) are used: over
// the TUN links a forwarding kernel lies between the bench and the
// in-process stacks, and Linux forwards a loose route whose next hop is
// not itself unchanged (ip_options_rcv_srr), where a strict one would be
// refused there (its next hop is not directly connected). Linux, as the
// DUT and as that router, has accept_source_route pinned to 1
// (LinuxSysctls, TUNSysctls): by default a Linux host drops every
// source-routed datagram.
var routeScenarios = []Scenario{
	{ID: "SR-01", Title: "A SYN that came by a source route is answered by the reversed route, and so is every later segment",
		RFC: "RFC 9293 §3.9.2.1; RFC 1122 §4.2.3.8, §3.2.1.8(c)", Requirements: []string{"MUST-53"}, Run: synReturnRoute},
	{ID: "SR-02", Title: "A later segment with a different source route changes the route of the connection's segments",
		RFC: "RFC 9293 §3.9.2.1; RFC 1122 §4.2.3.8", Requirements: []string{"SHLD-24"}, Run: laterRouteOverrides},
	{ID: "SR-03", Title: "connect() with a source route: the SYN and every later segment take it, whatever route the peer's segments bring",
		RFC: "RFC 9293 §3.9.2.1; RFC 1122 §4.2.3.8", Requirements: []string{"MUST-51", "MUST-52"}, Run: appRoute},
}

// srGateways are the gateways of the source-route scenarios: addresses on
// the DUT's /24 that nobody owns. On the TUN links the forwarding kernel
// routes them to the bench (startOverTUN); the linux DUT reaches them on
// its TUN, its /24's link.
var srGateways = []netip.Addr{
	netip.MustParseAddr("198.18.0.10"), netip.MustParseAddr("198.18.0.11"), netip.MustParseAddr("198.18.0.12"),
}

// routeMismatch says how seg fails to take the loose source route through
// hops to the bench: sent to hops[0], an LSRR with its pointer at the
// first address (4), the other hops and the bench after it (RFC 1122
// §3.2.1.8(c), case (A): "{>>G2, G3, ... Gn, D}"); "" when it takes it.
func routeMismatch(t *T, seg *Segment, hops []netip.Addr) string {
	want := append(slices.Clone(hops[1:]), t.TB.local)
	switch r := seg.Route; {
	case r == nil:
		return fmt.Sprintf("no source route (sent straight to %v)", seg.IPDst)
	case r.Strict:
		return "a strict route (SSRR) where the loose one came"
	case seg.IPDst != hops[0] || r.Pointer != 4 || !slices.Equal(r.Addrs, want):
		return fmt.Sprintf("sent to %v with %v", seg.IPDst, r)
	}
	return ""
}

// routeWanted renders the route routeMismatch wants.
func routeWanted(t *T, hops []netip.Addr) string {
	return fmt.Sprintf("sent to %v with LSRR ptr 4 %v", hops[0], append(slices.Clone(hops[1:]), t.TB.local))
}

// reversed is hops in the other order.
func reversed(hops []netip.Addr) []netip.Addr {
	r := slices.Clone(hops)
	slices.Reverse(r)
	return r
}

// routedSYN sends the bench's SYN as it arrives by a loose source route
// through came, and returns the DUT's SYN-ACK.
func routedSYN(t *T, c *Conn, came []netip.Addr) *Segment {
	if _, err := c.SendIP(t.ctx, IPv4{Options: []IPv4Option{{Type: 1}, arrivedLSRR(came...)}}, TCP{Flags: Ptr(SYN)}); err != nil {
		t.Fatal(err)
	}
	return t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(c.ISS() + 1)})
}

// noReturnRoute is the allowed difference of a DUT whose SYN-ACK to a
// source-routed SYN goes straight back.
const noReturnRoute = "answers a source-routed SYN straight back, without the return route (gVisor: its IPv4 layer passes LSRR up as an option it does not know, and its TCP keeps no route); RFC 9293 §3.9.2.1 MUST-53 saves the return route"

// synReturnRoute: "When a TCP connection is OPENed passively and a packet
// arrives with a completed IP Source Route Option (containing a return
// route), TCP MUST save the return route and use it for all segments sent
// on this connection (MUST-53)" (RFC 9293 §3.9.2.1); RFC 1122
// §3.2.1.8(c): the recorded route "will be reversed and used to form a
// return source route". The bench's SYN arrives by way of two gateways,
// recorded {G1, G2}: the SYN-ACK goes to G2 with {>>G1, TB}, and so does
// the DUT's text after a handshake whose ACK came by no route.
func synReturnRoute(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	came := srGateways[:2]
	back := reversed(came)
	synAck := routedSYN(t, c, came)
	direct := synAck.Route == nil && synAck.IPDst == t.TB.local
	if why := routeMismatch(t, synAck, back); why != "" && !direct {
		t.Fail("the SYN-ACK "+routeWanted(t, back), why)
	}
	t.Send(c, TCP{})
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	noDelay(t, s)
	next := c.RcvNxt()
	write(t, s, []byte("routed"))
	seg := t.Expect(c, TCP{Seq: Ptr(next), Payload: []byte("routed")})
	t.Send(c, TCP{Ack: Ptr(next + 6)})
	if direct {
		if seg.Route != nil {
			t.Fail("the same route as the SYN-ACK, none", seg.String())
		}
		t.Allowed(noReturnRoute)
		return
	}
	if why := routeMismatch(t, seg, back); why != "" {
		t.Fail("the text "+routeWanted(t, back)+", as the SYN-ACK", why)
	}
}

// laterRouteOverrides: "If a different source route arrives in a later
// segment, the later definition SHOULD override the earlier one
// (SHLD-24)" (RFC 9293 §3.9.2.1). The SYN comes by G1; then text comes
// by G2 and G3: the DUT's ACK of it, and its own text, go to G3 with
// {>>G2, TB}. A DUT that keeps the SYN's route throughout (Linux saves a
// connection's IP options once, from the SYN: tcp_v4_save_options) is
// recorded as the departure of a reference stack.
func laterRouteOverrides(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	first, later := srGateways[:1], srGateways[1:3]
	synAck := routedSYN(t, c, first)
	if synAck.Route == nil && synAck.IPDst == t.TB.local {
		t.Send(c, TCP{})
		s := t.Accepted(acc)
		t.Cleanup(func() { s.Close() })
		t.Allowed(noReturnRoute)
		return
	}
	if why := routeMismatch(t, synAck, first); why != "" {
		t.Fail("the SYN-ACK "+routeWanted(t, first), why)
	}
	t.Send(c, TCP{})
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	noDelay(t, s)
	text := []byte("by another way")
	if _, err := c.SendIP(t.ctx, IPv4{Options: []IPv4Option{{Type: 1}, arrivedLSRR(later...)}}, TCP{Flags: Ptr(ACK | PSH), Payload: text}); err != nil {
		t.Fatal(err)
	}
	ack := t.Expect(c, TCP{Ack: Ptr(c.SndNxt())})
	t.Recv(s, text)
	next := c.RcvNxt()
	write(t, s, []byte("reply"))
	seg := t.Expect(c, TCP{Seq: Ptr(next), Payload: []byte("reply")})
	t.Send(c, TCP{Ack: Ptr(next + 5)})
	back := reversed(later)
	switch {
	case routeMismatch(t, ack, back) == "" && routeMismatch(t, seg, back) == "":
	case routeMismatch(t, ack, first) == "" && routeMismatch(t, seg, first) == "":
		t.Allowed("keeps the SYN's return route when a later segment brings another (Linux saves a connection's IP options once, from the SYN: tcp_v4_save_options); RFC 9293 §3.9.2.1 SHLD-24: the later SHOULD override")
	default:
		t.Fail("the ACK and the text "+routeWanted(t, back), fmt.Sprintf("%v; %v", ack, seg))
	}
}

// appRoute: "An application MUST be able to specify a source route when
// it actively opens a TCP connection (MUST-51), and this MUST take
// precedence over a source route received in a datagram (MUST-52)" (RFC
// 9293 §3.9.2.1). connect() with a loose route through G1 and G2: the SYN
// goes to G1 with {>>G2, TB}. The bench's SYN-ACK, and later its text,
// arrive by another route (G3): the DUT's ACKs and its text still take
// the application's.
func appRoute(t *T) {
	c := t.TB.Listen(BenchPort)
	hops := srGateways[:2]
	p := t.DUT.ConnectVia(netip.AddrPortFrom(t.TB.local, BenchPort), hops)
	t.Cleanup(p.Cancel)
	if _, err := p.Wait(10 * time.Millisecond); errors.Is(err, errors.ErrUnsupported) {
		t.Allowed("the application cannot give connect() a source route (gVisor's netstack has no IP_OPTIONS); RFC 9293 §3.9.2.1 MUST-51")
		return
	} else if err != nil && !errors.Is(err, ErrPending) {
		t.Fatal(fmt.Errorf("connect() with a source route: %w", err))
	}
	syn := t.Expect(c, TCP{Flags: Ptr(SYN)})
	if why := routeMismatch(t, syn, hops); why != "" {
		t.Fail("the SYN "+routeWanted(t, hops), why)
	}
	other := []IPv4Option{{Type: 1}, arrivedLSRR(srGateways[2])}
	if _, err := c.SendIP(t.ctx, IPv4{Options: other}, TCP{Flags: Ptr(SYN | ACK), Options: &Options{MSS: Ptr[uint16](1460)}}); err != nil {
		t.Fatal(err)
	}
	ack := t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(syn.Seq + 1), Ack: Ptr(c.ISS() + 1)})
	if why := routeMismatch(t, ack, hops); why != "" {
		t.Fail("the ACK of a SYN-ACK that came by another route "+routeWanted(t, hops), why)
	}
	s, err := p.Wait(t.Timing.Reply)
	if err != nil {
		t.Fail("connect() to succeed after the handshake", err.Error())
	}
	t.Cleanup(func() { s.Close() })
	noDelay(t, s)
	text := []byte("by G3")
	if _, err := c.SendIP(t.ctx, IPv4{Options: other}, TCP{Flags: Ptr(ACK | PSH), Payload: text}); err != nil {
		t.Fatal(err)
	}
	ack = t.Expect(c, TCP{Ack: Ptr(c.SndNxt())})
	t.Recv(s, text)
	next := c.RcvNxt()
	write(t, s, []byte("by mine"))
	seg := t.Expect(c, TCP{Seq: Ptr(next), Payload: []byte("by mine")})
	t.Send(c, TCP{Ack: Ptr(next + 7)})
	for _, x := range []*Segment{ack, seg} {
		if why := routeMismatch(t, x, hops); why != "" {
			t.Fail("every segment "+routeWanted(t, hops)+", the application's route (MUST-52)", fmt.Sprintf("%v: %s", x, why))
		}
	}
}
