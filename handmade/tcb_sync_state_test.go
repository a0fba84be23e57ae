package handmade

import (
	"testing"
	"time"
)

// smallRcvCfg has a 1000-octet receive buffer, so the receive window can
// be filled and shut.
func smallRcvCfg() Config {
	c := exactCfg()
	c.RecvBuffer = 1000
	return c
}

// zeroWindow is ESTABLISHED with our receive window shut: the peer sent
// 1000 octets (crossing the wrap) that nobody read. "the receiver ...
// acknowledges ... with a window of zero" (RFC 9293 §3.8.6).
func zeroWindow(t *testing.T) *harness {
	t.Helper()
	h := established(t, smallRcvCfg())
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 1000})
	h.rcv = h.rcv.Add(1000)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, WND: zeroWnd})
	return h
}

// ---- First check: sequence number (RFC 9293 §3.10.7.4) ----

// Case SEG.LEN = 0, RCV.WND = 0: "SEG.SEQ = RCV.NXT" is acceptable; a
// pure ACK is processed and not answered.
func TestEstablished_ZeroLenZeroWnd_ExactAcceptable(t *testing.T) {
	h := zeroWindow(t)
	h.Write(bytesOf(10, 0), h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 10})
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(10), Flags: ACK})
	expectNothing(t, h)
	if h.SND.UNA != h.snd.Add(10) {
		t.Fatalf("ACK not processed: SND.UNA %#x", uint32(h.SND.UNA))
	}
}

// Case SEG.LEN = 0, RCV.WND = 0, SEG.SEQ != RCV.NXT: not acceptable: "an
// acknowledgment should be sent in reply ... <SEQ=SND.NXT><ACK=RCV.NXT>
// <CTL=ACK>" and the segment dropped (its ACK is not taken).
func TestEstablished_ZeroLenZeroWnd_OtherSeq_ACK(t *testing.T) {
	h := zeroWindow(t)
	send(t, h, sg{SEQ: h.rcv.Add(1), ACK: h.snd, Flags: ACK, WND: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, WND: zeroWnd})
	if h.SND.WND != peerWnd {
		t.Fatalf("window taken from an unacceptable segment: %d", h.SND.WND)
	}
}

// Case SEG.LEN = 0, RCV.WND > 0: "RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND".
func TestEstablished_ZeroLenWindow(t *testing.T) {
	h := established(t, smallRcvCfg()) // RCV.WND = 1000
	for _, off := range []uint32{0, 999} {
		send(t, h, sg{SEQ: h.rcv.Add(off), ACK: h.snd, Flags: ACK})
		expectNothing(t, h)
	}
	for _, off := range []uint32{1000, ^uint32(0)} { // RCV.NXT+RCV.WND and RCV.NXT-1
		send(t, h, sg{SEQ: h.rcv.Add(off), ACK: h.snd, Flags: ACK})
		expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, WND: 1000})
	}
}

// Case SEG.LEN > 0, RCV.WND = 0: "not acceptable" — "If the RCV.WND is
// zero, no segments will be acceptable, but special allowance should be
// made to accept valid ACKs, URGs, and RSTs." The text is dropped and
// acknowledged; its ACK is taken.
func TestEstablished_DataZeroWnd_ACKTakenTextDropped(t *testing.T) {
	h := zeroWindow(t)
	h.Write(bytesOf(10, 0), h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 10})
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(10), Flags: ACK, Len: 1})
	expect(t, h, sg{SEQ: h.snd.Add(10), ACK: h.rcv, Flags: ACK, WND: zeroWnd})
	if h.SND.UNA != h.snd.Add(10) {
		t.Fatalf("ACK of a zero-window probe not taken: SND.UNA %#x", uint32(h.SND.UNA))
	}
	if h.Readable() != 1000 {
		t.Fatalf("readable %d", h.Readable())
	}
	// An in-window RST is still taken (exact: reset).
	send(t, h, sg{SEQ: h.rcv, Flags: RST})
	wantState(t, h, Closed)
	wantErr(t, h, ErrReset)
}

