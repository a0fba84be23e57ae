package handmade

import (
	"testing"
	"time"
)

// Loss recovery in ESTABLISHED, "feed an ACK, expect exactly these
// segments": RFC 6675's SACK-based recovery and RFC 6582's NewReno, with
// cwnd, ssthresh and pipe checked against the RFCs' equations after every
// step, so that no speed comes from ignoring a loss. SMSS is 1000 octets
// (the peer's MSS), so IW is 10 segments (RFC 6928 §2); segment i is
// [i*1000, (i+1)*1000) from the first octet of data, and every exchange
// crosses the sequence-number wrap.

// recWnd is the window the peer advertises in these tests: room for all
// the segments they send.
const recWnd = 60000

func sackCfg() Config {
	return Config{DisableTimestamps: true, DisableWindowScale: true, DisableDelayedACK: true}
}

// recoveryHarness is ESTABLISHED with SMSS 1000, the peer's window opened
// to recWnd, and n octets written.
func recoveryHarness(t *testing.T, cfg Config, n int) *harness {
	t.Helper()
	h := establishedMSS(t, cfg, 1000)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: recWnd})
	expectNothing(t, h)
	h.Write(bytesOf(n, 0), h.now)
	return h
}

// seg is the first sequence number of data segment i.
func (h *harness) seg(i int) Seq { return h.snd.Add(uint32(1000 * i)) }

// expectSegs asserts that segments from..to-1 go out, in order, then
// nothing.
func expectSegs(t *testing.T, h *harness, segs ...int) {
	t.Helper()
	for _, i := range segs {
		f := ACK
		if h.seg(i+1) == h.dataEnd() {
			f |= PSH // RFC 9293 §3.9.1: the last queued octet
		}
		expect(t, h, sg{SEQ: h.seg(i), ACK: h.rcv, Flags: f, Len: 1000})
	}
	expectNothing(t, h)
}

// sackACK sends an ACK of SND.UNA = segment ack with SACK blocks, each a
// pair of segment numbers [from, to).
func sackACK(t *testing.T, h *harness, ack int, blocks ...[2]int) {
	t.Helper()
	o := &Options{NumSACK: len(blocks)}
	for i, b := range blocks {
		o.SACK[i] = SACKBlock{h.seg(b[0]), h.seg(b[1])}
	}
	send(t, h, sg{SEQ: h.rcv, ACK: h.seg(ack), Flags: ACK, WND: recWnd, Opts: o})
}

// wantWindow checks cwnd, ssthresh and, unless negative, pipe (octets).
func wantWindow(t *testing.T, h *harness, cwnd, ssthresh, pipe int) {
	t.Helper()
	if h.cwnd() != cwnd || h.cc.Ssthresh() != ssthresh || pipe >= 0 && h.rec.pipe != pipe {
		t.Fatalf("cwnd %d ssthresh %d pipe %d, want %d %d %d", h.cwnd(), h.cc.Ssthresh(), h.rec.pipe, cwnd, ssthresh, pipe)
	}
}

