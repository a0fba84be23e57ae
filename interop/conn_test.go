package interop

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"tcplab/handmade"
	"tcplab/netstackref"
	"tcplab/wire"
)

var (
	addrA = netip.MustParseAddr("198.18.0.1")
	addrB = netip.MustParseAddr("198.18.0.2")
)

// dialer and listener abstract over the two stacks.
type stack interface {
	listen(t *testing.T, port uint16) net.Listener
	dial(ctx context.Context, remote netip.AddrPort) (net.Conn, error)
}

type hm struct{ s *handmade.Stack }

func (h hm) listen(t *testing.T, port uint16) net.Listener {
	l, err := h.s.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
func (h hm) dial(ctx context.Context, r netip.AddrPort) (net.Conn, error) { return h.s.Dial(ctx, r) }

type ns struct{ s *netstackref.Stack }

func (n ns) listen(t *testing.T, port uint16) net.Listener {
	l, err := n.s.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
func (n ns) dial(ctx context.Context, r netip.AddrPort) (net.Conn, error) { return n.s.Dial(ctx, r) }

// newPair puts stack kinds ka and kb ("handmade", "netstack") on the two
// ends of a fresh in-memory wire.
func newPair(t *testing.T, pc wire.PipeConfig, ka, kb string) (stack, stack) {
	t.Helper()
	ea, eb := wire.Pipe(pc)
	return newStacks(t, ea, eb, ka, kb)
}

// newStacks puts stack kinds ka and kb on ea and eb, closed at cleanup.
// netstack records its endpoints' state for a stall's dump.
func newStacks(t *testing.T, ea, eb wire.Link, ka, kb string) (stack, stack) {
	t.Helper()
	return newStacksWith(t, ea, eb, ka, kb, nil)
}

// newStacksWith is newStacks with netstack's options adjusted by tune.
func newStacksWith(t *testing.T, ea, eb wire.Link, ka, kb string, tune func(*netstackref.Options)) (stack, stack) {
	t.Helper()
	t.Cleanup(func() { ea.Close() })
	mk := func(kind string, l wire.Link, addr netip.Addr) stack {
		switch kind {
		case "handmade":
			s, err := handmade.NewStack(l, addr, handmade.Config{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return hm{s}
		default:
			opt := netstackref.DefaultOptions()
			opt.RecordState = true
			if tune != nil {
				tune(&opt)
			}
			s, err := netstackref.New(l, addr, opt)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return ns{s}
		}
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
					ln := server.listen(t, port)
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
					cc, err := client.dial(ctx, netip.AddrPortFrom(addrB, port))
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