// Case SEG.LEN > 0, RCV.WND > 0: acceptable if "RCV.NXT =< SEG.SEQ <
// RCV.NXT+RCV.WND or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND".
func TestEstablished_DataWindow_FourthCase(t *testing.T) {
	h := established(t, smallRcvCfg())
	// Ends in the window (starts before it): the new part is taken.
	send(t, h, sg{SEQ: h.rcv.Add(^uint32(4)), ACK: h.snd, Flags: ACK, Len: 10})
	h.rcv = h.rcv.Add(5)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	// Neither start nor end in the window: old duplicate, ACK.
	send(t, h, sg{SEQ: h.rcv.Add(^uint32(9)), ACK: h.snd, Flags: ACK, Len: 10})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	// Starts beyond the window.
	send(t, h, sg{SEQ: h.rcv.Add(2000), ACK: h.snd, Flags: ACK, Len: 10})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	wantRead(t, h, 5)
}

// First check: "If the RST bit is set, ... silently drop" an unacceptable
// RST: a reset is never answered.
func TestEstablished_RSTOutOfWindow_NoReply(t *testing.T) {
	h := established(t, smallRcvCfg())
	for _, seq := range []Seq{h.rcv.Add(^uint32(0)), h.rcv.Add(1000), h.rcv.Add(1 << 30)} {
		send(t, h, sg{SEQ: seq, Flags: RST})
		send(t, h, sg{SEQ: seq, ACK: h.snd, Flags: RST | ACK})
		expectNothing(t, h)
	}
	wantState(t, h, Established)
}

// First check, every synchronized state: an unacceptable segment gets
// "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>" and is dropped.
func TestSynchronized_Unacceptable_ACK(t *testing.T) {
	for _, f := range synchronizedFixtures {
		t.Run(f.state.String(), func(t *testing.T) {
			h := f.make(t, smallRcvCfg())
			send(t, h, sg{SEQ: h.rcv.Add(5000), ACK: h.snd, Flags: ACK, Len: 10})
			expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
			expectNothing(t, h)
			wantState(t, h, f.state)
		})
	}
}

// ---- Second check: RST ----

// "If the RST bit is set and the sequence number exactly matches the next
// expected sequence number (RCV.NXT), then TCP endpoints MUST reset the
// connection": ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT: "any
// outstanding RECEIVEs and SEND should receive "reset" responses ... Enter
// the CLOSED state"; CLOSING, LAST-ACK, TIME-WAIT: "enter the CLOSED
// state, delete the TCB, and return". Nothing is sent.
func TestSynchronized_RSTExact_Closed(t *testing.T) {
	want := map[State]error{Established: ErrReset, FinWait1: ErrReset, FinWait2: ErrReset, CloseWait: ErrReset}
	for _, f := range synchronizedFixtures {
		t.Run(f.state.String(), func(t *testing.T) {
			h := f.make(t, exactCfg())
			send(t, h, sg{SEQ: h.rcv, Flags: RST})
			expectNothing(t, h)
			wantState(t, h, Closed)
			wantErr(t, h, want[f.state])
		})
	}
}

// "If the RST bit is set and the sequence number does not exactly match
// the next expected sequence value, yet is within the current receive
// window, TCP endpoints MUST send an acknowledgment (challenge ACK):
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>" (RFC 5961 §3.2).
func TestSynchronized_RSTInWindowNotExact_ChallengeACK(t *testing.T) {
	for _, f := range synchronizedFixtures {
		t.Run(f.state.String(), func(t *testing.T) {
			h := f.make(t, exactCfg())
			send(t, h, sg{SEQ: h.rcv.Add(1), Flags: RST})
			expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
			expectNothing(t, h)
			wantState(t, h, f.state)
		})
	}
}

func TestEstablished_RSTInWindowNotExact_ChallengeACK(t *testing.T) {
	h := established(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv.Add(40000), ACK: h.snd, Flags: RST | ACK})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	wantState(t, h, Established)
}

// ---- Fourth check: SYN ----

// "If the SYN bit is set, irrespective of the sequence number, TCP
// endpoints MUST send a "challenge ACK" to the remote peer:
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. After sending the acknowledgment,
// TCP implementations MUST drop the unacceptable segment" (RFC 5961 §4.2).
func TestSynchronized_SYN_ChallengeACK(t *testing.T) {
	for _, f := range synchronizedFixtures {
		t.Run(f.state.String(), func(t *testing.T) {
			h := f.make(t, exactCfg())
			for _, seq := range []Seq{h.rcv, h.rcv.Add(100), h.rcv.Add(1 << 30)} {
				send(t, h, sg{SEQ: seq, Flags: SYN})
				expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
				expectNothing(t, h)
			}
			send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: SYN | ACK, Len: 10})
			expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
			wantState(t, h, f.state)
			if h.Readable() != 0 {
				t.Fatal("text of a SYN taken")
			}
		})
	}
}

