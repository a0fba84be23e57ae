package handmade

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// Gateways of the source-route tests, and a route through them.
var (
	gw1, gw2, gw3 = netip.MustParseAddr("198.18.0.10"), netip.MustParseAddr("198.18.0.11"), netip.MustParseAddr("198.18.0.12")
)

func route(t *testing.T, strict bool, hops ...netip.Addr) SourceRoute {
	t.Helper()
	r, err := NewSourceRoute(strict, hops...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// srOption is a raw source route option: type, length, pointer, the
// addresses.
func srOption(typ, ptr byte, addrs ...netip.Addr) []byte {
	b := []byte{typ, byte(3 + 4*len(addrs)), ptr}
	for _, a := range addrs {
		a4 := a.As4()
		b = append(b, a4[:]...)
	}
	return b
}

// RFC 791 §3.1 and RFC 1122 §3.2.1.8(c): a completed route (pointer past
// the length) is the route the datagram came by; one still going names
// us as a gateway, which we are not; malformed options drop the datagram.
func TestParseIPv4Options(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []byte
		want SourceRoute
		err  error
	}{
		{"none", nil, SourceRoute{}, nil},
		{"NOPs and EOL", []byte{1, 1, 0, 0}, SourceRoute{}, nil},
		{"unknown option skipped", []byte{0x9e, 4, 0, 0}, SourceRoute{}, nil},
		{"completed LSRR", append([]byte{1}, srOption(ipOptLSRR, 12, gw1, gw2)...), route(t, false, gw1, gw2), nil},
		{"completed SSRR", append([]byte{1}, srOption(ipOptSSRR, 8, gw3)...), route(t, true, gw3), nil},
		{"empty route", append([]byte{1}, srOption(ipOptLSRR, 4)...), SourceRoute{}, nil},
		{"after an unknown option", append([]byte{0x9e, 2}, append(srOption(ipOptLSRR, 8, gw1), 0, 0)...), route(t, false, gw1), nil},
		{"route not completed", append([]byte{1}, srOption(ipOptLSRR, 8, gw1, gw2)...), SourceRoute{}, ErrSourceRouted},
		{"pointer at the start", append([]byte{1}, srOption(ipOptLSRR, 4, gw1)...), SourceRoute{}, ErrSourceRouted},
		{"pointer below 4", append([]byte{1}, srOption(ipOptLSRR, 3, gw1)...), SourceRoute{}, ErrBadIPOptions},
		{"pointer off a slot", append([]byte{1}, srOption(ipOptLSRR, 9, gw1, gw2)...), SourceRoute{}, ErrBadIPOptions},
		{"pointer far past the end", append([]byte{1}, srOption(ipOptLSRR, 16, gw1)...), SourceRoute{}, ErrBadIPOptions},
		{"length not 3+4n", []byte{ipOptLSRR, 5, 6, 1, 2, 0, 0, 0}, SourceRoute{}, ErrBadIPOptions},
		{"length below 3", []byte{ipOptSSRR, 2, 0, 0}, SourceRoute{}, ErrBadIPOptions},
		{"two routes", append(srOption(ipOptLSRR, 8, gw1), append(srOption(ipOptSSRR, 8, gw2), 0, 0)...), SourceRoute{}, ErrBadIPOptions},
		{"length past the header", []byte{0x9e, 9, 0, 0}, SourceRoute{}, ErrBadIPOptions},
		{"length below 2", []byte{0x9e, 1, 0, 0}, SourceRoute{}, ErrBadIPOptions},
		{"type without length", []byte{1, 1, 1, 0x9e}, SourceRoute{}, ErrBadIPOptions},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseIPv4Options(c.opts)
			if !errors.Is(err, c.err) || got != c.want {
				t.Fatalf("got %v, %v; want %v, %v", got, err, c.want, c.err)
			}
		})
	}
}

// RFC 1122 §3.2.1.8(c): the recorded route reversed is the return route;
// "it MUST be correctly formed even if the recorded route included the
// source host (see case (B))".
func TestSourceRoute_Return(t *testing.T) {
	src, dst := peerAddr.Addr().As4(), ourAddr.Addr().As4()
	// Case (A): the datagram from S to D via G1, G2, G3 arrives with
	// {G1, G2, G3 >>}; the reply goes to G3 with {>>G2, G1, S}.
	if got, want := route(t, false, gw1, gw2, gw3).Return(src, dst), route(t, false, gw3, gw2, gw1); got != want {
		t.Fatalf("case (A): %v, want %v", got, want)
	}
	// Case (B): {S, G1, G2 >>}: S is not a hop of the way back.
	if got, want := route(t, true, peerAddr.Addr(), gw1, gw2).Return(src, dst), route(t, true, gw2, gw1); got != want {
		t.Fatalf("case (B): %v, want %v", got, want)
	}
	if got := route(t, false, peerAddr.Addr()).Return(src, dst); !got.IsZero() {
		t.Fatalf("a route of the source alone: %v, want none", got)
	}
}

