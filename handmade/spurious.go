package handmade

import "time"

// Spurious retransmissions and the undoing of their congestion response.
// A loss response (fast retransmit, RFC 5681 §3.2 and RFC 6675 §5 step
// (4); or a retransmission timeout, RFC 6298 §5) opens an episode that
// records every retransmission sent while it lasts. Each is proven
// unnecessary by a D-SACK reporting that the receiver got it twice (RFC
// 3708, over RFC 2883), or by the timestamps: the ACK that covers its
// first octet echoes a TSval older than its own, so an earlier
// transmission filled that hole (the Eifel detection, RFC 3522). Once
// every retransmission of the episode is proven unnecessary the response
// answered a loss that did not happen: the congestion state is reversed
// (the Eifel response, RFC 4015) and the episode ends. A single
// retransmission that repaired a real loss is never proven, and keeps
// the response.

// undoEpisode is the evidence kept for the last loss response.
type undoEpisode struct {
	armed bool
	// timeout: the response was to a retransmission timeout; firstACK:
	// its first acceptable ACK has not arrived yet (RFC 3522 decides on
	// that one ACK).
	timeout, firstACK bool
	// spurTO: this ACK was that first acceptable ACK and echoed a
	// timestamp older than the first retransmission's, RFC 4015's
	// SPUR_TO.
	spurTO bool
	// rtxTS is RFC 3522's RetransmitTS: the TSval of the episode's first
	// retransmission.
	rtxTS    uint32
	rtx      []undoRecord
	unproven int
}

// undoRecord is one retransmission of the episode.
type undoRecord struct {
	from, end Seq
	ts        uint32 // its TSval
	proven    bool   // found unnecessary
}

// maxUndoRecords bounds an episode: one that retransmitted more than
// this is taken as a real loss, and undoing it is given up.
const maxUndoRecords = 256

// armUndo opens an episode for the loss response about to be made.
func (t *TCB) armUndo(timeout bool) {
	u := &t.rec.undo
	u.armed, u.timeout, u.firstACK, u.spurTO = true, timeout, timeout, false
	u.rtx, u.unproven = u.rtx[:0], 0
	if timeout {
		// RFC 4015 §3.1 step (0): "SRTT_prev <- SRTT + (2 * G)" and
		// "RTTVAR_prev <- RTTVAR", G being the clock granularity.
		t.rec.srttPrev, t.rec.rttvarPrev = t.rtt.SRTT+2*rttClockGranule, t.rtt.RTTVAR
	}
}

func (t *TCB) disarmUndo() {
	u := &t.rec.undo
	u.armed, u.spurTO = false, false
	u.rtx, u.unproven = u.rtx[:0], 0
}

// undoSent records a retransmission [from, end) sent at now.
func (t *TCB) undoSent(from, end Seq, now time.Time) {
	u := &t.rec.undo
	if !u.armed {
		return
	}
	if len(u.rtx) >= maxUndoRecords {
		t.disarmUndo()
		return
	}
	ts := t.tsNow(now) // the TSval fillACK gave the segment
	if len(u.rtx) == 0 {
		// RFC 3522 §3.2 step (2): "Set a "RetransmitTS" variable to the
		// value of the Timestamp Value field of the Timestamps option
		// included in the retransmit sent when loss recovery is
		// initiated."
		u.rtxTS = ts
	}
	u.rtx = append(u.rtx, undoRecord{from: from, end: end, ts: ts})
	u.unproven++
}

func (t *TCB) proveSpurious(r *undoRecord) {
	r.proven = true
	t.rec.undo.unproven--
	t.Counters.SpuriousRetransmissions++
}

