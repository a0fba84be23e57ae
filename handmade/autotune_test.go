package handmade

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"tcplab/wire"
)

// The sizing rule (Linux's tcp_rcv_space_adjust, its earlier form):
// twice what was read in the round trip plus 16 segments; twice that
// when reading grew by half, half again when it grew by a quarter.
func TestRecvBufferFor(t *testing.T) {
	const mss = 1000
	for _, tc := range []struct {
		copied, space, want int
	}{
		{0, 10000, 16000},                       // nothing read: the 16-segment cushion
		{10000, 10000, 36000},                   // steady: 2*10000 + 16000
		{5000, 10000, 26000},                    // reading fell: twice what was read
		{12499, 10000, 40998},                   // grew by less than a quarter
		{12500, 10000, 41000 * 3 / 2},           // grew by a quarter
		{14999, 10000, 45998 * 3 / 2},           // by less than half
		{15000, 10000, 46000 * 2},               // by half
		{30000, 10000, 76000 * 2},               // tripled: still twice, not more
		{100000, 0, 216000},                     // no previous measurement
		{3 << 20, 1 << 20, (6<<20 + 16000) * 2}, // large
	} {
		if got := recvBufferFor(tc.copied, tc.space, mss); got != tc.want {
			t.Errorf("recvBufferFor(%d, %d, %d) = %d, want %d", tc.copied, tc.space, mss, got, tc.want)
		}
	}
}

// RFC 7323 §2.3: the smallest shift with which the 16-bit field says the
// largest window (to the shift's granularity: 131071 is 65535 << 1 and
// one octet less than its granularity, 2), at most 14.
func TestRcvShift(t *testing.T) {
	for _, tc := range []struct {
		buf  int
		want uint8
	}{
		{0, 0}, {65535, 0}, {65536, 1}, {131071, 1}, {131072, 2},
		{1 << 20, 5}, {6 << 20, 7}, {65536<<7 - 1, 7}, {65536 << 7, 8},
		{1 << 30, 14}, {1 << 40, 14},
	} {
		if got := rcvShift(tc.buf); got != tc.want {
			t.Errorf("rcvShift(%d) = %d, want %d", tc.buf, got, tc.want)
		}
	}
}

// autotuneCfg is exactCfg with window scaling on, so windows over 64 KiB
// can be advertised: ours is rcvShift(MaxRecvBuffer), the peer's 7.
func autotuneCfg() Config {
	c := exactCfg()
	c.DisableWindowScale = false
	return c
}

// lfnPeer plays a sender on a path of round trip rtt in slow start:
// each round it sends min(cwnd, the window we advertised) in full-sized
// segments, which arrive one rtt after the advertisement, then doubles
// cwnd. It records every window we advertise and checks RFC 9293
// §3.8.6.2.2 and RFC 7323 §2.4 on each: the right edge never moves left.
type lfnPeer struct {
	t    *testing.T
	h    *harness
	rtt  time.Duration
	cwnd int
	// edge is the right edge of the last window we advertised; maxWnd
	// the largest window.
	edge   Seq
	maxWnd int
}

func newLFNPeer(t *testing.T, h *harness, rtt time.Duration) *lfnPeer {
	p := &lfnPeer{t: t, h: h, rtt: rtt, cwnd: 10 * 1460}
	p.edge = h.RCV.edge
	return p
}

// drain takes what the TCB sends and checks each advertised window.
func (p *lfnPeer) drain() {
	p.t.Helper()
	h := p.h
	for h.Output(h.now, &h.out, h.buf) {
		wnd := int(h.out.WND) << h.RCV.Shift
		edge := h.out.ACK.Add(uint32(wnd))
		if edge.LessThan(p.edge) {
			p.t.Fatalf("the right edge moved left: %d, then %d (ACK %d WND %d)", uint32(p.edge), uint32(edge), uint32(h.out.ACK), h.out.WND)
		}
		p.edge = edge
		p.maxWnd = max(p.maxWnd, wnd)
	}
}

// round sends one round trip's data, the clock one rtt on, and returns
// how much was sent.
func (p *lfnPeer) round() int {
	p.t.Helper()
	h := p.h
	h.now = h.now.Add(p.rtt)
	n := 0
	for left := min(p.cwnd, int(p.edge.Sub(h.rcv))); left > 0; {
		l := min(left, 1460)
		send(p.t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: l})
		h.rcv = h.rcv.Add(uint32(l))
		left -= l
		n += l
		p.drain()
	}
	if h.RCV.NXT != h.rcv {
		p.t.Fatalf("RCV.NXT %d, want %d: in-window data was not all taken", uint32(h.RCV.NXT), uint32(h.rcv))
	}
	p.cwnd *= 2
	return n
}

