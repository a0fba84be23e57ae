package compare

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// The bench crafts and parses packets with gopacket, never with handmade's
// codec: a check is worth nothing if it shares code with what it checks.
// Every packet gets fresh layer structs (FIELD-NOTES: a reused layers.TCP
// keeps the Padding of an earlier packet).

// wireSegment is everything build needs, all defaults already applied.
type wireSegment struct {
	src, dst    netip.AddrPort
	tos, ttl    uint8
	id          uint16
	df          bool
	seq, ack    uint32
	flags       Flags
	window      uint16
	urgent      uint16
	options     Options
	payload     []byte
	badChecksum bool
	ipOptions   []IPv4Option
}

// build serializes w as an IPv4 packet.
func build(w *wireSegment) ([]byte, error) {
	ip := &layers.IPv4{
		Version:  4,
		TOS:      w.tos,
		Id:       w.id,
		TTL:      w.ttl,
		Protocol: layers.IPProtocolTCP,
		SrcIP:    net.IP(w.src.Addr().AsSlice()),
		DstIP:    net.IP(w.dst.Addr().AsSlice()),
	}
	if w.df {
		ip.Flags = layers.IPv4DontFragment
	}
	for _, o := range w.ipOptions {
		ip.Options = append(ip.Options, layers.IPv4Option{OptionType: o.Type, OptionLength: uint8(2 + len(o.Data)), OptionData: o.Data})
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(w.src.Port()),
		DstPort: layers.TCPPort(w.dst.Port()),
		Seq:     w.seq,
		Ack:     w.ack,
		FIN:     w.flags&FIN != 0,
		SYN:     w.flags&SYN != 0,
		RST:     w.flags&RST != 0,
		PSH:     w.flags&PSH != 0,
		ACK:     w.flags&ACK != 0,
		URG:     w.flags&URG != 0,
		ECE:     w.flags&ECE != 0,
		CWR:     w.flags&CWR != 0,
		Window:  w.window,
		Urgent:  w.urgent,
		Options: gopacketOptions(&w.options),
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, tcp, gopacket.Payload(w.payload))
	if err != nil {
		return nil, fmt.Errorf("compare: serializing a segment: %w", err)
	}
	b := append([]byte(nil), buf.Bytes()...)
	if w.badChecksum {
		// XOR with a constant never turns 0x0000 into 0xffff (the one pair
		// that are the same ones' complement number), so the checksum is
		// always wrong.
		off := int(b[0]&0x0f)*4 + 16
		b[off] ^= 0x5a
		b[off+1] ^= 0x5a
	}
	return b, nil
}

// gopacketOptions lays o out the way Linux does: MSS, SACK-permitted,
// timestamps, NOP, window scale, then SACK blocks and unknown options;
// gopacket pads the end with EOLs.
func gopacketOptions(o *Options) []layers.TCPOption {
	var opts []layers.TCPOption
	add := func(kind layers.TCPOptionKind, data []byte) {
		opts = append(opts, layers.TCPOption{OptionType: kind, OptionLength: uint8(2 + len(data)), OptionData: data})
	}
	nop := layers.TCPOption{OptionType: layers.TCPOptionKindNop, OptionLength: 1}
	if o.MSS != nil {
		add(layers.TCPOptionKindMSS, binary.BigEndian.AppendUint16(nil, *o.MSS))
	}
	if o.SACKOK {
		add(layers.TCPOptionKindSACKPermitted, nil)
	}
	if o.TS != nil {
		if !o.SACKOK {
			opts = append(opts, nop, nop)
		}
		add(layers.TCPOptionKindTimestamps, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, o.TS.Val), o.TS.Ecr))
	}
	if o.WS != nil {
		opts = append(opts, nop)
		add(layers.TCPOptionKindWindowScale, []byte{*o.WS})
	}
	if len(o.SACK) > 0 {
		opts = append(opts, nop, nop)
		var d []byte
		for _, b := range o.SACK {
			d = binary.BigEndian.AppendUint32(d, b.Left)
			d = binary.BigEndian.AppendUint32(d, b.Right)
		}
		add(layers.TCPOptionKindSACK, d)
	}
	for _, u := range o.Unknown {
		add(layers.TCPOptionKind(u.Kind), u.Data)
	}
	return opts
}

var errNotTCP = errors.New("not an IPv4 TCP packet")

