package handmade

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// ---- Retransmission timeout ----

// RFC 6298 §5.1: start the timer (RTO = 300 ms after the handshake's
// sample, §2.2) when data is sent; §5.4 "Retransmit the earliest segment
// that has not been acknowledged"; §5.5 "set RTO <- RTO * 2"; RFC 9293
// §3.8.3 R2: after MaxRetries close the connection.
// Deviation (tcb_timers.go, onRTO): we also send <SEQ=SND.NXT><CTL=RST>.
func TestEstablished_RTO_RetransmitBackoffGiveUp(t *testing.T) {
	cfg := exactCfg()
	cfg.MaxRetries = 2
	h := established(t, cfg)
	h.Write(bytesOf(300, 0), h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 300})
	rto := rtoAfterHS
	for i := 0; i < 2; i++ {
		if d := h.Deadline().Sub(h.now); d != rto {
			t.Fatalf("retry %d: deadline in %v, want %v", i, d, rto)
		}
		h.tick(rto - time.Millisecond)
		expectNothing(t, h)
		h.tick(time.Millisecond)
		expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 300})
		expectNothing(t, h)
		rto *= 2
	}
	h.tick(rto)
	expect(t, h, sg{SEQ: h.snd.Add(300), Flags: RST})
	wantState(t, h, Closed)
	if !errors.Is(h.Err, ErrTimedOut) || !strings.Contains(h.Err.Error(), "ESTABLISHED") {
		t.Fatalf("Err %v", h.Err)
	}
}

// RFC 9293 §3.8.6: with its window shrunk to zero the peer leaves our
// text past the right edge; the sender "SHOULD NOT time out the
// connection if data beyond the right window edge is not acknowledged"
// (SHLD-17). Each retransmission (MAY-7) answered by <ACK=SND.UNA><WND=0>,
// the connection outlives MaxRetries; once the answers stop, R2 ends it.
func TestEstablished_ShrunkToZero_NoTimeoutWhileAnswered(t *testing.T) {
	cfg := exactCfg()
	cfg.MaxRetries = 2
	h := established(t, cfg)
	h.Write(bytesOf(300, 0), h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 300})
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: zeroWnd})
	expectNothing(t, h)
	for i := range 2 * cfg.MaxRetries {
		h.tick(h.Deadline().Sub(h.now))
		if !h.Output(h.now, &h.out, h.buf) || h.out.Flags.Has(RST) || h.out.SEQ != h.snd {
			t.Fatalf("timeout %d: sent %v, want the text again (or a probe) and no RST", i+1, &h.out)
		}
		for h.Output(h.now, &h.out, h.buf) {
		}
		send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: zeroWnd})
		wantState(t, h, Established)
	}
	for range cfg.MaxRetries {
		h.tick(h.Deadline().Sub(h.now))
		for h.Output(h.now, &h.out, h.buf) {
		}
	}
	h.tick(h.Deadline().Sub(h.now))
	expect(t, h, sg{SEQ: h.snd.Add(300), Flags: RST})
	wantState(t, h, Closed)
}

// RFC 6298 §5.2: "When all outstanding data has been acknowledged, turn
// off the retransmission timer."; §5.3: restart it on an ACK of new data.
func TestEstablished_RTO_StoppedAndRestartedByACK(t *testing.T) {
	h := established(t, exactCfg())
	h.Write(bytesOf(2000, 0), h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, Len: 1460})
	expectNothing(t, h) // Nagle holds the 540 left
	h.Write(bytesOf(920, 0), h.now)
	expect(t, h, sg{SEQ: h.snd.Add(1460), ACK: h.rcv, Flags: ACK | PSH, Len: 1460})
	h.now = h.now.Add(100 * time.Millisecond)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(1460), Flags: ACK})
	rto := h.rtt.RTO
	if d := h.Deadline().Sub(h.now); d != rto {
		t.Fatalf("deadline in %v, want RTO %v", d, rto)
	}
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(2920), Flags: ACK})
	if !h.Deadline().IsZero() {
		t.Fatalf("timer still armed")
	}
}

// ---- Zero-window probing ----

