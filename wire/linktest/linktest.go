// Package linktest checks what every wire.Link must do when a read has
// to end, for the tests of the implementations over real devices (TUN,
// AF_PACKET).
package linktest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"tcplab/wire"
)

// ReadEnds checks the ways a ReadPacket on l must end:
//   - blocked on an idle link, it returns nothing for 200 ms, then
//     context.Canceled within 500 ms of its context's cancellation;
//   - a packet too long for the buffer (inject makes one of more than
//     20 octets reach l) comes back truncated: wire.ErrTruncated, the
//     buffer holding the IPv4 header's start;
//   - its deadline passing gives context.DeadlineExceeded;
//   - Close ends it with net.ErrClosed; Close again is no error; then
//     ReadPacket and WritePacket (of pkt) fail with net.ErrClosed.
func ReadEnds(t *testing.T, l wire.Link, inject func() error, pkt []byte) {
	t.Helper()
	read := func(ctx context.Context, buf []byte) <-chan error {
		errc := make(chan error, 1)
		go func() {
			_, err := l.ReadPacket(ctx, buf)
			errc <- err
		}()
		return errc
	}
	wait := func(what string, errc <-chan error) error {
		t.Helper()
		start := time.Now()
		select {
		case err := <-errc:
			if el := time.Since(start); el > 500*time.Millisecond {
				t.Errorf("%s: ReadPacket took %v to return", what, el)
			}
			return err
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: ReadPacket still blocked after 5 s", what)
			return nil
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	errc := read(ctx, make([]byte, 2048))
	select {
	case err := <-errc:
		t.Fatalf("ReadPacket on an idle link returned %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	if err := wait("cancel", errc); !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v; want context.Canceled", err)
	}

	// The cancel's deadline is gone: the next read takes a packet.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	small := make([]byte, 20)
	got := read(ctx2, small)
	if err := inject(); err != nil {
		t.Fatalf("sending a packet into the link: %v", err)
	}
	if err := <-got; !errors.Is(err, wire.ErrTruncated) || small[0]>>4 != 4 {
		t.Errorf("a packet of more than 20 octets into 20: %v, %x; want ErrTruncated and an IPv4 header's start", err, small)
	}

	ctx3, cancel3 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel3()
	if err := wait("deadline", read(ctx3, make([]byte, 2048))); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("after the deadline: %v; want context.DeadlineExceeded", err)
	}

	errc = read(context.Background(), make([]byte, 2048))
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := wait("Close", errc); !errors.Is(err, net.ErrClosed) {
		t.Errorf("after Close: %v; want net.ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := l.ReadPacket(context.Background(), make([]byte, 1500)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadPacket after Close: %v", err)
	}
	if err := l.WritePacket(context.Background(), pkt); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WritePacket after Close: %v", err)
	}
}
