package handmade

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tcplab/wire"
)

// blackhole wraps a link and, once on, drops everything written to it.
type blackhole struct {
	wire.Link
	on atomic.Bool
}

func (b *blackhole) WritePacket(ctx context.Context, p []byte) error {
	if b.on.Load() {
		return nil
	}
	return b.Link.WritePacket(ctx, p)
}

// connectedPair returns a client Conn, the server's accepted Conn, and the
// switch that silences the server.
func connectedPair(t *testing.T) (*Conn, *Conn, *blackhole) {
	t.Helper()
	ea, eb := wire.Pipe(wire.PipeConfig{})
	t.Cleanup(func() { ea.Close() })
	hole := &blackhole{Link: eb}
	a, err := NewStack(ea, addrA.Addr(), Config{MinRTO: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewStack(hole, addrB.Addr(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	ln, err := b.Listen(addrB.Port())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := a.Dial(ctx, netip.AddrPortFrom(addrB.Addr(), addrB.Port()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	return c, s, hole
}

func TestConnKeepAliveEndsADeadPeer(t *testing.T) {
	c, _, hole := connectedPair(t)
	if err := c.SetKeepAliveConfig(20*time.Millisecond, 10*time.Millisecond, 3); err != nil {
		t.Fatal(err)
	}
	c.SetKeepAlive(true)
	hole.on.Store(true)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 10))
	if !errors.Is(err, ErrTimedOut) || !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("read on a dead peer with keep-alive: %v, want a timeout from the keep-alive", err)
	}
	if i := c.Info(); i.Counters.KeepAliveProbes != 3 {
		t.Errorf("%d keep-alive probes, want 3", i.Counters.KeepAliveProbes)
	}
}

func TestConnUserTimeout(t *testing.T) {
	c, _, hole := connectedPair(t)
	c.SetUserTimeout(50 * time.Millisecond)
	hole.on.Store(true)
	if _, err := c.Write([]byte("never acknowledged")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 10))
	if !errors.Is(err, ErrTimedOut) {
		t.Fatalf("read after the user timeout: %v, want ErrTimedOut", err)
	}
	if i := c.Info(); i.State != Closed || i.Counters.ResetsSent != 1 {
		t.Errorf("after the user timeout: state %v, %d resets sent", i.State, i.Counters.ResetsSent)
	}
}

func TestConnLingerZeroResets(t *testing.T) {
	c, s, _ := connectedPair(t)
	c.SetLinger(0)
	c.Close()
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := s.Read(make([]byte, 10))
	if !errors.Is(err, ErrReset) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("peer of an SO_LINGER 0 close reads %v, want connection reset", err)
	}
}

// Config.CongestionControl picks every connection's algorithm; NewStack
// refuses a name it does not know, naming the ones it does;
// Conn.SetCongestionControl switches one connection (TCP_CONGESTION).
func TestConnCongestionControl(t *testing.T) {
	ea, eb := wire.Pipe(wire.PipeConfig{})
	t.Cleanup(func() { ea.Close() })
	if _, err := NewStack(ea, addrA.Addr(), Config{CongestionControl: "bbr"}); err == nil ||
		err.Error() != `handmade: unknown congestion control "bbr": want "newreno" or "cubic"` {
		t.Fatalf("NewStack with bbr: %v", err)
	}
	a, err := NewStack(ea, addrA.Addr(), Config{CongestionControl: CUBIC})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewStack(eb, addrB.Addr(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	ln, err := b.Listen(addrB.Port())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := a.Dial(ctx, addrB)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Info().CongestionControl; got != CUBIC {
		t.Errorf("client: %q, want cubic", got)
	}
	if got := s.Info().CongestionControl; got != NewReno {
		t.Errorf("server: %q, want the default newreno", got)
	}
	if err := s.SetCongestionControl(CUBIC); err != nil || s.Info().CongestionControl != CUBIC {
		t.Errorf("server switched to cubic: %v, Info %q", err, s.Info().CongestionControl)
	}
	if err := c.SetCongestionControl("reno"); err == nil || c.Info().CongestionControl != CUBIC {
		t.Errorf("client set to reno: %v, Info %q; want an error and cubic kept", err, c.Info().CongestionControl)
	}
}
