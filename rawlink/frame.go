package rawlink

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
)

// Packet types (sll_pkttype, linux/if_packet.h) and tpacket_auxdata status
// bits (TP_STATUS_*) the input path looks at.
const (
	packetHost      = 0 // to us
	packetBroadcast = 1
	packetMulticast = 2
	packetOtherHost = 3 // to another station (promiscuous interface)
	packetOutgoing  = 4 // sent by this host

	tpStatusCsumNotReady = 0x8  // the L4 checksum is partial: complete it
	tpStatusVLANValid    = 0x10 // the frame carried a VLAN tag
)

// rxMeta is what the kernel says about a received frame besides its
// octets.
type rxMeta struct {
	pkttype uint8
	status  uint32
}

var errIPv4Header = errors.New("malformed IPv4 header")

// ipv4Len checks the IPv4 header at the start of p, a packet of which
// avail octets arrived (p may hold fewer), and returns the packet's total
// length: version 4, a header length of at least 20 octets, a total length
// that covers the header and fits what arrived. Ethernet padding makes
// avail larger than the total length.
func ipv4Len(p []byte, avail int) (int, error) {
	if len(p) < 20 || p[0]>>4 != 4 {
		return 0, errIPv4Header
	}
	ihl := int(p[0]&0x0f) * 4
	tot := int(binary.BigEndian.Uint16(p[2:4]))
	if ihl < 20 || tot < ihl || tot > avail {
		return 0, errIPv4Header
	}
	return tot, nil
}

// input handles one received frame: hdr is its Ethernet header (shorter if
// the frame was), body the octets after it that fit the reader's buffer,
// bodyLen how many the frame carried after its header. It learns from and
// answers ARP. For an IPv4 packet to deliver it returns the packet's length
// in body and ok; truncated when the packet did not fit in body, whose
// len(body) octets are then its beginning.
func (l *Link) input(hdr, body []byte, bodyLen int, m rxMeta, now time.Time) (n int, ok, truncated bool) {
	l.cnt.framesIn.Add(1)
	if len(hdr) < ethHdrLen || bodyLen < 0 {
		l.cnt.malformed.Add(1)
		return 0, false, false
	}
	switch m.pkttype {
	case packetHost, packetBroadcast, packetMulticast:
	default:
		// PACKET_OUTGOING: the host's own frames (a socket option
		// asks the kernel not to deliver them; older kernels do).
		// PACKET_OTHERHOST: for another station's hardware address.
		l.cnt.notForUs.Add(1)
		return 0, false, false
	}
	if m.status&tpStatusVLANValid != 0 {
		l.cnt.notForUs.Add(1) // belongs to a VLAN sub-interface
		return 0, false, false
	}
	avail := min(bodyLen, len(body))
	switch binary.BigEndian.Uint16(hdr[12:14]) {
	case etherTypeARP:
		l.inputARP(body[:avail], now)
		return 0, false, false
	case etherTypeIPv4:
	default:
		l.cnt.nonIPv4.Add(1)
		return 0, false, false
	}
	if len(body) < 20 && bodyLen > len(body) {
		// The reader's buffer cannot even hold a header.
		if len(body) > 0 && body[0]>>4 == 4 {
			l.cnt.truncated.Add(1)
			return len(body), true, true
		}
		l.cnt.malformed.Add(1)
		return 0, false, false
	}
	tot, err := ipv4Len(body[:avail], bodyLen)
	if err != nil {
		l.cnt.malformed.Add(1)
		return 0, false, false
	}
	if netip.AddrFrom4([4]byte(body[16:20])) != l.addr {
		l.cnt.notForUs.Add(1) // the filter lets none through; be sure
		return 0, false, false
	}
	if tot > l.mtu {
		// Merged by GRO or LRO, or sent by a peer with a larger MTU:
		// a valid packet all the same, delivered.
		l.cnt.oversize.Add(1)
	}
	if tot > len(body) {
		l.cnt.truncated.Add(1)
		return len(body), true, true
	}
	p := body[:tot]
	if m.status&tpStatusCsumNotReady != 0 && completeChecksum(p) {
		l.cnt.checksumsCompleted.Add(1)
	}
	l.cnt.packetsIn.Add(1)
	return tot, true, false
}

// completeChecksum computes the TCP or UDP checksum of p, a whole IPv4
// packet that ipv4Len accepted, and stores it. The kernel hands
// AF_PACKET such packets with TP_STATUS_CSUMNOTREADY: sent by a local
// socket or a veth peer with checksum offload, or merged by GRO, they carry
// only the pseudo-header sum where the checksum goes (the NIC would have
// finished it). It reports whether it changed anything: not for a fragment
// or another protocol.
func completeChecksum(p []byte) bool {
	ihl := int(p[0]&0x0f) * 4
	if binary.BigEndian.Uint16(p[6:8])&0x3fff != 0 {
		return false // a fragment: the checksum covers the datagram
	}
	l4 := p[ihl:]
	var off int
	switch p[9] {
	case 6: // TCP, RFC 9293 §3.1
		if len(l4) < 20 {
			return false
		}
		off = 16
	case 17: // UDP, RFC 768
		if len(l4) < 8 {
			return false
		}
		off = 6
	default:
		return false
	}
	l4[off], l4[off+1] = 0, 0
	sum := checksumAdd(0, p[12:20]) + uint64(p[9]) + uint64(len(l4))
	c := checksumFold(checksumAdd(sum, l4))
	if c == 0 && p[9] == 17 {
		c = 0xffff // RFC 768: zero means no checksum
	}
	binary.BigEndian.PutUint16(l4[off:], c)
	return true
}

// checksumAdd adds b to a running one's-complement sum (RFC 1071).
func checksumAdd(sum uint64, b []byte) uint64 {
	for len(b) >= 4 {
		sum += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// checksumFold folds a running sum to 16 bits and complements it.
func checksumFold(sum uint64) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// unicastIPv4 reports whether a can be a station's address: IPv4, not
// 0.0.0.0, loopback, multicast or the limited broadcast.
func unicastIPv4(a netip.Addr) bool {
	return a.Is4() && !a.IsUnspecified() && !a.IsLoopback() && !a.IsMulticast() &&
		a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}
