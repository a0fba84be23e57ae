package handmade

import "errors"

// Reasons a packet from the link is dropped before any connection sees it.
// Each is counted (Counters) and none is fatal to a connection.
var (
	ErrTruncated      = errors.New("truncated packet")
	ErrNotIPv4        = errors.New("not an IPv4 packet")
	ErrBadIPHeader    = errors.New("malformed IPv4 header")
	ErrBadIPChecksum  = errors.New("bad IPv4 header checksum")
	ErrFragment       = errors.New("IPv4 fragment (not reassembled)")
	ErrNotTCP         = errors.New("not TCP")
	ErrBadTCPHeader   = errors.New("malformed TCP header")
	ErrBadTCPChecksum = errors.New("bad TCP checksum")
)
