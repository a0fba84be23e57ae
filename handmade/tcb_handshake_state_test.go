package handmade

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// ---- SYN-SENT: RFC 9293 §3.10.7.3 ----

// First check: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset
// (unless the RST bit is set, if so drop the segment and return)
// <SEQ=SEG.ACK><CTL=RST> and discard the segment."
func TestSynSent_ACKAtISS_RST(t *testing.T) {
	h := synSent(t, exactCfg())
	send(t, h, sg{SEQ: peerISS, ACK: ourISS, Flags: SYN | ACK})
	expect(t, h, sg{SEQ: ourISS, Flags: RST})
	expectNothing(t, h)
	wantState(t, h, SynSent)
}

func TestSynSent_ACKBeyondSndNxt_RST(t *testing.T) {
	h := synSent(t, exactCfg())
	send(t, h, sg{SEQ: peerISS, ACK: ourISS.Add(0x200), Flags: ACK}) // crosses the wrap
	expect(t, h, sg{SEQ: ourISS.Add(0x200), Flags: RST})
	wantState(t, h, SynSent)
}

func TestSynSent_BadACKWithRST_Dropped(t *testing.T) {
	h := synSent(t, exactCfg())
	send(t, h, sg{SEQ: peerISS, ACK: ourISS, Flags: RST | ACK})
	expectNothing(t, h)
	wantState(t, h, SynSent)
}

// Second check: "If the ACK was acceptable, then signal to the user
// "error: connection reset", drop the segment, enter CLOSED state".
func TestSynSent_RSTWithAcceptableACK_Refused(t *testing.T) {
	h := synSent(t, exactCfg())
	send(t, h, sg{SEQ: 0, ACK: ourISS.Add(1), Flags: RST | ACK})
	expectNothing(t, h)
	wantState(t, h, Closed)
	wantErr(t, h, ErrRefused)
}

// Second check: "Otherwise (no ACK), drop the segment and return."
func TestSynSent_RSTWithoutACK_Dropped(t *testing.T) {
	h := synSent(t, exactCfg())
	send(t, h, sg{SEQ: peerISS, Flags: RST})
	expectNothing(t, h)
	wantState(t, h, SynSent)
}

// Fourth check: "If SND.UNA > ISS (our SYN has been ACKed), change the
// connection state to ESTABLISHED, form an ACK segment
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it." The window of the
// SYN-ACK becomes SND.WND.
func TestSynSent_SYNACK_Established(t *testing.T) {
	h := synSent(t, exactCfg())
	send(t, h, sg{SEQ: peerISS, ACK: ourISS.Add(1), Flags: SYN | ACK, WND: 3000, Opts: &Options{MSS: 1000, HasMSS: true}})
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: peerISS.Add(1), Flags: ACK})
	wantState(t, h, Established)
	if h.SND.WND != 3000 || h.SND.UNA != ourISS.Add(1) || h.IRS != peerISS {
		t.Fatalf("SND.WND %d SND.UNA %#x IRS %#x", h.SND.WND, uint32(h.SND.UNA), uint32(h.IRS))
	}
	// The peer's MSS bounds our segments (RFC 9293 §3.7.1).
	h.Write(bytesOf(2500, 1), h.now)
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: peerISS.Add(1), Flags: ACK, Len: 1000})
}

// Fourth check: "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment
// <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it." (simultaneous open)
func TestSynSent_SYN_SimultaneousOpen(t *testing.T) {
	h := synSent(t, exactCfg())
	send(t, h, sg{SEQ: peerISS, Flags: SYN, Opts: &Options{MSS: 1460, HasMSS: true}})
	expect(t, h, sg{SEQ: ourISS, ACK: peerISS.Add(1), Flags: SYN | ACK, Opts: &Options{MSS: 1460, HasMSS: true}})
	wantState(t, h, SynReceived)
}

// Fifth check: "If neither of the SYN or RST bits is set, then drop the
// segment and return." (and eighth check: no FIN in SYN-SENT).
func TestSynSent_NeitherSYNNorRST_Dropped(t *testing.T) {
	h := synSent(t, exactCfg())
	send(t, h, sg{SEQ: peerISS, ACK: ourISS.Add(1), Flags: ACK, Len: 20})
	expectNothing(t, h)
	send(t, h, sg{SEQ: peerISS, Flags: FIN})
	expectNothing(t, h)
	wantState(t, h, SynSent)
}

