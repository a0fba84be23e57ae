package handmade

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	addrA = netip.MustParseAddrPort("198.18.0.1:40000")
	addrB = netip.MustParseAddrPort("198.18.0.2:12345")
)

// fullOptions exercises every option the codec writes.
func fullOptions() Options {
	o := Options{MSS: 1460, HasMSS: true, WScale: 7, HasWScale: true, SACKPermitted: true,
		TSVal: 0xdeadbeef, TSEcr: 0x01020304, HasTimestamps: true}
	o.SACK[0] = SACKBlock{Left: 0xfffffff0, Right: 100}
	o.SACK[1] = SACKBlock{Left: 200, Right: 300}
	o.NumSACK = 2
	return o
}

// TestCodecMatchesGopacket encodes with the handmade codec and decodes with
// gopacket, then checks gopacket's recomputed checksums agree with ours.
func TestCodecMatchesGopacket(t *testing.T) {
	for _, tc := range []struct {
		name string
		seg  Segment
	}{
		{"syn with options", Segment{SEQ: 0xfffffff0, Flags: SYN, WND: 65535, Options: fullOptions()}},
		{"psh-ack odd payload", Segment{SEQ: 1, ACK: 0xffffffff, Flags: PSH | ACK, WND: 512, Payload: []byte("hello, odd")}},
		{"fin-ack ts only", Segment{SEQ: 7, ACK: 9, Flags: FIN | ACK, WND: 1, Options: Options{HasTimestamps: true, TSVal: 5, TSEcr: 6}}},
		{"rst", Segment{SEQ: 42, Flags: RST}},
		{"sackok only", Segment{SEQ: 42, Flags: SYN | ACK, Options: Options{SACKPermitted: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.seg
			s.Src, s.Dst = addrA, addrB
			var e Encoder
			pkt := e.Append(nil, &s)

			p := gopacket.NewPacket(pkt, layers.LayerTypeIPv4, gopacket.Default)
			if el := p.ErrorLayer(); el != nil {
				t.Fatalf("gopacket: %v", el.Error())
			}
			ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if ip.SrcIP.String() != "198.18.0.1" || ip.DstIP.String() != "198.18.0.2" || ip.Protocol != layers.IPProtocolTCP || ip.TTL != 64 {
				t.Errorf("IPv4 = %v", ip)
			}
			if tcp.SrcPort != 40000 || tcp.DstPort != 12345 || tcp.Seq != uint32(s.SEQ) || tcp.Ack != uint32(s.ACK) || tcp.Window != s.WND {
				t.Errorf("TCP = %+v", tcp)
			}
			if tcp.SYN != s.Flags.Has(SYN) || tcp.ACK != s.Flags.Has(ACK) || tcp.FIN != s.Flags.Has(FIN) || tcp.RST != s.Flags.Has(RST) || tcp.PSH != s.Flags.Has(PSH) {
				t.Errorf("flags: gopacket %+v, want %v", tcp, s.Flags)
			}
			if !bytes.Equal(tcp.Payload, s.Payload) {
				t.Errorf("payload %q, want %q", tcp.Payload, s.Payload)
			}
			got := map[layers.TCPOptionKind][]byte{}
			for _, o := range tcp.Options {
				if o.OptionType != layers.TCPOptionKindNop && o.OptionType != layers.TCPOptionKindEndList {
					got[o.OptionType] = o.OptionData
				}
			}
			o := s.Options
			if o.HasMSS && !bytes.Equal(got[layers.TCPOptionKindMSS], []byte{byte(o.MSS >> 8), byte(o.MSS)}) {
				t.Errorf("MSS option %x", got[layers.TCPOptionKindMSS])
			}
			if _, ok := got[layers.TCPOptionKindWindowScale]; ok != o.HasWScale {
				t.Errorf("window scale present=%v, want %v", ok, o.HasWScale)
			}
			if _, ok := got[layers.TCPOptionKindSACKPermitted]; ok != o.SACKPermitted {
				t.Errorf("SACK-permitted present=%v, want %v", ok, o.SACKPermitted)
			}
			if ts, ok := got[layers.TCPOptionKindTimestamps]; ok != o.HasTimestamps || (ok && len(ts) != 8) {
				t.Errorf("timestamps %x, want present=%v", ts, o.HasTimestamps)
			}
			if sk, ok := got[layers.TCPOptionKindSACK]; ok != (o.NumSACK > 0) || (ok && len(sk) != 8*o.NumSACK) {
				t.Errorf("SACK %x, want %d blocks", sk, o.NumSACK)
			}

			// gopacket recomputes both checksums: they must equal ours.
			buf := gopacket.NewSerializeBuffer()
			ip2, tcp2 := *ip, *tcp
			tcp2.SetNetworkLayerForChecksum(&ip2)
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &ip2, &tcp2, gopacket.Payload(tcp.Payload)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), pkt) {
				t.Errorf("gopacket re-serialised\n%x\nours\n%x", buf.Bytes(), pkt)
			}
		})
	}
}