// RFC 9293 §3.8.6.1: "The transmitting host SHOULD send the first
// zero-window probe when a zero window has existed for the retransmission
// timeout period (SHLD-29), and SHOULD increase exponentially the interval
// between successive probes (SHLD-30)."
// Deviation (tcb_output.go, sendData): the probe is <SEQ=SND.UNA-1>
// without data, as Linux sends, not one octet of new data.
func TestEstablished_ZeroWindowProbe(t *testing.T) {
	h := synSent(t, exactCfg())
	h.now = h.now.Add(handshakeRTT)
	send(t, h, sg{SEQ: peerISS, ACK: ourISS.Add(1), Flags: SYN | ACK, WND: zeroWnd, Opts: h.peerSynOpts(1460)})
	h.snd, h.rcv = ourISS.Add(1), peerISS.Add(1)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	h.Write(bytesOf(10, 0), h.now)
	expectNothing(t, h)
	if d := h.Deadline().Sub(h.now); d != rtoAfterHS {
		t.Fatalf("persist timer in %v, want %v", d, rtoAfterHS)
	}
	h.tick(rtoAfterHS)
	expect(t, h, sg{SEQ: h.snd.Add(^uint32(0)), ACK: h.rcv, Flags: ACK})
	expectNothing(t, h)
	if d := h.Deadline().Sub(h.now); d != 2*rtoAfterHS {
		t.Fatalf("second probe in %v, want %v", d, 2*rtoAfterHS)
	}
	// The peer answers with the window still shut: the probes go on.
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: zeroWnd})
	expectNothing(t, h)
	h.tick(2 * rtoAfterHS)
	expect(t, h, sg{SEQ: h.snd.Add(^uint32(0)), ACK: h.rcv, Flags: ACK})
	// The window opens: the data goes.
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 10})
}

// ---- Keep-alive ----

// RFC 9293 §3.8.4: keep-alives "MUST only be sent when no sent data is
// outstanding, and no data or acknowledgment packets have been received
// for the connection within an interval (MUST-26)"; the probe is
// <SEQ=SND.NXT-1> with no data (SHLD-12, RFC 1122 §4.2.3.6).
// Deviation (tcb_timers.go, onKeepalive): after KeepAliveCount unanswered
// probes we reset the connection, as Linux does.
func TestEstablished_KeepAlive_ProbesThenAbort(t *testing.T) {
	cfg := exactCfg()
	cfg.KeepAlive, cfg.KeepAliveIdle, cfg.KeepAliveInterval, cfg.KeepAliveCount = true, 10*time.Second, time.Second, 2
	h := established(t, cfg)
	if d := h.Deadline().Sub(h.now); d != 10*time.Second {
		t.Fatalf("keep-alive in %v", d)
	}
	h.tick(10*time.Second - time.Millisecond)
	expectNothing(t, h)
	h.tick(time.Millisecond)
	expect(t, h, sg{SEQ: h.snd.Add(^uint32(0)), ACK: h.rcv, Flags: ACK})
	h.tick(time.Second)
	expect(t, h, sg{SEQ: h.snd.Add(^uint32(0)), ACK: h.rcv, Flags: ACK})
	h.tick(time.Second)
	expect(t, h, sg{SEQ: h.snd, Flags: RST})
	wantState(t, h, Closed)
	wantErr(t, h, ErrTimedOut)
}

func TestEstablished_KeepAlive_AnswerRearms(t *testing.T) {
	cfg := exactCfg()
	cfg.KeepAlive, cfg.KeepAliveIdle, cfg.KeepAliveInterval, cfg.KeepAliveCount = true, 10*time.Second, time.Second, 1
	h := established(t, cfg)
	h.tick(10 * time.Second)
	expect(t, h, sg{SEQ: h.snd.Add(^uint32(0)), ACK: h.rcv, Flags: ACK})
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK}) // the peer's answer
	expectNothing(t, h)
	if d := h.Deadline().Sub(h.now); d != 10*time.Second {
		t.Fatalf("keep-alive re-armed in %v, want the idle time", d)
	}
	h.tick(10 * time.Second)
	expect(t, h, sg{SEQ: h.snd.Add(^uint32(0)), ACK: h.rcv, Flags: ACK})
	wantState(t, h, Established)
}

// ---- Delayed ACK ----

