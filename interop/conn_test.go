package interop

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"tcplab/netstackref"
	"tcplab/stacks"
	"tcplab/wire"
)

var (
	addrA = netip.MustParseAddr("198.18.0.1")
	addrB = netip.MustParseAddr("198.18.0.2")
)

// listen listens on port of s, or fails the test.
func listen(t *testing.T, s *stacks.Stack, port uint16) net.Listener {
	t.Helper()
	l, err := s.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// newPair puts stacks ka and kb (stacks.Names) on the two ends of a fresh
// in-memory wire.
func newPair(t *testing.T, pc wire.PipeConfig, ka, kb string) (*stacks.Stack, *stacks.Stack) {
	t.Helper()
	ea, eb := wire.Pipe(pc)
	return newStacks(t, ea, eb, ka, kb)
}

// newStacks puts stacks ka and kb on ea and eb, closed at cleanup.
// netstack records its endpoints' state for a stall's dump.
func newStacks(t *testing.T, ea, eb wire.Link, ka, kb string) (*stacks.Stack, *stacks.Stack) {
	t.Helper()
	return newStacksWith(t, ea, eb, ka, kb, nil)
}

// newStacksWith is newStacks with netstack's options adjusted by tune.
func newStacksWith(t *testing.T, ea, eb wire.Link, ka, kb string, tune func(*netstackref.Options)) (*stacks.Stack, *stacks.Stack) {
	t.Helper()
	t.Cleanup(func() { ea.Close() })
	ns := netstackref.DefaultOptions()
	ns.RecordState = true
	if tune != nil {
		tune(&ns)
	}
	mk := func(name string, l wire.Link, addr netip.Addr) *stacks.Stack {
		s, err := stacks.Start(name, l, addr, stacks.Options{Netstack: ns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return mk(ka, ea, addrA), mk(kb, eb, addrB)
}

// TestNetConn runs golang.org/x/net/nettest.TestConn in the three pairings
// of the issue, each with the roles of c1 and c2 swapped: six runs.
func TestNetConn(t *testing.T) {
	for _, p := range [][2]string{{"handmade", "handmade"}, {"handmade", "netstack"}, {"netstack", "handmade"}} {
		for _, swap := range []bool{false, true} {
			name := p[0] + "-client-" + p[1] + "-server"
			if swap {
				name += "-swapped"
			}
			t.Run(name, func(t *testing.T) {
				port := uint16(12345)
				nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
					client, server := newPair(t, wire.PipeConfig{}, p[0], p[1])
					port++
					ln := listen(t, server, port)
					accepted := make(chan net.Conn, 1)
					go func() {
						c, err := ln.Accept()
						if err != nil {
							close(accepted)
							return
						}
						accepted <- c
					}()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					cc, err := client.Dial(ctx, netip.AddrPortFrom(addrB, port))
					if err != nil {
						return nil, nil, nil, err
					}
					sc, ok := <-accepted
					if !ok {
						return nil, nil, nil, net.ErrClosed
					}
					stop = func() {
						cc.Close()
						sc.Close()
						ln.Close()
					}
					if swap {
						return sc, cc, stop, nil
					}
					return cc, sc, stop, nil
				})
			})
		}
	}
}