// eifel is the Eifel detection (RFC 3522) for an acceptable ACK, one that
// moves SND.UNA on from una: the ACK echoes the TSval of the segment that
// filled the hole at una (RFC 7323 §4.3: "When a hole in the sequence
// space is filled, the receiver echoes the TSval of the segment that
// filled the hole"). A retransmission of that hole with a newer TSval
// was not what filled it: it was unnecessary. One with the TSval echoed,
// or older, was: that loss was real, and the episode is given up.
// It reports whether the ACK also shows the timeout spurious, RFC 4015's
// SPUR_TO (its first acceptable ACK echoes a TSval older than
// RetransmitTS); such an ACK's round trip is the original
// transmission's, and no sample for RFC 4015's adaptation. dsack says
// the ACK carries a D-SACK block.
func (t *TCB) eifel(seg *Segment, una Seq, dsack bool) bool {
	u := &t.rec.undo
	if !u.armed || len(u.rtx) == 0 {
		return false
	}
	first := u.firstACK
	u.firstACK = false
	if !t.tsOn || !seg.Options.HasTimestamps {
		return false
	}
	ecr := seg.Options.TSEcr
	if first && u.timeout && tsOlder(ecr, u.rtxTS) {
		// RFC 3522 §3.2 step (4): "If the value of the Timestamp Echo
		// Reply field of the acceptable ACK's Timestamps option is
		// smaller than the value of RetransmitTS, then proceed to step
		// (5)"; step (5): "If the acceptable ACK carries a DSACK option
		// [RFC2883], then proceed to step (DONE), else if during the
		// lifetime of the TCP connection the TCP sender has previously
		// received an ACK with a DSACK option, or the acceptable ACK does
		// not acknowledge all outstanding data, then proceed to step (6),
		// else proceed to step (DONE)." An ACK that the retransmission
		// itself drew (its duplicate D-SACKed, or, from a receiver not
		// known to send D-SACKs, one covering everything) echoes an old
		// TSval too: the original's ACKs were lost, and the timeout was
		// what recovered from that. Step (6) finds it spurious.
		if dsack || t.Counters.DSACKsReceived == 0 && seg.ACK == t.SND.NXT {
			t.disarmUndo()
			return false
		}
		u.spurTO = true
	}
	for i := range u.rtx {
		r := &u.rtx[i]
		if r.proven || !r.from.LessEq(una) || !una.LessThan(r.end) {
			continue
		}
		if !tsOlder(ecr, r.ts) {
			t.disarmUndo()
			return false
		}
		t.proveSpurious(r)
	}
	return u.spurTO
}

// isDSACK reports that the first SACK block of seg is a D-SACK (RFC 2883
// §5): "the sender should compare the sequence space in the first SACK
// block to the cumulative ACK which is carried IN THE SAME PACKET. If the
// SACK sequence space is less than this cumulative ACK, it is an
// indication that the segment identified by the SACK block has been
// received more than once by the receiver"; "If the sequence space in
// the first SACK block is greater than the cumulative ACK, then the
// sender next compares the sequence space in the first SACK block with
// the sequence space in the second SACK block, if there is one. This
// comparison can determine if the first SACK block is reporting
// duplicate data that lies above the cumulative ACK."
func isDSACK(seg *Segment) bool {
	o := &seg.Options
	if o.NumSACK == 0 {
		return false
	}
	b := o.SACK[0]
	if b.Left.LessThan(seg.ACK) {
		return true
	}
	if o.NumSACK < 2 {
		return false
	}
	c := o.SACK[1]
	return c.Left.LessEq(b.Left) && b.Right.LessEq(c.Right)
}

// dsackArrived takes the D-SACK block b of an ACK: it counts, widens
// RACK's reordering window, and proves one retransmission of the episode
// unnecessary.
func (t *TCB) dsackArrived(b SACKBlock) {
	t.Counters.DSACKsReceived++
	if !b.Left.LessThan(b.Right) || t.SND.NXT.LessThan(b.Right) {
		return // nothing we sent
	}
	// RFC 8985 §6.2 step 4: "If RACK.dsack_round is not None AND SND.UNA
	// >= RACK.dsack_round: RACK.dsack_round = None"; "If
	// RACK.dsack_round is None AND any DSACK option is present on latest
	// received ACK: RACK.dsack_round = SND.NXT, RACK.reo_wnd_mult += 1,
	// RACK.reo_wnd_persist = 16": the window grows once per round trip
	// that sees a D-SACK. reoWnd caps it at SRTT; so is the multiplier.
	if t.rec.dsackRoundOn && !t.SND.UNA.LessThan(t.rec.dsackRound) {
		t.rec.dsackRoundOn = false
	}
	if !t.rec.dsackRoundOn {
		t.rec.dsackRound, t.rec.dsackRoundOn = t.SND.NXT, true
		t.rec.reoMult = min(max(t.rec.reoMult, 1)+1, 4)
		t.rec.reoPersist = 16
	}
	// RFC 3708 §3: a D-SACK for a retransmitted segment shows that both
	// it and an earlier transmission arrived. Each duplicate is reported
	// once (RFC 2883 §4, rule (2)), so a D-SACK proves one
	// retransmission unnecessary, not every one of the same octets. A
	// D-SACK for octets not retransmitted in the episode (a duplicate
	// the network made) proves nothing.
	u := &t.rec.undo
	if !u.armed {
		return
	}
	for i := range u.rtx {
		r := &u.rtx[i]
		if !r.proven && overlap(SACKBlock{r.from, r.end}, b) > 0 {
			t.proveSpurious(r)
			return
		}
	}
}

