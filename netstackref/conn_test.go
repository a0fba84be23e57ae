package netstackref

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// connectedPair dials from a to a listener on b and returns both ends.
func connectedPair(t *testing.T) (client, server *Conn) {
	t.Helper()
	a, b := newStackPair(t)
	ln, err := b.Listen(5010)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(acc)
			return
		}
		acc <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := a.Dial(ctx, netip.AddrPortFrom(addrB, 5010))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := <-acc
	if !ok {
		t.Fatal("accept failed")
	}
	cc, ok1 := c.(*Conn)
	sc, ok2 := s.(*Conn)
	if !ok1 || !ok2 {
		t.Fatalf("Dial returned %T, Accept %T; want *Conn", c, s)
	}
	t.Cleanup(func() { cc.Close(); sc.Close() })
	return cc, sc
}

// TestConnOptions sets every per-connection option and reads it back from
// the gVisor endpoint.
func TestConnOptions(t *testing.T) {
	c, _ := connectedPair(t)
	if err := c.SetNoDelay(false); err != nil {
		t.Fatal(err)
	}
	if !c.ep.SocketOptions().GetDelayOption() {
		t.Error("SetNoDelay(false): Nagle (DelayOption) still off")
	}
	if err := c.SetNoDelay(true); err != nil {
		t.Fatal(err)
	}
	if c.ep.SocketOptions().GetDelayOption() {
		t.Error("SetNoDelay(true): Nagle (DelayOption) still on")
	}
	if err := c.SetKeepAlive(true); err != nil {
		t.Fatal(err)
	}
	if !c.ep.SocketOptions().GetKeepAlive() {
		t.Error("SetKeepAlive(true) did not take")
	}
	if err := c.SetKeepAliveConfig(3*time.Second, 2*time.Second, 4); err != nil {
		t.Fatal(err)
	}
	var idle tcpip.KeepaliveIdleOption
	var intvl tcpip.KeepaliveIntervalOption
	if err := c.ep.GetSockOpt(&idle); err != nil || time.Duration(idle) != 3*time.Second {
		t.Errorf("keep-alive idle = %v, %v; want 3s", time.Duration(idle), err)
	}
	if err := c.ep.GetSockOpt(&intvl); err != nil || time.Duration(intvl) != 2*time.Second {
		t.Errorf("keep-alive interval = %v, %v; want 2s", time.Duration(intvl), err)
	}
	if n, err := c.ep.GetSockOptInt(tcpip.KeepaliveCountOption); err != nil || n != 4 {
		t.Errorf("keep-alive count = %d, %v; want 4", n, err)
	}
	if err := c.SetUserTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	var ut tcpip.TCPUserTimeoutOption
	if err := c.ep.GetSockOpt(&ut); err != nil || time.Duration(ut) != 5*time.Second {
		t.Errorf("user timeout = %v, %v; want 5s", time.Duration(ut), err)
	}
	if err := c.SetLinger(7); err != nil {
		t.Fatal(err)
	}
	if l := c.ep.SocketOptions().GetLinger(); !l.Enabled || l.Timeout != 7*time.Second {
		t.Errorf("linger = %+v; want on, 7s", l)
	}
	if err := c.SetLinger(-1); err != nil {
		t.Fatal(err)
	}
	if l := c.ep.SocketOptions().GetLinger(); l.Enabled {
		t.Errorf("SetLinger(-1) left linger %+v", l)
	}
}

// TestConnAbort: Abort resets the connection, so the peer's Read fails
// with an error rather than io.EOF.
func TestConnAbort(t *testing.T) {
	c, s := connectedPair(t)
	if err := c.Abort(); err != nil {
		t.Fatal(err)
	}
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := s.Read(make([]byte, 1))
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("peer Read after Abort = %v; want a reset error", err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("peer Read after Abort timed out: no RST arrived")
	}
}

// TestListenerClose unblocks a pending Accept.
func TestListenerClose(t *testing.T) {
	_, b := newStackPair(t)
	ln, err := b.Listen(5011)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ln.Accept(); done <- err }()
	ln.Close() // before or during Accept: either way Accept must return
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close = %v; want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
}
