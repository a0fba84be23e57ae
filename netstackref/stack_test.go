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

// Over a lossy wire a gVisor sender recovers (SACK recovery or a tail
// loss probe: Counters reads them from Stats().TCP), and the receiver,
// which sends no data, recovers nothing.
func TestRecoveryCounters(t *testing.T) {
	ea, eb := wire.Pipe(wire.PipeConfig{Seed: 7, AtoB: wire.Impairment{Loss: 0.05, Delay: time.Millisecond}})
	defer ea.Close()
	a, err := New(ea, addrA, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(eb, addrB, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ln, err := b.Listen(5002)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	payload := make([]byte, 512<<10)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := upload(ctx, a, b, ln, payload)
	if err != nil || r.n != int64(len(payload)) {
		t.Fatalf("upload: %d octets, %v", r.n, err)
	}
	ca, cb := a.Counters(), b.Counters()
	if ca.Retransmits == 0 || ca.SACKRecovery+ca.TLPRecovery+ca.FastRecovery == 0 {
		t.Errorf("sender over 5%% loss: %s", ca)
	}
	if cb.SACKRecovery+cb.TLPRecovery+cb.FastRecovery+cb.Retransmits != 0 {
		t.Errorf("receiver recovered what it never sent: %s", cb)
	}
	t.Logf("sender: %s", ca)
}
