package handmade

import "time"

// recovery is the sender's loss recovery: what happens between the first
// sign of a loss and the ACK that covers it. With SACK in use that is RFC
// 6675's conservative SACK-based recovery over a scoreboard; without, RFC
// 5681's fast retransmit and fast recovery with NewReno's partial
// acknowledgements (RFC 6582). Around both: Limited Transmit (RFC 3042),
// Early Retransmit (RFC 5827), the tail loss probe of RACK-TLP (RFC 8985
// §7), and the detection of lost retransmissions (RACK's rule, RFC 8985
// §6.2). How far the window backs off is the CongestionControl's.
type recovery struct {
	// sb is RFC 6675 §3's scoreboard of SACKed octets above SND.UNA.
	sb scoreboard
	// highRxt and rescueRxt are RFC 6675 §2's HighRxt and RescueRxt as
	// ends: one past the highest octet retransmitted in this recovery, and
	// one past the rescue retransmission's (RecoveryPoint+1 once sent).
	highRxt, rescueRxt Seq
	// pipe is RFC 6675's estimate of the octets in the network: SetPipe()
	// on each ACK while it governs sending (in recovery, or between the
	// first duplicate ACK and recovery), plus what Output sent since (step
	// C.4). It exists only then (pipeRules): 0 otherwise, since nothing
	// keeps it in step with SND.UNA and SND.NXT once FlightSize governs
	// again.
	pipe int
	// inflate is NewReno's window inflation (RFC 5681 §3.2 steps 3 and 4,
	// RFC 6582 §3.2 step 3): the octets by which fast recovery's window
	// exceeds the CongestionControl's cwnd (ssthresh). Negative after
	// partial ACKs deflated it below.
	inflate int
	// limitedTx is how many segments beyond cwnd Limited Transmit allows
	// now: one per duplicate ACK, at most two (RFC 3042 §2). ltOctets
	// counts what new data went out beyond cwnd since the last cumulative
	// ACK, which FlightSize leaves out when recovery starts (RFC 5681
	// §3.2 step 2).
	limitedTx, ltOctets int
	// reoAt is RACK's reordering timer (RFC 8985 §6.3): when a hole will
	// have been below SACKed data for a reordering window.
	reoAt time.Time
	// tlpAt is the probe timeout; tlpNew asks Output for one new segment
	// regardless of cwnd, as the probe (RFC 8985 §7.3).
	tlpAt  time.Time
	tlpNew bool
	// retxFrom is where a one-shot retransmission (retxOne) starts: SND.UNA
	// for fast retransmit, the last segment for a loss probe.
	retxFrom Seq
	// rtx are this recovery's retransmissions not yet known delivered,
	// oldest first; relost the ranges of those found lost, to be sent
	// again before anything else.
	rtx    []rtxRecord
	relost []SACKBlock
	// undo is the evidence that the last loss response was spurious
	// (spurious.go).
	undo undoEpisode
	// adaptRTO asks the next RTT sample of data sent after adaptTS
	// (RetransmitTS) for RFC 4015's adaptation of the timer, from
	// srttPrev and rttvarPrev (its SRTT_prev and RTTVAR_prev).
	adaptRTO             bool
	adaptTS              uint32
	srttPrev, rttvarPrev time.Duration
	// RACK's reordering window adaptation (RFC 8985 §6.2 step 4):
	// RACK.reo_wnd_mult, RACK.reo_wnd_persist and RACK.dsack_round.
	reoMult, reoPersist int
	dsackRound          Seq
	dsackRoundOn        bool
}

// rtxRecord is one retransmission sent in loss recovery.
type rtxRecord struct {
	from, end Seq
	at        time.Time
	// nxt is SND.NXT when it was sent: data at and above it was first
	// sent later.
	nxt Seq
}

// segKind says why Output sends a segment; it decides the bookkeeping.
type segKind uint8

const (
	segNew    segKind = iota // previously unsent data
	segOne                   // fast retransmit, a partial ACK's, a loss probe's
	segGoBack                // the go-back retransmission after a timeout
	segLost                  // RFC 6675 NextSeg () rule (1)
	segUnsure                // NextSeg () rule (3)
	segRescue                // NextSeg () rule (4)
	segRelost                // a retransmission found lost, again
)

