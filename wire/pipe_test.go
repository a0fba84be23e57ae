package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"tcplab/internal/leakcheck"
)

func makePackets(n int) [][]byte {
	ps := make([][]byte, n)
	for i := range ps {
		ps[i] = tcpPacket(uint32(i+1), 1+(i*37)%1400)
	}
	return ps
}

// writeAll writes ps from a goroutine through a reused buffer that is wiped
// after every write (the pipe must copy). Wait for it with the returned
// function.
func writeAll(t *testing.T, w Link, ps [][]byte) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 0, 1500)
		for i, p := range ps {
			buf = append(buf[:0], p...)
			if err := w.WritePacket(context.Background(), buf); err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
			clear(buf)
		}
	}()
	return func() { <-done }
}

func sumLen(ps [][]byte) (n uint64) {
	for _, p := range ps {
		n += uint64(len(p))
	}
	return n
}

func TestPipeClean(t *testing.T) {
	a, b := Pipe(PipeConfig{Seed: 1, QueueLen: 16})
	defer a.Close()
	const n = 500
	for _, c := range []struct {
		name string
		w, r *End
	}{{"a->b", a, b}, {"b->a", b, a}} {
		t.Run(c.name, func(t *testing.T) {
			ps := makePackets(n)
			wait := writeAll(t, c.w, ps)
			for i := 0; i < n; i++ {
				got := readOne(t, c.r)
				if !bytes.Equal(got, ps[i]) {
					t.Fatalf("packet %d differs (seq %d, want %d)", i, seqOf(got), seqOf(ps[i]))
				}
			}
			wait()
			want := DirStats{Written: n, Delivered: n, BytesWritten: sumLen(ps), BytesDelivered: sumLen(ps)}
			if st := c.w.Stats(); st != want {
				t.Fatalf("stats %+v, want %+v", st, want)
			}
			expectNothing(t, c.r, 20*time.Millisecond)
		})
	}
	// Each end counts only what it writes: both directions carried n.
	if a.Stats().Written != n || b.Stats().Written != n {
		t.Fatalf("written a=%d b=%d", a.Stats().Written, b.Stats().Written)
	}
}

// Buffered counts what ReadPacket would return at once: on a clean wire
// every queued packet, on an impaired one those past their delay.
func TestPipeBuffered(t *testing.T) {
	for _, c := range []struct {
		name  string
		im    Impairment
		after int // Buffered after three writes
	}{
		{"clean", Impairment{}, 3},
		{"impaired, due", Impairment{Dup: 1e-12}, 3},
		{"impaired, delayed", Impairment{Delay: time.Hour}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := Pipe(PipeConfig{Seed: 1, AtoB: c.im})
			defer a.Close()
			if n := b.Buffered(); n != 0 {
				t.Fatalf("Buffered %d on an empty wire", n)
			}
			for i := range 3 {
				write(t, a, tcpPacket(uint32(i), 10))
			}
			if n := b.Buffered(); n != c.after {
				t.Fatalf("Buffered %d after three writes, want %d", n, c.after)
			}
			if a.Buffered() != 0 {
				t.Fatal("the writing end counts its own packets")
			}
			if c.after == 0 {
				return
			}
			readOne(t, b)
			if n := b.Buffered(); n != c.after-1 {
				t.Fatalf("Buffered %d after a read, want %d", n, c.after-1)
			}
		})
	}
}

func TestPipeSizes(t *testing.T) {
	for _, im := range []Impairment{{}, {Loss: 0.5}} {
		a, b := Pipe(PipeConfig{MTU: 100, AtoB: im})
		ctx := context.Background()
		err := a.WritePacket(ctx, make([]byte, 101))
		if err == nil || !strings.Contains(err.Error(), "101") || !strings.Contains(err.Error(), "100") {
			t.Fatalf("oversized: %v, want an error naming 101 and 100", err)
		}
		if err := a.WritePacket(ctx, nil); err == nil {
			t.Fatal("empty packet accepted")
		}
		if a.MTU() != 100 || b.MTU() != 100 {
			t.Fatal("MTU")
		}
		if st := a.Stats(); st.Written != 0 {
			t.Fatalf("refused packets counted: %+v", st)
		}
		a.Close()
	}
	a, _ := Pipe(PipeConfig{})
	if a.MTU() != 1500 {
		t.Fatalf("default MTU %d", a.MTU())
	}
	a.Close()
}

