package stacks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"tcplab/handmade"
	"tcplab/internal/leakcheck"
	"tcplab/netstackref"
	"tcplab/wire"
)

var (
	clientAddr = netip.MustParseAddr("198.18.0.1")
	serverAt   = netip.MustParseAddrPort("198.18.0.2:12345")
)

// TestStart_Pairings starts each stack as client and as server over an
// in-memory wire, moves 48 KiB up and echoes them back, and closes both
// stacks (client by Shutdown, server by Close): the bytes arrive intact,
// the counters say whose they are, and no goroutine is left behind.
func TestStart_Pairings(t *testing.T) {
	payload := make([]byte, 48<<10)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for _, client := range Names {
		for _, server := range Names {
			t.Run(client+"-to-"+server, func(t *testing.T) {
				check := leakcheck.Goroutines(t)
				ea, eb := wire.Pipe(wire.PipeConfig{})
				defer eb.Close()
				defer ea.Close()
				cs, err := Start(client, ea, clientAddr, Options{})
				if err != nil {
					t.Fatalf("Start(%s): %v", client, err)
				}
				ss, err := Start(server, eb, serverAt.Addr(), Options{})
				if err != nil {
					cs.Close()
					t.Fatalf("Start(%s): %v", server, err)
				}
				if cs.Name() != client || ss.Name() != server {
					t.Errorf("names %q, %q: want %q, %q", cs.Name(), ss.Name(), client, server)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				echoed, serverErr := echo(ctx, t, ss, cs, payload)
				if !bytes.Equal(echoed, payload) || serverErr != nil {
					t.Errorf("echoed %d of %d octets, equal %v; server: %v", len(echoed), len(payload), bytes.Equal(echoed, payload), serverErr)
				}
				if err := cs.Shutdown(ctx); err != nil {
					t.Errorf("client Shutdown: %v", err)
				}
				if err := ss.Close(); err != nil {
					t.Errorf("server Close: %v", err)
				}
				ea.Close()
				eb.Close()
				check()
			})
		}
	}
}

// echo dials ss from cs, writes payload, half-closes and reads what ss
// echoes until its FIN; it checks the stack's view of the client's
// connection on the way.
func echo(ctx context.Context, t *testing.T, ss, cs *Stack, payload []byte) (echoed []byte, serverErr error) {
	t.Helper()
	ln, err := ss.Listen(serverAt.Port())
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(c, c)
		if err == nil {
			err = c.(interface{ CloseWrite() error }).CloseWrite()
		}
		served <- err
	}()
	c, err := cs.Dial(ctx, serverAt)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c)
		read <- b
	}()
	if _, err := c.Write(payload); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	echoed, serverErr = <-read, <-served

	// A count need not be 0 even on a clean wire (a tail loss probe
	// may fire on a slow machine); whose count it is is fixed.
	if _, stackWide := cs.Retransmissions(c); stackWide != (cs.Name() == Netstack) {
		t.Errorf("Retransmissions: stack-wide %v for %s", stackWide, cs.Name())
	}
	// Both FINs are exchanged; ours may still wait for its ACK.
	switch st := cs.State(c); {
	case cs.Name() == Netstack && st != "":
		t.Errorf("State %q: netstack says none", st)
	case cs.Name() == Handmade && st != "TIME-WAIT" && st != "CLOSING" && st != "FIN-WAIT-1" && st != "FIN-WAIT-2":
		t.Errorf("State %q: want one after our FIN and theirs", st)
	}
	if d := cs.DebugDump(); !strings.HasPrefix(d, cs.Name()+" ") {
		t.Errorf("DebugDump %q: not the %s stack's", d, cs.Name())
	}
	return echoed, serverErr
}

// TestStart_UnknownName: a name not in Names, the kernel's among them, is
// an *UnknownError that lists the names there are.
func TestStart_UnknownName(t *testing.T) {
	ea, eb := wire.Pipe(wire.PipeConfig{})
	defer eb.Close()
	defer ea.Close()
	for _, name := range []string{"linux", "", "Handmade"} {
		s, err := Start(name, ea, clientAddr, Options{})
		var ue *UnknownError
		if s != nil || !errors.As(err, &ue) || ue.Name != name {
			t.Fatalf("Start(%q) = %v, %v: want an *UnknownError naming it", name, s, err)
		}
		if msg := err.Error(); !strings.Contains(msg, `"`+name+`"`) || !strings.Contains(msg, "handmade or netstack") {
			t.Errorf("error %q: want the name and the valid names", msg)
		}
	}
}

// TestStart_OptionsReachTheStack: each stack gets its own options, not
// the defaults: a congestion control neither knows fails its start.
func TestStart_OptionsReachTheStack(t *testing.T) {
	ea, eb := wire.Pipe(wire.PipeConfig{})
	defer eb.Close()
	defer ea.Close()
	ns := netstackref.DefaultOptions()
	ns.CongestionControl = "no-such-cc"
	opt := Options{Handmade: handmade.Config{CongestionControl: "no-such-cc"}, Netstack: ns}
	for _, name := range Names {
		if s, err := Start(name, ea, clientAddr, opt); err == nil {
			s.Close()
			t.Errorf("Start(%s) with congestion control %q: no error", name, "no-such-cc")
		}
	}
}