// cwnd is the congestion window sending is held to: the
// CongestionControl's, inflated during NewReno's fast recovery.
func (t *TCB) cwnd() int {
	if t.inRecovery && !t.sackOn {
		return max(t.cc.Cwnd()+t.rec.inflate, t.sndMSS)
	}
	return t.cc.Cwnd()
}

// pipeRules reports that RFC 6675's pipe, not FlightSize, decides what new
// data may go: in loss recovery (§5 step C) and on the duplicate ACKs
// before it (§5 step 3).
func (t *TCB) pipeRules() bool { return t.sackOn && (t.inRecovery || t.dupAcks > 0) }

// setPipe is RFC 6675 §4 SetPipe() with the scoreboard, less what was
// found lost after being retransmitted and is not yet sent again: it
// counts as retransmitted (below HighRxt) but is not in the network.
func (t *TCB) setPipe(now time.Time) {
	p := t.rec.sb.pipe(t.SND.UNA, t.SND.NXT, t.rec.highRxt, t.lostEdge(now))
	t.rec.pipe = max(p-t.relostPending(), 0)
}

// lostEdge is where IsLost stops holding: every unSACKed octet below it is
// lost, by RFC 6675 §4 IsLost () or by RACK's rule (lostByTime). It also
// arms the reordering timer for when the edge will move.
// Deviation: RFC 6675 counts SACKed octets only; with a small window three
// segments never arrive above a loss, and the recovery stalls until the
// retransmission timer (200 ms at least, ten round trips of the lossy
// profile). Like RACK (RFC 8985 §6.2, gVisor's and Linux's default) a
// hole below data SACKed a reordering window (reoWnd: SRTT/4, wider
// once D-SACKs show reordering) ago is lost too.
func (t *TCB) lostEdge(now time.Time) Seq {
	edge := t.rec.sb.lostBelow(t.SND.UNA, t.dupThresh(), t.sndMSS)
	byTime, next := t.rec.sb.lostByTime(t.SND.UNA, now, t.reoWnd())
	t.rec.reoAt = next
	return maxSeq(edge, byTime)
}

