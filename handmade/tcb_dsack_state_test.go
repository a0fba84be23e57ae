package handmade

import (
	"testing"
	"time"
)

// D-SACK (RFC 2883) from both ends, and what a sender makes of it and of
// the timestamps: spurious retransmissions found (RFC 3708, RFC 3522) and
// their congestion response reversed (RFC 4015). "Feed a segment, expect
// the exact reply", with the windows checked against the RFCs' equations.

// sackBlocks builds a SACK option of blocks [from, to) relative to base.
func sackBlocks(base Seq, blocks ...[2]int) *Options {
	o := &Options{NumSACK: len(blocks)}
	for i, b := range blocks {
		o.SACK[i] = SACKBlock{base.Add(uint32(b[0])), base.Add(uint32(b[1]))}
	}
	return o
}

// ---- the receiver ----

// RFC 2883 §4: "When D-SACK is used, the first block of the SACK option
// should be a D-SACK block specifying the sequence numbers for the
// duplicate segment that triggers the acknowledgement"; "(2) Each
// duplicate contiguous sequence of data received is reported in at most
// one D-SACK block." A segment wholly below RCV.NXT (unacceptable, RFC
// 9293 §3.10.7.4, and acknowledged at once) is reported whole.
func TestEstablished_DSACK_BelowRCVNXT(t *testing.T) {
	h := established(t, sackCfg())
	r := h.rcv
	send(t, h, sg{SEQ: r, ACK: h.snd, Flags: ACK, Len: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(100), Flags: ACK})
	send(t, h, sg{SEQ: r, ACK: h.snd, Flags: ACK, Len: 100}) // its retransmission
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(100), Flags: ACK, Opts: sackBlocks(r, [2]int{0, 100})})
	// Reported once: the next ACK, for new data, carries none.
	send(t, h, sg{SEQ: r.Add(100), ACK: h.snd, Flags: ACK, Len: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(200), Flags: ACK})
	// A segment that straddles RCV.NXT: "(3) The left edge of the D-SACK
	// block specifies the first sequence number of the duplicate
	// contiguous sequence, and the right edge ... the sequence number
	// immediately following the last sequence in the duplicate contiguous
	// sequence": only the part below RCV.NXT; the rest is new.
	send(t, h, sg{SEQ: r.Add(150), ACK: h.snd, Flags: ACK, Len: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(250), Flags: ACK, Opts: sackBlocks(r, [2]int{150, 200})})
	wantRead(t, h, 250)
	if h.Counters.DSACKsSent != 2 {
		t.Fatalf("%d D-SACKs sent, want 2", h.Counters.DSACKsSent)
	}
}

// RFC 2883 §4: "(4) If the D-SACK block reports a duplicate contiguous
// sequence from a (possibly larger) block of data in the receiver's data
// queue above the cumulative acknowledgement, then the second SACK block
// in that SACK option should specify that (possibly larger) block of
// data. (5) Following the SACK blocks described above for reporting
// duplicate segments, additional SACK blocks can be used for reporting
// additional blocks of data, as specified in RFC 2018": the most recent
// first (RFC 2018 §4), and not the second block again.
func TestEstablished_DSACK_OutOfOrder(t *testing.T) {
	h := established(t, sackCfg())
	r := h.rcv
	send(t, h, sg{SEQ: r.Add(100), ACK: h.snd, Flags: ACK, Len: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: sackBlocks(r, [2]int{100, 200})})
	send(t, h, sg{SEQ: r.Add(200), ACK: h.snd, Flags: ACK, Len: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: sackBlocks(r, [2]int{100, 300})})
	send(t, h, sg{SEQ: r.Add(600), ACK: h.snd, Flags: ACK, Len: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: sackBlocks(r, [2]int{600, 700}, [2]int{100, 300})})
	send(t, h, sg{SEQ: r.Add(400), ACK: h.snd, Flags: ACK, Len: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: sackBlocks(r, [2]int{400, 500}, [2]int{100, 300}, [2]int{600, 700})})
	// [r+100, r+200) again: the D-SACK, its block, then the others, the
	// most recently received (r+400) first.
	send(t, h, sg{SEQ: r.Add(100), ACK: h.snd, Flags: ACK, Len: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: sackBlocks(r, [2]int{100, 200}, [2]int{100, 300}, [2]int{400, 500}, [2]int{600, 700})})
	// A segment that overlaps held data in part: the duplicate run only.
	send(t, h, sg{SEQ: r.Add(350), ACK: h.snd, Flags: ACK, Len: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: r, Flags: ACK, Opts: sackBlocks(r, [2]int{400, 450}, [2]int{350, 500}, [2]int{100, 300}, [2]int{600, 700})})
	// The hole filled: the ACK covers what was held, nothing duplicated.
	send(t, h, sg{SEQ: r, ACK: h.snd, Flags: ACK, Len: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(300), Flags: ACK, Opts: sackBlocks(r, [2]int{350, 500}, [2]int{600, 700})})
	if h.Counters.DSACKsSent != 2 {
		t.Fatalf("%d D-SACKs sent, want 2", h.Counters.DSACKsSent)
	}
}

