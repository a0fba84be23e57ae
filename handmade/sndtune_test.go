package handmade

import (
	"testing"
	"time"
)

// The sizing rule: twice the lesser of cwnd and the peer's window.
func TestSendBufferFor(t *testing.T) {
	for _, tc := range []struct{ cwnd, wnd, want int }{
		{100000, 1 << 20, 200000}, // cwnd the lesser
		{1 << 20, 100000, 200000}, // the peer's window the lesser
		{65536, 65536, 131072},
	} {
		if got := sendBufferFor(tc.cwnd, tc.wnd); got != tc.want {
			t.Errorf("sendBufferFor(%d, %d) = %d, want %d", tc.cwnd, tc.wnd, got, tc.want)
		}
	}
}

// SendBuffer is where the buffer starts, MaxSendBuffer the cap; a start
// over the cap, or DisableSendAutotune, fixes it.
func TestSendBufferConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg       Config
		start, to int
		on        bool
	}{
		{Config{}, 1 << 20, 4 << 20, true},
		{Config{SendBuffer: 64 << 10, MaxSendBuffer: 256 << 10}, 64 << 10, 256 << 10, true},
		{Config{SendBuffer: 8 << 20}, 8 << 20, 8 << 20, false},
		{Config{DisableSendAutotune: true}, 1 << 20, 1 << 20, false},
	} {
		c := tc.cfg.withDefaults(1500)
		tcb := newTCB(&c, ourAddr, peerAddr, ourISS, epoch)
		if c.SendBuffer != tc.start || c.MaxSendBuffer != tc.to || tcb.sndTune.on != tc.on || tcb.Info().SndBuf != tc.start {
			t.Errorf("%+v: start %d, cap %d, autotuning %v, Info().SndBuf %d; want %d, %d, %v", tc.cfg, c.SendBuffer, c.MaxSendBuffer, tcb.sndTune.on, tcb.Info().SndBuf, tc.start, tc.to, tc.on)
		}
	}
}

// sndCfg is autotuneCfg with a send buffer that starts at 64 KiB.
func sndCfg() Config {
	c := autotuneCfg()
	c.SendBuffer = 64 << 10
	return c
}

// bulkPeer plays the receiver of a bulk transfer on a path of round trip
// rtt: each round trip it acknowledges every second segment the TCB sent
// in the last one, one ACK at a time, with a window of wnd octets (its
// application reads all), and the TCB's application writes after each
// ACK: as much as the send buffer takes (appPerRound 0), or appPerRound
// octets a round trip.
type bulkPeer struct {
	t           *testing.T
	h           *harness
	rtt         time.Duration
	wnd         int
	appPerRound int
	// lateWriter: after each ACK the TCB sends what it can before the
	// application refills the room the ACK made, as a writer woken by
	// the ACK does.
	lateWriter bool
	pending    []Seq // the ends of the segments sent and not yet acknowledged
	chunk      []byte
	// maxFlight is the most the TCB had in flight.
	maxFlight int
}

func newBulkPeer(t *testing.T, h *harness, wnd, appPerRound int) *bulkPeer {
	if h.SND.Shift != 7 {
		t.Fatalf("Snd.Wind.Shift %d, want 7", h.SND.Shift)
	}
	p := &bulkPeer{t: t, h: h, rtt: handshakeRTT, wnd: wnd, appPerRound: appPerRound, chunk: make([]byte, 64<<10)}
	// The window the handshake gave is unscaled (RFC 7323 §2.2): the
	// first ACK brings the real one.
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: p.wndField()})
	p.write(p.appPerRound)
	p.drain()
	return p
}

// full is how much of n octets goes out in full-sized segments: a
// buffer of n octets is all in flight but for less than one segment,
// which Nagle holds back (RFC 9293 §3.7.4).
func full(n int) int { return n - n%1460 }

func (p *bulkPeer) wndField() int { return min(max(p.wnd>>7, 1), 65535) }

// write has the application write n octets, or all the buffer takes
// (n 0): Write takes less than it was given, as a blocked writer's does.
func (p *bulkPeer) write(n int) {
	h := p.h
	if n > 0 {
		if got := h.Write(p.chunk[:n], h.now); got != n {
			p.t.Fatalf("the application wrote %d of %d octets", got, n)
		}
		return
	}
	for h.Write(p.chunk, h.now) == len(p.chunk) {
	}
}

