package handmade

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"tcplab/wire"
)

// BenchmarkTCBSteadyState moves data between two TCBs with no goroutine,
// link or clock in between: each iteration is one full-sized data segment
// from a to b, encoded and decoded as on a wire, and whatever ACKs b
// sends back. allocs/op is allocations per segment in steady state, both
// ends' data path and the codec together (issue #6 asks for none).
func BenchmarkTCBSteadyState(b *testing.B) {
	now := epoch
	ca, cb := Config{}.withDefaults(1500), Config{}.withDefaults(1500)
	a := newTCB(&ca, addrA, addrB, 1000, now)
	a.openActive(now)
	var enc Encoder
	var out, in Segment
	pkt := make([]byte, 0, 1<<16)
	buf := make([]byte, 1<<17)
	// carry moves one segment of from's to to, as a wire would.
	carry := func(to *TCB) {
		pkt = enc.Append(pkt[:0], &out)
		if err := Decode(pkt, &in); err != nil {
			b.Fatal(err)
		}
		to.Input(&in, now)
	}
	if !a.Output(now, &out, buf) {
		b.Fatal("no SYN")
	}
	pkt = enc.Append(pkt[:0], &out)
	if err := Decode(pkt, &in); err != nil {
		b.Fatal(err)
	}
	z := newTCB(&cb, addrB, addrA, 5000, now)
	z.openPassive(&in, now)
	pump := func(from, to *TCB) int {
		n := 0
		for from.Output(now, &out, buf) {
			carry(to)
			n++
		}
		return n
	}
	pump(z, a)
	pump(a, z)
	if a.State != Established || z.State != Established {
		b.Fatalf("states %v, %v after the handshake", a.State, z.State)
	}
	data := make([]byte, 64<<10)
	sink := make([]byte, 64<<10)
	b.SetBytes(int64(a.sndMSS))
	b.ReportAllocs()
	segs := 0
	for b.Loop() {
		for {
			a.Write(data, now)
			if a.Output(now, &out, buf) {
				segs++
				carry(z)
				break
			}
			// Nothing may go: let time pass for delayed ACKs and timers.
			now = now.Add(time.Millisecond)
			for _, t := range []*TCB{a, z} {
				if d := t.Deadline(); !d.IsZero() && !d.After(now) {
					t.OnTimer(now)
				}
			}
			pump(z, a)
		}
		for z.Read(sink, now) > 0 {
		}
		now = now.Add(10 * time.Microsecond)
		pump(z, a)
	}
	if a.Counters.Retransmissions != 0 {
		b.Errorf("%d retransmissions on a wire that loses nothing", a.Counters.Retransmissions)
	}
}

// BenchmarkStackSteadyState is the same through two Stacks on the
// in-memory wire, goroutines and all: one connection stays open and each
// iteration moves 64 KiB through it, written on one side and read on the
// other. allocs/segment is the allocations of both stacks and the wire
// per data segment.
func BenchmarkStackSteadyState(b *testing.B) {
	a, z := stackPair(b, wire.PipeConfig{}, Config{}, Config{})
	ln, err := z.Listen(addrB.Port())
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			b.Error(err)
		}
		accepted <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := a.Dial(ctx, addrB)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	if s == nil {
		b.Fatal("no connection accepted")
	}
	defer s.Close()
	const chunk = 64 << 10
	data, sink := make([]byte, chunk), make([]byte, chunk)
	read := func() error {
		_, err := io.ReadFull(s, sink)
		return err
	}
	// Warm up: buffers and pools at their steady size.
	for range 16 {
		go c.Write(data)
		if err := read(); err != nil {
			b.Fatal(err)
		}
	}
	// One writer for the whole run: a goroutine per iteration would be
	// the benchmark's own allocation.
	next, done := make(chan struct{}), make(chan error)
	go func() {
		for range next {
			_, err := c.Write(data)
			done <- err
		}
	}()
	defer close(next)
	segs0 := c.Info().Counters.SegmentsSent
	b.SetBytes(chunk)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		next <- struct{}{}
		if err := read(); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		n++
	}
	if segs := c.Info().Counters.SegmentsSent - segs0; segs > 0 {
		b.ReportMetric(float64(n*chunk)/float64(segs), "octets/segment")
	}
}