// Deviation (RFC 9293 §3.10.7.3: text on a SYN-ACK goes on to the sixth
// step): we drop it unacknowledged, as for a SYN; the peer resends.
func TestSynSent_SYNACKWithText_NotAcknowledged(t *testing.T) {
	h := synSent(t, exactCfg())
	send(t, h, sg{SEQ: peerISS, ACK: ourISS.Add(1), Flags: SYN | ACK, Len: 10})
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: peerISS.Add(1), Flags: ACK})
	wantState(t, h, Established)
	if h.Readable() != 0 {
		t.Fatalf("readable %d", h.Readable())
	}
}

// After the SYN-ACK, RCV.WND is the window our SYN offered, counted from
// RCV.NXT = SEG.SEQ+1 (RFC 9293 §3.10.7.3 "RCV.NXT is set to SEG.SEQ+1";
// §3.10.7.4 first check "RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND"): data
// that arrives before our ACK went out is acceptable. The peer ISS here is
// half the space away from our ISS's neighbourhood.
func TestSynSent_DataBeforeOurACK_Acceptable(t *testing.T) {
	h := synSent(t, exactCfg())
	irs := Seq(0x7ffffff0)
	send(t, h, sg{SEQ: irs, ACK: ourISS.Add(1), Flags: SYN | ACK})
	send(t, h, sg{SEQ: irs.Add(1), ACK: ourISS.Add(1), Flags: ACK | PSH, Len: 10})
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: irs.Add(11), Flags: ACK})
	wantRead(t, h, 10)
}

// RFC 7323 §2.2: "The window field in a segment where the SYN bit is set
// (i.e., a <SYN> or <SYN,ACK>) MUST NOT be scaled." Later windows are
// shifted by the peer's scale (§2.3). Our own SYN's window is not scaled
// either, and our later windows are (Rcv.Wind.Shift).
func TestSynSent_WindowScale_NotAppliedToSYNWindow(t *testing.T) {
	cfg := Config{DisableTimestamps: true, DisableSACK: true, DisableDelayedACK: true}
	h := synSent(t, cfg) // asserts WND 65535 on our SYN
	if h.out.Options.WScale != 7 {
		// RFC 7323 §2.3: the smallest shift that says the largest window,
		// MaxRecvBuffer's default 6 MiB: 65535 << 7 covers it, << 6 not.
		t.Fatalf("we offered window scale %d, want 7", h.out.Options.WScale)
	}
	send(t, h, sg{SEQ: peerISS, ACK: ourISS.Add(1), Flags: SYN | ACK, WND: 1000,
		Opts: &Options{MSS: 1460, HasMSS: true, WScale: 7, HasWScale: true}})
	// The initial 128 KiB receive buffer >> 7.
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: peerISS.Add(1), Flags: ACK, WND: (128 << 10) >> 7})
	if h.SND.WND != 1000 {
		t.Fatalf("SND.WND %d, want 1000 (unscaled)", h.SND.WND)
	}
	h.Write(bytesOf(3000, 0), h.now)
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: peerISS.Add(1), Flags: ACK, Len: 1000})
	expectNothing(t, h)
	send(t, h, sg{SEQ: peerISS.Add(1), ACK: ourISS.Add(1001), Flags: ACK, WND: 1000})
	if h.SND.WND != 1000<<7 {
		t.Fatalf("SND.WND %d, want %d", h.SND.WND, 1000<<7)
	}
	expect(t, h, sg{SEQ: ourISS.Add(1001), ACK: peerISS.Add(1), Flags: ACK, Len: 1460})
}

