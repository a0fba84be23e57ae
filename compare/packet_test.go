package compare

import (
	"net/netip"
	"strings"
	"testing"
)

func testSegment() *wireSegment {
	return &wireSegment{
		src:    netip.MustParseAddrPort("198.18.0.1:50000"),
		dst:    netip.MustParseAddrPort("198.18.0.2:8080"),
		ttl:    64,
		df:     true,
		seq:    0xfffffff0, // crosses the wrap with the payload below
		ack:    7,
		flags:  SYN | ACK,
		window: 1234,
		options: Options{
			MSS: Ptr[uint16](1460), WS: Ptr[uint8](7), SACKOK: true,
			TS:      &Timestamps{Val: 11, Ecr: 22},
			Unknown: []RawOption{{Kind: 253, Data: []byte{1, 2}}},
		},
		payload: []byte("0123456789abcdefghij"),
	}
}

// TestBuildParse round-trips every field and option through gopacket.
func TestBuildParse(t *testing.T) {
	w := testSegment()
	p, err := build(w)
	if err != nil {
		t.Fatal(err)
	}
	s, err := parse(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Src != w.src || s.Dst != w.dst || s.TTL != 64 || !s.DF || s.Seq != w.seq || s.Ack != 7 ||
		s.Flags != SYN|ACK || s.Window != 1234 || string(s.Payload) != string(w.payload) {
		t.Fatalf("parsed %+v", s)
	}
	if !s.ChecksumOK || !s.IPChecksumOK {
		t.Fatal("checksums of a built packet do not verify")
	}
	o := s.Options
	if o.MSS == nil || *o.MSS != 1460 || o.WS == nil || *o.WS != 7 || !o.SACKOK || o.TS == nil || *o.TS != (Timestamps{11, 22}) ||
		len(o.Unknown) != 1 || o.Unknown[0].Kind != 253 {
		t.Fatalf("options %s", o.String())
	}
	if got := s.End(); got != w.seq+uint32(len(w.payload))+1 {
		t.Fatalf("End = %d", got)
	}
}

// TestBuildFreshLayers: a segment without options after one whose options
// needed padding carries no stray padding (FIELD-NOTES: gopacket's reused
// layers.TCP keeps its Padding).
func TestBuildFreshLayers(t *testing.T) {
	w := testSegment()
	w.options = Options{MSS: Ptr[uint16](1460), SACKOK: true} // 6 octets: 2 of padding
	if _, err := build(w); err != nil {
		t.Fatal(err)
	}
	w.options = Options{}
	w.payload = nil
	p, err := build(w)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 40 {
		t.Fatalf("a bare segment is %d octets, want 40", len(p))
	}
}

// TestBadChecksum: BadChecksum makes a packet the bench itself rejects,
// and only the TCP checksum is wrong.
func TestBadChecksum(t *testing.T) {
	for i := range 200 {
		w := testSegment()
		w.seq += uint32(i) * 7919 // vary the checksum, 0x0000 and 0xffff included sooner or later
		w.badChecksum = true
		p, err := build(w)
		if err != nil {
			t.Fatal(err)
		}
		s, err := parse(p)
		if err != nil {
			t.Fatal(err)
		}
		if s.ChecksumOK || !s.IPChecksumOK {
			t.Fatalf("seq %d: TCP checksum ok %v, IP checksum ok %v", w.seq, s.ChecksumOK, s.IPChecksumOK)
		}
	}
}

func TestParseRejectsNonTCP(t *testing.T) {
	w := testSegment()
	p, _ := build(w)
	p[9] = 17 // UDP
	if _, err := parse(p); err == nil {
		t.Fatal("parsed a UDP packet as TCP")
	}
	if _, err := parse([]byte{0x45}); err == nil {
		t.Fatal("parsed one octet")
	}
}

// TestOptionsMatch: options compare as a set; order and padding are not
// in it; Present, Absent and TSEcr constrain kinds and the echo only.
func TestOptionsMatch(t *testing.T) {
	got := Options{MSS: Ptr[uint16](1400), SACKOK: true, TS: &Timestamps{5, 6}, SACK: []SACKBlock{{1, 2}, {3, 4}}}
	for _, tc := range []struct {
		want Options
		ok   bool
	}{
		{Options{}, true},
		{Options{Present: MSSOpt | SACKOKOpt | TSOpt | SACKOpt}, true},
		{Options{Present: WSOpt}, false},
		{Options{Absent: WSOpt}, true},
		{Options{Absent: TSOpt}, false},
		{Options{MSS: Ptr[uint16](1400)}, true},
		{Options{MSS: Ptr[uint16](1460)}, false},
		{Options{TSEcr: Ptr[uint32](6)}, true},
		{Options{TSEcr: Ptr[uint32](5)}, false},
		{Options{TS: &Timestamps{5, 6}}, true},
		{Options{SACK: []SACKBlock{{3, 4}, {1, 2}}}, true},
		{Options{SACK: []SACKBlock{{1, 2}}}, false},
		{Options{WS: Ptr[uint8](0)}, false},
	} {
		why := tc.want.Match(&got)
		if (why == "") != tc.ok {
			t.Errorf("%s against %s: %q, want ok=%v", tc.want.String(), got.String(), why, tc.ok)
		}
	}
}

// TestMatchFlags: PSH is ignored unless FlagsMask says otherwise.
func TestMatchFlags(t *testing.T) {
	s := &Segment{Flags: PSH | ACK}
	if why := match(nil, &TCP{Flags: Ptr(ACK)}, s); why != "" {
		t.Errorf("ACK vs P.: %s", why)
	}
	if why := match(nil, &TCP{Flags: Ptr(ACK), FlagsMask: Ptr[Flags](0xff)}, s); why == "" {
		t.Error("an exact mask ignored PSH")
	}
	if why := match(nil, &TCP{Flags: Ptr(RST), FlagsMask: Ptr(RST | SYN | FIN)}, &Segment{Flags: RST | ACK}); why != "" {
		t.Errorf("RST of RST|SYN|FIN vs R.: %s", why)
	}
	if got := (SYN | ACK).String(); got != "S." {
		t.Errorf("SYN|ACK renders %q", got)
	}
	if got := (FIN | PSH | ACK).String(); got != "FP." {
		t.Errorf("FIN|PSH|ACK renders %q", got)
	}
}

// TestRelativeRendering: sequence numbers render relative to the ISNs.
func TestRelativeRendering(t *testing.T) {
	s := &Segment{Seq: 1005, Ack: 2001, Flags: ACK, fromDUT: true, seqBase: Ptr[uint32](1000), ackBase: Ptr[uint32](2000),
		Payload: []byte("x"), ChecksumOK: true, IPChecksumOK: true,
		Options: Options{SACK: []SACKBlock{{2010, 2020}}}}
	if got := s.String(); !strings.Contains(got, "DUT>TB [.] seq 5 ack 1 ") || !strings.Contains(got, "sack {10:20}") {
		t.Fatalf("rendered %q", got)
	}
	s.seqBase = nil
	if got := s.String(); !strings.Contains(got, "seq 1005(abs)") {
		t.Fatalf("rendered %q", got)
	}
}

// TestParseSourceRoute: a segment on its way by a loose source route is
// sent to its first gateway, the rest of the route and the destination
// in the option; its TCP checksum covers the final destination, which the
// parser takes from the route (as a DUT's segment to the bench's
// gateways comes). A completed route leaves the header's destination.
func TestParseSourceRoute(t *testing.T) {
	w := testSegment()
	w.src, w.dst = w.dst, w.src
	direct, err := build(w)
	if err != nil {
		t.Fatal(err)
	}
	g1, g2 := srGateways[0], srGateways[1]
	// The same segment routed: header to g1, NOP and LSRR {>>g2, TB}; the
	// TCP header and its checksum unchanged.
	opt := []byte{1, 131, 11, 4}
	opt = append(opt, g2.AsSlice()...)
	opt = append(opt, TBAddr.AsSlice()...)
	routed := append(append(append([]byte(nil), direct[:20]...), opt...), direct[20:]...)
	routed[0] = 0x45 + byte(len(opt)/4)
	routed[2], routed[3] = byte(len(routed)>>8), byte(len(routed))
	copy(routed[16:], g1.AsSlice())
	routed[10], routed[11] = 0, 0
	c := checksum(routed[:20+len(opt)], 0)
	routed[10], routed[11] = byte(c>>8), byte(c)
	s, err := parse(routed)
	if err != nil {
		t.Fatal(err)
	}
	if s.Dst.Addr() != TBAddr || s.IPDst != g1 || !s.ChecksumOK || !s.IPChecksumOK {
		t.Fatalf("dst %v, header to %v, checksums %v %v", s.Dst, s.IPDst, s.ChecksumOK, s.IPChecksumOK)
	}
	if r := s.Route; r == nil || r.Strict || r.Pointer != 4 || r.Completed() || len(r.Addrs) != 2 || r.Addrs[0] != g2 || r.Addrs[1] != TBAddr {
		t.Fatalf("route %v", s.Route)
	}
	// Arrived: the header to the bench, the gateways recorded.
	copy(routed[16:], TBAddr.AsSlice())
	routed[23] = 12
	copy(routed[24:], g1.AsSlice())
	copy(routed[28:], g2.AsSlice())
	routed[10], routed[11] = 0, 0
	c = checksum(routed[:20+len(opt)], 0)
	routed[10], routed[11] = byte(c>>8), byte(c)
	if s, err = parse(routed); err != nil || s.Dst.Addr() != TBAddr || s.IPDst != TBAddr || !s.ChecksumOK || !s.Route.Completed() {
		t.Fatalf("arrived: %v, %v", s, err)
	}
	routed[22] = 9 // not 3 + 4n
	if _, err := parse(routed); err == nil {
		t.Fatal("a source route of length 9 parsed")
	}
}