// TestDecodeGopacketPackets builds packets with gopacket and decodes them.
func TestDecodeGopacketPackets(t *testing.T) {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: addrB.Addr().AsSlice(), DstIP: addrA.Addr().AsSlice()}
	tcp := &layers.TCP{SrcPort: 12345, DstPort: 40000, Seq: 0xffffff00, Ack: 77, SYN: true, ACK: true, Window: 29200,
		Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 1, 0, 0, 0, 2}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
			{OptionType: 30, OptionLength: 4, OptionData: []byte{9, 9}}, // unknown (MPTCP), skipped
		}}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp, gopacket.Payload("data!")); err != nil {
		t.Fatal(err)
	}
	var s Segment
	if err := Decode(buf.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	want := Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TSVal: 1, TSEcr: 2, HasTimestamps: true, WScale: 7, HasWScale: true, Unknown: 1}
	if s.Src != addrB || s.Dst != addrA || s.SEQ != 0xffffff00 || s.ACK != 77 || s.Flags != SYN|ACK || s.WND != 29200 || string(s.Payload) != "data!" || s.Options != want {
		t.Errorf("decoded %+v\nwant options %+v", s, want)
	}
	if s.LEN() != 6 {
		t.Errorf("SEG.LEN = %d, want 5 octets + SYN", s.LEN())
	}
}

