package netstackref

import (
	"context"
	"fmt"
	"net"
	"sync"

	"tcplab/wire"
)

// fakeLink is one end of a pair of buffered channels: the smallest
// wire.Link that works. Writes block when the peer's queue is full
// (backpressure), never drop.
type fakeLink struct {
	in   <-chan []byte
	out  chan<- []byte
	mtu  int
	done chan struct{} // closed by Close of either end
	once *sync.Once
}

var _ wire.Link = (*fakeLink)(nil)

func newFakePair(mtu, queue int) (*fakeLink, *fakeLink) {
	ab := make(chan []byte, queue)
	ba := make(chan []byte, queue)
	done := make(chan struct{})
	once := new(sync.Once)
	return &fakeLink{in: ba, out: ab, mtu: mtu, done: done, once: once},
		&fakeLink{in: ab, out: ba, mtu: mtu, done: done, once: once}
}

func (l *fakeLink) ReadPacket(ctx context.Context, b []byte) (int, error) {
	select {
	case p := <-l.in:
		n := copy(b, p)
		if n < len(p) {
			return n, wire.ErrTruncated
		}
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-l.done:
		return 0, fmt.Errorf("fakelink read: %w", net.ErrClosed)
	}
}

func (l *fakeLink) WritePacket(ctx context.Context, p []byte) error {
	cp := append([]byte(nil), p...)
	// Prefer reporting closed over queueing.
	select {
	case <-l.done:
		return fmt.Errorf("fakelink write: %w", net.ErrClosed)
	default:
	}
	select {
	case l.out <- cp:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return fmt.Errorf("fakelink write: %w", net.ErrClosed)
	}
}

func (l *fakeLink) MTU() int { return l.mtu }

func (l *fakeLink) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}