// RFC 6298 §5.5 and §5.1: the SYN is retransmitted at RTO, 2 RTO, ...;
// after SynRetries (RFC 9293 §3.8.3 R2 for a SYN) the open fails, with an
// error naming the state. No RST: nothing is synchronized.
func TestSynSent_RTO_RetransmitBackoffGiveUp(t *testing.T) {
	cfg := exactCfg()
	cfg.SynRetries = 2
	h := synSent(t, cfg)
	rto := time.Second // RFC 6298 §2.1: initial RTO 1 s
	for i := 0; i < 2; i++ {
		if d := h.Deadline().Sub(h.now); d != rto {
			t.Fatalf("retry %d: deadline in %v, want %v", i, d, rto)
		}
		h.tick(rto - time.Millisecond)
		expectNothing(t, h)
		h.tick(time.Millisecond)
		expect(t, h, sg{SEQ: ourISS, Flags: SYN, WND: 65535, Opts: synOpts(*h.cfg, 1460, rcvShift(h.cfg.MaxRecvBuffer))})
		rto *= 2
	}
	h.tick(rto)
	expectNothing(t, h)
	wantState(t, h, Closed)
	wantErr(t, h, ErrTimedOut)
	if !strings.Contains(h.Err.Error(), "SYN-SENT") {
		t.Fatalf("error %q does not name the state", h.Err)
	}
}

// CLOSE in SYN-SENT: "Delete the TCB" (RFC 9293 §3.10.4); nothing is sent.
func TestSynSent_Close_Deleted(t *testing.T) {
	h := synSent(t, exactCfg())
	h.Close(h.now)
	expectNothing(t, h)
	wantState(t, h, Closed)
}

// ---- SYN-RECEIVED ----

// Fifth check, SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT, then enter
// ESTABLISHED state and continue processing with the variables below set
// to: SND.WND <- SEG.WND". Nothing needs answering.
func TestSynReceived_ACK_Established(t *testing.T) {
	h := synReceived(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: 5000})
	expectNothing(t, h)
	wantState(t, h, Established)
	if h.SND.WND != 5000 {
		t.Fatalf("SND.WND %d", h.SND.WND)
	}
}

// "If the segment acknowledgment is not acceptable, form a reset segment
// <SEQ=SEG.ACK><CTL=RST> and send it."
func TestSynReceived_BadACK_RST(t *testing.T) {
	for _, ack := range []Seq{ourISS, ourISS.Add(2), ourISS.Add(0x300)} {
		h := synReceived(t, exactCfg())
		send(t, h, sg{SEQ: h.rcv, ACK: ack, Flags: ACK})
		expect(t, h, sg{SEQ: ack, Flags: RST})
		expectNothing(t, h)
		wantState(t, h, SynReceived)
	}
}

// Fifth check: "if the ACK bit is off, drop the segment and return".
func TestSynReceived_NoACKBit_Dropped(t *testing.T) {
	h := synReceived(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv, Flags: PSH, Len: 20})
	expectNothing(t, h)
	wantState(t, h, SynReceived)
}

// Deviation (tcb_input.go, inSynchronized): a retransmitted SYN in
// SYN-RECEIVED re-sends the SYN-ACK, as Linux does, where RFC 9293's first
// check would send a bare ACK.
func TestSynReceived_RetransmittedSYN_ResendsSYNACK(t *testing.T) {
	h := synReceived(t, exactCfg())
	send(t, h, sg{SEQ: peerISS, Flags: SYN, Opts: &Options{MSS: 1460, HasMSS: true}})
	expect(t, h, sg{SEQ: ourISS, ACK: peerISS.Add(1), Flags: SYN | ACK, WND: 65535, Opts: &Options{MSS: 1460, HasMSS: true}})
	wantState(t, h, SynReceived)
}

// First check: "If an incoming segment is not acceptable, an
// acknowledgment should be sent in reply ... <SEQ=SND.NXT><ACK=RCV.NXT>
// <CTL=ACK>".
func TestSynReceived_Unacceptable_ACK(t *testing.T) {
	h := synReceived(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv.Add(70000), ACK: h.snd, Flags: ACK, Len: 10})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	wantState(t, h, SynReceived)
}

// Second check, SYN-RECEIVED: "If this connection was initiated with a
// passive OPEN (i.e., came from the LISTEN state), then return this
// connection to LISTEN state and return. The user need not be informed."
func TestSynReceived_PassiveRSTExact_Gone(t *testing.T) {
	h := synReceived(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv, Flags: RST})
	expectNothing(t, h)
	wantState(t, h, Closed)
	if h.established {
		t.Fatal("handed to the user")
	}
}

