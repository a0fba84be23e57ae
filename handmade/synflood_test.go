package handmade

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"tcplab/wire"
)

// TestSYNFloodLegitimateClientGetsThrough: 10,000 SYNs from random
// addresses and ports, sent as fast as the wire takes them, while a real
// client connects and uploads 1 MiB: the upload completes within 5 s, and
// the listener's state stays bounded by its SYN queue (RFC 4987 §3.6
// cookies answer the rest).
func TestSYNFloodLegitimateClientGetsThrough(t *testing.T) {
	const seed = 11
	ea, eb := wire.Pipe(wire.PipeConfig{Seed: seed, QueueLen: 4096})
	defer ea.Close()
	client, err := NewStack(ea, addrA.Addr(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var e Encoder
	marker := e.Append(nil, &Segment{Src: netip.MustParseAddrPort("198.19.255.254:1"), Dst: addrB, SEQ: 1, Flags: SYN, WND: 65535})
	drained := &drainLink{Link: eb, marker: marker, handled: make(chan struct{})}
	server, err := NewStack(drained, addrB.Addr(), Config{SYNQueue: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	ln, err := server.Listen(addrB.Port())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	flooded := make(chan int, 1)
	go func() {
		r := rand.New(rand.NewPCG(seed, 2))
		var e Encoder
		buf := make([]byte, 0, 64)
		n := 0
		for ; n < 10000 && ctx.Err() == nil; n++ {
			src := netip.AddrFrom4([4]byte{198, 18 + byte(r.IntN(2)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
			syn := Segment{Src: netip.AddrPortFrom(src, uint16(1024+r.IntN(60000))), Dst: addrB, SEQ: Seq(r.Uint32()), Flags: SYN, WND: 65535,
				Options: Options{MSS: 1460, HasMSS: true}}
			if ea.WritePacket(ctx, e.Append(buf[:0], &syn)) != nil {
				break
			}
		}
		flooded <- n
	}()

	data := payload(1<<20, 5)
	done := make(chan [32]byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		h := sha256.New()
		io.Copy(h, c)
		c.Close()
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		done <- sum
	}()
	c, err := client.Dial(ctx, addrB)
	if err != nil {
		t.Fatalf("seed %d: the legitimate client could not connect during the flood: %v", seed, err)
	}
	if _, err := c.Write(data); err != nil {
		t.Fatalf("seed %d: upload: %v", seed, err)
	}
	c.CloseWrite()
	select {
	case sum := <-done:
		if sum != sha256.Sum256(data) {
			t.Fatal("digest differs")
		}
	case <-ctx.Done():
		t.Fatalf("seed %d: the upload did not complete within 5 s of the flood's start", seed)
	}
	// The upload can end with SYNs of the flood still queued on the wire
	// (up to QueueLen): count once the server has handled them all, the
	// marker SYN written after the last.
	n := <-flooded
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := ea.WritePacket(wctx, marker); err != nil {
		t.Fatal(err)
	}
	select {
	case <-drained.handled:
	case <-wctx.Done():
		t.Fatalf("seed %d: the server did not get through the flood's SYNs", seed)
	}
	server.mu.Lock()
	conns, sc := len(server.conns), server.counters
	server.mu.Unlock()
	t.Logf("%d SYNs sent; server: %d connections held, %d cookies sent, %d accepted, %d dropped for a full backlog", n, conns, sc.SYNCookiesSent, sc.SYNCookiesAccepted, sc.ListenOverflows)
	if n != 10000 {
		t.Errorf("only %d of 10000 SYNs went out before the deadline", n)
	}
	if conns > 64+2 {
		t.Errorf("the server holds %d connections: the flood was not bounded by the SYN queue of 64", conns)
	}
	// Every SYN beyond the queue is answered with a cookie, or dropped
	// while the accept backlog is full (the legitimate connection waiting
	// for Accept: how long depends on the machine's load).
	if sc.SYNCookiesSent == 0 || sc.SYNCookiesSent+sc.ListenOverflows < uint64(n)-64 {
		t.Errorf("%d cookies and %d SYNs dropped for a full backlog, for %d SYNs beyond a queue of 64", sc.SYNCookiesSent, sc.ListenOverflows, n)
	}
}

// drainLink is a server's end of the wire that tells when the stack has
// handled the marker packet: it comes back to read the next one.
type drainLink struct {
	wire.Link
	marker  []byte
	seen    bool // the reader goroutine's own
	handled chan struct{}
}

func (l *drainLink) ReadPacket(ctx context.Context, b []byte) (int, error) {
	if l.seen {
		l.seen = false
		close(l.handled)
	}
	n, err := l.Link.ReadPacket(ctx, b)
	if err == nil && bytes.Equal(b[:n], l.marker) {
		l.seen = true
	}
	return n, err
}

// Buffered forwards to the wire, so the server takes bursts as it would.
func (l *drainLink) Buffered() int { return l.Link.(wire.Buffered).Buffered() }
