package rawlink

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// The unit tests' world: the link is 198.18.7.11 on an interface whose
// kernel owns 198.18.7.1/24.
var (
	testAddr   = netip.MustParseAddr("198.18.7.11")
	testKernel = netip.MustParseAddr("198.18.7.1")
	testPeer   = netip.MustParseAddr("198.18.7.12")
	testMAC    = hwAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x11}
	peerMAC    = hwAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x12}
)

// recorder collects the frames a test link sends.
type recorder struct {
	mu     sync.Mutex
	frames [][]byte
}

func (r *recorder) take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.frames
	r.frames = nil
	return f
}

// testLink is a Link without a socket: what it sends goes to the recorder;
// tests feed frames to input and drive ARP time with arpTickLocked.
func testLink(t testing.TB, hostOwns bool) (*Link, *recorder) {
	r := router{
		iface:  "ens224",
		addr:   testAddr,
		onLink: []netip.Prefix{netip.MustParsePrefix("198.18.7.0/24")},
		own:    []netip.Addr{testKernel},
	}
	l := newLink("ens224", testMAC, testAddr, 1500, r, hostOwns, func(f string, a ...any) { t.Logf(f, a...) })
	rec := &recorder{}
	l.tx = func(ctx context.Context, frame []byte, wait bool) error {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.frames = append(rec.frames, bytes.Clone(frame))
		return nil
	}
	return l, rec
}

// udpPacket builds an IPv4/UDP packet from src to dst with n payload
// octets and valid checksums.
func udpPacket(src, dst netip.Addr, n int) []byte {
	p := make([]byte, 28+n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	p[8] = 64
	p[9] = 17
	s, d := src.As4(), dst.As4()
	copy(p[12:16], s[:])
	copy(p[16:20], d[:])
	binary.BigEndian.PutUint16(p[10:12], checksumFold(checksumAdd(0, p[:20])))
	binary.BigEndian.PutUint16(p[20:22], 40000)
	binary.BigEndian.PutUint16(p[22:24], 9)
	binary.BigEndian.PutUint16(p[24:26], uint16(8+n))
	for i := range n {
		p[28+i] = byte(i * 7)
	}
	completeChecksum(p)
	return p
}

// tcpPacket builds an IPv4/TCP packet (ACK, n payload octets) with valid
// checksums.
func tcpPacket(src, dst netip.Addr, n int) []byte {
	p := make([]byte, 40+n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	p[6] = 0x40 // DF
	p[8] = 64
	p[9] = 6
	s, d := src.As4(), dst.As4()
	copy(p[12:16], s[:])
	copy(p[16:20], d[:])
	binary.BigEndian.PutUint16(p[10:12], checksumFold(checksumAdd(0, p[:20])))
	t := p[20:]
	binary.BigEndian.PutUint16(t[0:2], 40000)
	binary.BigEndian.PutUint16(t[2:4], 5001)
	binary.BigEndian.PutUint32(t[4:8], 1000)
	binary.BigEndian.PutUint32(t[8:12], 2000)
	t[12] = 5 << 4
	t[13] = 0x10
	binary.BigEndian.PutUint16(t[14:16], 65535)
	for i := range n {
		t[20+i] = byte(i * 13)
	}
	completeChecksum(p)
	return p
}

// l4Valid reports whether the TCP or UDP checksum of p verifies.
func l4Valid(p []byte) bool {
	ihl := int(p[0]&0x0f) * 4
	l4 := p[ihl:binary.BigEndian.Uint16(p[2:4])]
	sum := checksumAdd(0, p[12:20]) + uint64(p[9]) + uint64(len(l4))
	return checksumFold(checksumAdd(sum, l4)) == 0
}

func ethFrame(dst, src hwAddr, etherType uint16, body []byte) []byte {
	return append(appendEth(nil, dst, src, etherType), body...)
}

// feed hands a whole frame to l.input as the socket would, with a reader
// buffer of bufLen octets, and returns what ReadPacket would deliver.
func feed(l *Link, frame []byte, m rxMeta, bufLen int) (pkt []byte, ok, trunc bool) {
	hdr := frame[:min(len(frame), ethHdrLen)]
	var rest []byte
	if len(frame) > ethHdrLen {
		rest = frame[ethHdrLen:]
	}
	body := make([]byte, bufLen)
	copy(body, rest)
	n, ok, trunc := l.input(hdr, body, len(rest), m, time.Now())
	return body[:n], ok, trunc
}