// read has the application read up to n octets and sends what that
// triggers.
func (p *lfnPeer) read(n int) int {
	p.t.Helper()
	got := 0
	buf := make([]byte, 64<<10)
	for got < n {
		r := p.h.Read(buf[:min(len(buf), n-got)], p.h.now)
		if r == 0 {
			break
		}
		got += r
	}
	p.drain()
	return got
}

// A receiver whose application reads all that arrives grows its window
// when the sender is held back by it, and stops at MaxRecvBuffer: a
// sender in slow start (doubling each round trip) meets the window once,
// and after each growth (to about four times what it sent) every other
// round trip at most.
func TestAutotune_GrowsWhenApplicationKeepsUp(t *testing.T) {
	h := established(t, autotuneCfg())
	if h.RCV.Shift != 7 {
		t.Fatalf("Rcv.Wind.Shift %d, want 7 for a 6 MiB MaxRecvBuffer (RFC 7323 §2.3)", h.RCV.Shift)
	}
	p := newLFNPeer(t, h, handshakeRTT)
	limited := 0
	for i := range 14 {
		wnd := int(p.edge.Sub(h.rcv))
		sent := p.round()
		if sent == wnd && sent < p.cwnd/2 && wnd < 6<<20 {
			limited++ // the window, not cwnd or the cap, held the sender back
		}
		p.read(sent)
		t.Logf("round %d: sent %d, window %d, buffer %d", i, sent, int(p.edge.Sub(h.rcv)), h.Info().RcvBuf)
	}
	if got := h.Info().RcvBuf; got != 6<<20 {
		t.Errorf("receive buffer %d after 14 round trips at full speed, want MaxRecvBuffer (6 MiB)", got)
	}
	if p.maxWnd > 6<<20 {
		t.Errorf("advertised %d octets, over MaxRecvBuffer", p.maxWnd)
	}
	if p.maxWnd < 6<<20-h.cfg.MSS {
		t.Errorf("the largest window advertised was %d, want about 6 MiB", p.maxWnd)
	}
	if limited > 3 {
		t.Errorf("the window held back the sender in %d rounds before reaching the cap, want 3 at most", limited)
	}
	if h.rcvBuf.Allocated() > 6<<20 {
		t.Errorf("%d octets allocated for a 6 MiB buffer", h.rcvBuf.Allocated())
	}
}

// An application that does not keep up leaves the buffer as it was: what
// it reads in a round trip never exceeds what the buffer was sized for.
func TestAutotune_NoGrowthWhenApplicationDoesNotRead(t *testing.T) {
	for _, perRTT := range []int{0, 10000} {
		h := established(t, autotuneCfg())
		p := newLFNPeer(t, h, handshakeRTT)
		for range 10 {
			p.round()
			p.read(perRTT)
		}
		if got := h.Info().RcvBuf; got != 128<<10 {
			t.Errorf("reading %d octets a round trip: receive buffer %d, want the initial 128 KiB", perRTT, got)
		}
		if p.maxWnd > 128<<10 {
			t.Errorf("reading %d octets a round trip: advertised %d, over the 128 KiB buffer", perRTT, p.maxWnd)
		}
		// The window rounded up to the scale's granularity (advertise)
		// promised a little past the buffer: under 2^shift octets for
		// each ACK of a segment that filled it. The ring takes that with
		// an eighth of its limit to spare.
		acks := 128<<10/1460 + 1
		if n, a := h.rcvBuf.Len(), h.rcvBuf.Allocated(); perRTT == 0 && (n-128<<10 > acks*127 || a > n+16<<10) {
			t.Errorf("%d octets held", n)
			t.Errorf("%d octets allocated for a full 128 KiB buffer", a)
		}
	}
}

