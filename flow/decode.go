package flow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// TCP flags.
const (
	FIN uint8 = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// Options are the TCP options worth showing.
type Options struct {
	MSS      int  // 0: absent
	WScale   int  // -1: absent
	SACKPerm bool // SACK permitted
	// SACK blocks as sent (absolute sequence numbers).
	SACK      [][2]uint32
	TS        bool
	TSVal     uint32
	TSEcr     uint32
	Unknown   []uint8 // kinds not understood
	Malformed bool    // options that do not parse
}

// packet is one decoded TCP segment, before it joins a connection.
type packet struct {
	src, dst  netip.AddrPort
	seq, ack  uint32
	flags     uint8
	window    uint16
	len       int // text octets, from the IP length (not the snaplen)
	opts      Options
	csum      csumState
	truncated bool // the capture cut the segment short
}

type csumState uint8

const (
	csumUnknown csumState = iota // not checked: the capture cut the packet
	csumOK
	csumBad
)

var (
	errNotIP  = errors.New("not IP")
	errNotTCP = errors.New("not TCP")
	errFrag   = errors.New("IP fragment")
)

// linkPayload strips the link header and returns the IP packet.
func linkPayload(lt uint32, d []byte) ([]byte, error) {
	etherType := func(t uint16, p []byte) ([]byte, error) {
		if t == 0x0800 || t == 0x86dd {
			return p, nil
		}
		return nil, errNotIP
	}
	switch lt {
	case LinkRaw, linkRawBSD12, linkRawBSD14, LinkIPv4, LinkIPv6:
		return d, nil
	case LinkEthernet:
		if len(d) < 14 {
			return nil, fmt.Errorf("short Ethernet frame: %w", errNotIP)
		}
		t, p := binary.BigEndian.Uint16(d[12:14]), d[14:]
		for (t == 0x8100 || t == 0x88a8) && len(p) >= 4 {
			t, p = binary.BigEndian.Uint16(p[2:4]), p[4:]
		}
		return etherType(t, p)
	case LinkLinuxSLL:
		if len(d) < 16 {
			return nil, fmt.Errorf("short SLL header: %w", errNotIP)
		}
		return etherType(binary.BigEndian.Uint16(d[14:16]), d[16:])
	case LinkLinuxSLL2:
		if len(d) < 20 {
			return nil, fmt.Errorf("short SLL2 header: %w", errNotIP)
		}
		return etherType(binary.BigEndian.Uint16(d[0:2]), d[20:])
	case LinkNull:
		if len(d) < 4 {
			return nil, errNotIP
		}
		// Host byte order of the machine that wrote it: try both.
		switch binary.LittleEndian.Uint32(d[0:4]) | binary.BigEndian.Uint32(d[0:4]) {
		case 2, 24, 28, 30, 10:
			return d[4:], nil
		}
		return nil, errNotIP
	}
	return nil, fmt.Errorf("link type %d: %w", lt, errUnsupportedLink)
}

var errUnsupportedLink = errors.New("unsupported link type")

// decode parses an IPv4 or IPv6 packet holding TCP.
func decode(p []byte) (*packet, error) {
	if len(p) < 1 {
		return nil, errNotIP
	}
	var src, dst netip.Addr
	var t []byte
	var pseudo uint32 // pseudo-header sum, without the TCP length
	tcpLen := 0
	truncated := false
	switch p[0] >> 4 {
	case 4:
		if len(p) < 20 {
			return nil, fmt.Errorf("short IPv4 header: %w", errNotIP)
		}
		ihl := int(p[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(p[2:4]))
		if ihl < 20 || ihl > len(p) || total < ihl {
			return nil, fmt.Errorf("bad IPv4 header: %w", errNotIP)
		}
		if p[9] != 6 {
			return nil, errNotTCP
		}
		if binary.BigEndian.Uint16(p[6:8])&0x3fff != 0 {
			return nil, errFrag
		}
		src = netip.AddrFrom4([4]byte(p[12:16]))
		dst = netip.AddrFrom4([4]byte(p[16:20]))
		tcpLen = total - ihl
		end := min(total, len(p))
		truncated = total > len(p)
		t = p[ihl:end]
		pseudo = sum16(p[12:20]) + 6
	case 6:
		if len(p) < 40 {
			return nil, fmt.Errorf("short IPv6 header: %w", errNotIP)
		}
		plen := int(binary.BigEndian.Uint16(p[4:6]))
		next := p[6]
		src = netip.AddrFrom16([16]byte(p[8:24]))
		dst = netip.AddrFrom16([16]byte(p[24:40]))
		rest := p[40:]
		tcpLen = plen
		// Extension headers: hop-by-hop, routing, destination options.
		for next == 0 || next == 43 || next == 60 {
			if len(rest) < 8 {
				return nil, fmt.Errorf("short IPv6 extension header: %w", errNotIP)
			}
			l := (int(rest[1]) + 1) * 8
			if l > len(rest) {
				return nil, fmt.Errorf("short IPv6 extension header: %w", errNotIP)
			}
			next, rest, tcpLen = rest[0], rest[l:], tcpLen-l
		}
		if next == 44 {
			return nil, errFrag
		}
		if next != 6 {
			return nil, errNotTCP
		}
		if tcpLen < 0 {
			return nil, fmt.Errorf("bad IPv6 payload length: %w", errNotIP)
		}
		truncated = tcpLen > len(rest)
		t = rest[:min(tcpLen, len(rest))]
		pseudo = sum16(p[8:40]) + 6
	default:
		return nil, errNotIP
	}
	if len(t) < 20 {
		return nil, fmt.Errorf("TCP header cut short (%d bytes): %w", len(t), errNotTCP)
	}
	off := int(t[12]>>4) * 4
	if off < 20 || off > tcpLen {
		return nil, fmt.Errorf("TCP data offset %d: %w", off, errNotTCP)
	}
	s := &packet{
		src:       netip.AddrPortFrom(src, binary.BigEndian.Uint16(t[0:2])),
		dst:       netip.AddrPortFrom(dst, binary.BigEndian.Uint16(t[2:4])),
		seq:       binary.BigEndian.Uint32(t[4:8]),
		ack:       binary.BigEndian.Uint32(t[8:12]),
		flags:     t[13],
		window:    binary.BigEndian.Uint16(t[14:16]),
		len:       tcpLen - off,
		truncated: truncated,
	}
	if off <= len(t) {
		s.opts = parseOptions(t[20:off])
	} else {
		s.opts = Options{WScale: -1, Malformed: true}
	}
	if !truncated {
		c := pseudo + uint32(tcpLen) + sum16(t)
		if fold(c) == 0xffff {
			s.csum = csumOK
		} else {
			s.csum = csumBad
		}
	}
	return s, nil
}

func sum16(b []byte) uint32 {
	var s uint32
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
		if s > 0xffff0000 {
			s = s&0xffff + s>>16
		}
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func parseOptions(b []byte) Options {
	o := Options{WScale: -1}
	for len(b) > 0 {
		kind := b[0]
		if kind == 0 {
			break
		}
		if kind == 1 {
			b = b[1:]
			continue
		}
		if len(b) < 2 || int(b[1]) < 2 || int(b[1]) > len(b) {
			o.Malformed = true
			break
		}
		v := b[2:b[1]]
		switch {
		case kind == 2 && len(v) == 2:
			o.MSS = int(binary.BigEndian.Uint16(v))
		case kind == 3 && len(v) == 1:
			o.WScale = int(v[0])
		case kind == 4 && len(v) == 0:
			o.SACKPerm = true
		case kind == 5 && len(v)%8 == 0:
			for i := 0; i+8 <= len(v); i += 8 {
				o.SACK = append(o.SACK, [2]uint32{binary.BigEndian.Uint32(v[i:]), binary.BigEndian.Uint32(v[i+4:])})
			}
		case kind == 8 && len(v) == 8:
			o.TS, o.TSVal, o.TSEcr = true, binary.BigEndian.Uint32(v[0:4]), binary.BigEndian.Uint32(v[4:8])
		default:
			o.Unknown = append(o.Unknown, kind)
		}
		b = b[b[1]:]
	}
	return o
}