// ackArrived runs loss recovery and congestion control for an ACK with
// SND.UNA =< SEG.ACK =< SND.NXT; wndBefore is the send window before it,
// dsack says its first SACK block is a D-SACK.
func (t *TCB) ackArrived(seg *Segment, now time.Time, wndBefore uint32, dsack bool) {
	acked, delivered, bytesAcked := 0, 0, 0
	if t.SND.UNA.LessThan(seg.ACK) {
		// What the ACK delivers is what it acknowledges less what was
		// SACKed before: RFC 5681 §3.1's N, "the number of previously
		// unacknowledged bytes acknowledged in the incoming ACK". It keeps
		// an ACK that covers what the receiver held since a timeout from
		// growing cwnd at once.
		delivered = -t.rec.sb.sackedBelow(seg.ACK)
		acked = t.newlyAcked(seg, now, dsack)
		delivered += acked
		bytesAcked = acked
	}
	dup := false
	if t.sackOn {
		// RFC 6675 §5: "Upon the receipt of any ACK containing SACK
		// information, the scoreboard MUST be updated via the Update ()
		// routine." A D-SACK block reports octets received twice, not
		// held above the cumulative ACK: it updates nothing, and is no
		// new SACK information to count as a duplicate ACK (processACK
		// took it).
		t.rec.sb.advance(t.SND.UNA)
		newly := 0
		blocks := seg.Options.SACK[:seg.Options.NumSACK]
		if dsack {
			blocks = blocks[1:]
		}
		for _, b := range blocks {
			newly += t.rec.sb.update(b, t.SND.UNA, t.SND.NXT, now)
		}
		// RFC 6675 §2: a duplicate acknowledgment is "a segment that
		// arrives carrying a SACK block that identifies previously
		// unacknowledged and un-SACKed octets between HighACK and
		// HighData", even if it "moves the cumulative acknowledgment
		// point".
		dup = newly > 0
	} else {
		// RFC 5681 §2: outstanding data, no data carried, SYN and FIN
		// off, SEG.ACK = SND.UNA, and the same advertised window.
		dup = acked == 0 && t.flight() > 0 && len(seg.Payload) == 0 && seg.Flags&(FIN|SYN) == 0 &&
			uint32(seg.WND)<<t.SND.Shift == wndBefore
	}
	if acked > 0 {
		// RFC 6675 §5: "If the incoming ACK is a cumulative acknowledgment,
		// the TCP MUST reset DupAcks to zero."
		t.resetDupAcks()
	}
	if dup {
		t.Counters.DupAcksReceived++
		t.dupAcks++
	}
	if t.inRecovery && acked > 0 && t.recover.LessEq(t.SND.UNA) {
		// RFC 6675 §5 (A): "An incoming cumulative ACK for a sequence
		// number greater than RecoveryPoint signals the end of loss
		// recovery"; RFC 6582 §3.2 step 3, full acknowledgments: "Set
		// cwnd to ... (2) ssthresh" and "Exit the fast recovery
		// procedure." RFC 6675 (A): the scoreboard above HighACK "SHOULD
		// NOT be cleared".
		// Deviation: RFC 6582 encourages "measures to avoid a possible
		// burst" where FlightSize is well below the new cwnd; like gVisor
		// (leaveRecovery) we take none.
		t.endRecovery()
		t.leftRecovery()
		acked = 0 // the exit ACK deflates the window; it does not grow it
	}
	switch {
	case t.inRecovery && t.sackOn:
		// RFC 6675 §5 (B): "(B.1) Use Update () to record the new SACK
		// information ... (B.2) Use SetPipe () to re-calculate the number
		// of octets still in the network." Step (C) is Output's.
		t.detectLostRetransmissions(now)
		t.setPipe(now)
	case t.inRecovery && acked > 0:
		// RFC 6582 §3.2 step 3, partial acknowledgments: "retransmit the
		// first unacknowledged segment. Deflate the congestion window by
		// the amount of new data acknowledged ... If the partial ACK
		// acknowledges at least one SMSS of new data, then add back SMSS
		// bytes".
		t.rec.inflate = max(t.rec.inflate-acked, t.sndMSS-t.cc.Cwnd())
		if acked >= t.sndMSS {
			t.rec.inflate += t.sndMSS
		}
		t.pruneRetransmissions()
		t.retxOne, t.rec.retxFrom = true, t.SND.UNA
	case t.inRecovery && dup:
		// RFC 5681 §3.2 step 4: "For each additional duplicate ACK
		// received (after the third), cwnd MUST be incremented by SMSS."
		t.rec.inflate += t.sndMSS
	default:
		if acked > 0 && delivered > 0 {
			t.cc.OnAck(Ack{Delivered: delivered, MSS: t.sndMSS, Now: now,
				RTT: t.ackRTT, SRTT: t.rtt.SRTT, SndUna: t.SND.UNA, SndNxt: t.SND.NXT})
		}
		if len(t.rec.rtx) > 0 {
			// The go-back after a timeout: its retransmissions can be
			// lost as well.
			if t.sackOn {
				t.detectLostRetransmissions(now)
			} else {
				t.pruneRetransmissions()
			}
		}
		if dup {
			t.duplicateACK(now)
		}
	}
	// RFC 4015: the Eifel response, if this ACK showed the last loss
	// response spurious.
	t.maybeUndo(bytesAcked)
}

// resetDupAcks sets DupAcks to zero, on a cumulative ACK (RFC 6675 §5)
// or a timeout (which expunges the SACK information they counted, RFC
// 6675 §5.1), and with it ends what the duplicate ACKs started outside
// recovery: Limited Transmit, and pipe governing sending (§5 step 3).
// pipe is 0 until SetPipe () runs again, on the next duplicate ACK or
// entry into recovery; left as it was, it would go on counting octets
// acknowledged since.
func (t *TCB) resetDupAcks() {
	t.dupAcks, t.rec.limitedTx, t.rec.ltOctets = 0, 0, 0
	if !t.inRecovery {
		t.rec.pipe = 0
	}
}