// RFC 9293 §3.8.6.3: "an ACK should be generated for at least every
// second full-sized segment (SHLD-19)" and "MUST be generated within 0.5
// seconds of the arrival of the first unacknowledged packet (MUST-40)";
// ours waits DelayedACKTimeout (40 ms).
func TestEstablished_DelayedACK(t *testing.T) {
	cfg := exactCfg()
	cfg.DisableDelayedACK = false
	h := established(t, cfg) // the handshake ACK itself goes at once
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | PSH, Len: 100})
	h.rcv = h.rcv.Add(100)
	expectNothing(t, h)
	if d := h.Deadline().Sub(h.now); d != 40*time.Millisecond {
		t.Fatalf("delayed ACK in %v", d)
	}
	h.tick(39 * time.Millisecond)
	expectNothing(t, h)
	h.tick(time.Millisecond)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	expectNothing(t, h)

	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 1460})
	h.rcv = h.rcv.Add(1460)
	expectNothing(t, h)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 1460})
	h.rcv = h.rcv.Add(1460)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	expectNothing(t, h)
	if !h.Deadline().IsZero() {
		t.Fatal("delayed-ACK timer left armed")
	}
}

// RFC 9293 §3.8.6.3: "An ACK SHOULD be generated for at least every
// second full-sized segment or 2*RMSS bytes of new data (where RMSS is the
// MSS specified by the TCP endpoint receiving the segments" (SHLD-19):
// segments of 1000 octets, less than full-sized, are ACKed at once when
// the third brings 3000 > 2*1460 octets.
func TestEstablished_DelayedACK_TwoRMSSOfSmallSegments(t *testing.T) {
	cfg := exactCfg()
	cfg.DisableDelayedACK = false
	h := established(t, cfg)
	for range 2 {
		send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | PSH, Len: 1000})
		h.rcv = h.rcv.Add(1000)
		expectNothing(t, h)
	}
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | PSH, Len: 1000})
	h.rcv = h.rcv.Add(1000)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	expectNothing(t, h)
	if !h.Deadline().IsZero() {
		t.Fatal("delayed-ACK timer left armed")
	}
	// The count starts again from the ACK: 2000 more octets wait.
	for range 2 {
		send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | PSH, Len: 1000})
		h.rcv = h.rcv.Add(1000)
		expectNothing(t, h)
	}
	h.tick(40 * time.Millisecond)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
}

// RFC 5681 §4.2: "an immediate ACK SHOULD be generated when a segment
// arrives that fills in all or part of a gap in the sequence space"; and
// "A TCP receiver SHOULD send an immediate duplicate ACK when an out-of-
// order segment arrives", also with delayed ACKs on.
func TestEstablished_DelayedACK_OutOfOrderImmediate(t *testing.T) {
	cfg := exactCfg()
	cfg.DisableDelayedACK = false
	h := established(t, cfg)
	send(t, h, sg{SEQ: h.rcv.Add(10), ACK: h.snd, Flags: ACK, Len: 10})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 10})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(20), Flags: ACK})
}

// ---- Nagle ----

// RFC 9293 §3.7.4: "if there is unacknowledged data (i.e., SND.NXT >
// SND.UNA), then the sending TCP endpoint buffers all user data
// (regardless of the PSH bit) until the outstanding data has been
// acknowledged or until the TCP endpoint can send a full-sized segment".
func TestEstablished_Nagle(t *testing.T) {
	h := established(t, exactCfg())
	h.Write(bytesOf(10, 0), h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 10})
	h.Write(bytesOf(10, 0), h.now)
	expectNothing(t, h)
	h.Write(bytesOf(1460, 0), h.now)
	expect(t, h, sg{SEQ: h.snd.Add(10), ACK: h.rcv, Flags: ACK, Len: 1460})
	expectNothing(t, h) // 10 octets left over wait too
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(10), Flags: ACK})
	expectNothing(t, h) // still 1460 unacknowledged
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(1470), Flags: ACK})
	expect(t, h, sg{SEQ: h.snd.Add(1470), ACK: h.rcv, Flags: ACK | PSH, Len: 10})
}

// "A TCP implementation SHOULD implement the Nagle algorithm ... However,
// there MUST be a way for an application to disable the Nagle algorithm
// on an individual connection (MUST-17)."
func TestEstablished_NoDelay(t *testing.T) {
	cfg := exactCfg()
	cfg.NoDelay = true
	h := established(t, cfg)
	h.Write(bytesOf(10, 0), h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 10})
	h.Write(bytesOf(10, 0), h.now)
	expect(t, h, sg{SEQ: h.snd.Add(10), ACK: h.rcv, Flags: ACK | PSH, Len: 10})
}