// RFC 5961 §7: "An implementation SHOULD include a ACK throttling
// mechanism"; ours allows ChallengeACKLimit (10) per second.
func TestEstablished_ChallengeACKRateLimit(t *testing.T) {
	h := established(t, exactCfg())
	for i := 0; i < 10; i++ {
		send(t, h, sg{SEQ: h.rcv.Add(1), Flags: RST})
		expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
		h.now = h.now.Add(time.Millisecond)
	}
	send(t, h, sg{SEQ: h.rcv.Add(1), Flags: RST})
	expectNothing(t, h)
	send(t, h, sg{SEQ: h.rcv.Add(5), Flags: SYN})
	expectNothing(t, h)
	h.now = h.now.Add(time.Second)
	send(t, h, sg{SEQ: h.rcv.Add(5), Flags: SYN})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	if h.Counters.ChallengeACKsSuppressed != 2 {
		t.Fatalf("suppressed %d", h.Counters.ChallengeACKsSuppressed)
	}
}

// ---- Fifth check: ACK ----

// "if the ACK bit is off, drop the segment and return".
func TestEstablished_NoACKBit_Dropped(t *testing.T) {
	h := established(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv, Flags: PSH, Len: 20})
	send(t, h, sg{SEQ: h.rcv, Flags: FIN})
	expectNothing(t, h)
	wantState(t, h, Established)
	if h.Readable() != 0 {
		t.Fatal("text taken")
	}
}

// "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send
// an ACK, drop the segment, and return."
func TestEstablished_ACKBeyondSndNxt_ACKAndDrop(t *testing.T) {
	h := established(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(1), Flags: ACK | PSH, Len: 20})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	if h.Readable() != 0 {
		t.Fatal("text of a dropped segment taken")
	}
}

// "If the ACK is a duplicate (SEG.ACK < SND.UNA), it can be ignored" —
// the rest of the segment is processed; "If SND.UNA =< SEG.ACK =<
// SND.NXT, the send window should be updated": not with an old ACK.
func TestEstablished_OldACK_IgnoredNoWindowUpdate(t *testing.T) {
	h := established(t, exactCfg())
	h.Write(bytesOf(300, 0), h.now) // crosses our wrap
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 300})
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(300), Flags: ACK})
	h.snd = h.snd.Add(300)
	// Newer text (SEG.SEQ > SND.WL1) with an old ACK and a zero window:
	// the text is held, the window kept.
	send(t, h, sg{SEQ: h.rcv.Add(10), ACK: h.snd.Add(^uint32(99)), Flags: ACK | PSH, WND: zeroWnd, Len: 20})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	if h.SND.WND != peerWnd {
		t.Fatalf("SND.WND %d after an old ACK, want %d", h.SND.WND, peerWnd)
	}
	h.Write(bytesOf(10, 0), h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 10})
}

// RFC 9293 §3.10.7.4 fifth check (RFC 5961 §5.2, MAY-12): "the ACK value
// is considered acceptable only if it is in the range of ((SND.UNA -
// MAX.SND.WND) =< SEG.ACK =< SND.NXT). All incoming segments whose ACK
// value doesn't satisfy the above condition MUST be discarded and an ACK
// sent back."
func TestEstablished_ACKTooOld_ACKAndDrop(t *testing.T) {
	h := established(t, exactCfg()) // MAX.SND.WND = 8192
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(^uint32(peerWnd)), Flags: ACK | PSH, Len: 20})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	if h.Readable() != 0 {
		t.Fatal("blind data taken")
	}
	// SND.UNA - MAX.SND.WND itself is acceptable.
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(^uint32(peerWnd - 1)), Flags: ACK | PSH, Len: 20})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(20), Flags: ACK})
}

// "If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)),
// set SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <-
// SEG.ACK." An older segment does not update the window.
func TestEstablished_WindowUpdate_WL1WL2(t *testing.T) {
	h := established(t, exactCfg())
	// Out of order, newer SEQ: the window it carries (0) is taken.
	send(t, h, sg{SEQ: h.rcv.Add(10), ACK: h.snd, Flags: ACK, WND: zeroWnd, Len: 10})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	// The gap: SEG.SEQ < SND.WL1, its window (8192) is not.
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 10})
	h.rcv = h.rcv.Add(20)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	h.Write(bytesOf(10, 0), h.now)
	expectNothing(t, h)
	// Same SEQ as WL1? No: WL1 is rcv-10; newer SEQ, window opens.
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: 100})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 10})
	// SND.WL1 = SEG.SEQ and SND.WL2 = SEG.ACK: a pure window update.
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(10), Flags: ACK, WND: 50})
	if h.SND.WND != 50 {
		t.Fatalf("SND.WND %d, want 50", h.SND.WND)
	}
}