// drain takes what the TCB sends.
func (p *bulkPeer) drain() {
	h := p.h
	for h.Output(h.now, &h.out, h.buf) {
		if n := len(h.out.Payload); n > 0 {
			if h.out.SEQ != h.snd {
				p.t.Fatalf("segment at %d, want new data at %d: nothing is lost", uint32(h.out.SEQ), uint32(h.snd))
			}
			h.snd = h.snd.Add(uint32(n))
			p.pending = append(p.pending, h.snd)
		}
	}
	p.maxFlight = max(p.maxFlight, h.flight())
}

// round acknowledges the last round trip's segments.
func (p *bulkPeer) round() {
	h := p.h
	h.now = h.now.Add(p.rtt)
	acks := p.pending
	p.pending = nil
	for i, end := range acks {
		if i%2 == 0 && i != len(acks)-1 {
			continue
		}
		send(p.t, h, sg{SEQ: h.rcv, ACK: end, Flags: ACK, WND: p.wndField()})
		if p.lateWriter {
			p.drain()
		}
		if p.appPerRound == 0 {
			p.write(0)
		}
		p.drain()
	}
	if p.appPerRound > 0 {
		p.write(p.appPerRound)
		p.drain()
	}
}

// A sender whose cwnd outgrows its send buffer (slow start on a path
// with a large window) has its buffer grown to twice cwnd each time
// cwnd reaches it, up to MaxSendBuffer: after which the whole cap goes
// out each round trip.
func TestSndTune_GrowsWhenCwndOutgrowsTheBuffer(t *testing.T) {
	h := established(t, sndCfg())
	p := newBulkPeer(t, h, 8<<20, 0)
	prev := h.Info().SndBuf
	for i := range 14 {
		cwnd := h.cwnd()
		p.round()
		buf := h.Info().SndBuf
		t.Logf("round %d: cwnd %d, flight %d, buffer %d", i, cwnd, h.flight(), buf)
		switch {
		case buf < prev:
			t.Fatalf("round %d: the buffer shrank from %d to %d", i, prev, buf)
		case buf > 4<<20:
			t.Fatalf("round %d: buffer %d, over MaxSendBuffer", i, buf)
		case buf > prev && buf > 2*h.cwnd():
			t.Fatalf("round %d: buffer %d, over twice cwnd %d", i, buf, h.cwnd())
		}
		prev = buf
	}
	if prev != 4<<20 {
		t.Errorf("buffer %d after 14 round trips of slow start, want MaxSendBuffer (4 MiB)", prev)
	}
	if p.maxFlight != full(4<<20) {
		t.Errorf("at most %d octets in flight, want the whole 4 MiB buffer (%d in full segments)", p.maxFlight, full(4<<20))
	}
	if n := h.Counters.SendBufferGrown; n < 3 || n > 14 {
		t.Errorf("grown %d times from 64 KiB to 4 MiB by doubling cwnd, want 3 to 14", n)
	}
	if a := h.sndBuf.Allocated(); a > 4<<20 {
		t.Errorf("%d octets allocated for a 4 MiB buffer", a)
	}
}

// While cwnd is under the buffer, data waits behind the flight: cwnd is
// the limit and the buffer stays. It grows once cwnd has passed it.
func TestSndTune_StaysWhileCwndIsTheLimit(t *testing.T) {
	cfg := autotuneCfg()
	cfg.SendBuffer = 1 << 20
	h := established(t, cfg)
	p := newBulkPeer(t, h, 8<<20, 0)
	for i := 0; ; i++ {
		if i == 20 {
			t.Fatalf("cwnd %d after 20 round trips", h.cwnd())
		}
		p.round()
		if h.cwnd() >= 1<<20 {
			break
		}
		if got := h.Info().SndBuf; got != 1<<20 {
			t.Fatalf("round %d: buffer %d with cwnd %d under it, want 1 MiB", i, got, h.cwnd())
		}
	}
	for range 2 {
		p.round()
	}
	if got := h.Info().SndBuf; got <= 1<<20 {
		t.Errorf("buffer %d two round trips after cwnd (%d) passed it, want it grown", got, h.cwnd())
	}
}

