package handmade

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"tcplab/wire"
)

// stackPair makes two stacks on the two ends of a pipe.
func stackPair(t testing.TB, pc wire.PipeConfig, ca, cb Config) (a, b *Stack) {
	t.Helper()
	ea, eb := wire.Pipe(pc)
	var err error
	if a, err = NewStack(ea, addrA.Addr(), ca); err != nil {
		t.Fatal(err)
	}
	if b, err = NewStack(eb, addrB.Addr(), cb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		b.Close()
		ea.Close()
	})
	return a, b
}

// transfer uploads data from a to a listener on b and returns what b got.
func transfer(t testing.TB, a, b *Stack, data []byte) ([32]byte, int64) {
	t.Helper()
	ln, err := b.Listen(addrB.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		sum [32]byte
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		h := sha256.New()
		n, err := io.Copy(h, c)
		var r result
		copy(r.sum[:], h.Sum(nil))
		r.n, r.err = n, err
		done <- r
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := a.Dial(ctx, addrB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(data); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	// Wait for the peer's FIN so the transfer is complete both ways.
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("reading to EOF: %v", err)
	}
	c.Close()
	r := <-done
	if r.err != nil {
		t.Fatalf("server: %v", r.err)
	}
	return r.sum, r.n
}

func TestStackTransferClean(t *testing.T) {
	a, b := stackPair(t, wire.PipeConfig{Seed: 1}, Config{}, Config{})
	data := payload(4<<20, 9)
	sum, n := transfer(t, a, b, data)
	if n != int64(len(data)) || sum != sha256.Sum256(data) {
		t.Fatalf("got %d bytes, digest differs: %v", n, sum != sha256.Sum256(data))
	}
}

func TestStackTransferImpaired(t *testing.T) {
	for _, im := range []wire.Impairment{
		{Loss: 0.05},
		{Loss: 0.01, Dup: 0.01, Reorder: 0.05, Corrupt: 0.01},
	} {
		t.Run(im.String(), func(t *testing.T) {
			const seed = 3
			cfg := Config{MinRTO: 20 * time.Millisecond}
			a, b := stackPair(t, wire.PipeConfig{Seed: seed, AtoB: im, BtoA: im}, cfg, cfg)
			data := payload(1<<20, 4)
			sum, n := transfer(t, a, b, data)
			if n != int64(len(data)) || sum != sha256.Sum256(data) {
				t.Fatalf("seed %d: got %d bytes; digest equal %v", seed, n, sum == sha256.Sum256(data))
			}
		})
	}
}

func TestStackDialRefusedAndNoListener(t *testing.T) {
	a, _ := stackPair(t, wire.PipeConfig{}, Config{}, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := a.Dial(ctx, addrB)
	var op *net.OpError
	if !errors.As(err, &op) || !errors.Is(err, ErrRefused) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial to a port nobody listens on: %v", err)
	}
}

// TestStackManyConnections: 64 clients upload at once, under loss, to one
// listener whose queues hold them all: every upload arrives intact. (With
// smaller queues the overflow goes to SYN cookies, whose handshake a lost
// final ACK can break, as with Linux's; TestSYNFlood covers that regime.)
func TestStackManyConnections(t *testing.T) {
	a, b := stackPair(t, wire.PipeConfig{Seed: 2, AtoB: wire.Impairment{Loss: 0.01}, BtoA: wire.Impairment{Loss: 0.01}},
		Config{MinRTO: 20 * time.Millisecond}, Config{MinRTO: 20 * time.Millisecond, Backlog: 64, SYNQueue: 64})
	ln, err := b.Listen(addrB.Port())
	if err != nil {
		t.Fatal(err)
	}
	const n = 64
	sums := make(chan [32]byte, n)
	go func() {
		for range n {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				h := sha256.New()
				io.Copy(h, c)
				c.Close()
				var s [32]byte
				copy(s[:], h.Sum(nil))
				sums <- s
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	want := map[[32]byte]int{}
	errs := make(chan error, n)
	for i := range n {
		data := payload(64<<10, uint64(100+i))
		want[sha256.Sum256(data)]++
		go func() {
			c, err := a.Dial(ctx, addrB)
			if err != nil {
				errs <- err
				return
			}
			if _, err := c.Write(data); err != nil {
				errs <- err
				return
			}
			c.CloseWrite()
			_, err = io.Copy(io.Discard, c)
			c.Close()
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("seed 2: a client failed: %v; server %+v", err, b.Counters())
		}
	}
	for range n {
		select {
		case s := <-sums:
			if want[s] == 0 {
				t.Fatal("an upload arrived altered")
			}
			want[s]--
		case <-ctx.Done():
			t.Fatal("seed 2: not every upload arrived")
		}
	}
}

// TestStackCloseLeavesNoGoroutines: after a transfer, closing both stacks
// and the wire stops every goroutine they started (reader, writer, timers,
// the waits of Read and Accept).
func TestStackCloseLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	ea, eb := wire.Pipe(wire.PipeConfig{})
	a, _ := NewStack(ea, addrA.Addr(), Config{})
	b, _ := NewStack(eb, addrB.Addr(), Config{})
	ln, _ := b.Listen(addrB.Port())
	blocked := make(chan error, 2)
	accepted := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		close(accepted)
		for err == nil {
			_, err = c.Read(make([]byte, 10)) // "hello", then blocks until the stacks close
		}
		blocked <- err
	}()
	c, err := a.Dial(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	<-accepted
	go func() { _, err := ln.Accept(); blocked <- err }() // never gets one
	c.Write([]byte("hello"))
	a.Close()
	b.Close()
	ea.Close()
	for range 2 {
		if err := <-blocked; err == nil {
			t.Error("a blocked Read or Accept returned no error when its stack closed")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left over, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

// TestStackIgnoresInvalidSources: SYNs from addresses no peer can have
// (RFC 9293 §3.9.2.3 MUST-63; RFC 1122 §3.2.1.3) get nothing back, and are
// counted; a SYN from a real address right after is answered, and is the
// first packet the stack sends.
func TestStackIgnoresInvalidSources(t *testing.T) {
	ea, eb := wire.Pipe(wire.PipeConfig{Seed: 1})
	defer ea.Close()
	s, err := NewStack(eb, addrB.Addr(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Listen(addrB.Port()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var e Encoder
	bad := []string{"224.0.0.9", "255.255.255.255", "0.0.0.0", "127.0.0.1", "240.0.0.1"}
	for i, src := range append(bad, addrA.Addr().String()) {
		syn := Segment{Src: netip.AddrPortFrom(netip.MustParseAddr(src), uint16(40000+i)), Dst: addrB, SEQ: 1000, Flags: SYN, WND: 65535}
		if err := ea.WritePacket(ctx, e.Append(nil, &syn)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 1500)
	n, err := ea.ReadPacket(ctx, buf)
	if err != nil {
		t.Fatal(err)
	}
	var got Segment
	if err := Decode(buf[:n], &got); err != nil {
		t.Fatal(err)
	}
	if got.Flags != SYN|ACK || got.Dst.Addr() != addrA.Addr() {
		t.Fatalf("first reply %v to %v: want the SYN-ACK to %v", got.Flags, got.Dst, addrA.Addr())
	}
	if c := s.Counters(); c.DroppedBadSource != uint64(len(bad)) {
		t.Errorf("DroppedBadSource %d, want %d", c.DroppedBadSource, len(bad))
	}
}

// TestStackReopensFromTimeWait: the server closes first and sits in
// TIME-WAIT; the client dials again from the same port, with a newer
// timestamp: the SYN reopens the connection (RFC 9293 §3.6.1 MAY-2,
// RFC 6191), with an ISS above the old incarnation's, and the new
// connection carries data.
func TestStackReopensFromTimeWait(t *testing.T) {
	a, b := stackPair(t, wire.PipeConfig{}, Config{}, Config{})
	ln, err := b.Listen(addrB.Port())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c1, err := a.DialFrom(ctx, 40001, addrB)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	s1.Close() // the server closes first: TIME-WAIT on its side
	if _, err := io.Copy(io.Discard, c1); err != nil {
		t.Fatal(err)
	}
	c1.Close()
	for _, c := range []*Conn{s1, c1} { // the server to TIME-WAIT, the client out of LAST-ACK
		if err := c.WaitClosed(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st := s1.Info().State; st != TimeWait {
		t.Fatalf("server side in %v, want TIME-WAIT", st)
	}
	start := time.Now()
	c2, err := a.DialFrom(ctx, 40001, addrB)
	if err != nil {
		t.Fatalf("dial again from the same port: %v (server %s)", err, b.DebugDump())
	}
	defer c2.Close()
	s2, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := c2.Write([]byte("again")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(s2, buf); err != nil || string(buf) != "again" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if got := b.Counters().TimeWaitReopened; got != 1 {
		t.Errorf("TimeWaitReopened %d, want 1", got)
	}
	// The first SYN reopened it: a retransmitted one would come after the
	// initial RTO (1 s, RFC 6298 §2.1).
	if c2.Info().Retransmissions != 0 {
		t.Errorf("the SYN was retransmitted (handshake took %v): the first one did not reopen the connection", time.Since(start))
	}
}
