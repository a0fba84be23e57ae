package flow

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"
)

// seg describes one crafted TCP segment.
type seg struct {
	c2s      bool
	flags    uint8
	seq, ack uint32
	len      int
	win      uint16
	opts     []byte
	at       time.Duration
}

var (
	cliAP = netip.MustParseAddrPort("198.18.0.1:40000")
	srvAP = netip.MustParseAddrPort("198.18.0.2:12345")
	t0    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// ipv4TCP builds an IPv4 packet holding s, checksums right.
func ipv4TCP(s seg) []byte {
	src, dst := cliAP, srvAP
	if !s.c2s {
		src, dst = srvAP, cliAP
	}
	opts := s.opts
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	tl := 20 + len(opts) + s.len
	p := make([]byte, 20+tl)
	p[0], p[8], p[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	a, b := src.Addr().As4(), dst.Addr().As4()
	copy(p[12:16], a[:])
	copy(p[16:20], b[:])
	binary.BigEndian.PutUint16(p[10:12], ^fold(sum16(p[:20])))
	t := p[20:]
	binary.BigEndian.PutUint16(t[0:2], src.Port())
	binary.BigEndian.PutUint16(t[2:4], dst.Port())
	binary.BigEndian.PutUint32(t[4:8], s.seq)
	binary.BigEndian.PutUint32(t[8:12], s.ack)
	t[12] = byte((20+len(opts))/4) << 4
	t[13] = s.flags
	binary.BigEndian.PutUint16(t[14:16], s.win)
	copy(t[20:], opts)
	for i := 20 + len(opts); i < len(t); i++ {
		t[i] = byte(i)
	}
	c := sum16(p[12:20]) + 6 + uint32(tl) + sum16(t)
	binary.BigEndian.PutUint16(t[16:18], ^fold(c))
	return p
}

// pcapFile writes packets as a pcap file of link type lt, nanosecond
// timestamps, each packet wrapped by wrap.
func pcapFile(lt uint32, pkts [][]byte, times []time.Duration, wrap func([]byte) []byte) []byte {
	var b bytes.Buffer
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h[0:4], 0xa1b23c4d)
	binary.LittleEndian.PutUint16(h[4:6], 2)
	binary.LittleEndian.PutUint16(h[6:8], 4)
	binary.LittleEndian.PutUint32(h[16:20], 262144)
	binary.LittleEndian.PutUint32(h[20:24], lt)
	b.Write(h)
	for i, p := range pkts {
		if wrap != nil {
			p = wrap(p)
		}
		ts := t0.Add(times[i])
		r := make([]byte, 16)
		binary.LittleEndian.PutUint32(r[0:4], uint32(ts.Unix()))
		binary.LittleEndian.PutUint32(r[4:8], uint32(ts.Nanosecond()))
		binary.LittleEndian.PutUint32(r[8:12], uint32(len(p)))
		binary.LittleEndian.PutUint32(r[12:16], uint32(len(p)))
		b.Write(r)
		b.Write(p)
	}
	return b.Bytes()
}

// pcapngFile writes packets as pcapng (big-endian, one interface with
// microsecond resolution by if_tsresol).
func pcapngFile(lt uint16, pkts [][]byte, times []time.Duration) []byte {
	var b bytes.Buffer
	be := binary.BigEndian
	block := func(typ uint32, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		total := uint32(12 + len(body))
		var h [8]byte
		be.PutUint32(h[0:4], typ)
		be.PutUint32(h[4:8], total)
		b.Write(h[:])
		b.Write(body)
		var t [4]byte
		be.PutUint32(t[:], total)
		b.Write(t[:])
	}
	shb := make([]byte, 16)
	be.PutUint32(shb[0:4], 0x1a2b3c4d)
	be.PutUint16(shb[4:6], 1)
	binary.BigEndian.PutUint64(shb[8:16], ^uint64(0))
	block(0x0a0d0d0a, shb)
	idb := make([]byte, 8, 20)
	be.PutUint16(idb[0:2], lt)
	be.PutUint32(idb[4:8], 65535)
	idb = append(idb, 0, 9, 0, 1, 6, 0, 0, 0, 0, 0, 0, 0) // if_tsresol = 6, end of options
	block(1, idb)
	for i, p := range pkts {
		ts := uint64(t0.Add(times[i]).UnixMicro())
		body := make([]byte, 20, 20+len(p))
		be.PutUint32(body[4:8], uint32(ts>>32))
		be.PutUint32(body[8:12], uint32(ts))
		be.PutUint32(body[12:16], uint32(len(p)))
		be.PutUint32(body[16:20], uint32(len(p)))
		block(6, append(body, p...))
	}
	return b.Bytes()
}

// build turns segments into raw IPv4 packets and their times.
func build(segs []seg) ([][]byte, []time.Duration) {
	var pkts [][]byte
	var times []time.Duration
	for _, s := range segs {
		pkts = append(pkts, ipv4TCP(s))
		times = append(times, s.at)
	}
	return pkts, times
}

const (
	isnC = 1000
	isnS = 5000
)

var mss1460 = []byte{2, 4, 0x05, 0xb4}

// articleFlow is the article's upload: three chunks of 1400 octets, stop
// and wait, then a FIN from each side.
func articleFlow() []seg {
	ms := time.Millisecond
	s := []seg{
		{c2s: true, flags: SYN, seq: isnC, win: 65535, opts: mss1460, at: 0},
		{flags: SYN | ACK, seq: isnS, ack: isnC + 1, win: 29200, opts: mss1460, at: 1 * ms},
		{c2s: true, flags: ACK, seq: isnC + 1, ack: isnS + 1, win: 65535, at: 2 * ms},
	}
	at := 3 * ms
	for i := 0; i < 3; i++ {
		s = append(s,
			seg{c2s: true, flags: PSH | ACK, seq: isnC + 1 + uint32(i*1400), ack: isnS + 1, len: 1400, win: 65535, at: at},
			seg{flags: ACK, seq: isnS + 1, ack: isnC + 1 + uint32((i+1)*1400), win: 29200, at: at + ms})
		at += 2 * ms
	}
	end := uint32(isnC + 1 + 3*1400)
	s = append(s,
		seg{c2s: true, flags: FIN | ACK, seq: end, ack: isnS + 1, win: 65535, at: at},
		seg{flags: ACK, seq: isnS + 1, ack: end + 1, win: 29200, at: at + ms},
		seg{flags: FIN | ACK, seq: isnS + 1, ack: end + 1, win: 29200, at: at + 2*ms},
		seg{c2s: true, flags: ACK, seq: end + 1, ack: isnS + 2, win: 65535, at: at + 3*ms},
	)
	return s
}