// RFC 2883 §4.2: a duplicate that PAWS (RFC 7323 §5) drops is still
// acknowledged, and "The D-SACK block can be included in the SACK option
// of the ACK ... independently of the determination by PAWS of the
// validity or invalidity of the data segment": the original, overtaken by
// its retransmission, arrives with a TSval older than TS.Recent.
func TestEstablished_DSACK_PAWS(t *testing.T) {
	h := established(t, Config{DisableWindowScale: true, DisableDelayedACK: true})
	r := h.rcv
	h.peerTS = 1010
	send(t, h, sg{SEQ: r, ACK: h.snd, Flags: ACK, Len: 100}) // the retransmission
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(100), Flags: ACK})
	h.peerTS = 1005 // the original
	send(t, h, sg{SEQ: r, ACK: h.snd, Flags: ACK, Len: 100})
	o := sackBlocks(r, [2]int{0, 100})
	o.HasTimestamps, o.TSEcr = true, 1010
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(100), Flags: ACK, Opts: o})
	if h.Counters.DroppedPAWS != 1 || h.Counters.DSACKsSent != 1 {
		t.Fatalf("%d PAWS drops, %d D-SACKs, want 1 and 1", h.Counters.DroppedPAWS, h.Counters.DSACKsSent)
	}
}

// RFC 2883 §2: D-SACK needs no negotiation of its own "between a TCP
// sender and receiver that have already negotiated SACK capability";
// without SACK there is no SACK option to carry it.
func TestEstablished_DSACK_NotWithoutSACK(t *testing.T) {
	h := established(t, exactCfg())
	r := h.rcv
	send(t, h, sg{SEQ: r, ACK: h.snd, Flags: ACK, Len: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(100), Flags: ACK})
	send(t, h, sg{SEQ: r, ACK: h.snd, Flags: ACK, Len: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: r.Add(100), Flags: ACK})
	if h.Counters.DSACKsSent != 0 {
		t.Fatalf("%d D-SACKs sent without SACK", h.Counters.DSACKsSent)
	}
}

// ---- the sender ----