// Second check: in window, not exact: RFC 5961 §3.2 challenge ACK
// "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>".
func TestSynReceived_RSTInWindowNotExact_ChallengeACK(t *testing.T) {
	h := synReceived(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv.Add(100), Flags: RST})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	wantState(t, h, SynReceived)
}

// Second check, SYN-RECEIVED: "If this connection was initiated with an
// active OPEN (i.e., came from SYN-SENT state), then the connection was
// refused; signal the user "connection refused"".
func TestSynReceived_ActiveRSTExact_Refused(t *testing.T) {
	h := synSent(t, exactCfg())
	send(t, h, sg{SEQ: peerISS, Flags: SYN})
	expect(t, h, sg{SEQ: ourISS, ACK: peerISS.Add(1), Flags: SYN | ACK, Opts: &Options{MSS: 1460, HasMSS: true}})
	send(t, h, sg{SEQ: peerISS.Add(1), Flags: RST})
	expectNothing(t, h)
	wantState(t, h, Closed)
	wantErr(t, h, ErrRefused)
}

// Fourth check, SYN-RECEIVED: "If the connection was initiated with a
// passive OPEN, then return this connection to the LISTEN state and
// return." A SYN inside the window of a half-open child ends the child.
func TestSynReceived_PassiveSYNInWindow_BackToListen(t *testing.T) {
	h := synReceived(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv.Add(1000), Flags: SYN})
	expectNothing(t, h)
	wantState(t, h, Closed)
}

// Fourth check, SYN-RECEIVED reached by an active OPEN: "Otherwise, handle
// per the directions for synchronized states below": challenge ACK.
func TestSynReceived_ActiveSYNInWindow_ChallengeACK(t *testing.T) {
	h := synSent(t, exactCfg())
	send(t, h, sg{SEQ: peerISS, Flags: SYN})
	expect(t, h, sg{SEQ: ourISS, ACK: peerISS.Add(1), Flags: SYN | ACK, Opts: &Options{MSS: 1460, HasMSS: true}})
	send(t, h, sg{SEQ: peerISS.Add(1000), Flags: SYN})
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: peerISS.Add(1), Flags: ACK})
	wantState(t, h, SynReceived)
}

// Eighth check: "SYN-RECEIVED STATE, ESTABLISHED STATE: Enter the
// CLOSE-WAIT state" once the handshake-completing ACK has been taken.
func TestSynReceived_FIN_CloseWait(t *testing.T) {
	h := synReceived(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: FIN | ACK})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(1), Flags: ACK})
	wantState(t, h, CloseWait)
}

// RFC 6298 §5.5: the SYN-ACK is retransmitted with backoff; after
// SynRetries the half-open connection is dropped, the error naming the
// state.
func TestSynReceived_RTO_RetransmitGiveUp(t *testing.T) {
	cfg := exactCfg()
	cfg.SynRetries = 1
	h := synReceived(t, cfg)
	h.tick(time.Second)
	expect(t, h, sg{SEQ: ourISS, ACK: peerISS.Add(1), Flags: SYN | ACK, WND: 65535, Opts: &Options{MSS: 1460, HasMSS: true}})
	h.tick(2 * time.Second)
	expectNothing(t, h)
	wantState(t, h, Closed)
	if !errors.Is(h.Err, ErrTimedOut) || !strings.Contains(h.Err.Error(), "SYN-RECEIVED") {
		t.Fatalf("Err %v", h.Err)
	}
}

// ABORT in SYN-RECEIVED: "Send a reset segment: <SEQ=SND.NXT><CTL=RST>"
// (RFC 9293 §3.10.5).
func TestSynReceived_Abort_RST(t *testing.T) {
	h := synReceived(t, exactCfg())
	h.Abort(h.now)
	expect(t, h, sg{SEQ: h.snd, Flags: RST})
	expectNothing(t, h)
	wantState(t, h, Closed)
}