func TestNewSourceRoute_Invalid(t *testing.T) {
	ten := make([]netip.Addr, MaxRouteHops+1)
	for i := range ten {
		ten[i] = gw1
	}
	for _, hops := range [][]netip.Addr{ten, {netip.MustParseAddr("224.0.0.1")}, {netip.MustParseAddr("::1")}} {
		if _, err := NewSourceRoute(false, hops...); err == nil {
			t.Errorf("NewSourceRoute(%v) accepted", hops)
		}
	}
	if _, err := NewSourceRoute(false, ten[:MaxRouteHops]...); err != nil {
		t.Errorf("%d hops: %v", MaxRouteHops, err)
	}
}

// forward carries pkt along its source route as each gateway would (RFC
// 791 §3.1, loose source route): the address at the pointer becomes the
// destination, the gateway records itself in its place, the pointer moves
// on. What arrives is the datagram as its destination sees it.
func forward(t *testing.T, pkt []byte) []byte {
	t.Helper()
	p := append([]byte(nil), pkt...)
	hl := int(p[0]&0xf) * 4
	opts := p[ipv4MinLen:hl]
	for len(opts) > 0 && opts[0] == ipOptNOP {
		opts = opts[1:]
	}
	if len(opts) < 3 || (opts[0] != ipOptLSRR && opts[0] != ipOptSSRR) {
		t.Fatalf("no source route in % x", p[ipv4MinLen:hl])
	}
	for ptr := int(opts[2]); ptr <= int(opts[1]); ptr = int(opts[2]) {
		var gw [4]byte
		copy(gw[:], p[ipv4Dst:ipv4Dst+4])
		copy(p[ipv4Dst:], opts[ptr-1:ptr+3])
		copy(opts[ptr-1:], gw[:])
		opts[2] += 4
	}
	IPv4Header(p).setChecksum()
	return p
}

// Encoder.Append sends a routed segment to its first hop with the rest
// of the route and the final destination in the option (RFC 1122
// §3.2.1.8(c) case (A)), and sums the TCP checksum over the final
// destination: once carried along, it decodes to the same segment, with
// the route it came by.
func TestEncoder_SourceRoute(t *testing.T) {
	for _, r := range []SourceRoute{route(t, false, gw1), route(t, true, gw1, gw2, gw3)} {
		s := Segment{Src: ourAddr, Dst: peerAddr, SEQ: 7, ACK: 9, Flags: ACK | PSH, WND: 100, Payload: []byte("routed"), TTL: 64, Route: r}
		var e Encoder
		pkt := e.Append(nil, &s)
		h := IPv4Header(pkt)
		if h.Dst() != r.hops[0] || h.HeaderLen() != ipv4MinLen+r.optionLen() || h.HeaderLen()%4 != 0 {
			t.Fatalf("%v: header to %v, %d octets", r, netip.AddrFrom4(h.Dst()), h.HeaderLen())
		}
		if last := pkt[h.HeaderLen()-4 : h.HeaderLen()]; netip.AddrFrom4([4]byte(last)) != peerAddr.Addr() {
			t.Fatalf("%v: the option ends with %v, want the final destination", r, netip.AddrFrom4([4]byte(last)))
		}
		var got Segment
		if err := Decode(pkt, &got); !errors.Is(err, ErrSourceRouted) {
			t.Fatalf("%v: decoded at the first hop: %v", r, err)
		}
		if err := Decode(forward(t, pkt), &got); err != nil {
			t.Fatalf("%v: at the destination: %v", r, err)
		}
		if string(got.Payload) != string(s.Payload) {
			t.Fatalf("%v: payload %q", r, got.Payload)
		}
		got.Payload, s.Payload = nil, nil
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("%v: round trip\n%+v\n%+v", r, got, s)
		}
	}
}

// ---- The source route of a connection: RFC 9293 §3.9.2.1 ----

// MUST-53: "When a TCP connection is OPENed passively and a packet arrives
// with a completed IP Source Route Option (containing a return route),
// TCP MUST save the return route and use it for all segments sent on
// this connection."
func TestListen_SourceRoutedSYN_ReturnRoute(t *testing.T) {
	h := newHarness(exactCfg())
	h.TCB = newTCB(h.cfg, ourAddr, peerAddr, ourISS, h.now)
	came := route(t, false, gw1, gw2)
	back := route(t, false, gw2, gw1)
	syn := h.segment(sg{SEQ: peerISS, Flags: SYN, Opts: &Options{MSS: 1460, HasMSS: true}, Route: came})
	h.openPassive(&syn, h.now)
	expect(t, h, sg{SEQ: ourISS, ACK: peerISS.Add(1), Flags: SYN | ACK, Opts: &Options{MSS: 1460, HasMSS: true}, Route: back})
	send(t, h, sg{SEQ: peerISS.Add(1), ACK: ourISS.Add(1), Flags: ACK})
	wantState(t, h, Established)
	// Later segments, without a route of their own, leave it: data and
	// its ACK go back the same way.
	send(t, h, sg{SEQ: peerISS.Add(1), ACK: ourISS.Add(1), Flags: ACK | PSH, Len: 10})
	h.tick(h.cfg.DelayedACKTimeout)
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: peerISS.Add(11), Flags: ACK, Route: back})
	// RFC 9293 §3.7.1 (MUST-16): the option comes out of the send MSS.
	h.Write(bytesOf(3000, 1), h.now)
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: peerISS.Add(11), Flags: ACK, Len: 1460 - back.optionLen(), Route: back})
}

