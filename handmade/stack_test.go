package handmade

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
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

// stillClock is a Clock that moves only when the test sets it, and whose
// timers never fire: what a stack sends answers the segments fed to it.
type stillClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stillClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stillClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (*stillClock) AfterFunc(time.Duration, func()) ClockTimer { return stillTimer{} }

type stillTimer struct{}

func (stillTimer) Stop() bool                 { return false }
func (stillTimer) Reset(d time.Duration) bool { return false }

// burstLink is a Link whose test side queues packets for the stack in
// bursts, all visible to Buffered at once, and takes what it writes.
type burstLink struct {
	mu     sync.Mutex
	in     [][]byte
	ready  chan struct{} // cap 1: in grew
	out    chan []byte
	closed chan struct{}
	once   sync.Once
}

var _ wire.Buffered = (*burstLink)(nil)

func newBurstLink() *burstLink {
	return &burstLink{ready: make(chan struct{}, 1), out: make(chan []byte, 1024), closed: make(chan struct{})}
}

// push queues segments, encoded, as one burst.
func (l *burstLink) push(segs ...Segment) {
	var enc Encoder
	l.mu.Lock()
	for i := range segs {
		l.in = append(l.in, enc.Append(nil, &segs[i]))
	}
	l.mu.Unlock()
	select {
	case l.ready <- struct{}{}:
	default:
	}
}

// next decodes the next segment the stack sends.
func (l *burstLink) next(t *testing.T) Segment {
	t.Helper()
	select {
	case p := <-l.out:
		var s Segment
		if err := Decode(p, &s); err != nil {
			t.Fatal(err)
		}
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("the stack sent nothing")
		return Segment{}
	}
}

func (l *burstLink) ReadPacket(ctx context.Context, b []byte) (int, error) {
	for {
		l.mu.Lock()
		if len(l.in) > 0 {
			p := l.in[0]
			l.in = l.in[1:]
			l.mu.Unlock()
			return copy(b, p), nil
		}
		l.mu.Unlock()
		select {
		case <-l.ready:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-l.closed:
			return 0, net.ErrClosed
		}
	}
}

func (l *burstLink) Buffered() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.in)
}

func (l *burstLink) WritePacket(ctx context.Context, p []byte) error {
	select {
	case l.out <- append([]byte(nil), p...):
		return nil
	case <-l.closed:
		return net.ErrClosed
	}
}

func (l *burstLink) MTU() int { return 1500 }