// CLOSE in SYN-RECEIVED: "If no SENDs have been issued and there is no
// pending data to send, then form a FIN segment and send it, and enter
// FIN-WAIT-1 state; otherwise, queue for processing after entering
// ESTABLISHED state" (RFC 9293 §3.10.4). The FIN follows the SYN: SEQ =
// ISS+1, and the SYN-ACK is still retransmitted until acknowledged.
func TestSynReceived_Close_FINAfterSYN(t *testing.T) {
	h := synSent(t, exactCfg())
	send(t, h, sg{SEQ: peerISS, Flags: SYN})
	expect(t, h, sg{SEQ: ourISS, ACK: peerISS.Add(1), Flags: SYN | ACK, Opts: &Options{MSS: 1460, HasMSS: true}})
	h.Close(h.now)
	expectNothing(t, h)
	// The SYN-ACK is lost: it is retransmitted, not some data segment.
	h.tick(time.Second)
	expect(t, h, sg{SEQ: ourISS, ACK: peerISS.Add(1), Flags: SYN | ACK, Opts: &Options{MSS: 1460, HasMSS: true}})
	send(t, h, sg{SEQ: peerISS.Add(1), ACK: ourISS.Add(1), Flags: ACK})
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: peerISS.Add(1), Flags: FIN | ACK})
	wantState(t, h, FinWait1)
	send(t, h, sg{SEQ: peerISS.Add(1), ACK: ourISS.Add(2), Flags: ACK})
	wantState(t, h, FinWait2)
}

// Simultaneous open, RFC 9293 §3.5 Figure 8, between two TCBs. Lines 2-5
// are as drawn. At line 6 the crossing SYN-ACK (SEQ=IRS, LEN=1) fails the
// §3.10.7.4 first check (neither RCV.NXT =< SEG.SEQ nor RCV.NXT =<
// SEG.SEQ+SEG.LEN-1), so each side answers "<SEQ=SND.NXT><ACK=RCV.NXT>
// <CTL=ACK>", and that ACK is what the fifth check takes to ESTABLISHED.
func TestSimultaneousOpen_Figure8(t *testing.T) {
	cfg := exactCfg().withDefaults(1500)
	now := epoch
	a := newTCB(&cfg, ourAddr, peerAddr, ourISS, now)
	b := newTCB(&cfg, peerAddr, ourAddr, peerISS, now)
	a.openActive(now)
	b.openActive(now)
	buf := make([]byte, 2000)
	out := func(x *TCB) []Segment {
		var segs []Segment
		var s Segment
		for x.Output(now, &s, buf) {
			s.Payload = nil
			segs = append(segs, s)
		}
		return segs
	}
	one := func(x *TCB, flags Flags, seq, ack Seq) Segment {
		t.Helper()
		segs := out(x)
		if len(segs) != 1 || segs[0].Flags != flags || segs[0].SEQ != seq || flags.Has(ACK) && segs[0].ACK != ack {
			t.Fatalf("%s: got %v, want one %s seq=%#x ack=%#x", x.State, segs, flags, uint32(seq), uint32(ack))
		}
		return segs[0]
	}
	synA := one(a, SYN, ourISS, 0)  // 2. A --> <SEQ=100><CTL=SYN>
	synB := one(b, SYN, peerISS, 0) // 3. B --> <SEQ=300><CTL=SYN>
	a.Input(&synB, now)             // 3. A: SYN-RECEIVED
	b.Input(&synA, now)             // 4. B: SYN-RECEIVED
	if a.State != SynReceived || b.State != SynReceived {
		t.Fatalf("states %s %s", a.State, b.State)
	}
	sa := one(a, SYN|ACK, ourISS, peerISS.Add(1)) // 5. <SEQ=100><ACK=301><CTL=SYN,ACK>
	sb := one(b, SYN|ACK, peerISS, ourISS.Add(1)) // 6. <SEQ=300><ACK=101><CTL=SYN,ACK>
	a.Input(&sb, now)
	b.Input(&sa, now)
	ackA := one(a, ACK, ourISS.Add(1), peerISS.Add(1))
	ackB := one(b, ACK, peerISS.Add(1), ourISS.Add(1))
	a.Input(&ackB, now)
	b.Input(&ackA, now)
	if a.State != Established || b.State != Established {
		t.Fatalf("states %s %s", a.State, b.State)
	}
	if len(out(a))+len(out(b)) != 0 {
		t.Fatal("more segments after the handshake")
	}
	if a.SND.UNA != ourISS.Add(1) || a.RCV.NXT != peerISS.Add(1) || b.SND.UNA != peerISS.Add(1) || b.RCV.NXT != ourISS.Add(1) {
		t.Fatal("sequence variables")
	}
}