// ---- Fast retransmit ----

// RFC 5681 §3.2: "The fast retransmit algorithm uses the arrival of 3
// duplicate ACKs ... as an indication that a segment has been lost. After
// receiving 3 duplicate ACKs, TCP performs a retransmission of what
// appears to be the missing segment, without waiting for the
// retransmission timer to expire." Duplicate: no data, same window, ACK =
// SND.UNA, data outstanding (§2).
func TestEstablished_FastRetransmit(t *testing.T) {
	h := establishedMSS(t, exactCfg(), 1000) // SMSS 1000, IW 10000 (RFC 6928 §2)
	h.Write(bytesOf(4000, 0), h.now)
	for i := uint32(0); i < 4; i++ {
		f := ACK
		if i == 3 {
			f |= PSH
		}
		expect(t, h, sg{SEQ: h.snd.Add(1000 * i), ACK: h.rcv, Flags: f, Len: 1000})
	}
	expectNothing(t, h)
	// A window change is not a duplicate ACK.
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: peerWnd + 1})
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: peerWnd})
	expectNothing(t, h)
	for i := 0; i < 2; i++ {
		send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK})
		expectNothing(t, h)
	}
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, Len: 1000})
	expectNothing(t, h)
}

// ---- Timestamps (RFC 7323) ----

func tsCfg() Config {
	return Config{DisableWindowScale: true, DisableSACK: true, DisableDelayedACK: true}
}

// RFC 7323 §3.2: "Once TSopt has been successfully negotiated ... the
// TSopt MUST be sent in every non-<RST> segment"; §4.3: "If SEG.TSval >=
// TS.Recent and SEG.SEQ =< Last.ACK.sent, then SEG.TSval is copied to
// TS.Recent" and TSecr echoes TS.Recent.
func TestEstablished_TimestampEcho(t *testing.T) {
	h := established(t, tsCfg()) // the handshake ACK echoes 1000
	h.peerTS = 1005
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | PSH, Len: 20})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(20), Flags: ACK, Opts: &Options{HasTimestamps: true, TSEcr: 1005}})
	// Out of order (SEG.SEQ > Last.ACK.sent): TS.Recent stays.
	h.peerTS = 1010
	send(t, h, sg{SEQ: h.rcv.Add(40), ACK: h.snd, Flags: ACK, Len: 20})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(20), Flags: ACK, Opts: &Options{HasTimestamps: true, TSEcr: 1005}})
	// TSval advances 1 per ms of our clock (RFC 7323 §5.4: 1 ms to 1 s).
	before := h.ourTS
	h.now = h.now.Add(250 * time.Millisecond)
	h.Write([]byte("x"), h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(20), Flags: ACK | PSH, Len: 1, Opts: &Options{HasTimestamps: true, TSEcr: 1005}})
	if h.ourTS-before != 250 {
		t.Fatalf("TSval advanced %d in 250 ms", h.ourTS-before)
	}
}

// RFC 7323 §5.3 R1: "If there is a Timestamps option in the arriving
// segment, SEG.TSval < TS.Recent, TS.Recent is valid ..., and if the RST
// bit is not set, then treat the arriving segment as not acceptable: Send
// an acknowledgment in reply as specified in RFC 793 page 69 and drop the
// segment." An RST with an old TSval is still taken.
func TestEstablished_PAWS(t *testing.T) {
	h := established(t, tsCfg())
	h.peerTS = 999 // TS.Recent is 1000
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | PSH, Len: 20})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, Opts: &Options{HasTimestamps: true, TSEcr: 1000}})
	wantRead(t, h, 0)
	// Modulo 2^32: 1000 - 2^31 + 1 is older, 1000 + 2^31 - 1 newer.
	h.peerTS = 1000 + 1<<31 + 1
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | PSH, Len: 20})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, Opts: &Options{HasTimestamps: true, TSEcr: 1000}})
	h.peerTS = 999
	send(t, h, sg{SEQ: h.rcv, Flags: RST})
	wantState(t, h, Closed)
	wantErr(t, h, ErrReset)
}