func TestPipeTruncated(t *testing.T) {
	for _, im := range []Impairment{{}, {Jitter: 1}} {
		a, b := Pipe(PipeConfig{AtoB: im})
		p := tcpPacket(7, 100)
		write(t, a, p)
		buf := make([]byte, 30)
		n, err := b.ReadPacket(context.Background(), buf)
		if !errors.Is(err, ErrTruncated) || n != 30 || !bytes.Equal(buf, p[:30]) {
			t.Fatalf("%v: got n=%d err=%v", im, n, err)
		}
		// The next packet is intact.
		write(t, a, p)
		if got := readOne(t, b); !bytes.Equal(got, p) {
			t.Fatal("next packet differs")
		}
		a.Close()
	}
}

// impairRun writes n packets a->b under im, reads every one that must come
// out, and checks that nothing more arrives.
type impairRun struct {
	sent   [][]byte
	got    [][]byte
	events []Event
	stats  DirStats
}

func runImpaired(t *testing.T, im Impairment, seed int64, n int) impairRun {
	return runImpairedHold(t, im, seed, n, 0)
}

func runImpairedHold(t *testing.T, im Impairment, seed int64, n int, hold time.Duration) impairRun {
	t.Helper()
	var mu sync.Mutex
	var r impairRun
	a, b := Pipe(PipeConfig{Seed: seed, AtoB: im, QueueLen: 64, Names: [2]string{"client", "server"}, ReorderHold: hold,
		Events: func(e Event) { mu.Lock(); r.events = append(r.events, e); mu.Unlock() }})
	defer a.Close()
	r.sent = makePackets(n)
	wait := writeAll(t, a, r.sent)
	// Read concurrently until the writer is done and the counters say
	// everything that must arrive has arrived.
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		buf := make([]byte, 1500)
		k, err := b.ReadPacket(ctx, buf)
		cancel()
		if err != nil {
			t.Fatalf("read after %d packets: %v (stats %+v)", len(r.got), err, a.Stats())
		}
		r.got = append(r.got, buf[:k])
		st := a.Stats()
		if st.Written == uint64(n) && uint64(len(r.got)) == st.Written-st.Lost+st.Duplicated {
			break
		}
	}
	wait()
	expectNothing(t, b, 30*time.Millisecond)
	r.stats = a.Stats()
	mu.Lock()
	defer mu.Unlock()
	counts := map[string]uint64{}
	for _, e := range r.events {
		counts[e.Kind]++
		if e.Dir != "client->server" || e.Index < 1 || e.Index > uint64(n) || e.Len != len(r.sent[e.Index-1]) {
			t.Fatalf("bad event %+v", e)
		}
		if want := Summary(r.sent[e.Index-1]); e.Packet != want {
			t.Fatalf("event packet %q, want %q", e.Packet, want)
		}
	}
	st := r.stats
	if counts[EventDrop] != st.Lost || counts[EventDup] != st.Duplicated ||
		counts[EventCorrupt] != st.Corrupted || counts[EventReorder] != st.Reordered {
		t.Fatalf("events %v do not match stats %+v", counts, st)
	}
	if st.Written != uint64(n) || st.Delivered != uint64(len(r.got)) || st.BytesWritten != sumLen(r.sent) ||
		st.BytesDelivered != sumLen(r.got) {
		t.Fatalf("stats %+v; read %d packets, %d bytes", st, len(r.got), sumLen(r.got))
	}
	return r
}

func near(t *testing.T, what string, got uint64, n int, frac float64) {
	t.Helper()
	want := float64(n) * frac
	if tol := 5*math.Sqrt(want) + 5; math.Abs(float64(got)-want) > tol {
		t.Fatalf("%s: %d of %d, want about %.0f", what, got, n, want)
	}
}