// rtoRecovery reports the go-back after a retransmission timeout in
// progress: what was outstanding at the timeout is being sent again.
func (t *TCB) rtoRecovery() bool { return t.retxNext.LessThan(t.SND.NXT) }

// duplicateACK decides, on a duplicate ACK outside recovery, between fast
// retransmit and Limited Transmit.
func (t *TCB) duplicateACK(now time.Time) {
	dupThresh := t.dupThresh()
	// RFC 6582 §3.2 step 2: fast retransmit only "if the Cumulative
	// Acknowledgment field covers more than recover", that is "ack_number
	// - 1 > recover", recover being the highest sequence number sent when
	// recovery last began; we keep it as SND.NXT then, one past it. RFC
	// 6675 §5: only if "the cumulative acknowledgment point is beyond the
	// last value of RecoveryPoint", and §5.1 spells out the bound: "until
	// HighACK is greater than or equal to the new value of RecoveryPoint".
	// With SACK the duplicate ACKs report data sent after RecoveryPoint,
	// so a loss of the segment right after it is a new one: without
	// equality it would wait for the retransmission timer.
	again := t.recover.LessThan(t.SND.UNA)
	if t.sackOn {
		again = t.recover.LessEq(t.SND.UNA)
	}
	if again {
		switch {
		case t.dupAcks >= dupThresh:
			// RFC 6675 §5 step (1); RFC 5681 §3.2 step 2.
			t.enterRecovery(now)
			return
		case t.sackOn && t.SND.UNA.LessThan(t.lostEdge(now)):
			// RFC 6675 §5 step (2): "If DupAcks < DupThresh but IsLost
			// (HighACK + 1) returns true -- indicating at least three
			// segments have arrived above the current cumulative
			// acknowledgment point"; or RACK's rule says so (lostEdge).
			t.enterRecovery(now)
			return
		}
	}
	if t.sackOn {
		// RFC 6675 §5 step (3): Limited Transmit "except that the number
		// of octets which may be sent is governed by pipe and cwnd":
		// "(3.1) Set HighRxt to HighACK. (3.2) Run SetPipe ()." (3.3) is
		// Output's.
		t.rec.highRxt = t.SND.UNA
		t.setPipe(now)
		return
	}
	// RFC 3042 §2: Limited Transmit, one new segment for each of the
	// first two duplicate ACKs.
	t.rec.limitedTx = min(t.dupAcks, 2)
}

// enterRecovery is fast retransmit: RFC 6675 §5 step (4) with SACK, RFC
// 5681 §3.2 steps 2 and 3 (under RFC 6582 §3.2 step 2) without.
func (t *TCB) enterRecovery(now time.Time) {
	t.Counters.FastRetransmits++
	t.armUndo(false)
	// RFC 5681 §3.2 step 2: "When [RFC3042] is in use, additional data
	// sent in limited transmit MUST NOT be included in this calculation";
	// RFC 6675 (4.2): "ssthresh = cwnd = (FlightSize / 2)".
	t.cc.OnLoss(max(t.flight()-t.rec.ltOctets, 0), t.sndMSS)
	// RFC 6675 (4.1): "RecoveryPoint = HighData"; RFC 6582 §3.2 step 2:
	// "the value of recover is incremented to the value of the highest
	// sequence number transmitted by the TCP so far".
	t.inRecovery, t.recover = true, t.SND.NXT
	t.rec.limitedTx, t.rec.ltOctets, t.rec.tlpAt, t.rec.tlpNew = 0, 0, time.Time{}, false
	t.rec.rtx, t.rec.relost = t.rec.rtx[:0], t.rec.relost[:0]
	t.rttTiming = false
	// RFC 6675 (4.3): "Retransmit the first data segment presumed dropped
	// -- the segment starting with sequence number HighACK + 1"; RFC 5681
	// §3.2 step 3: "The lost segment starting at SND.UNA MUST be
	// retransmitted".
	t.retxOne, t.rec.retxFrom = true, t.SND.UNA
	if !t.sackOn {
		// RFC 5681 §3.2 step 3: "cwnd set to ssthresh plus 3*SMSS".
		t.rec.inflate = 3 * t.sndMSS
		return
	}
	// With SACK cwnd stays ssthresh, no inflation: SetPipe () already
	// leaves out the segments the duplicate ACKs SACKed. (gVisor's
	// enterRecovery sets cwnd = ssthresh+3 segments with SACK as well,
	// counting them twice: TestEstablished_SACKRecovery_ExitAtSsthresh.)
	//
	// RFC 6675 (4.3): "To prevent repeated retransmission of the same data
	// or a premature rescue retransmission, set both HighRxt and
	// RescueRxt to the highest sequence number in the retransmitted
	// segment." (4.4): "Run SetPipe ()."
	end := t.SND.UNA
	if _, hend, ok := t.rec.sb.hole(t.SND.UNA, t.SND.NXT); ok {
		n, fin := t.segmentFrom(t.SND.UNA, hend)
		end = t.SND.UNA.Add(uint32(n))
		if fin {
			end = end.Add(1)
		}
	}
	t.rec.highRxt, t.rec.rescueRxt = end, end
	t.setPipe(now)
}