// A sender that does not fill the window (it has 40 KB to send each
// round trip, the window is 128 KiB) is not held back by it: the buffer
// stays as it is however fast the application reads.
func TestAutotune_NoGrowthWhenNotWindowLimited(t *testing.T) {
	h := established(t, autotuneCfg())
	p := newLFNPeer(t, h, handshakeRTT)
	for range 10 {
		p.cwnd = 40000
		p.read(p.round())
	}
	if got := h.Info().RcvBuf; got != 128<<10 {
		t.Errorf("receive buffer %d, want the initial 128 KiB: the sender never filled the window", got)
	}
	// Once it sends more than the window holds, the window grows.
	for range 3 {
		p.cwnd = 1 << 20
		p.read(p.round())
	}
	if got := h.Info().RcvBuf; got <= 128<<10 {
		t.Errorf("receive buffer %d after three window-limited round trips, want it grown", got)
	}
}

// MaxRecvBuffer caps the buffer, and the window scale is sized from it
// (RFC 7323 §2.3): 512 KiB needs a shift of 4 (65535 << 3 is 8 octets
// short).
func TestAutotune_CappedAtMaxRecvBuffer(t *testing.T) {
	cfg := autotuneCfg()
	cfg.MaxRecvBuffer = 512 << 10
	h := synSent(t, cfg)
	if h.out.Options.WScale != 4 {
		t.Fatalf("SYN offers window scale %d, want 4 for a 512 KiB MaxRecvBuffer", h.out.Options.WScale)
	}
	h = established(t, cfg)
	p := newLFNPeer(t, h, handshakeRTT)
	for range 10 {
		p.read(p.round())
	}
	if got := h.Info().RcvBuf; got != 512<<10 {
		t.Errorf("receive buffer %d, want MaxRecvBuffer 512 KiB", got)
	}
	if p.maxWnd > 512<<10 {
		t.Errorf("advertised %d octets, over MaxRecvBuffer", p.maxWnd)
	}
}

// DisableRecvAutotune fixes the buffer at RecvBuffer, and the window
// scale is sized from it.
func TestAutotune_Disabled(t *testing.T) {
	cfg := autotuneCfg()
	cfg.DisableRecvAutotune = true
	cfg.RecvBuffer = 256 << 10
	h := synSent(t, cfg)
	if h.out.Options.WScale != 3 {
		t.Fatalf("SYN offers window scale %d, want 3 for a fixed 256 KiB buffer", h.out.Options.WScale)
	}
	h = established(t, cfg)
	p := newLFNPeer(t, h, handshakeRTT)
	for range 8 {
		p.read(p.round())
	}
	if got := h.Info().RcvBuf; got != 256<<10 {
		t.Errorf("receive buffer %d, want the fixed 256 KiB", got)
	}
}

// SetRecvBuffer (SO_RCVBUF) fixes the size and stops autotuning; a
// smaller size does not take back the window already advertised: the
// right edge stays (RFC 7323 §2.4, RFC 9293 §3.8.6.2.2), data up to it is
// taken, and the window then reopens only to the new size.
func TestAutotune_SetRecvBufferKeepsTheRightEdge(t *testing.T) {
	h := established(t, autotuneCfg())
	p := newLFNPeer(t, h, handshakeRTT)
	for range 6 {
		p.read(p.round())
	}
	grown := h.Info().RcvBuf
	if grown <= 128<<10 {
		t.Fatalf("buffer %d did not grow", grown)
	}
	wnd := int(p.edge.Sub(h.rcv))
	h.SetRecvBuffer(16 << 10)
	// The whole advertised window arrives: all of it is taken, and every
	// ACK keeps the edge (lfnPeer.drain checks it).
	p.cwnd = 1 << 30
	if sent := p.round(); sent != wnd || wnd <= 16<<10 {
		t.Fatalf("sent %d of a window of %d", sent, wnd)
	}
	p.read(wnd)
	for range 4 {
		p.read(p.round())
	}
	if got := h.Info().RcvBuf; got != 16<<10 {
		t.Errorf("receive buffer %d after SetRecvBuffer(16 KiB) and fast reading, want 16 KiB", got)
	}
	if wnd := int(p.edge.Sub(h.rcv)); wnd > 16<<10 {
		t.Errorf("window %d after the old one was used, over the 16 KiB buffer", wnd)
	}
}