func eventIndexes(evs []Event, kind string) map[uint64]bool {
	m := map[uint64]bool{}
	for _, e := range evs {
		if e.Kind == kind {
			m[e.Index] = true
		}
	}
	return m
}

const nImpair = 2000

func TestImpairLoss(t *testing.T) {
	r := runImpaired(t, Impairment{Loss: 0.2}, 1, nImpair)
	near(t, "lost", r.stats.Lost, nImpair, 0.2)
	lost := eventIndexes(r.events, EventDrop)
	// What arrives is exactly what was not dropped, in order.
	j := 0
	for i, p := range r.sent {
		if lost[uint64(i+1)] {
			continue
		}
		if !bytes.Equal(r.got[j], p) {
			t.Fatalf("packet %d: got seq %d", i+1, seqOf(r.got[j]))
		}
		j++
	}
}

func TestImpairDup(t *testing.T) {
	r := runImpaired(t, Impairment{Dup: 0.2}, 2, nImpair)
	near(t, "duplicated", r.stats.Duplicated, nImpair, 0.2)
	dup := eventIndexes(r.events, EventDup)
	j := 0
	for i, p := range r.sent {
		copies := 1
		if dup[uint64(i+1)] {
			copies = 2 // the copy right after the original
		}
		for c := 0; c < copies; c++ {
			if !bytes.Equal(r.got[j], p) {
				t.Fatalf("packet %d copy %d: got seq %d", i+1, c, seqOf(r.got[j]))
			}
			j++
		}
	}
}

func TestImpairCorrupt(t *testing.T) {
	r := runImpaired(t, Impairment{Corrupt: 0.2}, 3, nImpair)
	near(t, "corrupted", r.stats.Corrupted, nImpair, 0.2)
	corrupt := map[uint64]Event{}
	for _, e := range r.events {
		corrupt[e.Index] = e
	}
	for i, p := range r.sent {
		got := r.got[i]
		diff := 0
		for k := range p {
			diff += bits.OnesCount8(p[k] ^ got[k])
		}
		e, ok := corrupt[uint64(i+1)]
		if !ok {
			if diff != 0 {
				t.Fatalf("packet %d changed without an event", i+1)
			}
			continue
		}
		if diff != 1 {
			t.Fatalf("packet %d: %d bits differ, want 1", i+1, diff)
		}
		if !bytes.Equal(got[:20], p[:20]) {
			t.Fatalf("packet %d: IPv4 header corrupted", i+1)
		}
		if tcpSum(got) == 0xffff {
			t.Fatalf("packet %d: TCP checksum still valid after %s", i+1, e.Detail)
		}
		var bit, byt int
		if _, err := fmt.Sscanf(e.Detail, "bit %d flipped (byte %d)", &bit, &byt); err != nil || byt != bit/8 ||
			p[byt] == got[byt] {
			t.Fatalf("packet %d: detail %q does not name the flipped bit", i+1, e.Detail)
		}
	}
}

func TestImpairReorder(t *testing.T) {
	// A hold far longer than any scheduling hiccup, so that every held
	// packet is overtaken (a shorter hold may expire while the writer is
	// blocked or descheduled). With seed 4 the last packet is not held, so
	// the run does not wait out the hold.
	r := runImpairedHold(t, Impairment{Reorder: 0.2}, 4, nImpair, time.Minute)
	// A packet is held only while no other is: about p/(1+p) of them.
	near(t, "reordered", r.stats.Reordered, nImpair, 0.2/1.2)
	pos := map[uint32]int{}
	for j, p := range r.got {
		pos[seqOf(p)] = j
	}
	if len(pos) != nImpair {
		t.Fatalf("%d distinct packets, want %d", len(pos), nImpair)
	}
	held := eventIndexes(r.events, EventReorder)
	for i := 1; i <= nImpair; i++ {
		if held[uint64(i)] {
			if i < nImpair && pos[uint32(i)] < pos[uint32(i+1)] {
				t.Fatalf("reordered packet %d arrived before packet %d", i, i+1)
			}
			continue
		}
		// Others keep their relative order.
		for k := i + 1; k <= nImpair && k <= i+3; k++ {
			if !held[uint64(k)] && pos[uint32(k)] < pos[uint32(i)] {
				t.Fatalf("packet %d overtook %d without a reorder event", k, i)
			}
		}
	}
}