// RFC 7323 §3.2: "If a non-<RST> segment is received without a TSopt, a
// TCP SHOULD silently drop the segment. A received <RST> segment MUST NOT
// be dropped".
func TestEstablished_TimestampMissing_Dropped(t *testing.T) {
	h := established(t, tsCfg())
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | PSH, Len: 20, Opts: &Options{}})
	expectNothing(t, h)
	wantRead(t, h, 0)
	send(t, h, sg{SEQ: h.rcv, Flags: RST, Opts: &Options{}})
	wantState(t, h, Closed)
}

// ---- SACK (RFC 2018) ----

// RFC 2018 §4: "If sent at all, SACK options SHOULD be included in all
// ACKs which do not ACK the highest sequence number in the data receiver's
// queue"; "The first SACK block ... MUST specify the contiguous block of
// data containing the segment which triggered this ACK"; then "the most
// recently reported SACK blocks".
func TestEstablished_SACKBlocks(t *testing.T) {
	h := established(t, Config{DisableTimestamps: true, DisableWindowScale: true, DisableDelayedACK: true})
	r := h.rcv
	send(t, h, sg{SEQ: r.Add(10), ACK: h.snd, Flags: ACK, Len: 10}) // [r+10, r+20): crosses the wrap
	o := &Options{NumSACK: 1}
	o.SACK[0] = SACKBlock{r.Add(10), r.Add(20)}
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: o})
	send(t, h, sg{SEQ: r.Add(30), ACK: h.snd, Flags: ACK, Len: 10})
	o = &Options{NumSACK: 2}
	o.SACK[0], o.SACK[1] = SACKBlock{r.Add(30), r.Add(40)}, SACKBlock{r.Add(10), r.Add(20)}
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: o})
	// Filling the first gap: one block left, ACK moves to r+20.
	send(t, h, sg{SEQ: r, ACK: h.snd, Flags: ACK, Len: 10})
	o = &Options{NumSACK: 1}
	o.SACK[0] = SACKBlock{r.Add(30), r.Add(40)}
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(20), Flags: ACK, Opts: o})
	// Filling the last: no SACK option.
	send(t, h, sg{SEQ: r.Add(20), ACK: h.snd, Flags: ACK, Len: 10})
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(40), Flags: ACK})
}

// RFC 2018 §3: a block's right edge is "the sequence number immediately
// following the last sequence number of this block", and a FIN occupies a
// sequence number of its own (RFC 9293 §3.4), so a held FIN is inside the
// block: a FIN held alone is [SEQ, SEQ+1), never the empty block [SEQ,
// SEQ). The interop stall this pins: gVisor lost an upload's last data
// segment, the FIN behind it was held here and reported as an empty block,
// which SACKs no segment, so gVisor's RACK never learned that anything
// after the hole had arrived; its loss probe resent the FIN and it armed
// no retransmission timer for the data. With the FIN's sequence number
// SACKed, the hole before it is a loss RACK detects (RFC 8985 §6.2).
func TestEstablished_SACKHeldFIN(t *testing.T) {
	h := established(t, Config{DisableTimestamps: true, DisableWindowScale: true, DisableDelayedACK: true})
	r := h.rcv
	// The last data segment [r, r+616) is lost; the bare FIN behind it
	// arrives (and crosses the sequence-number wrap).
	send(t, h, sg{SEQ: r.Add(616), ACK: h.snd, Flags: ACK | FIN})
	o := &Options{NumSACK: 1}
	o.SACK[0] = SACKBlock{r.Add(616), r.Add(617)}
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: o})
	expectNothing(t, h)
	// The loss probe resends the FIN: the same duplicate ACK.
	send(t, h, sg{SEQ: r.Add(616), ACK: h.snd, Flags: ACK | FIN})
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: o})
	wantState(t, h, Established)
	// The data is retransmitted: everything up to and including the FIN
	// is acknowledged, with no SACK option left.
	send(t, h, sg{SEQ: r, ACK: h.snd, Flags: ACK | PSH, Len: 616})
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(617), Flags: ACK})
	wantState(t, h, CloseWait)
	wantRead(t, h, 616)
}

