// Package wire carries IPv4 packets between TCP stacks: the Link interface
// every stack in tcplab speaks, an in-memory wire with seeded impairments,
// and a capture tap that writes pcap files.
package wire

import (
	"context"
	"errors"
)

// Link moves whole IPv4 packets: one call, one packet. Implementations are
// the in-memory wire (Pipe), TUN devices and raw interfaces. A Link is safe
// for one reader and any number of concurrent writers.
type Link interface {
	// ReadPacket blocks until a packet arrives and copies it into b,
	// returning its length. A packet longer than b is truncated and
	// reported with ErrTruncated. It returns ctx.Err() when ctx is done and
	// an error wrapping net.ErrClosed once the link is closed.
	ReadPacket(ctx context.Context, b []byte) (int, error)
	// WritePacket sends one packet. The link does not keep p after the call
	// returns. It may block while the link applies backpressure, until ctx
	// is done.
	WritePacket(ctx context.Context, p []byte) error
	// MTU is the largest packet, IP header included, the link carries.
	MTU() int
	// Close releases the link and unblocks pending reads and writes.
	Close() error
}

// Buffered is a Link that can tell whether ReadPacket would return at
// once. A stack uses it to take a burst of packets as a whole: one ACK
// for the burst rather than one for every second segment of it.
type Buffered interface {
	// Buffered is how many packets ReadPacket would return now without
	// blocking: a lower bound, 0 when it cannot tell.
	Buffered() int
}

// ErrTruncated reports a packet that did not fit the reader's buffer.
var ErrTruncated = errors.New("wire: packet truncated: read buffer shorter than the packet")