// leftRecovery is RFC 8985 §6.2 step 4 on leaving recovery: "Else if
// exiting Fast or RTO recovery: RACK.reo_wnd_persist -= 1; If
// RACK.reo_wnd_persist <= 0: RACK.reo_wnd_mult = 1".
func (t *TCB) leftRecovery() {
	if t.rec.reoPersist--; t.rec.reoPersist <= 0 {
		t.rec.reoMult, t.rec.reoPersist = 1, 0
	}
}

// reoWnd is RACK's reordering window (RFC 8985 §6.2 step 4):
// "min(RACK.reo_wnd_mult * RACK.min_RTT / 4, RACK.srtt)".
// Deviation: SRTT stands for RACK.min_RTT, as in lostEdge, which
// predates this: handmade keeps no minimum filter.
func (t *TCB) reoWnd() time.Duration {
	return min(time.Duration(max(t.rec.reoMult, 1))*t.rtt.SRTT/4, t.rtt.SRTT)
}

// maybeUndo runs the Eifel response (RFC 4015 §3.1) after an ACK that
// acknowledged acked octets, if the episode's response proved spurious:
// every retransmission was unnecessary, or the timeout was (SPUR_TO).
func (t *TCB) maybeUndo(acked int) {
	u := &t.rec.undo
	spurTO := u.spurTO
	u.spurTO = false
	if !u.armed || !spurTO && (len(u.rtx) == 0 || u.unproven > 0) {
		return
	}
	t.Counters.Undos++
	if u.timeout {
		t.Counters.SpuriousTimeouts++
		// RFC 4015 §3.1: the RTO is adapted on "the first acceptable ACK
		// for data sent after the timeout" (sampleRTT).
		t.rec.adaptRTO, t.rec.adaptTS = true, u.rtxTS
	}
	// RFC 4015 §3.1, "Reverse the congestion control state" (the
	// algorithm's Undo).
	t.cc.Undo(t.flight(), acked, t.sndMSS)
	if spurTO && t.rtoRecovery() {
		// RFC 4015 §3.1: "If SpuriousRecovery equals SPUR_TO, then ...
		// Resume the transmission with previously unsent data: Set
		// SND.NXT <- SND.MAX": the go-back stops, and what follows is new
		// data (SND.NXT is SND.MAX here; retxNext is the go-back's
		// SND.NXT). A LATE_SPUR_TO, shown after the go-back resent what
		// it covers, changes nothing of it.
		t.retxNext = t.SND.NXT
		t.rec.rtx, t.rec.relost = t.rec.rtx[:0], t.rec.relost[:0]
	}
	if t.inRecovery {
		// The recovery answered no loss: it ends (RFC 3522, Abstract:
		// "response algorithms to back out of loss recovery by restoring
		// a TCP sender's congestion control state").
		t.endRecovery()
		t.leftRecovery()
	}
	// RecoveryPoint (RFC 6675 §5, §5.1) and recover (RFC 6582 §3.2)
	// keep one window of losses to one reduction; the reduction is
	// undone, so a real loss in the same window may start a recovery of
	// its own.
	t.recover = t.SND.UNA.Add(^uint32(0))
	t.disarmUndo()
}

// adaptRTO is RFC 4015 §3.1's adaptation of the retransmission timer
// after a spurious timeout, on the first RTT sample r of data sent after
// it: "SRTT <- max (SRTT_prev, m)", "RTTVAR <- max (RTTVAR_prev, m/2)",
// "RTO <- SRTT + max (G, 4*RTTVAR)". A delay spike that outlasted the RTO
// raises the estimate at once instead of by an eighth per sample.
func (t *TCB) adaptRTO(r time.Duration) {
	t.rec.adaptRTO = false
	t.rtt.Restart(max(t.rec.srttPrev, r), max(t.rec.rttvarPrev, r/2))
}