// A peer's window smaller than the buffer is the limit: data waits
// behind it, and the buffer stays however large cwnd grows.
func TestSndTune_StaysWhenThePeersWindowIsTheLimit(t *testing.T) {
	h := established(t, sndCfg())
	p := newBulkPeer(t, h, 32<<10, 0)
	for range 10 {
		p.round()
	}
	if got := h.Info().SndBuf; got != 64<<10 || h.Counters.SendBufferGrown != 0 {
		t.Errorf("buffer %d (grown %d times) held to a 32 KiB window, want 64 KiB", got, h.Counters.SendBufferGrown)
	}
	if p.maxFlight > 32<<10 || p.maxFlight <= 32<<10-1460 || h.cwnd() <= 64<<10 {
		t.Fatalf("flight %d, cwnd %d: the test wants the window to be the limit", p.maxFlight, h.cwnd())
	}
}

// A peer's window a little under the buffer is the limit too, though
// right after each ACK, before the woken writer refills the room it
// made, all that is queued is in flight and the window has room for
// more: the buffer stays (on the clean in-memory wire, growing it to
// twice the window cost goodput).
func TestSndTune_StaysWhenThePeersWindowIsJustUnderTheBuffer(t *testing.T) {
	h := established(t, sndCfg())
	p := newBulkPeer(t, h, 62<<10, 0)
	p.lateWriter = true
	for range 10 {
		p.round()
	}
	if got := h.Info().SndBuf; got != 64<<10 || h.Counters.SendBufferGrown != 0 {
		t.Errorf("buffer %d (grown %d times) held to a 62 KiB window, want 64 KiB", got, h.Counters.SendBufferGrown)
	}
	if p.maxFlight > 62<<10 || p.maxFlight <= 62<<10-1460 {
		t.Fatalf("flight %d: the test wants the 62 KiB window to be the limit", p.maxFlight)
	}
}

// An application that writes less than the buffer takes never waits for
// room: the buffer is not what holds it back, and stays.
func TestSndTune_StaysForAnApplicationThatDoesNotFillIt(t *testing.T) {
	h := established(t, sndCfg())
	p := newBulkPeer(t, h, 8<<20, 20<<10)
	for range 10 {
		p.round()
	}
	if got := h.Info().SndBuf; got != 64<<10 {
		t.Errorf("buffer %d for an application writing 20 KiB a round trip, want 64 KiB", got)
	}
	if h.cwnd() <= 64<<10 {
		t.Fatalf("cwnd %d: the test wants cwnd over the buffer", h.cwnd())
	}
}

// MaxSendBuffer caps the buffer.
func TestSndTune_CappedAtMaxSendBuffer(t *testing.T) {
	cfg := sndCfg()
	cfg.MaxSendBuffer = 256 << 10
	h := established(t, cfg)
	p := newBulkPeer(t, h, 8<<20, 0)
	for range 10 {
		p.round()
		if got := h.Info().SndBuf; got > 256<<10 {
			t.Fatalf("buffer %d, over MaxSendBuffer 256 KiB", got)
		}
	}
	if got := h.Info().SndBuf; got != 256<<10 || p.maxFlight != full(256<<10) {
		t.Errorf("buffer %d, at most %d in flight; want MaxSendBuffer, 256 KiB, and all of it in flight", got, p.maxFlight)
	}
}

// DisableSendAutotune fixes the buffer at SendBuffer: a sender with
// room in both windows keeps a buffer in flight.
func TestSndTune_Disabled(t *testing.T) {
	cfg := sndCfg()
	cfg.DisableSendAutotune = true
	h := established(t, cfg)
	p := newBulkPeer(t, h, 8<<20, 0)
	for range 10 {
		p.round()
	}
	if got := h.Info().SndBuf; got != 64<<10 || p.maxFlight != full(64<<10) {
		t.Errorf("buffer %d, at most %d in flight; want the fixed 64 KiB, all in flight", got, p.maxFlight)
	}
}

