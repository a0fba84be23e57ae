package handmade

import "encoding/binary"

// checksumAdd adds b to the running one's-complement sum (RFC 1071) in
// 32-bit words, carrying into 64 bits so no fold is needed inside the loop.
func checksumAdd(sum uint64, b []byte) uint64 {
	for len(b) >= 8 {
		sum += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	if len(b) >= 4 {
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
		sum = (sum >> 16) + (sum & 0xffff)
	}
	return ^uint16(sum)
}

// Checksum is the Internet checksum (RFC 1071) of b.
func Checksum(b []byte) uint16 { return checksumFold(checksumAdd(0, b)) }

// pseudoHeaderSum is the sum of the IPv4 pseudo-header (RFC 9293 §3.1,
// "Checksum"): source, destination, zero, protocol 6, TCP length.
func pseudoHeaderSum(src, dst [4]byte, tcpLen int) uint64 {
	s := checksumAdd(0, src[:])
	s = checksumAdd(s, dst[:])
	return s + uint64(protoTCP) + uint64(tcpLen)
}