// parse decodes an IPv4 TCP packet into a fresh Segment (copying
// everything it keeps) and checks both checksums.
func parse(b []byte) (*Segment, error) {
	var ip layers.IPv4
	var tcp layers.TCP
	if err := ip.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotTCP, err)
	}
	if ip.Protocol != layers.IPProtocolTCP || ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
		return nil, fmt.Errorf("%w: protocol %v, fragment offset %d", errNotTCP, ip.Protocol, ip.FragOffset)
	}
	if err := tcp.DecodeFromBytes(ip.Payload, gopacket.NilDecodeFeedback); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotTCP, err)
	}
	src, _ := netip.AddrFromSlice(ip.SrcIP.To4())
	ipDst, _ := netip.AddrFromSlice(ip.DstIP.To4())
	route, err := parseRoute(ip.Options)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotTCP, err)
	}
	dst := ipDst
	if route != nil && !route.Completed() && len(route.Addrs) > 0 {
		// RFC 791 §3.1: the route's last address is the final
		// destination, which each hop moves into the header in turn.
		dst = route.Addrs[len(route.Addrs)-1]
	}
	s := &Segment{
		Src:     netip.AddrPortFrom(src, uint16(tcp.SrcPort)),
		Dst:     netip.AddrPortFrom(dst, uint16(tcp.DstPort)),
		IPDst:   ipDst,
		Route:   route,
		TOS:     ip.TOS,
		TTL:     ip.TTL,
		ID:      ip.Id,
		DF:      ip.Flags&layers.IPv4DontFragment != 0,
		Seq:     tcp.Seq,
		Ack:     tcp.Ack,
		Window:  tcp.Window,
		Urgent:  tcp.Urgent,
		Payload: append([]byte{}, tcp.Payload...),
		Raw:     append([]byte(nil), b...),
	}
	for _, x := range []struct {
		on bool
		f  Flags
	}{{tcp.FIN, FIN}, {tcp.SYN, SYN}, {tcp.RST, RST}, {tcp.PSH, PSH}, {tcp.ACK, ACK}, {tcp.URG, URG}, {tcp.ECE, ECE}, {tcp.CWR, CWR}} {
		if x.on {
			s.Flags |= x.f
		}
	}
	if err := parseOptions(tcp.Options, &s.Options); err != nil {
		return nil, err
	}
	ihl := int(b[0]&0x0f) * 4
	s.IPChecksumOK = checksum(b[:ihl], 0) == 0
	total := int(binary.BigEndian.Uint16(b[2:]))
	if total > len(b) || total < ihl {
		return nil, fmt.Errorf("%w: total length %d of %d octets", errNotTCP, total, len(b))
	}
	// The pseudo-header holds the final destination (what the header's
	// destination field says when the datagram arrives there).
	d4 := dst.As4()
	s.ChecksumOK = checksum(b[ihl:total], pseudoHeader(b[12:16], d4[:], total-ihl)) == 0
	return s, nil
}

// parseRoute finds the source route option among an IPv4 header's
// options: nil without one, an error for one RFC 791 §3.1 does not allow
// (two of them, a length that is not 3 + 4n, a pointer below 4).
func parseRoute(opts []layers.IPv4Option) (*IPRoute, error) {
	var r *IPRoute
	for _, o := range opts {
		if o.OptionType != 131 && o.OptionType != 137 {
			continue
		}
		d := o.OptionData
		if r != nil || len(d) < 1 || (len(d)-1)%4 != 0 || d[0] < 4 {
			return nil, fmt.Errorf("malformed source route option % x", d)
		}
		r = &IPRoute{Strict: o.OptionType == 137, Pointer: d[0]}
		for i := 1; i+4 <= len(d); i += 4 {
			r.Addrs = append(r.Addrs, netip.AddrFrom4([4]byte(d[i:i+4])))
		}
	}
	return r, nil
}

// lsrr is a Loose Source and Record Route option with pointer ptr and
// addresses addrs (RFC 791 §3.1), for IPv4.Options.
func lsrr(ptr uint8, addrs ...netip.Addr) IPv4Option {
	d := []byte{ptr}
	for _, a := range addrs {
		a4 := a.As4()
		d = append(d, a4[:]...)
	}
	return IPv4Option{Type: 131, Data: d}
}

// arrivedLSRR is the option of a datagram that came by a loose source
// route through gateways, as its destination sees it: the gateways
// recorded, the pointer past them (RFC 1122 §3.2.1.8(c), "{G1, G2, ...
// Gn >>}").
func arrivedLSRR(gateways ...netip.Addr) IPv4Option {
	return lsrr(uint8(4+4*len(gateways)), gateways...)
}

func parseOptions(in []layers.TCPOption, o *Options) error {
	for _, x := range in {
		d := x.OptionData
		bad := func() error {
			return fmt.Errorf("compare: malformed %v option (%d octets of data)", x.OptionType, len(d))
		}
		switch x.OptionType {
		case layers.TCPOptionKindEndList, layers.TCPOptionKindNop:
		case layers.TCPOptionKindMSS:
			if len(d) != 2 {
				return bad()
			}
			o.MSS = Ptr(binary.BigEndian.Uint16(d))
		case layers.TCPOptionKindWindowScale:
			if len(d) != 1 {
				return bad()
			}
			o.WS = Ptr(d[0])
		case layers.TCPOptionKindSACKPermitted:
			o.SACKOK = true
		case layers.TCPOptionKindTimestamps:
			if len(d) != 8 {
				return bad()
			}
			o.TS = &Timestamps{Val: binary.BigEndian.Uint32(d), Ecr: binary.BigEndian.Uint32(d[4:])}
		case layers.TCPOptionKindSACK:
			if len(d)%8 != 0 {
				return bad()
			}
			o.SACK = []SACKBlock{}
			for i := 0; i < len(d); i += 8 {
				o.SACK = append(o.SACK, SACKBlock{binary.BigEndian.Uint32(d[i:]), binary.BigEndian.Uint32(d[i+4:])})
			}
		default:
			o.Unknown = append(o.Unknown, RawOption{Kind: uint8(x.OptionType), Data: append([]byte{}, d...)})
		}
	}
	return nil
}

// pseudoHeader is the ones' complement sum of the IPv4 pseudo-header
// (RFC 9293 §3.1).
func pseudoHeader(src, dst []byte, tcpLen int) uint32 {
	var sum uint32
	for _, a := range [][]byte{src, dst} {
		sum += uint32(a[0])<<8 | uint32(a[1])
		sum += uint32(a[2])<<8 | uint32(a[3])
	}
	return sum + uint32(layers.IPProtocolTCP) + uint32(tcpLen)
}

// checksum is the Internet checksum of b with an initial sum: 0 means the
// data (checksum field included) verifies.
func checksum(b []byte, initial uint32) uint16 {
	sum := initial
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