// RFC 2883 §5: the first block is a D-SACK if it lies below "the
// cumulative ACK which is carried IN THE SAME PACKET", or inside the
// second block. It marks nothing SACKed, is no duplicate ACK (RFC 6675
// §2 counts only SACK blocks that identify "previously unacknowledged and
// un-SACKed octets"), and one on an old ACK (reordered behind a newer) is
// still taken.
func TestEstablished_DSACK_Recognised(t *testing.T) {
	h := recoveryHarness(t, sackCfg(), 10000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	sackACK(t, h, 3)
	sackACK(t, h, 3, [2]int{1, 2}) // below the cumulative ACK
	sackACK(t, h, 4, [2]int{2, 3}) // below SEG.ACK, not only SND.UNA
	if h.dupAcks != 0 || !h.rec.sb.empty() || h.Counters.DSACKsReceived != 2 {
		t.Fatalf("DupAcks %d, scoreboard %v, %d D-SACKs: want 0, empty, 2", h.dupAcks, h.rec.sb.sacked, h.Counters.DSACKsReceived)
	}
	// Inside the second block: the second is SACK information, the first
	// not (it is [6, 7) twice).
	sackACK(t, h, 4, [2]int{6, 7}, [2]int{6, 8})
	if h.dupAcks != 1 || len(h.rec.sb.sacked) != 1 || h.rec.sb.sacked[0] != (SACKBlock{h.seg(6), h.seg(8)}) {
		t.Fatalf("DupAcks %d, scoreboard %v: want 1 and [6, 8)", h.dupAcks, h.rec.sb.sacked)
	}
	// An old ACK (SEG.ACK < SND.UNA) with a D-SACK below its own ACK.
	sackACK(t, h, 2, [2]int{0, 1})
	if h.Counters.DSACKsReceived != 4 || h.dupAcks != 1 {
		t.Fatalf("%d D-SACKs, DupAcks %d: want 4 and 1", h.Counters.DSACKsReceived, h.dupAcks)
	}
	expectNothing(t, h)
}

// RFC 3708 §3: every retransmission of a fast recovery D-SACKed, so the
// recovery answered no loss: segment 0 was reordered behind 1-3, not
// lost. RFC 4015 §3.1 "Reverse the congestion control state": "cwnd <-
// FlightSize + min (bytes_acked, IW)", "ssthresh <- pipe_prev", pipe_prev
// being max(FlightSize, ssthresh) before the response (step (0)); the
// recovery ends (RFC 3522). The D-SACK also widens RACK's reordering
// window, once per round trip (RFC 8985 §6.2 step 4).
func TestEstablished_SpuriousFastRetransmit_DSACK(t *testing.T) {
	h := recoveryHarness(t, sackCfg(), 30000)
	h.cc = &newReno{cwnd: 10000, ssthresh: 8000} // in congestion avoidance
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	sackACK(t, h, 0, [2]int{1, 4})
	// FlightSize 10000: ssthresh = cwnd = 5000; pipe_prev = 10000.
	wantWindow(t, h, 5000, 5000, 7000)
	expectSegs(t, h, 0)
	// The original 0 arrives: 0-3 acknowledged, a partial ACK.
	sackACK(t, h, 4)
	if !h.inRecovery {
		t.Fatal("recovery ended before RecoveryPoint")
	}
	expectNothing(t, h) // pipe 6000 > cwnd
	// Then the retransmission: a duplicate, D-SACKed.
	sackACK(t, h, 4, [2]int{0, 1})
	if h.inRecovery || h.Counters.SpuriousRetransmissions != 1 || h.Counters.Undos != 1 {
		t.Fatalf("recovery %v, %d spurious, %d undos: want ended, 1, 1", h.inRecovery, h.Counters.SpuriousRetransmissions, h.Counters.Undos)
	}
	// cwnd = FlightSize 6000 + min(0, IW); ssthresh = pipe_prev.
	wantWindow(t, h, 6000, 10000, 0)
	if h.reoWnd() != 50*time.Millisecond {
		t.Fatalf("reordering window %v, want 2*SRTT/4 = 50ms", h.reoWnd())
	}
	expectNothing(t, h)
	// Slow start back towards ssthresh: the ACK of 4 delivers 1000, which
	// lets out two segments.
	sackACK(t, h, 5)
	wantWindow(t, h, 7000, 10000, 0)
	expectSegs(t, h, 10, 11)
	// A second D-SACK in the same round trip (SND.UNA has not reached
	// SND.NXT as it was at the first): the window does not grow again.
	sackACK(t, h, 5, [2]int{0, 1})
	if h.reoWnd() != 50*time.Millisecond || h.Counters.Undos != 1 {
		t.Fatalf("reordering window %v, %d undos, want 50ms and 1", h.reoWnd(), h.Counters.Undos)
	}
}

// A recovery that repaired a real loss keeps its reduction: the
// retransmission of 0 fills the hole and is never D-SACKed; a D-SACK for
// a segment never retransmitted (a duplicate the network made) proves
// nothing (RFC 3708 §3); and where one retransmission proves unnecessary
// and another was needed, the response stands.
func TestEstablished_RealLoss_NotUndone(t *testing.T) {
	h := recoveryHarness(t, sackCfg(), 10000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	sackACK(t, h, 0, [2]int{1, 4})
	expectSegs(t, h, 0)
	sackACK(t, h, 10)
	sackACK(t, h, 10, [2]int{5, 6})
	if h.Counters.Undos != 0 || h.Counters.SpuriousRetransmissions != 0 {
		t.Fatalf("%d undos, %d spurious after a real loss", h.Counters.Undos, h.Counters.SpuriousRetransmissions)
	}
	wantWindow(t, h, 5000, 5000, -1)

	// 0 reordered, 5 lost: both retransmitted; only 0's is D-SACKed.
	h = recoveryHarness(t, sackCfg(), 10000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	sackACK(t, h, 0, [2]int{1, 5})
	expectSegs(t, h, 0)
	sackACK(t, h, 0, [2]int{6, 10}, [2]int{1, 5}) // IsLost(5): 4000 SACKed above
	expectSegs(t, h, 5)
	sackACK(t, h, 5, [2]int{6, 10})               // the original 0
	sackACK(t, h, 5, [2]int{0, 1}, [2]int{6, 10}) // its retransmission, D-SACKed
	if h.Counters.SpuriousRetransmissions != 1 || h.Counters.Undos != 0 || !h.inRecovery {
		t.Fatalf("%d spurious, %d undos, recovery %v: want 1, 0, still in recovery", h.Counters.SpuriousRetransmissions, h.Counters.Undos, h.inRecovery)
	}
	sackACK(t, h, 10) // the retransmission of 5 repaired a loss
	if h.Counters.Undos != 0 {
		t.Fatal("undid a recovery that repaired a loss")
	}
	wantWindow(t, h, 5000, 5000, -1)
}

// tsRecoveryHarness is recoveryHarness with timestamps: the peer's MSS
// leaves SMSS at 1000 octets after the option's 12 (RFC 7323 §3.2).
func tsRecoveryHarness(t *testing.T, n int) *harness {
	t.Helper()
	h := establishedMSS(t, Config{DisableWindowScale: true, DisableDelayedACK: true}, 1012)
	if h.sndMSS != 1000 {
		t.Fatalf("SMSS %d", h.sndMSS)
	}
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: recWnd})
	expectNothing(t, h)
	h.Write(bytesOf(n, 0), h.now)
	return h
}

// tsACK sends an ACK of segment ack echoing TSecr ecr, with SACK blocks.
func tsACK(t *testing.T, h *harness, ack int, ecr uint32, blocks ...[2]int) {
	t.Helper()
	o := &Options{NumSACK: len(blocks), HasTimestamps: true, TSVal: h.peerTS, TSEcr: ecr}
	for i, b := range blocks {
		o.SACK[i] = SACKBlock{h.seg(b[0]), h.seg(b[1])}
	}
	send(t, h, sg{SEQ: h.rcv, ACK: h.seg(ack), Flags: ACK, WND: recWnd, Opts: o})
}

// RFC 3522 §2: the Eifel detection, "Based on the timestamp of the first
// acceptable ACK that arrives during loss recovery, it decides whether
// loss recovery was entered unnecessarily": the ACK that covers segment 0
// echoes the original's TSval, older than the fast retransmit's (RFC
// 7323 §4.3: the receiver echoes the segment that filled the hole). The
// Eifel response (RFC 4015 §3.1) without waiting for a D-SACK.
func TestEstablished_SpuriousFastRetransmit_Timestamps(t *testing.T) {
	h := tsRecoveryHarness(t, 10000)
	h.cc = &newReno{cwnd: 10000, ssthresh: 8000}
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	orig := h.ourTS
	h.now = h.now.Add(20 * time.Millisecond)
	tsACK(t, h, 0, orig, [2]int{1, 4})
	wantWindow(t, h, 5000, 5000, 7000)
	expectSegs(t, h, 0)
	if rtx := h.ourTS; rtx-orig != 20 {
		t.Fatalf("TSvals %d and %d, want 20 ms apart", orig, rtx)
	}
	// The original arrives at last: all ten acknowledged, echoing it.
	tsACK(t, h, 10, orig)
	if h.Counters.SpuriousRetransmissions != 1 || h.Counters.Undos != 1 || h.inRecovery {
		t.Fatalf("%d spurious, %d undos, recovery %v", h.Counters.SpuriousRetransmissions, h.Counters.Undos, h.inRecovery)
	}
	// cwnd = FlightSize 0 + min(bytes_acked 10000, IW 10000): the window
	// is the old one, the window that ends the recovery is left behind.
	wantWindow(t, h, 10000, 10000, 0)
}

// The same with the hole filled by the retransmission (the ACK echoes
// its TSval): a real loss, kept.
func TestEstablished_FastRetransmit_Timestamps_RealLoss(t *testing.T) {
	h := tsRecoveryHarness(t, 10000)
	h.cc = &newReno{cwnd: 10000, ssthresh: 8000}
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	h.now = h.now.Add(20 * time.Millisecond)
	tsACK(t, h, 0, h.ourTS, [2]int{1, 4})
	expectSegs(t, h, 0)
	tsACK(t, h, 10, h.ourTS)
	if h.Counters.Undos != 0 || h.Counters.SpuriousRetransmissions != 0 || h.rec.undo.armed {
		t.Fatalf("%d undos, %d spurious, episode armed %v", h.Counters.Undos, h.Counters.SpuriousRetransmissions, h.rec.undo.armed)
	}
	wantWindow(t, h, 5000, 5000, -1)
}

// RFC 3522 §3.2 and RFC 4015 §3.1 for a timeout: the first acceptable
// ACK after the retransmission echoes a TSval older than RetransmitTS
// (SPUR_TO): the ACKs of the originals were only late. The response:
// "Resume the transmission with previously unsent data" (no go-back:
// segments 2-9 are not sent again), "cwnd <- FlightSize + min
// (bytes_acked, IW)", "ssthresh <- pipe_prev"; and on the first RTT
// sample of data sent after the timeout, "SRTT <- max (SRTT_prev, m)",
// "RTTVAR <- max (RTTVAR_prev, m/2)", "RTO <- SRTT + max (G,
// 4*RTTVAR)", SRTT_prev being SRTT + 2*G at the timeout.
func TestEstablished_SpuriousTimeout_Timestamps(t *testing.T) {
	h := tsRecoveryHarness(t, 30000)
	h.cc = &newReno{cwnd: 10000, ssthresh: 8000}
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	orig := h.ourTS
	h.tick(rtoAfterHS)
	wantWindow(t, h, 1000, 5000, -1)
	expectSegs(t, h, 0) // RFC 6298 §5.4
	if h.rtt.RTO != 2*rtoAfterHS {
		t.Fatalf("RTO %v, want backed off to %v", h.rtt.RTO, 2*rtoAfterHS)
	}
	h.now = h.now.Add(10 * time.Millisecond)
	tsACK(t, h, 2, orig)
	if h.Counters.SpuriousTimeouts != 1 || h.Counters.Undos != 1 || h.rtoRecovery() {
		t.Fatalf("%d spurious timeouts, %d undos, go-back %v", h.Counters.SpuriousTimeouts, h.Counters.Undos, h.rtoRecovery())
	}
	// FlightSize 8000 + min(2000, IW); pipe_prev = max(10000, 8000).
	wantWindow(t, h, 10000, 10000, -1)
	expectSegs(t, h, 10, 11)
	if h.Counters.Retransmissions != 1 {
		t.Fatalf("%d retransmissions, want the one of the timeout", h.Counters.Retransmissions)
	}
	// The ACKs of the other originals give no sample for the timer (they
	// echo data sent before the timeout); segment 10's gives m = 50 ms.
	tsACK(t, h, 10, orig)
	h.now = h.now.Add(50 * time.Millisecond)
	tsACK(t, h, 11, h.ourTS)
	if h.rtt.SRTT != 102*time.Millisecond || h.rtt.RTTVAR != 50*time.Millisecond || h.rtt.RTO != 302*time.Millisecond {
		t.Fatalf("SRTT %v RTTVAR %v RTO %v, want 102ms 50ms 302ms", h.rtt.SRTT, h.rtt.RTTVAR, h.rtt.RTO)
	}
}

// RFC 3522 §3.2 step (5): an old echo on an ACK that carries a D-SACK
// was drawn by the retransmission itself (the receiver had the data; its
// ACKs were lost): "proceed to step (DONE)". And a timeout whose
// retransmission repaired a loss: the go-back goes on.
func TestEstablished_Timeout_NotSpurious(t *testing.T) {
	h := tsRecoveryHarness(t, 10000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	orig := h.ourTS
	h.tick(rtoAfterHS)
	expectSegs(t, h, 0)
	h.now = h.now.Add(10 * time.Millisecond)
	tsACK(t, h, 10, orig, [2]int{0, 1})
	if h.Counters.Undos != 0 || h.Counters.DSACKsReceived != 1 {
		t.Fatalf("%d undos, %d D-SACKs: want 0 and 1", h.Counters.Undos, h.Counters.DSACKsReceived)
	}

	h = tsRecoveryHarness(t, 10000)
	expectSegs(t, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	h.tick(rtoAfterHS)
	expectSegs(t, h, 0)
	h.now = h.now.Add(10 * time.Millisecond)
	tsACK(t, h, 1, h.ourTS) // the retransmission filled the hole
	if h.Counters.Undos != 0 || !h.rtoRecovery() {
		t.Fatalf("%d undos, go-back %v", h.Counters.Undos, h.rtoRecovery())
	}
	expectSegs(t, h, 1, 2) // slow start: cwnd 2000
}
