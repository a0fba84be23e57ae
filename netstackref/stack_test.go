package netstackref

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/faketime"

	"tcplab/wire"
)

// Options.Clock drives gVisor's timers: with a manual clock, a SYN to a
// silent peer is retransmitted only when the clock is advanced past the
// initial RTO (1 s), however long real time waits for it.
func TestManualClockDrivesTimers(t *testing.T) {
	clock := faketime.NewManualClock()
	opt := DefaultOptions()
	opt.Clock = clock
	a, b := wire.Pipe(wire.PipeConfig{})
	defer a.Close()
	s, err := New(a, netip.MustParseAddr("198.18.0.1"), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Dial(ctx, netip.MustParseAddrPort("198.18.0.2:12345"))
	buf := make([]byte, 1500)
	read := func(within time.Duration) bool {
		rctx, rcancel := context.WithTimeout(context.Background(), within)
		defer rcancel()
		_, err := b.ReadPacket(rctx, buf)
		return err == nil
	}
	if !read(5 * time.Second) {
		t.Fatal("no SYN")
	}
	if read(300 * time.Millisecond) {
		t.Fatal("a second SYN before the manual clock moved")
	}
	clock.Advance(1100 * time.Millisecond)
	if !read(5 * time.Second) {
		t.Fatal("no retransmitted SYN after advancing the clock past the initial RTO")
	}
}