// Without timestamps the receiver times a window it advertised to the
// data that reaches its edge; with them, it takes the time since the
// TSval the data echoes.
func TestAutotune_ReceiverRTT(t *testing.T) {
	t.Run("window", func(t *testing.T) {
		h := established(t, autotuneCfg())
		p := newLFNPeer(t, h, 30*time.Millisecond)
		if got := h.Info().RcvRTT; got != handshakeRTT {
			t.Fatalf("receiver RTT %v before a sample, want SRTT %v", got, handshakeRTT)
		}
		p.cwnd = 1 << 30 // fills every window: each is timed to its edge
		p.read(p.round())
		p.read(p.round())
		if got := h.Info().RcvRTT; got != 30*time.Millisecond {
			t.Fatalf("receiver RTT %v, want 30ms", got)
		}
	})
	t.Run("timestamps", func(t *testing.T) {
		cfg := autotuneCfg()
		cfg.DisableTimestamps = false
		h := established(t, cfg)
		// Our last ACK's TSval comes back on a full-sized segment 40 ms
		// later (1420 octets: a gVisor sender's).
		h.now = h.now.Add(40 * time.Millisecond)
		send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 1420})
		h.rcv = h.rcv.Add(1420)
		if got := h.Info().RcvRTT; got != 40*time.Millisecond {
			t.Fatalf("receiver RTT %v, want 40ms", got)
		}
		// A later segment echoing the same TSval is no new sample.
		h.now = h.now.Add(10 * time.Millisecond)
		send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 1420})
		h.rcv = h.rcv.Add(1420)
		if got := h.Info().RcvRTT; got != 40*time.Millisecond {
			t.Fatalf("receiver RTT %v after a repeated TSecr, want 40ms", got)
		}
		// Nor is a short segment echoing a new one: a sender with little
		// to send may have held it.
		expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
		h.now = h.now.Add(80 * time.Millisecond)
		send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 100})
		if got := h.Info().RcvRTT; got != 40*time.Millisecond {
			t.Fatalf("receiver RTT %v after a short segment, want 40ms", got)
		}
	})
}

// Conn.SetReadBuffer fixes the receive buffer, as SO_RCVBUF does: after
// a bulk transfer it is still the size set, the sender was never offered
// more than the window already advertised or the new size, and the data
// arrived whole.
func TestStack_SetReadBufferFixesTheBuffer(t *testing.T) {
	a, b := stackPair(t, wire.PipeConfig{Seed: 1}, Config{}, Config{})
	ln, err := b.Listen(addrB.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := a.Dial(ctx, addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := s.(*Conn)
	if err := srv.SetReadBuffer(0); err == nil {
		t.Error("SetReadBuffer(0) succeeded")
	}
	if err := srv.SetReadBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	data := payload(4<<20, 3)
	go func() {
		c.Write(data)
		c.CloseWrite()
	}()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d octets (%v), want the %d written", len(got), err, len(data))
	}
	if i := srv.Info(); i.RcvBuf != 16<<10 || i.RcvWnd > 16<<10+1<<i.RcvShift {
		t.Errorf("receive buffer %d, window %d after SetReadBuffer(16 KiB)", i.RcvBuf, i.RcvWnd)
	}
	if w := c.Info().SndWnd; w > 16<<10+1<<7 {
		t.Errorf("the sender's window is %d, over the 16 KiB buffer", w)
	}
}

// A sender of segments smaller than the window scale's granularity into
// a buffer the application does not read: the window rounded up to keep
// the right edge (RFC 7323 §2.4) would stay open forever, each ACK
// promising a few octets more. The buffer goes at most an eighth past its
// size; then the window is rounded down (moving the edge left by less
// than 2^shift, the Deviation in advertise) and shuts.
func TestAdvertise_SubGranularitySegmentsStillShutTheWindow(t *testing.T) {
	h := established(t, autotuneCfg())
	g := 1 << h.RCV.Shift
	edge := h.RCV.edge
	for i := 0; ; i++ {
		if i > (128<<10+16<<10)/100+10 {
			t.Fatalf("after %d segments of 100 octets (%d held) the window is still %d", i, h.rcvBuf.Len(), h.RCV.edge.Sub(h.RCV.NXT))
		}
		send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 100})
		h.rcv = h.RCV.NXT
		if !h.Output(h.now, &h.out, h.buf) {
			t.Fatal("no ACK")
		}
		e := h.out.ACK.Add(uint32(h.out.WND) << h.RCV.Shift)
		if e.LessThan(edge) && int(edge.Sub(e)) >= g {
			t.Fatalf("the right edge moved left by %d, a granularity or more", edge.Sub(e))
		}
		edge = e
		if h.out.WND == 0 {
			break
		}
	}
	if n := h.rcvBuf.Len(); n < 128<<10 || n > 128<<10+16<<10+g {
		t.Errorf("%d octets held when the window shut, want 128 KiB to an eighth more", n)
	}
}