func TestImpairReorderHoldBounded(t *testing.T) {
	// With no next packet, a held packet still arrives shortly.
	const hold = 20 * time.Millisecond
	a, b := Pipe(PipeConfig{AtoB: Impairment{Reorder: 1}, ReorderHold: hold})
	defer a.Close()
	p := tcpPacket(1, 10)
	start := time.Now()
	write(t, a, p)
	if got := readOne(t, b); !bytes.Equal(got, p) {
		t.Fatal("differs")
	}
	if el := time.Since(start); el < hold {
		t.Fatalf("held packet delivered after %v, before the hold %v", el, hold)
	}
	if a.Stats().Reordered != 1 {
		t.Fatalf("stats %+v", a.Stats())
	}
}

func TestImpairAll(t *testing.T) {
	im := Impairment{Loss: 0.1, Dup: 0.1, Reorder: 0.1, Corrupt: 0.1, Jitter: 50 * time.Microsecond, Rate: 2e9}
	r := runImpaired(t, im, 5, nImpair)
	near(t, "lost", r.stats.Lost, nImpair, 0.1)
	near(t, "duplicated", r.stats.Duplicated, nImpair, 0.1*0.9)
	near(t, "corrupted", r.stats.Corrupted, nImpair, 0.1*0.9)
}

func eventKeys(evs []Event) []string {
	var ks []string
	for _, e := range evs {
		ks = append(ks, fmt.Sprintf("%s#%d:%s", e.Kind, e.Index, e.Detail))
	}
	return ks
}

func TestDeterminism(t *testing.T) {
	im := Impairment{Loss: 0.05, Dup: 0.05, Reorder: 0.05, Corrupt: 0.05, Jitter: 20 * time.Microsecond}
	run := func(seed int64, hold ...time.Duration) ([]string, []string) {
		var evs [2][]Event
		cfg := PipeConfig{ReorderHold: time.Hour}
		if len(hold) > 0 {
			cfg.ReorderHold = hold[0]
		}
		a, b := Pipe(PipeConfig{Seed: seed, AtoB: im, BtoA: im, QueueLen: 1000, ReorderHold: cfg.ReorderHold,
			Events: func(e Event) {
				i := 0
				if e.Dir == "b->a" {
					i = 1
				}
				evs[i] = append(evs[i], e) // one writer per direction, sequential below
			}})
		defer a.Close()
		ps := makePackets(500)
		for _, p := range ps {
			write(t, a, p)
			write(t, b, p)
		}
		return eventKeys(evs[0]), eventKeys(evs[1])
	}
	x0, x1 := run(42)
	y0, y1 := run(42)
	z0, _ := run(43)
	if len(x0) < 50 {
		t.Fatalf("only %d events", len(x0))
	}
	if strings.Join(x0, " ") != strings.Join(y0, " ") || strings.Join(x1, " ") != strings.Join(y1, " ") {
		t.Fatal("same seed, different decisions")
	}
	if strings.Join(x0, " ") == strings.Join(x1, " ") {
		t.Fatal("both directions made the same decisions")
	}
	// However slowly packets are written: with a hold of a nanosecond
	// every reordered packet's hold runs out before the next write, as
	// it does for one held an hour when the writer is slow (a loaded
	// machine, -race). The events must not change.
	w0, w1 := run(42, time.Nanosecond)
	same := func(x, w []string) bool { // the reorder events name the hold
		return strings.Join(x, " ") == strings.ReplaceAll(strings.Join(w, " "), "(at most 1ns)", "(at most 1h0m0s)")
	}
	if !same(x0, w0) || !same(x1, w1) {
		t.Fatalf("same seed, different decisions when holds run out between writes:\n%v\n%v", x0, w0)
	}
	if strings.Join(x0, " ") == strings.Join(z0, " ") {
		t.Fatal("different seed, same decisions")
	}
}