func (l *burstLink) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Deviation (Stack.input): ten full-sized segments that the link holds
// at once are one burst, and get one ACK, of all ten, where RFC 9293
// §3.8.6.3 (SHLD-19) would ACK every second one. The writer keeps the
// order of what the stack sends, so an ACK of fewer would come first.
// Out-of-order segments are not taken as a burst.
func TestStack_BurstOneACK(t *testing.T) {
	l := newBurstLink()
	t.Cleanup(func() { l.Close() })
	s, err := NewStack(l, addrB.Addr(), Config{DisableTimestamps: true, DisableWindowScale: true, DisableSACK: true, Clock: &stillClock{now: time.Unix(1000, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ln, err := s.Listen(addrB.Port())
	if err != nil {
		t.Fatal(err)
	}
	const iss, mss = Seq(0xfffffff0), 1460 // the burst crosses the wrap
	l.push(Segment{Src: addrA, Dst: addrB, SEQ: iss, Flags: SYN, WND: 65535, Options: Options{MSS: mss, HasMSS: true}})
	synAck := l.next(t)
	if synAck.Flags != SYN|ACK || synAck.ACK != iss.Add(1) {
		t.Fatalf("got %v ack %d, want a SYN-ACK of %d", synAck.Flags, synAck.ACK, iss.Add(1))
	}
	una := synAck.SEQ.Add(1)
	l.push(Segment{Src: addrA, Dst: addrB, SEQ: iss.Add(1), ACK: una, Flags: ACK, WND: 65535})
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var burst []Segment
	payload := bytesOf(mss, 1)
	for i := range 10 {
		burst = append(burst, Segment{Src: addrA, Dst: addrB, SEQ: iss.Add(1 + uint32(i*mss)), ACK: una, Flags: ACK, WND: 65535, Payload: payload})
	}
	l.push(burst...)
	want := iss.Add(1 + 10*mss)
	if ack := l.next(t); ack.Flags != ACK || ack.ACK != want || len(ack.Payload) != 0 {
		t.Fatalf("got %v ack %d len %d, want one ACK of the whole burst, ack %d", ack.Flags, ack.ACK, len(ack.Payload), want)
	}
	// Segment 10 is lost: 11-14 arrive as one burst, and each gets its
	// immediate duplicate ACK (RFC 5681 §4.2), as a burst of them must
	// reach the sender's DupThresh; 10 then fills the gap.
	for i := range burst[:4] {
		burst[i].SEQ = iss.Add(1 + uint32((11+i)*mss))
	}
	l.push(burst[:4]...)
	for range 4 {
		if ack := l.next(t); ack.Flags != ACK || ack.ACK != want {
			t.Fatalf("got %v ack %d, want a duplicate ACK of %d", ack.Flags, ack.ACK, want)
		}
	}
	burst[0].SEQ = want
	l.push(burst[0])
	if ack := l.next(t); ack.ACK != iss.Add(1+15*mss) {
		t.Fatalf("ack %d after the gap filled, want %d", ack.ACK, iss.Add(1+15*mss))
	}
}

// A burst of ACKs is taken one by one (Stack.input): the cumulative ACK
// at its head clocks out new data before the duplicate ACKs behind it
// start recovery, so FlightSize when the loss is found (RFC 5681 §3.2
// step 2, RFC 6675 (4.2): ssthresh = cwnd = FlightSize/2) counts what it
// sent. Taken as one burst, recovery would find 5 segments in flight
// where there are 17 and halve to 2.
func TestStack_ACKBurstClocksData(t *testing.T) {
	l := newBurstLink()
	t.Cleanup(func() { l.Close() })
	// Timers never fire: no loss probe (RFC 8985 §7) goes out, and RACK's
	// reordering window (SRTT/4 = 2.5 ms) never passes.
	t0 := time.Unix(1000, 0)
	clock := &stillClock{now: t0}
	s, err := NewStack(l, addrB.Addr(), Config{DisableTimestamps: true, DisableWindowScale: true, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ln, err := s.Listen(addrB.Port())
	if err != nil {
		t.Fatal(err)
	}
	const irs, mss = Seq(0xfffffff0), 1460
	l.push(Segment{Src: addrA, Dst: addrB, SEQ: irs, Flags: SYN, WND: 65535, Options: Options{MSS: mss, HasMSS: true, SACKPermitted: true}})
	synAck := l.next(t)
	clock.set(t0.Add(10 * time.Millisecond)) // the handshake's RTT sample
	iss := synAck.SEQ
	seg := func(i int) Seq { return iss.Add(1 + uint32(i*mss)) }
	ack := func(n int, sack ...int) Segment {
		s := Segment{Src: addrA, Dst: addrB, SEQ: irs.Add(1), ACK: seg(n), Flags: ACK, WND: 65535}
		for _, to := range sack {
			s.Options.SACK[s.Options.NumSACK] = SACKBlock{seg(6), seg(to)}
			s.Options.NumSACK++
		}
		return s
	}
	l.push(ack(0))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(bytesOf(30*mss, 2)); err != nil {
		t.Fatal(err)
	}
	for i := range 10 { // IW (RFC 6928 §2)
		if got := l.next(t); got.SEQ != seg(i) {
			t.Fatalf("segment at +%d, want segment %d", got.SEQ.Sub(iss), i)
		}
	}
	// 0-4 arrive, 5 is lost, 6-8 arrive: one burst of four ACKs.
	clock.set(t0.Add(20 * time.Millisecond))
	l.push(ack(5), ack(5, 7), ack(5, 8), ack(5, 9))
	// The ACK of 0-4 grows cwnd to 15 segments (slow start, RFC 5681
	// §3.1) and sends 10-19; each of the first two duplicate ACKs one more
	// (RFC 6675 §5 step 3); the third retransmits 5.
	for i := 10; i < 22; i++ {
		if got := l.next(t); got.SEQ != seg(i) {
			t.Fatalf("segment at +%d, want new segment %d", got.SEQ.Sub(iss), i)
		}
	}
	if got := l.next(t); got.SEQ != seg(5) {
		t.Fatalf("segment at +%d, want the retransmission of 5", got.SEQ.Sub(iss))
	}
	// FlightSize 17 segments, less the 2 Limited Transmit sent.
	if got, want := c.(*Conn).Info().Ssthresh, 15*mss/2; got != want {
		t.Fatalf("ssthresh %d, want %d", got, want)
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
