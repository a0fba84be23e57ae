package wire

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// TapSnaplen is the snapshot length written in the pcap header of a Tap.
const TapSnaplen = 262144

// Tap is a Link that forwards to another Link and records every packet it
// reads and every packet it writes in a pcap file (LINKTYPE_RAW, nanosecond
// timestamps from time.Now()). It is safe for concurrent use.
type Tap struct {
	l Link

	mu      sync.Mutex
	w       *pcapgo.Writer
	packets uint64
	err     error
}

var (
	_ Link     = (*Tap)(nil)
	_ Buffered = (*Tap)(nil)
)

// NewTap writes a pcap file header to w and returns a Tap around l.
func NewTap(l Link, w io.Writer) (*Tap, error) {
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(TapSnaplen, layers.LinkTypeRaw); err != nil {
		return nil, err
	}
	return &Tap{l: l, w: pw}, nil
}

func (t *Tap) record(p []byte, length int) {
	now := time.Now()
	if len(p) > TapSnaplen {
		p = p[:TapSnaplen]
	}
	ci := gopacket.CaptureInfo{Timestamp: now, CaptureLength: len(p), Length: length}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	if err := t.w.WritePacket(ci, p); err != nil {
		t.err = err
		return
	}
	t.packets++
}

// ReadPacket reads from the underlying Link and records what it got (only
// the part that fit, for a truncated packet).
func (t *Tap) ReadPacket(ctx context.Context, b []byte) (int, error) {
	n, err := t.l.ReadPacket(ctx, b)
	if n > 0 && (err == nil || errors.Is(err, ErrTruncated)) {
		t.record(b[:n], n)
	}
	return n, err
}

// WritePacket records p as passed, then writes it to the underlying Link. A
// packet the Link then refuses (too long, closed, cancelled) stays in the
// capture.
func (t *Tap) WritePacket(ctx context.Context, p []byte) error {
	if len(p) > 0 {
		t.record(p, len(p))
	}
	return t.l.WritePacket(ctx, p)
}

// Buffered is the underlying Link's Buffered, 0 if it has none.
func (t *Tap) Buffered() int {
	if b, ok := t.l.(Buffered); ok {
		return b.Buffered()
	}
	return 0
}

// MTU returns the MTU of the underlying Link.
func (t *Tap) MTU() int { return t.l.MTU() }

// Close closes the underlying Link, not the capture writer.
func (t *Tap) Close() error { return t.l.Close() }

// Packets returns the number of packets recorded so far.
func (t *Tap) Packets() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.packets
}

// Err returns the first error writing the capture; recording stops there,
// while the Tap keeps forwarding packets.
func (t *Tap) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}