// FIN-WAIT-1: "if the FIN segment is now acknowledged, then enter
// FIN-WAIT-2"; an ACK short of the FIN leaves FIN-WAIT-1.
func TestFinWait1_ACK_FinWait2(t *testing.T) {
	h := finWait1(t, exactCfg())
	// A window update, not a duplicate ACK (RFC 5681 §2 (e)).
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(^uint32(0)), Flags: ACK, WND: peerWnd + 1})
	expectNothing(t, h)
	wantState(t, h, FinWait1)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK})
	expectNothing(t, h)
	wantState(t, h, FinWait2)
}

// CLOSING: "if the ACK acknowledges our FIN, then enter the TIME-WAIT
// state; otherwise, ignore the segment."
func TestClosing_ACKOfFIN_TimeWait(t *testing.T) {
	h := closing(t, exactCfg())
	// A window update, so that it is not a duplicate ACK (RFC 5681 §2
	// (e)) and loss recovery stays out of it.
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(^uint32(0)), Flags: ACK, WND: peerWnd + 1})
	expectNothing(t, h)
	wantState(t, h, Closing)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK})
	expectNothing(t, h)
	wantState(t, h, TimeWait)
	if d := h.Deadline(); !d.Equal(h.now.Add(h.cfg.TimeWait)) {
		t.Fatalf("time-wait timer in %v", d.Sub(h.now))
	}
}

// LAST-ACK: "If our FIN is now acknowledged, delete the TCB, enter the
// CLOSED state, and return."
func TestLastAck_ACKOfFIN_Closed(t *testing.T) {
	h := lastAck(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(^uint32(0)), Flags: ACK})
	wantState(t, h, LastAck)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK})
	expectNothing(t, h)
	wantState(t, h, Closed)
	wantErr(t, h, nil)
}

// TIME-WAIT: "The only thing that can arrive in this state is a
// retransmission of the remote FIN. Acknowledge it, and restart the 2 MSL
// timeout." Then "delete the TCB" on the timeout (§3.10.8).
func TestTimeWait_RetransmittedFIN_ACKAndRestart(t *testing.T) {
	h := timeWait(t, exactCfg())
	h.now = h.now.Add(30 * time.Second)
	send(t, h, sg{SEQ: h.rcv.Add(^uint32(0)), ACK: h.snd, Flags: FIN | ACK})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	if d := h.Deadline(); !d.Equal(h.now.Add(h.cfg.TimeWait)) {
		t.Fatalf("time-wait timer in %v, want %v", d.Sub(h.now), h.cfg.TimeWait)
	}
	h.tick(h.cfg.TimeWait - time.Millisecond)
	wantState(t, h, TimeWait)
	h.tick(time.Millisecond)
	wantState(t, h, Closed)
	expectNothing(t, h)
}

// ---- Seventh check: text ----

// ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2: "Once in the ESTABLISHED state, it
// is possible to deliver segment data to user RECEIVE buffers ... Send an
// acknowledgment of the form: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>".
// CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not occur since a
// FIN has been received from the remote side. Ignore the segment text."
func TestSynchronized_Text(t *testing.T) {
	for _, f := range synchronizedFixtures {
		t.Run(f.state.String(), func(t *testing.T) {
			h := f.make(t, exactCfg())
			text := bytesOf(20, 7) // crosses the peer's wrap in ESTABLISHED
			una := h.snd
			if f.state == FinWait1 || f.state == Closing || f.state == LastAck {
				una = h.snd.Add(^uint32(0)) // our FIN stays unacknowledged
			}
			send(t, h, sg{SEQ: h.rcv, ACK: una, Flags: ACK | PSH, Payload: text})
			switch f.state {
			case Established, FinWait1, FinWait2:
				expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(20), Flags: ACK})
				if got := wantRead(t, h, 20); string(got) != string(text) {
					t.Fatal("text differs")
				}
			default:
				expectNothing(t, h)
				wantRead(t, h, 0)
			}
			wantState(t, h, f.state)
		})
	}
}