func TestDecodeRejects(t *testing.T) {
	var e Encoder
	s := Segment{Src: addrA, Dst: addrB, SEQ: 1, ACK: 2, Flags: ACK, Payload: []byte("abc")}
	good := e.Append(nil, &s)
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, tc := range []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short", good[:10], ErrTruncated},
		{"cut payload", good[:len(good)-1], ErrTruncated},
		{"ipv6", mut(func(b []byte) []byte { b[0] = 0x60; return b }), ErrNotIPv4},
		{"ihl 4", mut(func(b []byte) []byte { b[0] = 0x44; return b }), ErrBadIPHeader},
		{"ip checksum", mut(func(b []byte) []byte { b[8]--; return b }), ErrBadIPChecksum},
		{"tcp checksum", mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrBadTCPChecksum},
		{"udp", mut(func(b []byte) []byte { b[9] = 17; IPv4Header(b).setChecksum(); return b }), ErrNotTCP},
		{"fragment", mut(func(b []byte) []byte { b[6] |= 0x20; IPv4Header(b).setChecksum(); return b }), ErrFragment},
		{"data offset past end", mut(func(b []byte) []byte { b[20+12] = 0xf0; return b }), ErrBadTCPHeader},
	} {
		var s Segment
		if err := Decode(tc.pkt, &s); !errors.Is(err, tc.want) {
			t.Errorf("%s: Decode = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Link padding past the IPv4 total length is ignored.
	var d Segment
	if err := Decode(append(append([]byte(nil), good...), 0, 0, 0), &d); err != nil || string(d.Payload) != "abc" {
		t.Errorf("padded packet: %v, payload %q", err, d.Payload)
	}
}

func TestParseOptionsMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want Options
	}{
		{"zero length", []byte{2, 0, 1, 1}, Options{Malformed: true}},
		{"length past end", []byte{2, 4, 5}, Options{Malformed: true}},
		{"mss wrong length", []byte{2, 3, 5, 1}, Options{Malformed: true}},
		{"mss then garbage", []byte{2, 4, 5, 0xb4, 8, 1}, Options{MSS: 1460, HasMSS: true, Malformed: true}},
		{"unknown then mss", []byte{99, 3, 0, 2, 4, 1, 0}, Options{MSS: 256, HasMSS: true, Unknown: 1}},
		{"eol stops", []byte{0, 2, 4, 1, 0}, Options{}},
	} {
		if got := parseOptions(tc.b); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestSeqWraps(t *testing.T) {
	a := Seq(0xfffffff0)
	b := a.Add(0x20)
	if b != 0x10 || !a.LessThan(b) || b.LessThan(a) || !a.LessEq(a) || b.Sub(a) != 0x20 {
		t.Errorf("wrap: a=%d b=%d", a, b)
	}
	if !Seq(5).InWindow(a, 0x20) || Seq(0x10).InWindow(a, 0x20) || !a.InWindow(a, 1) || a.InWindow(a, 0) {
		t.Error("InWindow across the wrap")
	}
}

func TestChecksumOddAndSplit(t *testing.T) {
	b := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	if Checksum(b) != 0 { // RFC 1071 example header with its checksum: sums to zero
		t.Errorf("checksum of a valid header = %#x", Checksum(b))
	}
	b[10], b[11] = 0, 0
	if got := Checksum(b); got != 0xb861 {
		t.Errorf("checksum = %#x, want 0xb861", got)
	}
	odd := []byte{1, 2, 3}
	if got := Checksum(odd); got != ^uint16(0x0102+0x0300) {
		t.Errorf("odd checksum = %#x", got)
	}
}

func BenchmarkDecode(b *testing.B) {
	var e Encoder
	s := Segment{Src: addrA, Dst: addrB, Flags: PSH | ACK, Payload: make([]byte, 1400)}
	pkt := e.Append(nil, &s)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	var d Segment
	for b.Loop() {
		if err := Decode(pkt, &d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	var e Encoder
	s := Segment{Src: addrA, Dst: addrB, Flags: PSH | ACK, Payload: make([]byte, 1400)}
	buf := make([]byte, 0, 1500)
	b.SetBytes(1440)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.Append(buf[:0], &s)
	}
}

// TestEncodeTTLAndTOS: the IPv4 TTL and TOS of a Segment reach the header
// (a zero TTL is the default 64) and Decode reads them back.
func TestEncodeTTLAndTOS(t *testing.T) {
	var e Encoder
	for _, tc := range []struct{ ttl, tos, wantTTL uint8 }{{0, 0, 64}, {33, 0x28, 33}, {255, 0xb8, 255}} {
		in := Segment{Src: addrA, Dst: addrB, SEQ: 1, Flags: SYN, WND: 1000, TTL: tc.ttl, TOS: tc.tos}
		pkt := e.Append(nil, &in)
		if pkt[8] != tc.wantTTL || pkt[1] != tc.tos {
			t.Errorf("TTL %d TOS 0x%02x: header has TTL %d TOS 0x%02x", tc.ttl, tc.tos, pkt[8], pkt[1])
		}
		var out Segment
		if err := Decode(pkt, &out); err != nil || out.TTL != tc.wantTTL || out.TOS != tc.tos {
			t.Errorf("TTL %d TOS 0x%02x: decoded %d 0x%02x, %v", tc.ttl, tc.tos, out.TTL, out.TOS, err)
		}
	}
}