// The same for a FIN that comes with data, and for one held next to data
// held before it: the block reaches one past the FIN.
func TestEstablished_SACKHeldDataAndFIN(t *testing.T) {
	h := established(t, Config{DisableTimestamps: true, DisableWindowScale: true, DisableDelayedACK: true})
	r := h.rcv
	send(t, h, sg{SEQ: r.Add(10), ACK: h.snd, Flags: ACK | FIN, Len: 10})
	o := &Options{NumSACK: 1}
	o.SACK[0] = SACKBlock{r.Add(10), r.Add(21)}
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: o})

	h = established(t, Config{DisableTimestamps: true, DisableWindowScale: true, DisableDelayedACK: true})
	r = h.rcv
	send(t, h, sg{SEQ: r.Add(10), ACK: h.snd, Flags: ACK, Len: 10})
	o = &Options{NumSACK: 1}
	o.SACK[0] = SACKBlock{r.Add(10), r.Add(20)}
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: o})
	send(t, h, sg{SEQ: r.Add(20), ACK: h.snd, Flags: ACK | FIN})
	o.SACK[0] = SACKBlock{r.Add(10), r.Add(21)}
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: o})
	send(t, h, sg{SEQ: r, ACK: h.snd, Flags: ACK, Len: 10})
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(21), Flags: ACK})
	wantState(t, h, CloseWait)
}

// RFC 6298 §3: Karn's rule forbids samples from retransmitted segments,
// "The only case when TCP can safely take RTT samples from retransmitted
// segments is when the TCP timestamp option [JBB92] is employed"; RFC
// 7323 §4.1 (RTTM): a TSecr "MAY be used to update the averaged RTT
// measurement only if the segment advances the left edge of the send
// window". The ACK of a retransmission after a timeout restores the
// backed-off RTO (§5.5) from its TSecr: R = 50 ms, SRTT = 100 + (50 -
// 100)/8, RTTVAR = 50 + (|100 - 50| - 50)/4 (§2.3).
func TestEstablished_RTO_TimestampSampleAfterTimeout(t *testing.T) {
	for _, ts := range []bool{true, false} {
		cfg := tsCfg()
		cfg.DisableTimestamps = !ts
		h := established(t, cfg)
		h.Write(bytesOf(300, 0), h.now)
		expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 300})
		h.tick(rtoAfterHS)
		expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 300})
		if h.rtt.RTO != 2*rtoAfterHS {
			t.Fatalf("RTO %v after the timeout, want %v", h.rtt.RTO, 2*rtoAfterHS)
		}
		h.now = h.now.Add(50 * time.Millisecond)
		send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(300), Flags: ACK})
		want := 2 * rtoAfterHS // no sample without timestamps
		if ts {
			srtt := 100*time.Millisecond - 50*time.Millisecond/8
			want = srtt + 4*50*time.Millisecond
		}
		if h.rtt.RTO != want {
			t.Fatalf("timestamps %v: RTO %v after the ACK, want %v", ts, h.rtt.RTO, want)
		}
	}
}

// RFC 9293 §3.8.6.2.1, sender SWS avoidance: with a window below an SMSS
// and below half the largest one, data waits; send "(4) or if the
// override timeout occurs". Here the peer's update opening its window
// again is lost: nothing is in flight, the window is not zero (no probe,
// §3.8.6.1), and without the override the connection would wait for
// ever (the integrity matrix's handmade->netstack cell stalled so, a
// corrupted window update from gVisor dropped).
func TestEstablished_SWSOverrideTimeout(t *testing.T) {
	h := establishedMSS(t, exactCfg(), 1000)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: 8000})
	h.Write(bytesOf(10000, 0), h.now)
	for i := 0; i < 8; i++ {
		expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, Len: 1000})
		h.snd = h.snd.Add(1000)
	}
	expectNothing(t, h)
	// All acknowledged, the window down to 600 octets: SWS avoidance
	// holds the 2000 left.
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: 600})
	expectNothing(t, h)
	d := h.Deadline()
	if d.IsZero() || d != h.persistAt {
		t.Fatalf("next wake-up %v, want the persist timer's (%v)", d, h.persistAt)
	}
	h.tick(d.Sub(h.now))
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, Len: 600})
	h.snd = h.snd.Add(600)
	expectNothing(t, h)
	// Its ACK brings the window the lost update had: the rest goes (the
	// short tail after the next ACK: Nagle, RFC 9293 §3.7.4).
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: 8000})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, Len: 1000})
	h.snd = h.snd.Add(1000)
	expectNothing(t, h)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: 8000})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 400})
	expectNothing(t, h)
}