// endRecovery leaves loss recovery, at its end (RFC 6675 §5 (A), RFC 6582
// §3.2 step 3) or on a timeout (RFC 6675 §5.1, RFC 6582 §3.2 step 4).
func (t *TCB) endRecovery() {
	t.inRecovery = false
	// RFC 6675 §5 (A) and §5.1: recovery, and pipe governing sending,
	// are over; a duplicate ACK arriving with the end runs SetPipe ()
	// again (§5 step 3).
	t.rec.pipe = 0
	t.rec.reoAt = time.Time{}
	t.rec.inflate = 0
	t.rec.rtx, t.rec.relost = t.rec.rtx[:0], t.rec.relost[:0]
}

// nextSeg is RFC 6675 §5 step (C) for one segment: "If cwnd - pipe >= 1
// SMSS", the range NextSeg () returns. A retransmission found lost goes
// first.
func (t *TCB) nextSeg(now time.Time) (from Seq, n int, fin bool, kind segKind, ok bool) {
	if t.cc.Cwnd()-t.rec.pipe < t.sndMSS {
		return
	}
	una, nxt := t.SND.UNA, t.SND.NXT
	// Deviation: RFC 6675 retransmits an octet once per recovery (HighRxt
	// only grows) and leaves a lost retransmission to the retransmission
	// timer, a round trip of 200 ms or more here whatever the path's. Like
	// Linux (tcp_mark_lost_retrans) and RACK (RFC 8985 §6.2) we send again
	// what detectLostRetransmissions found lost.
	if from, n, fin, ok := t.nextRelost(); ok {
		return from, n, fin, segRelost, true
	}
	highest := t.rec.sb.highest(una)
	lost := t.lostEdge(now)
	// (1) "If there exists a smallest unSACKed sequence number 'S2' that
	// meets the following three criteria for determining loss ... (1.a)
	// S2 is greater than HighRxt. (1.b) S2 is less than the highest octet
	// covered by any received SACK. (1.c) IsLost (S2) returns true."
	s2, s2end, above := t.rec.sb.hole(maxSeq(t.rec.highRxt, una), nxt)
	above = above && s2.LessThan(highest)
	if above && s2.LessThan(lost) {
		n, fin := t.segmentFrom(s2, s2end)
		return s2, n, fin, segLost, n > 0 || fin
	}
	// (2) "If no sequence number 'S2' per rule (1) exists but there exists
	// available unsent data and the receiver's advertised window allows,
	// the sequence range of one segment of up to SMSS octets of previously
	// unsent data starting with sequence number HighData+1 MUST be
	// returned."
	if from, n, fin, ok := t.pickNew(now, t.sndMSS); ok {
		return from, n, fin, segNew, true
	}
	// (3) "If the conditions for rules (1) and (2) fail, but there exists
	// an unSACKed sequence number 'S3' that meets the criteria for
	// detecting loss given in steps (1.a) and (1.b) above (specifically
	// excluding step (1.c)), then one segment of up to SMSS octets
	// starting with S3 SHOULD be returned."
	if above {
		n, fin := t.segmentFrom(s2, s2end)
		return s2, n, fin, segUnsure, n > 0 || fin
	}
	// (4) "If the conditions for (1), (2), and (3) fail, but there exists
	// outstanding unSACKed data, we provide the opportunity for a single
	// "rescue" retransmission per entry into loss recovery. If HighACK is
	// greater than RescueRxt (or RescueRxt is undefined), then one segment
	// of upto SMSS octets that MUST include the highest outstanding
	// unSACKed sequence number SHOULD be returned".
	if t.rec.rescueRxt.LessThan(una) {
		if hstart, hend, found := t.rec.sb.lastHole(una, nxt); found {
			dataEnd := hend
			if t.finSent && hend == nxt {
				dataEnd = hend.Add(^uint32(0)) // the FIN's sequence number
			}
			start := hstart
			if span(hstart, dataEnd) > t.sndMSS {
				start = dataEnd.Add(uint32(-t.sndMSS))
			}
			n, fin := t.segmentFrom(start, hend)
			return start, n, fin, segRescue, n > 0 || fin
		}
	}
	return
}