// "If a segment's contents straddle the boundary between old and new,
// only the new parts are processed."
func TestEstablished_TextStraddlingRCVNXT_NewPartOnly(t *testing.T) {
	h := established(t, exactCfg())
	first := bytesOf(20, 1)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Payload: first})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(20), Flags: ACK})
	again := append(append([]byte{}, first[10:]...), bytesOf(15, 9)...)
	send(t, h, sg{SEQ: h.rcv.Add(10), ACK: h.snd, Flags: ACK, Payload: again})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(35), Flags: ACK})
	got := wantRead(t, h, 35)
	if string(got) != string(first)+string(bytesOf(15, 9)) {
		t.Fatal("text differs")
	}
}

// First check: a segment may be trimmed "to exclude ... data beyond the
// window"; the part beyond RCV.NXT+RCV.WND, and a FIN after it, is not
// taken. Without window scaling our window is at most 65535 even with a
// 1 MiB buffer.
func TestEstablished_TextBeyondWindow_Trimmed(t *testing.T) {
	h := established(t, smallRcvCfg())
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | FIN, Len: 1500})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(1000), Flags: ACK, WND: zeroWnd})
	wantState(t, h, Established)

	h = established(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 70000})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(65535), Flags: ACK})
}

// First check: "Segments with higher beginning sequence numbers ... should
// be held for later processing"; each arrival beyond RCV.NXT is answered
// with the unchanged ACK (RFC 5681 §4.2: "an immediate duplicate ACK"),
// and the segment that fills the gap delivers everything once, with one
// cumulative ACK.
func TestEstablished_OutOfOrder_HeldThenDeliveredOnce(t *testing.T) {
	h := established(t, exactCfg())
	a, b, c := bytesOf(10, 1), bytesOf(10, 2), bytesOf(10, 3)
	send(t, h, sg{SEQ: h.rcv.Add(20), ACK: h.snd, Flags: ACK, Payload: c})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	send(t, h, sg{SEQ: h.rcv.Add(10), ACK: h.snd, Flags: ACK, Payload: b})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	send(t, h, sg{SEQ: h.rcv.Add(10), ACK: h.snd, Flags: ACK, Payload: b}) // duplicate of held
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	wantRead(t, h, 0)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Payload: a})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(30), Flags: ACK})
	expectNothing(t, h)
	if got := wantRead(t, h, 30); string(got) != string(a)+string(b)+string(c) {
		t.Fatal("text differs")
	}
}

// ---- Eighth check: FIN ----

// ESTABLISHED: "Enter the CLOSE-WAIT state" (the closeWait fixture);
// FIN-WAIT-1: "If our FIN has been ACKed (perhaps in this segment), then
// enter TIME-WAIT, start the time-wait timer, turn off the other timers;
// otherwise, enter the CLOSING state" (the closing fixture);
// FIN-WAIT-2: "Enter the TIME-WAIT state" (the timeWait fixture).
func TestFinWait1_FINAckingOurs_TimeWait(t *testing.T) {
	h := finWait1(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: FIN | ACK})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(1), Flags: ACK})
	wantState(t, h, TimeWait)
	if d := h.Deadline(); !d.Equal(h.now.Add(h.cfg.TimeWait)) {
		t.Fatalf("deadline in %v", d.Sub(h.now))
	}
}

// CLOSE-WAIT, CLOSING, LAST-ACK: "Remain in the ... state"; a
// retransmitted FIN (SEQ = RCV.NXT-1) fails the first check and is
// acknowledged.
func TestSynchronized_RetransmittedFIN_ACK(t *testing.T) {
	for _, f := range []fixture{{CloseWait, closeWait}, {Closing, closing}, {LastAck, lastAck}, {TimeWait, timeWait}} {
		t.Run(f.state.String(), func(t *testing.T) {
			h := f.make(t, exactCfg())
			send(t, h, sg{SEQ: h.rcv.Add(^uint32(0)), ACK: h.snd, Flags: FIN | ACK})
			expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
			expectNothing(t, h)
			wantState(t, h, f.state)
		})
	}
}

// A FIN beyond a gap is held with the text before it and takes effect
// only once "all segment text prior to" it has arrived (eighth check);
// the gap filler brings one ACK covering text and FIN.
func TestEstablished_FINBeyondGap_AfterGapFills(t *testing.T) {
	h := established(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv.Add(10), ACK: h.snd, Flags: FIN | ACK, Len: 10})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	wantState(t, h, Established)
	if h.PeerClosed() {
		t.Fatal("FIN taken across a gap")
	}
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 10})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(21), Flags: ACK})
	expectNothing(t, h)
	wantState(t, h, CloseWait)
	wantRead(t, h, 20)
}

