package handmade

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// FuzzDecode: Decode never panics, and what it accepts re-encodes to a
// packet that decodes to the same segment.
func FuzzDecode(f *testing.F) {
	var e Encoder
	for _, s := range []Segment{
		{Src: addrA, Dst: addrB, SEQ: 0xfffffff0, Flags: SYN, WND: 65535, Options: fullOptions()},
		{Src: addrB, Dst: addrA, SEQ: 1, ACK: 2, Flags: PSH | ACK, Payload: []byte("payload")},
		{Src: addrA, Dst: addrB, Flags: RST},
	} {
		f.Add(e.Append(nil, &s))
	}
	f.Add([]byte{0x45, 0, 0, 20})
	// Source-routed datagrams (RFC 791 §3.1): a completed route, one that
	// goes on past us, and a malformed one.
	routed := Segment{Src: addrA, Dst: addrB, SEQ: 3, Flags: SYN, WND: 100}
	routed.Route, _ = NewSourceRoute(false, netip.MustParseAddr("198.18.0.10"), netip.MustParseAddr("198.18.0.11"))
	onTheWay := e.Append(nil, &routed)
	f.Add(onTheWay)
	// At addrB: NOP, LSRR of length 11 with the pointer past it, and the
	// two gateways recorded in it.
	arrived := append([]byte(nil), onTheWay...)
	copy(arrived[ipv4Dst:], addrB.Addr().AsSlice())
	arrived[23] = 12
	copy(arrived[24:], routed.Route.hops[0][:])
	copy(arrived[28:], routed.Route.hops[1][:])
	IPv4Header(arrived).setChecksum()
	f.Add(arrived)
	bad := append([]byte(nil), arrived...)
	bad[22] = 200 // a length past the header
	IPv4Header(bad).setChecksum()
	f.Add(bad)
	quoted := Segment{Src: addrB, Dst: addrA, SEQ: 7, Flags: ACK}
	f.Add(icmpFrom(addrA, addrB, 3, 4, 1000, e.Append(nil, &quoted)))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		// An ICMP error is read without panicking, and only when it quotes
		// a TCP header's ports and sequence number.
		if ie, ok := parseICMPError(pkt); ok && (!ie.Local.IsValid() || !ie.Remote.IsValid()) {
			t.Fatalf("ICMP error parsed without the quoted addresses: %+v", ie)
		}
		var s Segment
		if Decode(pkt, &s) != nil {
			return
		}
		if s.Options.Malformed || s.Options.Unknown > 0 {
			return // what we skip is not re-encoded
		}
		var e2 Encoder
		again := e2.Append(nil, &s)
		if !s.Route.IsZero() {
			// A routed segment goes to its first hop; it is the same
			// segment once it has come by its route.
			again = forward(t, again)
		}
		var s2 Segment
		if err := Decode(again, &s2); err != nil {
			t.Fatalf("re-encoded segment does not decode: %v", err)
		}
		if string(s2.Payload) != string(s.Payload) {
			t.Fatalf("payload changed in the round trip")
		}
		s2.Payload, s.Payload = nil, nil
		if s.TTL == 0 {
			s.TTL = defaultTTL // a zero TTL asks the encoder for its default
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip:\n%+v\n%+v", s, s2)
		}
	})
}

// discardLink is a wire.Link that swallows writes and never delivers.
type discardLink struct{ writes int }

func (d *discardLink) ReadPacket(ctx context.Context, b []byte) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}
func (d *discardLink) WritePacket(ctx context.Context, p []byte) error { d.writes++; return nil }
func (d *discardLink) MTU() int                                        { return 1500 }
func (d *discardLink) Close() error                                    { return nil }

// FuzzSeedConnInput feeds arbitrary, well-formed segments (any flags,
// sequence and acknowledgement numbers around the connection's, any window
// and payload) to a seed connection in each state, then a few more: no
// panic, and the invariants of the control block hold after every segment.
func FuzzSeedConnInput(f *testing.F) {
	f.Add(uint8(Established), uint8(ACK|PSH), int32(0), int32(1), uint16(100), []byte("abc"), uint8(2))
	f.Add(uint8(Listen), uint8(SYN), int32(0), int32(0), uint16(0), []byte{}, uint8(1))
	f.Add(uint8(SynReceived), uint8(RST), int32(1), int32(0), uint16(0), []byte{}, uint8(1))
	f.Add(uint8(FinWait1), uint8(FIN|ACK), int32(0), int32(2), uint16(9), []byte("x"), uint8(3))
	f.Add(uint8(Established), uint8(ACK), int32(5), int32(1), uint16(0), []byte("later"), uint8(4))
	f.Fuzz(func(t *testing.T, state, flags uint8, seqOff, ackOff int32, wnd uint16, payload []byte, repeat uint8) {
		st := State(state % uint8(TimeWait+1))
		c := newSeedConn(&discardLink{}, SeedConfig{ISS: wrapISS(15)}, "server")
		c.local, c.remote = addrB, addrA
		now := time.Unix(0, 0)
		c.state = st
		const irs = Seq(0xffffff00)
		if st != Listen && st != Closed {
			c.ISS, c.IRS = 0xfffffff0, irs
			c.SND.UNA, c.SND.NXT, c.SND.WND = c.ISS.Add(1), c.ISS.Add(1), 65535
			c.RCV.NXT, c.RCV.WND = irs.Add(1), 65535
			c.peerMSS = 1460
			c.data = []byte("outgoing data")
			c.passive = true
			if st == SynSent || st == SynReceived {
				c.SND.UNA = c.ISS
			}
			if st == FinWait1 || st == Closing || st == LastAck {
				c.SND.NXT = c.SND.NXT.Add(1)
			}
		}
		var e Encoder
		for i := 0; i <= int(repeat%8); i++ {
			seg := Segment{Src: addrA, Dst: addrB, SEQ: irs.Add(1).Add(uint32(seqOff) * uint32(i+1)), ACK: c.ISS.Add(uint32(ackOff)),
				Flags: Flags(flags), WND: wnd, Payload: payload, Options: Options{MSS: wnd, HasMSS: flags&1 == 0}}
			c.input(e.Append(nil, &seg), now)
			c.output(now)
			now = now.Add(time.Duration(i) * 7 * time.Millisecond)
			c.onTimer(now)
			if c.SND.NXT.LessThan(c.SND.UNA) {
				t.Fatalf("SND.UNA %d > SND.NXT %d in %v", c.SND.UNA, c.SND.NXT, c.state)
			}
			if sent := c.SND.NXT.Sub(c.ISS.Add(1)); c.state.synchronized() && int(sent) > len(c.data)+1 {
				t.Fatalf("SND.NXT %d is past the data and FIN", sent)
			}
			if c.ooo.Len() > maxHeld || c.delivered < 0 {
				t.Fatalf("out-of-order queue holds %d, delivered %d", c.ooo.Len(), c.delivered)
			}
			if c.state > TimeWait {
				t.Fatalf("state %d", c.state)
			}
			if c.state == Listen && c.remote != (netip.AddrPort{}) && st != Listen {
				t.Fatalf("back in LISTEN still bound to %v", c.remote)
			}
			if c.err != nil {
				return
			}
		}
	})
}