// nextRelost takes the next segment of a retransmission found lost.
func (t *TCB) nextRelost() (from Seq, n int, fin bool, ok bool) {
	for len(t.rec.relost) > 0 {
		r := &t.rec.relost[0]
		start, end, hole := t.rec.sb.hole(maxSeq(r.Left, t.SND.UNA), t.SND.NXT)
		if !hole || !start.LessThan(r.Right) {
			t.rec.relost = t.rec.relost[1:]
			continue
		}
		n, fin := t.segmentFrom(start, minSeq(end, r.Right))
		if n == 0 && !fin {
			t.rec.relost = t.rec.relost[1:]
			continue
		}
		r.Left = start.Add(uint32(n))
		if fin {
			r.Left = r.Left.Add(1)
		}
		if !r.Left.LessThan(r.Right) {
			t.rec.relost = t.rec.relost[1:]
		}
		return start, n, fin, true
	}
	return
}

// relostPending is the octets found lost after being retransmitted and
// not yet sent again: counted as sent, but not in the network.
func (t *TCB) relostPending() int {
	p := 0
	for _, r := range t.rec.relost {
		p += span(maxSeq(r.Left, t.SND.UNA), r.Right)
	}
	return p
}

// segmentFrom is what one segment sent again from `from` carries when it
// must end by limit (a SACKed range or SND.NXT): up to SMSS data octets
// and, if it reaches it, the FIN, whose sequence number follows the data.
func (t *TCB) segmentFrom(from, limit Seq) (n int, fin bool) {
	end := t.dataEnd()
	if from.LessThan(end) {
		n = min(t.sndMSS, span(from, minSeq(end, limit)))
	}
	fin = t.finSent && from.Add(uint32(n)) == end && end.LessThan(limit)
	return n, fin
}

// sent does the bookkeeping of loss recovery for a data segment [from,
// end) Output sends.
func (t *TCB) sent(kind segKind, from, end Seq, now time.Time) {
	octets := int(end.Sub(from))
	switch kind {
	case segLost, segUnsure:
		// RFC 6675 (C.2): "If any of the data octets sent in (C.1) are
		// below HighData, HighRxt MUST be set to the highest sequence
		// number of the retransmitted segment unless NextSeg () rule (4)
		// was invoked for this retransmission."
		if t.rec.highRxt.LessThan(end) {
			t.rec.highRxt = end
		}
	case segRescue:
		// RFC 6675 §4 NextSeg () rule (4): "RescueRxt set to
		// RecoveryPoint. HighRxt MUST NOT be updated."
		t.rec.rescueRxt = t.recover
	case segNew:
		if !t.inRecovery && t.dupAcks > 0 {
			// What Limited Transmit sends beyond cwnd stays out of
			// FlightSize when recovery starts (RFC 5681 §3.2 step 2).
			t.rec.ltOctets += min(octets, max(t.flight()-t.cwnd(), 0))
		}
	}
	if kind != segOne && t.pipeRules() {
		// RFC 6675 (C.4): "The estimate of the amount of data outstanding
		// in the network must be updated by incrementing pipe by the
		// number of octets transmitted in (C.1)." (The retransmission
		// that starts recovery, (4.3), is in SetPipe's count already.)
		t.rec.pipe += octets
	}
	if kind != segNew && (t.inRecovery || kind == segGoBack || kind == segRelost || kind == segOne && t.rtoRecovery()) {
		t.rec.rtx = append(t.rec.rtx, rtxRecord{from: from, end: end, at: now, nxt: t.SND.NXT})
	}
	if kind != segNew {
		t.undoSent(from, end, now)
	}
}