// Simultaneous close, RFC 9293 §3.6 Figure 13: both send FIN; each
// FIN-WAIT-1 gets the other's FIN before the ACK of its own (CLOSING,
// "<SEQ=101><ACK=301><CTL=ACK>"), then the ACK (TIME-WAIT).
func TestSimultaneousClose_Figure13(t *testing.T) {
	h := finWait1(t, exactCfg())                                             // 2. --> <SEQ=100><ACK=300><CTL=FIN,ACK>
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(^uint32(0)), Flags: FIN | ACK}) // <-- <SEQ=300><ACK=100><CTL=FIN,ACK>
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(1), Flags: ACK})              // 3. CLOSING --> <SEQ=101><ACK=301><CTL=ACK>
	wantState(t, h, Closing)
	send(t, h, sg{SEQ: h.rcv.Add(1), ACK: h.snd, Flags: ACK}) // 4. <-- <SEQ=301><ACK=101><CTL=ACK>
	expectNothing(t, h)
	wantState(t, h, TimeWait)
}

// Half-close: after CLOSE of our sending side "the user ... may continue
// to RECEIVE until told that the remote side has closed also" (RFC 9293
// §3.10.4): FIN-WAIT-2 takes and acknowledges text, then the FIN.
func TestFinWait2_HalfClose_PeerStillSends(t *testing.T) {
	h := finWait2(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | PSH, Len: 300})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(300), Flags: ACK})
	wantRead(t, h, 300)
	send(t, h, sg{SEQ: h.rcv.Add(300), ACK: h.snd, Flags: FIN | ACK})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(301), Flags: ACK})
	wantState(t, h, TimeWait)
	if !h.PeerClosed() || h.Write([]byte("x"), h.now) != 0 {
		t.Fatal("PeerClosed/Write")
	}
}

// ---- User calls ----

// ABORT in ESTABLISHED: "Send a reset segment: <SEQ=SND.NXT><CTL=RST>"
// (RFC 9293 §3.10.5); CLOSING/LAST-ACK/TIME-WAIT: "respond with "ok" and
// delete the TCB" — nothing sent.
func TestSynchronized_Abort(t *testing.T) {
	for _, f := range synchronizedFixtures {
		t.Run(f.state.String(), func(t *testing.T) {
			h := f.make(t, exactCfg())
			h.Abort(h.now)
			switch f.state {
			case Closing, LastAck, TimeWait:
			default:
				expect(t, h, sg{SEQ: h.snd, Flags: RST})
			}
			expectNothing(t, h)
			wantState(t, h, Closed)
		})
	}
}

// Deviation (tcb.go, Close): close with unread data resets the connection
// with <SEQ=SND.NXT><CTL=RST> (Linux, RFC 2525 §2.17).
func TestEstablished_CloseWithUnreadData_RST(t *testing.T) {
	h := established(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 20})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(20), Flags: ACK})
	h.Close(h.now)
	expect(t, h, sg{SEQ: h.snd, Flags: RST})
	expectNothing(t, h)
	wantState(t, h, Closed)
	wantErr(t, h, ErrAborted)
}

// Deviation (tcb_input.go, processText): text arriving after the user
// closed both directions resets the connection, as Linux does.
func TestFinWait1_DataAfterClose_RST(t *testing.T) {
	h := established(t, exactCfg())
	h.Close(h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: FIN | ACK})
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, Len: 20})
	expect(t, h, sg{SEQ: h.snd.Add(1), Flags: RST})
	wantState(t, h, Closed)
	wantErr(t, h, ErrAborted)
}

// Receiver SWS avoidance (RFC 9293 §3.8.6.2.2, MUST-39): the application
// reads 4 octets, which opens the window by less than min(RCV.BUFF/2, MSS),
// and the field already carries the most it can (65535: no window scale,
// 1 MiB buffer): no window update. One would repeat the last ACK exactly,
// a duplicate ACK to a sender with data in flight (RFC 5681 §2). Found by
// the compare bench (DT-06a).
func TestEstablished_SmallReadCappedWindow_NoUpdate(t *testing.T) {
	h := established(t, exactCfg())
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | PSH, Len: 4})
	h.rcv = h.rcv.Add(4)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK, WND: 65535})
	wantRead(t, h, 4)
	expectNothing(t, h)
}