// SHLD-24: "If a different source route arrives in a later segment, the
// later definition SHOULD override the earlier one" — once the segment
// passes the sequence check; an unacceptable one changes nothing.
func TestEstablished_LaterSourceRoute_Overrides(t *testing.T) {
	h := established(t, exactCfg())
	first, later := route(t, false, gw1), route(t, true, gw2, gw3)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | PSH, Len: 5, Route: first})
	h.tick(h.cfg.DelayedACKTimeout)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(5), Flags: ACK, Route: first.Return(peerAddr.Addr().As4(), ourAddr.Addr().As4())})
	h.rcv = h.rcv.Add(5)
	// Out of the window: answered by the route in use, and not taken.
	send(t, h, sg{SEQ: h.rcv.Add(1 << 20), ACK: h.snd, Flags: ACK | PSH, Len: 5, Route: later})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, Route: first})
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | PSH, Len: 5, Route: later})
	h.tick(h.cfg.DelayedACKTimeout)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(5), Flags: ACK, Route: route(t, true, gw3, gw2)})
}

// MUST-51: "An application MUST be able to specify a source route when it
// actively opens a TCP connection", and MUST-52: "this MUST take
// precedence over a source route received in a datagram".
func TestSynSent_ApplicationRoute_Precedence(t *testing.T) {
	h := newHarness(exactCfg())
	h.TCB = newTCB(h.cfg, ourAddr, peerAddr, ourISS, h.now)
	mine := route(t, false, gw1, gw2)
	h.SetSourceRoute(mine)
	h.openActive(h.now)
	expect(t, h, sg{SEQ: ourISS, Flags: SYN, Opts: synOpts(*h.cfg, 1460, 5), Route: mine})
	send(t, h, sg{SEQ: peerISS, ACK: ourISS.Add(1), Flags: SYN | ACK, Opts: &Options{MSS: 1460, HasMSS: true}, Route: route(t, false, gw3)})
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: peerISS.Add(1), Flags: ACK, Route: mine})
	send(t, h, sg{SEQ: peerISS.Add(1), ACK: ourISS.Add(1), Flags: ACK | PSH, Len: 3, Route: route(t, true, gw3)})
	h.tick(h.cfg.DelayedACKTimeout)
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: peerISS.Add(4), Flags: ACK, Route: mine})
}

// A segment for no connection is answered along the reversed route too
// (RFC 1122 §3.2.1.8(c): "used to form a return source route for reply
// datagrams").
func TestStack_ResetFollowsReturnRoute(t *testing.T) {
	link := &captureLink{out: make(chan []byte, 4)}
	s, err := NewStack(link, ourAddr.Addr(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var e Encoder
	syn := Segment{Src: peerAddr, Dst: ourAddr, SEQ: 5, Flags: SYN, Route: route(t, false, gw1, gw2)}
	s.input(forward(t, e.Append(nil, &syn)), false)
	pkt := link.wait(t)
	h := IPv4Header(pkt)
	if h.Dst() != gw2.As4() {
		t.Fatalf("RST sent to %v, want the last gateway %v", netip.AddrFrom4(h.Dst()), gw2)
	}
	var rst Segment
	if err := Decode(forward(t, pkt), &rst); err != nil || !rst.Flags.Has(RST) || rst.Dst != peerAddr || rst.Route != route(t, false, gw2, gw1) {
		t.Fatalf("reply %v (route %v), %v", &rst, rst.Route, err)
	}
	if got := binary.BigEndian.Uint32(pkt[h.HeaderLen()-4:]); got != binary.BigEndian.Uint32(peerAddr.Addr().AsSlice()) {
		t.Fatalf("the route ends at %#x, not the SYN's source", got)
	}
}

// captureLink is a link that delivers nothing and hands every packet the
// stack writes to wait.
type captureLink struct{ out chan []byte }

func (l *captureLink) ReadPacket(ctx context.Context, b []byte) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

func (l *captureLink) WritePacket(ctx context.Context, p []byte) error {
	l.out <- append([]byte(nil), p...)
	return nil
}
func (l *captureLink) MTU() int     { return 1500 }
func (l *captureLink) Close() error { return nil }

// wait returns the next packet written; a stack that writes none within
// a minute fails the test (a bound on a hang, not a measurement).
func (l *captureLink) wait(t *testing.T) []byte {
	t.Helper()
	select {
	case p := <-l.out:
		return p
	case <-time.After(time.Minute):
		t.Fatal("the stack wrote nothing")
		return nil
	}
}
