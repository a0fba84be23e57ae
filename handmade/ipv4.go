package handmade

import "encoding/binary"

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