// RFC 6675 §5, a whole recovery: Limited Transmit governed by pipe on the
// first two duplicate ACKs (step 3), fast retransmit on the third (step
// 4) with ssthresh = cwnd = FlightSize/2, FlightSize leaving out what
// Limited Transmit sent (RFC 5681 §3.2 step 2); then step (C) on every
// ACK: NextSeg () rule (1) for a second loss once IsLost says so, rule
// (2) new data when nothing is lost, pipe recounted by SetPipe () (B.2)
// and incremented per segment (C.4); partial ACKs; the end at
// RecoveryPoint (A), after which the window stays at ssthresh.
func TestEstablished_SACKRecovery(t *testing.T) {
	h := recoveryHarness(t, sackCfg(), 30000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9) // IW = 10*SMSS (RFC 6928 §2)
	wantWindow(t, h, 10000, 1<<30, -1)
	// Segments 0 and 5 are lost. Each ACK SACKing more counts as a
	// duplicate (RFC 6675 §2).
	sackACK(t, h, 0, [2]int{1, 2})
	// (3.1) HighRxt = HighACK, (3.2) SetPipe: segments 0 and 2-9 are in
	// the network (0 is not lost: 1000 octets SACKed above it), 9000 <
	// cwnd: (3.3) one segment of new data.
	wantWindow(t, h, 10000, 1<<30, 9000)
	expectSegs(t, h, 10)
	sackACK(t, h, 0, [2]int{1, 3})
	wantWindow(t, h, 10000, 1<<30, 9000) // 0, 3-10
	expectSegs(t, h, 11)
	// The third duplicate ACK: (4.1) RecoveryPoint = HighData; (4.2)
	// ssthresh = cwnd = FlightSize/2 = (12000 - 2000 sent by Limited
	// Transmit)/2; (4.3) retransmit segment 0; (4.4) SetPipe: the
	// retransmission of 0 (now IsLost) and 4-11 are in the network.
	sackACK(t, h, 0, [2]int{1, 4})
	wantWindow(t, h, 5000, 5000, 9000)
	if !h.inRecovery || h.recover != h.seg(12) || h.rec.highRxt != h.seg(1) || h.rec.rescueRxt != h.seg(1) {
		t.Fatalf("recovery %v RecoveryPoint +%d HighRxt +%d RescueRxt +%d", h.inRecovery, h.recover.Sub(h.snd), h.rec.highRxt.Sub(h.snd), h.rec.rescueRxt.Sub(h.snd))
	}
	expectSegs(t, h, 0)
	// Segments 4, 6 and 7 arrive: pipe falls to 1000 (retransmission of
	// 0) + 5 (not lost: 2000 SACKed above it, in one range) + 8-11.
	sackACK(t, h, 0, [2]int{6, 7}, [2]int{1, 5})
	sackACK(t, h, 0, [2]int{6, 8}, [2]int{1, 5})
	wantWindow(t, h, 5000, 5000, 6000)
	expectNothing(t, h)
	// Segment 8 arrives: 3000 octets above 5 now, more than (DupThresh-1)
	// * SMSS, so IsLost(5) and SetPipe leaves it out: 1000 + 9-11 = 4000.
	// cwnd - pipe >= SMSS: NextSeg () rule (1) returns 5; HighRxt moves to
	// its end (C.2) and pipe grows by it (C.4).
	sackACK(t, h, 0, [2]int{6, 9}, [2]int{1, 5})
	expectSegs(t, h, 5)
	wantWindow(t, h, 5000, 5000, 5000)
	if h.rec.highRxt != h.seg(6) {
		t.Fatalf("HighRxt +%d, want the end of segment 5", h.rec.highRxt.Sub(h.snd))
	}
	// Segment 9: pipe 4000. Nothing unSACKed is lost above HighRxt, so
	// rule (2): new data.
	sackACK(t, h, 0, [2]int{6, 10}, [2]int{1, 5})
	expectSegs(t, h, 12)
	wantWindow(t, h, 5000, 5000, 5000)
	// The retransmission of 0 arrives: a partial ACK (it does not cover
	// RecoveryPoint); pipe: 5's retransmission, 10-12 = 4000: one more.
	sackACK(t, h, 5, [2]int{6, 10})
	expectSegs(t, h, 13)
	wantWindow(t, h, 5000, 5000, 5000)
	// The retransmission of 5 arrives, and 10: pipe = 11-13 = 3000: two
	// segments (C.5, "return to (C.1)").
	sackACK(t, h, 11)
	wantWindow(t, h, 5000, 5000, 3000)
	expectSegs(t, h, 14, 15)
	if !h.inRecovery {
		t.Fatal("recovery ended before RecoveryPoint was acknowledged")
	}
	// (A): the cumulative ACK covers RecoveryPoint (segment 11's last
	// octet): recovery ends, cwnd stays ssthresh, and new data goes by
	// FlightSize again: 13-15 in flight, 2000 of room.
	sackACK(t, h, 13)
	if h.inRecovery {
		t.Fatal("still in recovery after the ACK of RecoveryPoint")
	}
	wantWindow(t, h, 5000, 5000, -1)
	expectSegs(t, h, 16, 17)
	if h.Counters.FastRetransmits != 1 || h.Counters.Retransmissions != 2 {
		t.Fatalf("%d fast retransmits, %d retransmissions, want 1 and 2", h.Counters.FastRetransmits, h.Counters.Retransmissions)
	}
}

