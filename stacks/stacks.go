// Package stacks starts the lab's in-process TCP stacks by name, the
// hand-built one or gVisor's netstack, on a wire.Link with an address, and
// drives either through one type: Dial and Listen, the counters a report
// needs, and Close or Shutdown. The CLI's client and server, the
// throughput bench, compare's paired runs and the interop tests start
// their stacks here, each with its own options.
//
// Code that needs one stack's own API starts that stack itself: compare's
// conformance DUTs (virtual clocks, per-scenario settings) and the demo
// (the hand-built stack's narration and its seed profile). The Linux
// kernel is no stack of this package: it sits behind its own sockets or a
// TUN device, not on a wire.Link of ours. handmade itself never imports
// gVisor; this package imports both.
package stacks

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"tcplab/handmade"
	"tcplab/netstackref"
	"tcplab/wire"
)

// Stack names, as the CLI, the bench and the reports spell them.
const (
	Handmade = "handmade"
	Netstack = "netstack"
)

// Names are the stacks Start knows.
var Names = []string{Handmade, Netstack}

// UnknownError is Start's error for a name that is not in Names.
type UnknownError struct{ Name string }

func (e *UnknownError) Error() string {
	return fmt.Sprintf("stacks: unknown stack %q: want %s", e.Name, strings.Join(Names, " or "))
}

// Options configure whichever stack Start runs; the other's are unused.
type Options struct {
	// Handmade is the hand-built stack's configuration; its zero value is
	// handmade's defaults.
	Handmade handmade.Config
	// Netstack are gVisor's options; the zero value means
	// netstackref.DefaultOptions (netstackref.New rejects a zero
	// netstackref.Options).
	Netstack netstackref.Options
}

// Stack is one running stack. Exactly one of hm and ns is set.
type Stack struct {
	name string
	hm   *handmade.Stack
	ns   *netstackref.Stack
}

// Start runs stack name (one of Names) owning addr on l. The caller keeps
// l: closing the stack leaves it open. An unknown name is an
// *UnknownError.
func Start(name string, l wire.Link, addr netip.Addr, opt Options) (*Stack, error) {
	switch name {
	case Handmade:
		s, err := handmade.NewStack(l, addr, opt.Handmade)
		if err != nil {
			return nil, err
		}
		return &Stack{name: name, hm: s}, nil
	case Netstack:
		o := opt.Netstack
		if o == (netstackref.Options{}) {
			o = netstackref.DefaultOptions()
		}
		s, err := netstackref.New(l, addr, o)
		if err != nil {
			return nil, err
		}
		return &Stack{name: name, ns: s}, nil
	}
	return nil, &UnknownError{Name: name}
}

// Name is the stack's name, one of Names.
func (s *Stack) Name() string { return s.name }

// Dial connects from an ephemeral port to remote.
func (s *Stack) Dial(ctx context.Context, remote netip.AddrPort) (net.Conn, error) {
	return s.DialFrom(ctx, 0, remote)
}

// DialFrom connects from local port port (0: an ephemeral one) to remote.
func (s *Stack) DialFrom(ctx context.Context, port uint16, remote netip.AddrPort) (net.Conn, error) {
	if s.ns != nil {
		return s.ns.DialFrom(ctx, port, remote)
	}
	c, err := s.hm.DialFrom(ctx, port, remote)
	if err != nil {
		return nil, err // not a nil *handmade.Conn in a non-nil net.Conn
	}
	return c, nil
}

// Listen listens on port of the stack's address.
func (s *Stack) Listen(port uint16) (net.Listener, error) {
	if s.ns != nil {
		return s.ns.Listen(port)
	}
	ln, err := s.hm.Listen(port)
	if err != nil {
		return nil, err
	}
	return ln, nil
}

// Retransmissions counts c's retransmitted segments. gVisor counts only
// for the whole stack: then stackWide is true and n is every connection's.
func (s *Stack) Retransmissions(c net.Conn) (n uint64, stackWide bool) {
	if s.ns != nil {
		return s.ns.Counters().Retransmits, true
	}
	if hc, ok := c.(*handmade.Conn); ok {
		return hc.Info().Counters.Retransmissions, false
	}
	return 0, false
}

// State names c's TCP state as RFC 9293 does, for error messages; "" where
// the stack does not say (netstack).
func (s *Stack) State(c net.Conn) string {
	if hc, ok := c.(*handmade.Conn); ok && s.hm != nil {
		return hc.Info().State.String()
	}
	return ""
}

// DebugDump describes the stack's connections for a stalled test. netstack
// has its endpoints' internal state only with Options.Netstack.RecordState.
func (s *Stack) DebugDump() string {
	if s.ns != nil {
		return s.ns.DebugDump()
	}
	return s.hm.DebugDump()
}

// Close stops the stack now: each stack aborts its connections (see
// handmade.Stack.Close and netstackref.Stack.Close) and its goroutines
// have exited when Close returns.
func (s *Stack) Close() error {
	if s.ns != nil {
		return s.ns.Close()
	}
	return s.hm.Close()
}

// Shutdown is Close once the FINs of connections already closed are
// acknowledged, or once ctx ends, whichever is first; the stack is closed
// either way and the error is Close's (ctx.Err tells a wait cut short).
// gVisor sends a closed connection's FIN on its own time, after
// net.Conn.Close returns, so closing its stack at once can leave the peer
// waiting for a FIN that never comes. The hand-built stack queues a FIN
// within net.Conn.Close, and its Close lets queued segments out:
// Shutdown closes it at once, without waiting for acknowledgements.
func (s *Stack) Shutdown(ctx context.Context) error {
	if s.ns != nil {
		s.ns.WaitFINsAcked(ctx)
	}
	return s.Close()
}