// delivered reports that the receiver has all of r: acknowledged or SACKed.
func (t *TCB) delivered(r rtxRecord) bool {
	if r.end.LessEq(t.SND.UNA) {
		return true
	}
	_, _, hole := t.rec.sb.hole(maxSeq(r.from, t.SND.UNA), r.end)
	return !hole
}

// pruneRetransmissions forgets the retransmissions the receiver has.
func (t *TCB) pruneRetransmissions() {
	keep := t.rec.rtx[:0]
	for _, r := range t.rec.rtx {
		if !t.delivered(r) {
			keep = append(keep, r)
		}
	}
	t.rec.rtx = keep
}

// detectLostRetransmissions applies RACK's rule (RFC 8985 §6.2: a segment
// is lost once a segment sent after it has been delivered and a
// reordering window has passed) to this recovery's retransmissions: one
// is lost when data first sent after it, or a later retransmission, is
// SACKed and a quarter of a round trip (RACK's reo_wnd, §6.2 step 4) has
// passed since it went out.
func (t *TCB) detectLostRetransmissions(now time.Time) {
	highest := t.rec.sb.highest(t.SND.UNA)
	reo := t.reoWnd()
	later := false // a retransmission sent after this one was delivered
	for i := len(t.rec.rtx) - 1; i >= 0; i-- {
		r := &t.rec.rtx[i]
		switch {
		case t.delivered(*r):
			later = true
			r.at = time.Time{} // forget it
		case (later || r.nxt.LessThan(highest)) && now.Sub(r.at) >= reo:
			t.retransmissionLost(*r)
			r.at = time.Time{}
		}
	}
	keep := t.rec.rtx[:0]
	for _, r := range t.rec.rtx {
		if !r.at.IsZero() {
			keep = append(keep, r)
		}
	}
	t.rec.rtx = keep
}

// retransmissionLost queues a lost retransmission to be sent again: with
// SACK as a range NextSeg's caller sends first, without as the one-shot
// retransmission of SND.UNA that NewReno would send.
func (t *TCB) retransmissionLost(r rtxRecord) {
	t.Counters.LostRetransmissions++
	if !t.sackOn {
		t.retxOne, t.rec.retxFrom = true, maxSeq(r.from, t.SND.UNA)
		return
	}
	t.rec.relost = append(t.rec.relost, SACKBlock{maxSeq(r.from, t.SND.UNA), r.end})
}

// recoveryDeadline is when the oldest retransmission of this recovery
// counts as lost though no later data proved it (the ACKs stopped, or
// nothing was sent after it): two round trips, a quarter more for
// reordering (RACK's reo_wnd, RFC 8985 §6.2), and the loss probe's 2 ms
// of slack. This stands in for RACK's reordering timer (§6.3); without it
// a lost retransmission at the end of recovery waits for the RTO.
func (t *TCB) recoveryDeadline() time.Time {
	// Not after a timeout: the retransmission timer, backing off, is the
	// one to repeat what may not be getting through at all (RFC 6298
	// §5.5); there only proof (a later retransmission SACKed) finds a
	// retransmission lost.
	if !t.inRecovery || len(t.rec.rtx) == 0 || t.rtt.SRTT == 0 {
		return time.Time{}
	}
	return t.rec.rtx[0].at.Add(2*t.rtt.SRTT + t.reoWnd() + 2*time.Millisecond)
}