// SetSendBuffer (SO_SNDBUF) fixes the size and stops autotuning. Set
// below what is queued, it drops nothing: the queued data is sent, and
// the application writes again once the buffer drains below the size.
func TestSndTune_SetSendBuffer(t *testing.T) {
	h := established(t, sndCfg())
	p := newBulkPeer(t, h, 8<<20, 0)
	for range 6 {
		p.round()
	}
	queued := h.sndBuf.Len()
	if h.Info().SndBuf <= 64<<10 || queued <= 16<<10 {
		t.Fatalf("buffer %d, %d queued: want it grown and holding more than 16 KiB", h.Info().SndBuf, queued)
	}
	h.SetSendBuffer(16 << 10)
	if got := h.Info().SndBuf; got != 16<<10 || h.sndBuf.Len() != queued || h.Writable() != 0 {
		t.Fatalf("after SetSendBuffer(16 KiB): buffer %d, %d queued, %d writable; want 16 KiB, %d, 0", got, h.sndBuf.Len(), h.Writable(), queued)
	}
	for range 6 {
		p.round()
	}
	if got := h.Info().SndBuf; got != 16<<10 {
		t.Errorf("buffer %d after six more round trips, want the fixed 16 KiB", got)
	}
	if h.flight() != full(16<<10) {
		t.Errorf("%d octets in flight, want the 16 KiB buffer", h.flight())
	}
}

// A writer blocked on a full send buffer is woken when an ACK grows the
// buffer, and fills what the growth made room for: the stack then sends
// past the old buffer as cwnd allows.
func TestConn_WriterWokenWhenTheSendBufferGrows(t *testing.T) {
	l := newBurstLink()
	t.Cleanup(func() { l.Close() })
	clock := &stillClock{now: time.Unix(1000, 0)}
	const mss = 1460
	// The buffer holds the initial window exactly (RFC 6928: ten
	// segments): the first flight fills both, and nothing grows.
	s, err := NewStack(l, addrB.Addr(), Config{DisableTimestamps: true, DisableSACK: true, SendBuffer: 10 * mss, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ln, err := s.Listen(addrB.Port())
	if err != nil {
		t.Fatal(err)
	}
	const irs = Seq(0xfffffff0)
	l.push(Segment{Src: addrA, Dst: addrB, SEQ: irs, Flags: SYN, WND: 65535, Options: Options{MSS: mss, HasMSS: true, HasWScale: true, WScale: 7}})
	synAck := l.next(t)
	iss := synAck.SEQ
	seg := func(i int) Seq { return iss.Add(1 + uint32(i*mss)) }
	ack := func(i int) Segment {
		return Segment{Src: addrA, Dst: addrB, SEQ: irs.Add(1), ACK: seg(i), Flags: ACK, WND: 8192} // 1 MiB, scaled
	}
	l.push(ack(0))
	c, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(bytesOf(40*mss, 3))
		done <- err
	}()
	for i := range 10 {
		if got := l.next(t); got.SEQ != seg(i) || len(got.Payload) != mss {
			t.Fatalf("segment at +%d len %d, want segment %d of the initial window", got.SEQ.Sub(iss), len(got.Payload), i)
		}
	}
	if got := c.Info().SndBuf; got != 10*mss {
		t.Fatalf("send buffer %d with cwnd equal to it, want it unchanged (%d)", got, 10*mss)
	}
	// The ACK of two segments grows cwnd to 12 (slow start, RFC 5681
	// §3.1) with 8 in flight: the buffer is the limit, and grows to twice
	// cwnd. Without the growth the writer would fill the two segments
	// freed, and the stack send 10 and 11 only.
	l.push(ack(2))
	for i := 10; i < 14; i++ {
		if got := l.next(t); got.SEQ != seg(i) || len(got.Payload) != mss {
			t.Fatalf("segment at +%d len %d, want new segment %d", got.SEQ.Sub(iss), len(got.Payload), i)
		}
	}
	if got := c.Info().SndBuf; got != 2*12*mss {
		t.Errorf("send buffer %d, want twice cwnd (%d)", got, 2*12*mss)
	}
	if err := c.SetWriteBuffer(0); err == nil {
		t.Error("SetWriteBuffer(0) succeeded")
	}
	if err := c.SetWriteBuffer(64 << 10); err != nil || c.Info().SndBuf != 64<<10 {
		t.Errorf("SetWriteBuffer(64 KiB): %v, buffer %d", err, c.Info().SndBuf)
	}
	c.Abort()
	<-done
}