// RFC 6675 §5 step (2): "If DupAcks < DupThresh but IsLost (HighACK + 1)
// returns true -- indicating at least three segments have arrived above
// the current cumulative acknowledgment point, which is taken to indicate
// loss -- go to step (4)." A receiver that stretches its ACKs (gVisor
// ACKs a batch at once) reports three segments in one duplicate ACK.
func TestEstablished_SACKRecovery_IsLostEntry(t *testing.T) {
	h := recoveryHarness(t, sackCfg(), 10000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	sackACK(t, h, 0, [2]int{1, 4})
	if h.dupAcks != 1 || !h.inRecovery {
		t.Fatalf("DupAcks %d, recovery %v: want 1 and in recovery", h.dupAcks, h.inRecovery)
	}
	// FlightSize 10000: ssthresh = cwnd = 5000; pipe = rtx of 0 + 4-9.
	wantWindow(t, h, 5000, 5000, 7000)
	expectSegs(t, h, 0)
}

// RFC 6675 §4 NextSeg () rule (4): with no lost segment, no new data and
// nothing unSACKed below the highest SACK left to send, "one segment of
// upto SMSS octets that MUST include the highest outstanding unSACKed
// sequence number SHOULD be returned, and RescueRxt set to
// RecoveryPoint" once "HighACK is greater than RescueRxt": once per
// recovery. Here the last segment was lost with the first.
func TestEstablished_SACKRecovery_Rescue(t *testing.T) {
	h := recoveryHarness(t, sackCfg(), 10000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	// 0 and 9 lost. No data is left to send, so no Limited Transmit.
	sackACK(t, h, 0, [2]int{1, 2})
	sackACK(t, h, 0, [2]int{1, 3})
	expectNothing(t, h)
	sackACK(t, h, 0, [2]int{1, 4})
	wantWindow(t, h, 5000, 5000, 7000) // rtx of 0 + 4-9
	expectSegs(t, h, 0)
	for i := 5; i <= 9; i++ {
		sackACK(t, h, 0, [2]int{1, i})
	}
	// pipe: rtx of 0 + 9 = 2000. cwnd - pipe >= SMSS, but rule (1) finds
	// nothing lost above HighRxt, there is no new data, rule (3) nothing
	// below the highest SACK, and rule (4) waits for HighACK > RescueRxt.
	wantWindow(t, h, 5000, 5000, 2000)
	expectNothing(t, h)
	// The retransmission of 0 arrives: HighACK passes RescueRxt, rule (4)
	// sends 9, the highest unSACKed segment, and sets RescueRxt =
	// RecoveryPoint; HighRxt stays.
	sackACK(t, h, 9)
	expectSegs(t, h, 9)
	if h.rec.rescueRxt != h.recover || h.rec.highRxt != h.seg(1) {
		t.Fatalf("RescueRxt +%d HighRxt +%d, want RecoveryPoint and the end of 0", h.rec.rescueRxt.Sub(h.snd), h.rec.highRxt.Sub(h.snd))
	}
	// Once per recovery: the timers, not another rescue, handle what
	// follows.
	send(t, h, sg{SEQ: h.rcv, ACK: h.seg(9), Flags: ACK, WND: recWnd - 1})
	expectNothing(t, h)
	sackACK(t, h, 10)
	if h.inRecovery || h.Counters.Retransmissions != 2 {
		t.Fatalf("recovery %v, %d retransmissions", h.inRecovery, h.Counters.Retransmissions)
	}
}

// RFC 6675 §5.1: "If an RTO occurs during loss recovery as specified in
// this document, RecoveryPoint MUST be set to HighData. Further, the new
// value of RecoveryPoint MUST be preserved and the loss recovery
// algorithm outlined in this document MUST be terminated. In addition, a
// new recovery phase (as described in Section 5) MUST NOT be initiated
// until HighACK is greater than or equal to the new value of
// RecoveryPoint." The scoreboard is expunged (RFC 2018 via RFC 6675
// §5.1: a TCP sender MUST "ignore prior SACK information in determining
// which data to retransmit"); what the receiver SACKs afterwards is used.
// RFC 5681 §3.1: ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 SMSS.
func TestEstablished_SACKRecovery_RTO(t *testing.T) {
	h := recoveryHarness(t, sackCfg(), 10000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	h.now = h.now.Add(10 * time.Millisecond)
	sackACK(t, h, 0, [2]int{1, 4})
	expectSegs(t, h, 0) // fast retransmit; it is lost too
	h.tick(rtoAfterHS)
	if h.inRecovery || !h.rec.sb.empty() || h.recover != h.seg(10) {
		t.Fatalf("after the RTO: recovery %v, scoreboard %v, RecoveryPoint +%d", h.inRecovery, h.rec.sb.sacked, h.recover.Sub(h.snd))
	}
	wantWindow(t, h, 1000, 5000, -1) // FlightSize 10000
	// RFC 6298 §5.4: the earliest unacknowledged segment, whatever was
	// SACKed before.
	expectSegs(t, h, 0)
	// The receiver still holds 1-3 and says so: no new recovery before
	// HighACK reaches RecoveryPoint.
	sackACK(t, h, 0, [2]int{1, 4})
	if h.inRecovery {
		t.Fatal("a new recovery began before HighACK reached the RecoveryPoint")
	}
	expectNothing(t, h)
	// The ACK of 0-3 slow-starts cwnd by what it delivered: 0, since 1-3
	// were SACKed (RFC 5681 §3.1: N is "the number of previously
	// unacknowledged bytes acknowledged"). The receiver has 5 and 6 as
	// well: the go-back resends 4, skips 5 and 6, resends 7, and stops
	// with 2000 octets it sent again in flight.
	sackACK(t, h, 4, [2]int{5, 7})
	wantWindow(t, h, 2000, 5000, -1)
	expectSegs(t, h, 4, 7)
}

// RFC 6582 §3.2 (SACK not in use): step 2 enters fast retransmit on the
// third duplicate ACK with ssthresh per RFC 5681 §3.2 equation (4) and
// cwnd = ssthresh + 3*SMSS (RFC 5681 §3.2 step 3), each further duplicate
// ACK inflates cwnd by SMSS (step 4) and may send new data (step 5).
// Step 3, partial acknowledgments: "retransmit the first unacknowledged
// segment. Deflate the congestion window by the amount of new data
// acknowledged ... If the partial ACK acknowledges at least one SMSS of
// new data, then add back SMSS bytes"; full acknowledgments: "Set cwnd to
// ... (2) ssthresh ... Exit the fast recovery procedure."
func TestEstablished_NewRenoRecovery(t *testing.T) {
	cfg := exactCfg()
	h := recoveryHarness(t, cfg, 30000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	dup := func() { send(t, h, sg{SEQ: h.rcv, ACK: h.seg(0), Flags: ACK, WND: recWnd}) }
	// 0 and 5 lost. RFC 3042 §2: Limited Transmit sends one new segment on
	// each of the first two duplicate ACKs.
	dup()
	expectSegs(t, h, 10)
	dup()
	expectSegs(t, h, 11)
	// The third: ssthresh = (FlightSize less Limited Transmit's 2000)/2;
	// the window is ssthresh + 3*SMSS = 8000, and 12000 are in flight.
	dup()
	wantWindow(t, h, 8000, 5000, -1)
	expectSegs(t, h, 0)
	// Duplicate ACKs for 6..11 inflate the window to 14000: two new
	// segments go once it passes FlightSize.
	for i := 0; i < 6; i++ {
		dup()
	}
	wantWindow(t, h, 14000, 5000, -1)
	expectSegs(t, h, 12, 13)
	// The partial ACK of 0-4 (the retransmission of 0 arrived): retransmit
	// 5; deflate by 5000 and add back SMSS: 10000, with 9000 in flight.
	send(t, h, sg{SEQ: h.rcv, ACK: h.seg(5), Flags: ACK, WND: recWnd})
	wantWindow(t, h, 10000, 5000, -1)
	expect(t, h, sg{SEQ: h.seg(5), ACK: h.rcv, Flags: ACK, Len: 1000})
	expectSegs(t, h, 14)
	// The full acknowledgement: everything up to recover (segment 11).
	send(t, h, sg{SEQ: h.rcv, ACK: h.seg(12), Flags: ACK, WND: recWnd})
	if h.inRecovery {
		t.Fatal("still in fast recovery after the full acknowledgement")
	}
	wantWindow(t, h, 5000, 5000, -1)
	expectSegs(t, h, 15, 16) // 12-14 in flight
}

// RFC 6582 §3.2 step 2: "When the third duplicate ACK is received, the
// TCP sender first checks the value of recover to see if the Cumulative
// Acknowledgment field covers more than recover. ... If not, the TCP does
// not enter fast retransmit and does not reset ssthresh." "Covers more
// than" is "ack_number - 1 > recover": an ACK of exactly the last
// recovery's highest sequence number plus one is not enough.
func TestEstablished_NewRenoRecovery_RecoverGuard(t *testing.T) {
	h := recoveryHarness(t, exactCfg(), 10000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	for i := 0; i < 3; i++ {
		send(t, h, sg{SEQ: h.rcv, ACK: h.seg(0), Flags: ACK, WND: recWnd})
	}
	expectSegs(t, h, 0)
	if h.recover != h.seg(10) {
		t.Fatalf("recover +%d, want the end of segment 9", h.recover.Sub(h.snd))
	}
	// The full ACK, exactly recover: fast recovery ends.
	send(t, h, sg{SEQ: h.rcv, ACK: h.seg(10), Flags: ACK, WND: recWnd})
	h.Write(bytesOf(4000, 0), h.now)
	expectSegs(t, h, 10, 11, 12, 13)
	// Three duplicate ACKs of SND.UNA = recover: no fast retransmit, and
	// ssthresh stays.
	for i := 0; i < 3; i++ {
		send(t, h, sg{SEQ: h.rcv, ACK: h.seg(10), Flags: ACK, WND: recWnd})
	}
	expectNothing(t, h)
	if h.inRecovery || h.cc.Ssthresh() != 5000 || h.Counters.FastRetransmits != 1 {
		t.Fatalf("recovery %v ssthresh %d fast retransmits %d", h.inRecovery, h.cc.Ssthresh(), h.Counters.FastRetransmits)
	}
}

// A retransmission lost in turn, found by RACK's rule (RFC 8985 §6.2)
// instead of the retransmission timer.
// Deviation (recovery.go, nextSeg): RFC 6675 leaves it to the RTO; data
// first sent after the retransmission is SACKed, a quarter of SRTT (100
// ms after the handshake) has passed, so it is sent again, ahead of
// anything else NextSeg () would return.
func TestEstablished_SACKRecovery_LostRetransmission(t *testing.T) {
	h := recoveryHarness(t, sackCfg(), 30000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	sackACK(t, h, 0, [2]int{1, 2})
	expectSegs(t, h, 10)
	sackACK(t, h, 0, [2]int{1, 3})
	expectSegs(t, h, 11)
	sackACK(t, h, 0, [2]int{1, 4})
	expectSegs(t, h, 0) // retransmission of 0, lost again
	for i := 5; i <= 10; i++ {
		sackACK(t, h, 0, [2]int{1, i})
	}
	// pipe: rtx of 0, 10, 11 = 3000; rule (2) sends 12 and 13.
	expectSegs(t, h, 12, 13)
	// 10-13 arrive, sent before the retransmission of 0: no proof yet.
	sackACK(t, h, 0, [2]int{1, 12})
	expectSegs(t, h, 14, 15)
	h.now = h.now.Add(30 * time.Millisecond)
	// 12, first sent after the retransmission of 0, arrives 30 ms later
	// (more than SRTT/4 = 25 ms): the retransmission is lost.
	sackACK(t, h, 0, [2]int{1, 13})
	if h.Counters.LostRetransmissions != 1 {
		t.Fatalf("%d lost retransmissions found, want 1", h.Counters.LostRetransmissions)
	}
	// It is out of the network: pipe = 13-15 = 3000. It goes first, then
	// new data.
	wantWindow(t, h, 5000, 5000, 3000)
	expectSegs(t, h, 0, 16)
	if h.cc.Cwnd() != 5000 {
		t.Fatalf("cwnd %d: the recovery's one reduction, no second", h.cc.Cwnd())
	}
}

// Deviation (recovery.go, lostEdge): RACK's rule (RFC 8985 §6.2) besides
// RFC 6675's IsLost (). Four segments in flight, the first lost, two
// SACKed: IsLost (HighACK+1) is false (2*SMSS SACKed above, not more),
// DupAcks is 1, Early Retransmit does not apply (four segments, RFC 5827
// §3.1) and the fourth segment may never come. Once a reordering window
// (SRTT/4 = 25 ms) has passed since the SACK, the reordering timer (RFC
// 8985 §6.3) finds segment 0 lost and recovery starts, with the one
// reduction RFC 6675 (4.2) makes: ssthresh = cwnd = max(FlightSize/2,
// 2*SMSS).
func TestEstablished_SACKRecovery_ReorderTimer(t *testing.T) {
	h := recoveryHarness(t, sackCfg(), 4000)
	expectSegs(t, h, 0, 1, 2, 3)
	sackACK(t, h, 0, [2]int{1, 3})
	expectNothing(t, h)
	if h.inRecovery {
		t.Fatal("recovery with 2*SMSS SACKed above the hole and no time passed")
	}
	if d := h.Deadline().Sub(h.now); d != 25*time.Millisecond {
		t.Fatalf("next deadline in %v, want the reordering window 25ms", d)
	}
	h.tick(24 * time.Millisecond)
	expectNothing(t, h)
	h.tick(time.Millisecond)
	if !h.inRecovery {
		t.Fatal("no recovery after the reordering window")
	}
	wantWindow(t, h, 2000, 2000, 2000) // rtx of 0, and 3
	expectSegs(t, h, 0)
}

// RFC 6675 §5: a new recovery only if "the cumulative acknowledgment point
// is beyond the last value of RecoveryPoint", bounded in §5.1 as "HighACK
// is greater than or equal to the new value of RecoveryPoint". Recovery
// ends on the ACK of exactly RecoveryPoint, and the segment right after
// it, sent during recovery, was lost too: the SACKs of what followed it
// start the next recovery (with its own halving), not a timeout.
func TestEstablished_SACKRecovery_LossAtRecoveryPoint(t *testing.T) {
	h := recoveryHarness(t, sackCfg(), 14000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	sackACK(t, h, 0, [2]int{1, 4}) // IsLost(0): recovery, ssthresh = cwnd = 5000
	expectSegs(t, h, 0)
	for i := 5; i <= 10; i++ {
		sackACK(t, h, 0, [2]int{1, i})
	}
	// pipe: rtx of 0 = 1000: new data 10-13 (rule 2).
	expectSegs(t, h, 10, 11, 12, 13)
	// 0 arrives: the ACK of exactly RecoveryPoint (the end of 9), and 10
	// was lost: 11-13 are SACKed.
	sackACK(t, h, 10, [2]int{11, 12})
	if h.inRecovery {
		t.Fatal("recovery did not end at RecoveryPoint")
	}
	sackACK(t, h, 10, [2]int{11, 13})
	sackACK(t, h, 10, [2]int{11, 14})
	if !h.inRecovery || h.Counters.FastRetransmits != 2 {
		t.Fatalf("recovery %v, %d fast retransmits: want a second recovery", h.inRecovery, h.Counters.FastRetransmits)
	}
	wantWindow(t, h, 2000, 2000, 1000) // FlightSize 4000 (10-13); pipe: the retransmission of 10
	expectSegs(t, h, 10)
}

// The window recovery leaves is ssthresh, with nothing carried over: RFC
// 6675 (4.2) "ssthresh = cwnd = (FlightSize / 2)", with no inflation on
// top in SACK recovery (pipe already leaves out what the receiver
// SACKed); RFC 6582 §3.2 step 3 (RFC 5681 §3.2 step 6) sets cwnd to
// ssthresh on the ACK that ends it, which grows nothing; and RFC 5681
// §3.1's byte counting starts again from zero, so the next SMSS of growth
// takes a whole cwnd of octets acknowledged after recovery. gVisor's reno
// does none of the three (cwnd = ssthresh+3 segments in SACK recovery; its
// count of packets acknowledged in congestion avoidance survives the loss
// and takes in the exit ACK's): on `tcplab bench`'s harsh profile, where
// windows are a few segments, that is why its sender outpaces this one
// (issue #6).
func TestEstablished_SACKRecovery_ExitAtSsthresh(t *testing.T) {
	h := recoveryHarness(t, sackCfg(), 30000)
	// Congestion avoidance, 9000 octets counted towards the next SMSS.
	h.cc = &newReno{cwnd: 10000, ssthresh: 8000, bytesAcked: 9000}
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	// 0 lost; 1 and 2 SACKed: step (3) sends 10 and 11.
	sackACK(t, h, 0, [2]int{1, 2})
	expectSegs(t, h, 10)
	sackACK(t, h, 0, [2]int{1, 3})
	expectSegs(t, h, 11)
	// The third duplicate ACK: ssthresh = cwnd = (12000 - 2000)/2, and no
	// more (pipe: the retransmission of 0, and 4-11, is 9000).
	sackACK(t, h, 0, [2]int{1, 4})
	wantWindow(t, h, 5000, 5000, 9000)
	expectSegs(t, h, 0)
	// Everything arrives: the ACK of RecoveryPoint and beyond ends
	// recovery at cwnd = ssthresh, however much it acknowledges.
	sackACK(t, h, 12)
	if h.inRecovery {
		t.Fatal("still in recovery after the ACK of RecoveryPoint")
	}
	wantWindow(t, h, 5000, 5000, -1)
	expectSegs(t, h, 12, 13, 14, 15, 16)
	// 4000 octets acknowledged: less than cwnd, no growth (the 9000
	// counted before the loss are gone).
	sackACK(t, h, 16)
	wantWindow(t, h, 5000, 5000, -1)
	expectSegs(t, h, 17, 18, 19, 20)
	// 1000 more make a cwnd's worth: one SMSS (RFC 5681 §3.1).
	sackACK(t, h, 17)
	wantWindow(t, h, 6000, 5000, -1)
}

// RFC 6675's pipe exists while it decides what may be sent: on duplicate
// ACKs before recovery ("(3.2) Run SetPipe ()", §5 step 3) and in
// recovery (B.2, C.4). A cumulative ACK ends step 3 ("the TCP MUST reset
// DupAcks to zero", §5) and an RTO ends recovery (§5.1), after which the
// sender goes by FlightSize (RFC 5681 §3.1) and pipe stays 0 until a
// duplicate ACK runs SetPipe () again. FuzzTCB's crasher b99473e48cf536f9
// is this exchange: SetPipe counted 4256 octets on a duplicate ACK, an RTO
// expunged the scoreboard, an ACK left 576 octets outstanding, and the
// 4256 outlived both.
func TestEstablished_SACKRecovery_PipeEndsWithDupAcks(t *testing.T) {
	h := recoveryHarness(t, sackCfg(), 10000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	// 0 lost, 1 SACKed: (3.1) HighRxt = HighACK, (3.2) SetPipe: 0 and
	// 2-9 are in the network. No data is left for (3.3).
	sackACK(t, h, 0, [2]int{1, 2})
	wantWindow(t, h, 10000, 1<<30, 9000)
	expectNothing(t, h)
	// RFC 6298 §5.4: the timeout retransmits segment 0; RFC 6675 §5.1
	// expunges the scoreboard; DupAcks is 0, pipe no longer decides.
	h.tick(rtoAfterHS)
	wantWindow(t, h, 1000, 5000, 0)
	expectSegs(t, h, 0)
	// The receiver had 1-8: a cumulative ACK leaving 9 (1000 octets)
	// outstanding. Nothing to SACK, so no duplicate ACK and no SetPipe.
	sackACK(t, h, 9)
	if h.pipeRules() || h.dupAcks != 0 {
		t.Fatalf("pipe rules %v with DupAcks %d after a cumulative ACK", h.pipeRules(), h.dupAcks)
	}
	// It delivered 9000 octets: slow start to ssthresh, and the other
	// 5000 are a cwnd's worth of congestion avoidance, one SMSS more
	// (RFC 5681 §3.1).
	wantWindow(t, h, 6000, 5000, 0)
	// The go-back goes on with 9, outstanding at the timeout (RFC 6298
	// §5.4, RFC 5681 §3.1); new data goes by FlightSize: five segments
	// more fill cwnd.
	h.Write(bytesOf(5000, 0), h.now)
	expectSegs(t, h, 9, 10, 11, 12, 13, 14)
	// A duplicate ACK (11 SACKed) starts step 3 again: SetPipe () counts
	// 9, 10 and 12-14.
	sackACK(t, h, 9, [2]int{11, 12})
	wantWindow(t, h, 6000, 5000, 5000)
	expectNothing(t, h)
}

// RFC 9293 §3.10.7.4, second check: on an exact RST in ESTABLISHED
// "enter the CLOSED state, delete the TCB": loss recovery's timers (the
// loss probe, RFC 8985 §7.2; the reordering timer, §6.3; the recovery
// deadline) go with it, as the RFC's own do (FuzzTCB crasher
// 418e6b1d37b4e780: a loss probe still armed in CLOSED).
func TestEstablished_RSTInRecovery_NoTimers(t *testing.T) {
	for _, c := range []struct {
		name string
		acks [][2]int // SACK blocks, one ACK of segment 0 each
	}{
		{"probe armed", nil},
		{"reordering timer", [][2]int{{1, 3}}},
		{"in recovery", [][2]int{{1, 4}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := recoveryHarness(t, sackCfg(), 10000)
			expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
			for _, b := range c.acks {
				sackACK(t, h, 0, b)
			}
			for h.Output(h.now, &h.out, h.buf) {
			}
			if h.Deadline().IsZero() {
				t.Fatal("no timer armed with data in flight")
			}
			send(t, h, sg{SEQ: h.rcv, Flags: RST})
			wantState(t, h, Closed)
			wantErr(t, h, ErrReset)
			if d := h.Deadline(); !d.IsZero() {
				t.Fatalf("CLOSED, and a timer still armed in %v:\n%s", d.Sub(h.now), h.DebugString(h.now))
			}
		})
	}
}