func TestBackpressure(t *testing.T) {
	for _, c := range []struct {
		name string
		im   Impairment
	}{{"clean", Impairment{}}, {"impaired", Impairment{Jitter: 1}}, {"delayed", Impairment{Delay: 5 * time.Millisecond}}} {
		t.Run(c.name, func(t *testing.T) {
			a, b := Pipe(PipeConfig{QueueLen: 4, AtoB: c.im})
			defer a.Close()
			ps := makePackets(6)
			for _, p := range ps[:4] {
				write(t, a, p)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			err := a.WritePacket(ctx, ps[4])
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("5th write: %v, want DeadlineExceeded", err)
			}
			// A blocked write goes through once a read frees room.
			done := make(chan error, 1)
			go func() { done <- a.WritePacket(context.Background(), ps[4]) }()
			if got := readOne(t, b); !bytes.Equal(got, ps[0]) {
				t.Fatal("first packet differs")
			}
			if err := <-done; err != nil {
				t.Fatalf("write after read: %v", err)
			}
			// Nothing was lost: the rest arrives in order, the timed-out
			// attempt was not counted.
			for _, p := range ps[1:5] {
				if got := readOne(t, b); !bytes.Equal(got, p) {
					t.Fatalf("got seq %d, want %d", seqOf(got), seqOf(p))
				}
			}
			expectNothing(t, b, 20*time.Millisecond)
			if st := a.Stats(); st.Written != 5 || st.Delivered != 5 || st.Lost != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestDelay(t *testing.T) {
	const delay = 40 * time.Millisecond
	a, b := Pipe(PipeConfig{AtoB: Impairment{Delay: delay, Jitter: 5 * time.Millisecond}})
	defer a.Close()
	for i := 0; i < 3; i++ {
		p := tcpPacket(uint32(i), 100)
		start := time.Now()
		write(t, a, p)
		got := readOne(t, b)
		if el := time.Since(start); el < delay {
			t.Fatalf("packet readable after %v, before the delay %v", el, delay)
		}
		if !bytes.Equal(got, p) {
			t.Fatal("differs")
		}
	}
	if st := a.Stats(); st.Delayed != 3 || st.DelayTotal < 3*delay || st.RateQueued != 0 {
		t.Errorf("stats %+v: want 3 packets delayed by at least %v each, none rate-queued", st, delay)
	}
}

// TestShortDelay: under spinBelow the reader waits out the last stretch
// without a timer; a packet is still never readable before its delay, the
// reader still wakes for a packet written while it waits, and the wire
// accounts for how late it handed packets over.
func TestShortDelay(t *testing.T) {
	const delay = 300 * time.Microsecond
	a, b := Pipe(PipeConfig{AtoB: Impairment{Delay: delay}})
	defer a.Close()
	if !a.out.spin {
		t.Fatalf("a %v delay does not take the spinning path", delay)
	}
	for i := 0; i < 20; i++ {
		p := tcpPacket(uint32(i), 100)
		start := time.Now()
		write(t, a, p)
		got := readOne(t, b)
		if el := time.Since(start); el < delay {
			t.Fatalf("packet %d readable after %v, before the delay %v", i, el, delay)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("packet %d differs", i)
		}
	}
	// The reader blocks with nothing queued; a write wakes it.
	got := make(chan []byte, 1)
	go func() { got <- readOne(t, b) }()
	p := tcpPacket(99, 10)
	write(t, a, p)
	if q := <-got; !bytes.Equal(q, p) {
		t.Fatal("packet written to a waiting reader differs")
	}
	st := a.Stats()
	if st.Delivered != 21 || st.Delayed != 21 || st.DelayTotal < 21*delay {
		t.Errorf("stats %+v: want 21 delivered, each delayed by at least %v", st, delay)
	}
	if st.LateTotal < 0 {
		t.Errorf("LateTotal %v is negative", st.LateTotal)
	}
	if newDirection(a.p, "x", 0, PipeConfig{}, Impairment{Delay: spinBelow}).spin {
		t.Errorf("a %v delay spins: only delays under spinBelow should", spinBelow)
	}
}

func TestRateLimit(t *testing.T) {
	const rate = 10_000_000 // 10 Mbit/s
	a, b := Pipe(PipeConfig{QueueLen: 8, AtoB: Impairment{Rate: rate}})
	defer a.Close()
	const n, size = 100, 1250 // 1 Mbit in all: at least 100 ms
	ps := make([][]byte, n)
	for i := range ps {
		ps[i] = tcpPacket(uint32(i), size-40)
	}
	start := time.Now()
	wait := writeAll(t, a, ps)
	for i := range ps {
		if got := readOne(t, b); !bytes.Equal(got, ps[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
	wait()
	el := time.Since(start)
	min := time.Duration(n*size*8) * time.Second / rate
	if el < min {
		t.Fatalf("%d bits in %v: faster than %d bit/s (minimum %v)", n*size*8, el, rate, min)
	}
	t.Logf("%d bits in %v (minimum %v)", n*size*8, el, min)
	// Written faster than they serialize, all but the first wait their turn.
	if st := a.Stats(); st.Delayed != n || st.RateQueued == 0 || st.RateQueued >= n {
		t.Errorf("stats %+v: want %d delayed and some rate-queued", st, n)
	}
}

func TestClose(t *testing.T) {
	check := leakcheck.Goroutines(t)
	for _, im := range []Impairment{{}, {Delay: time.Hour}} {
		a, b := Pipe(PipeConfig{QueueLen: 2, AtoB: im, BtoA: im})
		p := tcpPacket(1, 10)
		write(t, a, p)
		write(t, a, p) // a->b is full: a's next write blocks
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		blocked := func(f func() error) {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- f() }()
		}
		blocked(func() error { return a.WritePacket(ctx, p) })
		blocked(func() error { _, err := a.ReadPacket(ctx, make([]byte, 1500)); return err }) // b->a is empty
		if !im.IsZero() {
			blocked(func() error { _, err := b.ReadPacket(ctx, make([]byte, 1500)); return err }) // delayed an hour
		}
		select {
		case err := <-errs:
			t.Fatalf("%v: returned before Close: %v", im, err)
		case <-time.After(20 * time.Millisecond):
		}
		b.Close() // the other end
		wg.Wait()
		close(errs)
		for err := range errs {
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("%v: got %v, want net.ErrClosed", im, err)
			}
		}
		// Later calls fail too, on both ends, even with packets queued.
		for _, e := range []*End{a, b} {
			if err := e.WritePacket(ctx, p); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("write after close: %v", err)
			}
			if _, err := e.ReadPacket(ctx, make([]byte, 1500)); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("read after close: %v", err)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
	}
	check()
}

func TestSummary(t *testing.T) {
	p := tcpPacket(1001, 1400)
	if got, want := Summary(p), "198.18.0.1:40000 > 198.18.0.2:12345 [PA] seq=1001 ack=5001 len=1400"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	syn := tcpPacket(7, 0)
	syn[33] = 0x02
	if got, want := Summary(syn), "198.18.0.1:40000 > 198.18.0.2:12345 [S] seq=7 len=0"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	udp := tcpPacket(1, 40)
	udp[9] = 17
	if got, want := Summary(udp), "198.18.0.1 > 198.18.0.2 proto 17 len 80"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Garbage never panics.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		b := make([]byte, rng.IntN(80))
		for k := range b {
			b[k] = byte(rng.Uint32())
		}
		if rng.IntN(2) == 0 && len(b) > 0 {
			b[0] = 0x40 | b[0]&0x0f
		}
		_ = Summary(b)
		if len(b) > 0 {
			lo, hi := corruptRange(b)
			if lo < 0 || hi > len(b) || lo >= hi {
				t.Fatalf("corruptRange(%x) = %d, %d", b, lo, hi)
			}
		}
	}
	for _, s := range []string{"", "\x45", "\x60\x00"} {
		_ = Summary([]byte(s))
	}
}

func TestPipeConfigValidate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Pipe accepted loss 1.5")
		}
	}()
	Pipe(PipeConfig{AtoB: Impairment{Loss: 1.5}})
}
