package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// tcpPacket builds an IPv4/TCP packet from 198.18.0.1:40000 to
// 198.18.0.2:12345 with the given sequence number and payload length, with
// valid checksums. The payload encodes seq so packets differ.
func tcpPacket(seq uint32, payload int) []byte {
	p := make([]byte, 20+20+payload)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	p[8] = 64
	p[9] = 6
	copy(p[12:16], []byte{198, 18, 0, 1})
	copy(p[16:20], []byte{198, 18, 0, 2})
	binary.BigEndian.PutUint16(p[10:12], ^csum(0, p[:20]))
	t := p[20:]
	binary.BigEndian.PutUint16(t[0:2], 40000)
	binary.BigEndian.PutUint16(t[2:4], 12345)
	binary.BigEndian.PutUint32(t[4:8], seq)
	binary.BigEndian.PutUint32(t[8:12], 5001)
	t[12] = 5 << 4
	t[13] = 0x18 // PSH ACK
	binary.BigEndian.PutUint16(t[14:16], 65535)
	for i := 20; i < len(t); i++ {
		t[i] = byte(seq) + byte(i)
	}
	binary.BigEndian.PutUint16(t[16:18], ^tcpSum(p))
	return p
}

func csum(sum uint32, b []byte) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// tcpSum is the ones-complement sum over pseudo header and segment; a
// packet with a correct checksum sums to 0xffff.
func tcpSum(p []byte) uint16 {
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:4]))
	seg := p[ihl:total]
	var ph [12]byte
	copy(ph[0:8], p[12:20])
	ph[9] = 6
	binary.BigEndian.PutUint16(ph[10:12], uint16(len(seg)))
	s := uint32(csum(0, ph[:]))
	return csum(s, seg)
}

func seqOf(p []byte) uint32 { return binary.BigEndian.Uint32(p[24:28]) }

func readOne(t *testing.T, l Link) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := make([]byte, 65536)
	n, err := l.ReadPacket(ctx, b)
	if err != nil {
		t.Fatalf("ReadPacket: %v", err)
	}
	return b[:n]
}

// expectNothing asserts that no packet arrives within d.
func expectNothing(t *testing.T, l Link, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	b := make([]byte, 65536)
	n, err := l.ReadPacket(ctx, b)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadPacket: got %d bytes, err %v; want nothing (DeadlineExceeded)", n, err)
	}
}

func write(t *testing.T, l Link, p []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.WritePacket(ctx, p); err != nil {
		t.Fatalf("WritePacket: %v", err)
	}
}