// onRecoveryTimer runs at recoveryDeadline: the oldest retransmission is
// lost.
func (t *TCB) onRecoveryTimer(now time.Time) {
	t.pruneRetransmissions()
	if len(t.rec.rtx) == 0 {
		return
	}
	r := t.rec.rtx[0]
	t.rec.rtx = append(t.rec.rtx[:0], t.rec.rtx[1:]...)
	t.retransmissionLost(r)
	if t.pipeRules() {
		t.setPipe(now)
	}
}

// onReorderTimer runs when RACK's rule may have found a hole lost since
// the last ACK (RFC 8985 §6.3, the reordering timer): it starts recovery
// if the hole is at SND.UNA, or lets recovery send what is now lost.
func (t *TCB) onReorderTimer(now time.Time) {
	t.rec.reoAt = time.Time{}
	switch {
	case !t.sackOn || t.rec.sb.empty():
	case t.inRecovery:
		t.setPipe(now)
	case t.recover.LessEq(t.SND.UNA) && t.SND.UNA.LessThan(t.lostEdge(now)):
		t.enterRecovery(now) // as duplicateACK's RFC 6675 §5.1 bound
	case t.pipeRules():
		t.setPipe(now)
	}
}

// wcDelAckT is RFC 8985 §7.2's worst-case delayed-ACK time, added to the
// probe timeout when a single segment is in flight.
const wcDelAckT = 200 * time.Millisecond

// dupThresh is the number of duplicate ACKs that starts fast retransmit:
// three (RFC 5681 §3.2), or fewer when too little is in flight to bring
// three and no new data can go out (Early Retransmit, RFC 5827 §3.1:
// ER_thresh = oseg - 1, for 2 <= oseg < 4; one segment in flight cannot
// bring a duplicate ACK at all). With SACK it is IsLost's DupThresh too
// (RFC 5827 §3.2).
func (t *TCB) dupThresh() int {
	oseg := (t.flight() + t.sndMSS - 1) / t.sndMSS
	if oseg >= 2 && oseg < 4 && !t.SND.NXT.LessThan(t.dataEnd()) {
		return oseg - 1
	}
	return 3
}

// armTLP (re)arms the probe timeout after new data goes out or an ACK
// leaves data in flight (RFC 8985 §7.2): PTO = 2*SRTT, plus WCDelAckT with
// one segment in flight, and never later than the RTO.
func (t *TCB) armTLP(now time.Time) {
	t.rec.tlpAt = time.Time{}
	// RFC 8985 §7.2: not in fast recovery, nor in the recovery after a
	// timeout.
	if t.flight() == 0 || t.inRecovery || t.rtoRecovery() || t.rtt.SRTT == 0 || !t.State.synchronized() {
		return
	}
	pto := max(2*t.rtt.SRTT, time.Millisecond)
	if t.flight() <= t.sndMSS {
		pto += wcDelAckT
	}
	at := now.Add(pto)
	if !t.rtoAt.IsZero() && !at.Before(t.rtoAt) {
		return
	}
	t.rec.tlpAt = at
}

// onTLP sends the loss probe (RFC 8985 §7.3): a new segment if the
// receive window allows one, otherwise the last segment sent again. Its
// ACK, carrying SACK blocks, lets fast recovery repair a tail loss that
// would otherwise wait for the RTO.
func (t *TCB) onTLP(now time.Time) {
	t.rec.tlpAt = time.Time{}
	if t.flight() == 0 || t.inRecovery {
		return
	}
	t.Counters.LossProbes++
	if t.SND.NXT.LessThan(t.dataEnd()) && int(t.SND.WND) > t.flight() {
		t.rec.tlpNew = true
		return
	}
	last := t.SND.NXT
	if t.finSent {
		last = last.Add(^uint32(0))
	}
	from := t.SND.UNA
	if n := int(last.Sub(t.SND.UNA)); n > t.sndMSS {
		from = last.Add(uint32(-t.sndMSS))
	}
	t.retxOne, t.rec.retxFrom = true, from
}
