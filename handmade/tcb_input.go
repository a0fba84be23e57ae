package handmade

import "time"

// Input is SEGMENT ARRIVES (RFC 9293 §3.10.7.3 and §3.10.7.4) for a
// segment of this connection. What to answer is left for Output.
func (t *TCB) Input(seg *Segment, now time.Time) {
	t.Counters.SegmentsReceived++
	t.ackRTT = 0
	if len(seg.Payload) > 0 {
		// RFC 2883 §4: "(1) A D-SACK block is only used to report a
		// duplicate contiguous sequence of data received by the receiver
		// in the most recent packet."
		t.dsackNow = false
	}
	t.Counters.BytesReceived += uint64(len(seg.Payload))
	if seg.Flags.Has(RST) {
		t.Counters.ResetsReceived++
	}
	switch t.State {
	case Closed, Listen:
		return
	case SynSent:
		t.inSynSent(seg, now)
		return
	}
	t.inSynchronized(seg, now)
}

// inSynSent is RFC 9293 §3.10.7.3.
func (t *TCB) inSynSent(seg *Segment, now time.Time) {
	ackOK := false
	if seg.Flags.Has(ACK) {
		// First check: SEG.ACK =< ISS or SEG.ACK > SND.NXT is unacceptable:
		// <SEQ=SEG.ACK><CTL=RST> unless the segment is a RST.
		if seg.ACK.LessEq(t.ISS) || t.SND.NXT.LessThan(seg.ACK) {
			t.Counters.DroppedUnacceptable++
			t.resetFor(seg)
			// Both Linux and gVisor then retransmit the SYN soon.
			return
		}
		ackOK = t.SND.UNA.LessThan(seg.ACK) || seg.ACK == t.SND.NXT
	}
	if seg.Flags.Has(RST) {
		// Second check: with an acceptable ACK the connection is refused;
		// without an ACK, drop (RFC 5961 §3.2 blind-reset protection).
		if ackOK {
			t.enterClosed(ErrRefused)
		}
		return
	}
	if !seg.Flags.Has(SYN) {
		// Fifth check: neither SYN nor RST: drop.
		return
	}
	// Fourth check: SYN.
	t.IRS = seg.SEQ
	t.RCV.NXT = seg.SEQ.Add(1)
	t.RCV.UP = t.RCV.NXT // no urgent data yet; compared modulo 2^32 from here
	// RCV.WND is the window our SYN offered, now that RCV.NXT is known
	// (RFC 9293 §3.10.7.4 first check: "RCV.NXT =< SEG.SEQ <
	// RCV.NXT+RCV.WND"); the SYN went out before RCV.NXT was set.
	t.RCV.edge = t.RCV.NXT.Add(uint32(t.synWindow()))
	t.lastRecvAt = now
	t.takeRoute(seg) // RFC 9293 §3.9.2.1, SHLD-24; the application's stays (MUST-52)
	t.takeSynOptions(seg, false)
	if ackOK {
		t.SND.UNA = seg.ACK
		t.retxNext = t.SND.NXT
	}
	if t.ISS.LessThan(t.SND.UNA) {
		// Our SYN is acknowledged: ESTABLISHED and
		// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
		if t.rttTimingSYN() {
			t.sampleRTT(now.Sub(t.rttSentAt))
		}
		// Deviation: RFC 9293 §3.10.7.3 goes on to the sixth step with any
		// text or FIN on the SYN-ACK; like the SYN's (openPassive) we drop
		// them unacknowledged and the peer resends them.
		t.rtoAt, t.retries = time.Time{}, 0
		t.SND.WND = uint32(seg.WND) // RFC 7323 §2.2: not scaled on a SYN
		t.SND.maxWND = t.SND.WND
		t.SND.WL1, t.SND.WL2 = seg.SEQ, seg.ACK
		t.State = Established
		t.established = true
		t.ackNow = true
		t.progressAt = now
		t.armKeepalive(now)
		return
	}
	// Simultaneous open (RFC 9293 §3.5, Figure 8): SYN-RECEIVED and
	// <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
	t.State = SynReceived
	t.SND.WND = uint32(seg.WND)
	t.synPending = true
	t.rtoAt = time.Time{}
}

// rttTimingSYN reports whether the SYN was sent once only, so its round
// trip is a valid sample (Karn's rule, RFC 6298 §3).
func (t *TCB) rttTimingSYN() bool { return t.retries == 0 && !t.rttSentAt.IsZero() }

// resetFor queues <SEQ=SEG.ACK><CTL=RST> for seg, never for a RST (RFC
// 9293 §3.10.7.1 and §3.5.2).
func (t *TCB) resetFor(seg *Segment) {
	if seg.Flags.Has(RST) {
		return
	}
	t.rst = &Segment{SEQ: seg.ACK, Flags: RST}
}

// acceptable is the first check of RFC 9293 §3.10.7.4: the four cases of
// segment length and receive window, against the window we advertised.
func (t *TCB) acceptable(seg *Segment) bool {
	n := seg.LEN()
	wnd := uint32(0)
	if t.RCV.NXT.LessThan(t.RCV.edge) {
		wnd = t.RCV.edge.Sub(t.RCV.NXT)
	}
	switch {
	case n == 0 && wnd == 0:
		return seg.SEQ == t.RCV.NXT
	case n == 0:
		return seg.SEQ.InWindow(t.RCV.NXT, wnd)
	case wnd == 0:
		return false
	default:
		return seg.SEQ.InWindow(t.RCV.NXT, wnd) || seg.SEQ.Add(n-1).InWindow(t.RCV.NXT, wnd)
	}
}

// zeroWindowAllowance reports a segment that is unacceptable only because
// the receive window is shut: it starts at RCV.NXT and carries text or a
// FIN (RFC 9293 §3.10.7.4, first check).
func (t *TCB) zeroWindowAllowance(seg *Segment) bool {
	return seg.SEQ == t.RCV.NXT && !t.RCV.NXT.LessThan(t.RCV.edge) && seg.LEN() > 0 && !seg.Flags.Has(SYN)
}

// challengeACK queues a challenge ACK unless this connection has sent its
// quota this second (RFC 5961 §7).
func (t *TCB) challengeACK(now time.Time) {
	if now.Sub(t.chalRefillAt) >= time.Second {
		t.chalTokens, t.chalRefillAt = t.cfg.ChallengeACKLimit, now
	}
	if t.chalTokens <= 0 {
		t.Counters.ChallengeACKsSuppressed++
		return
	}
	t.chalTokens--
	t.Counters.ChallengeACKs++
	t.ackNow = true
}

// tsOlder reports a < b in timestamp space (RFC 7323 §5.3: modulo 2^32).
func tsOlder(a, b uint32) bool { return int32(a-b) < 0 }

// inSynchronized is RFC 9293 §3.10.7.4 for SYN-RECEIVED and later, in the
// RFC's order of checks.
func (t *TCB) inSynchronized(seg *Segment, now time.Time) {
	if t.State == SynReceived && seg.Flags&(SYN|ACK|RST) == SYN && seg.SEQ == t.IRS {
		// Deviation: RFC 9293 §3.10.7.4's first check answers a
		// retransmitted SYN with an ACK; like Linux (tcp_check_req) we
		// resend the SYN-ACK, which is what a peer whose SYN-ACK was lost
		// needs.
		t.synPending = true
		t.Counters.Retransmissions++
		return
	}
	if t.tsOn && !seg.Options.HasTimestamps && !seg.Flags.Has(RST) {
		// RFC 7323 §3.2: "If a non-<RST> segment is received without a
		// TSopt, a TCP SHOULD silently drop the segment. A received <RST>
		// segment MUST NOT be dropped".
		t.Counters.DroppedNoTimestamp++
		return
	}
	// RFC 7323 §5.3 R1 (PAWS), before the sequence check: a segment whose
	// TSval is older than TS.Recent is a duplicate; drop it and ACK.
	if t.tsOn && seg.Options.HasTimestamps && !seg.Flags.Has(RST) && tsOlder(seg.Options.TSVal, t.tsRecent) {
		t.Counters.DroppedPAWS++
		t.ackNow = true
		// A segment sent before the one that set TS.Recent: the original
		// of a retransmission that overtook it, often a duplicate.
		t.noteDuplicate(seg.SEQ, len(seg.Payload))
		return
	}
	// First check: sequence number.
	if !t.acceptable(seg) && t.zeroWindowAllowance(seg) {
		// RFC 9293 §3.10.7.4 first check: "If the RCV.WND is zero, no
		// segments will be acceptable, but special allowance should be
		// made to accept valid ACKs, URGs, and RSTs." A segment at RCV.NXT
		// whose text (or FIN) does not fit the shut window goes on without
		// them, and the refusal is acknowledged.
		t.Counters.DroppedUnacceptable++
		trimmed := *seg
		trimmed.Payload, trimmed.Flags = nil, seg.Flags&^FIN
		seg = &trimmed
		t.ackNow = true
	} else if !t.acceptable(seg) {
		t.Counters.DroppedUnacceptable++
		if seg.Flags.Has(RST) {
			return
		}
		if t.State == TimeWait && seg.Flags.Has(FIN) {
			// RFC 9293 §3.10.7.4 eighth check (TIME-WAIT): a retransmitted
			// FIN is acknowledged and restarts the 2 MSL timeout.
			t.timeWaitAt = now.Add(t.cfg.TimeWait)
		}
		// "If an incoming segment is not acceptable, an acknowledgment
		// should be sent in reply". One wholly below RCV.NXT is a
		// duplicate, for the ACK's D-SACK block.
		t.ackNow = true
		t.noteDuplicate(seg.SEQ, len(seg.Payload))
		return
	}
	t.lastRecvAt = now
	t.armKeepalive(now)
	// RFC 9293 §3.9.2.1 (SHLD-24): a later source route overrides the
	// earlier one, once the segment is known to be in the window.
	t.takeRoute(seg)
	// Second check: RST.
	if seg.Flags.Has(RST) {
		if seg.SEQ != t.RCV.NXT {
			// RFC 5961 §3.2: an in-window RST that is not exact earns a
			// challenge ACK.
			t.challengeACK(now)
			return
		}
		switch t.State {
		case SynReceived:
			if t.passive {
				// Passive OPEN: back to LISTEN, which for a listener's
				// child means the half-open connection is gone.
				t.enterClosed(ErrReset)
				return
			}
			t.enterClosed(ErrRefused)
		case Closing, LastAck, TimeWait:
			t.enterClosed(nil)
		default:
			t.enterClosed(ErrReset)
		}
		return
	}
	// Third check (security and precedence) does not apply: no IPv4
	// security option is sent or honoured.
	// Fourth check: SYN.
	if seg.Flags.Has(SYN) && t.State == SynReceived && t.passive {
		// RFC 9293 §3.10.7.4 fourth check, SYN-RECEIVED: "If the
		// connection was initiated with a passive OPEN, then return this
		// connection to the LISTEN state and return." For a listener's
		// child that means the half-open connection is gone.
		t.enterClosed(ErrReset)
		return
	}
	if seg.Flags.Has(SYN) {
		// RFC 5961 §4.2 (RFC 9293 §3.10.7.4 fourth check): challenge ACK.
		t.challengeACK(now)
		return
	}
	// Fifth check: ACK.
	if !seg.Flags.Has(ACK) {
		// RFC 9293 §3.10.7.4 fifth check: if the ACK bit is off, drop.
		t.Counters.DroppedNoACK++
		return
	}
	if t.tsOn && seg.Options.HasTimestamps && seg.SEQ.LessEq(t.lastACKSent) {
		// RFC 7323 §4.3 (2): remember the newest timestamp of a segment
		// that covers Last.ACK.sent.
		if !tsOlder(seg.Options.TSVal, t.tsRecent) {
			t.tsRecent = seg.Options.TSVal
		}
	}
	if t.State == SynReceived {
		if !(t.SND.UNA.LessThan(seg.ACK) && seg.ACK.LessEq(t.SND.NXT)) {
			// SYN-RECEIVED: an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>.
			t.Counters.DroppedUnacceptable++
			t.resetFor(seg)
			return
		}
		if t.retries == 0 && !t.rttSentAt.IsZero() {
			t.sampleRTT(now.Sub(t.rttSentAt))
		}
		t.State = Established
		t.established = true
		t.SND.UNA = seg.ACK
		t.retxNext = t.SND.NXT
		t.rtoAt, t.retries = time.Time{}, 0
		t.SND.WND = uint32(seg.WND) << t.SND.Shift
		t.SND.maxWND = t.SND.WND
		t.SND.WL1, t.SND.WL2 = seg.SEQ, seg.ACK
		t.progressAt = now
		t.armKeepalive(now)
		if t.finQueued { // closed before the handshake completed
			t.State = FinWait1
		}
	}
	if !t.processACK(seg, now) {
		return
	}
	// Sixth check: URG. The urgent pointer is recorded and the data taken
	// inline (RFC 9293 §3.8.5, MUST-30 and MUST-31: urgent data must not
	// stall the stream; RFC 6093 advises inline delivery).
	if seg.Flags.Has(URG) {
		t.Counters.Urgent++
		if up := seg.SEQ.Add(uint32(seg.UP)); t.RCV.UP.LessThan(up) {
			t.RCV.UP = up
		}
	}
	// Seventh and eighth checks.
	t.processText(seg, now)
}

// processACK is the fifth check of RFC 9293 §3.10.7.4 for ESTABLISHED and
// later states; it reports whether processing goes on.
func (t *TCB) processACK(seg *Segment, now time.Time) bool {
	if t.SND.NXT.LessThan(seg.ACK) {
		// "If the ACK acks something not yet sent (SEG.ACK > SND.NXT) then
		// send an ACK, drop the segment, and return."
		t.Counters.DroppedACKTooNew++
		t.ackNow = true
		return false
	}
	if seg.ACK.LessThan(t.SND.UNA.Add(-t.SND.maxWND)) {
		// RFC 9293 §3.10.7.4 fifth check (RFC 5961 §5.2, MAY-12): "the
		// ACK value is considered acceptable only if it is in the range
		// of ((SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT). All incoming
		// segments whose ACK value doesn't satisfy the above condition
		// MUST be discarded and an ACK sent back."
		t.Counters.DroppedUnacceptable++
		t.ackNow = true
		return false
	}
	ackOld := seg.ACK.LessThan(t.SND.UNA) // "a duplicate ... can be ignored"
	wndBefore := t.SND.WND
	// RFC 2883 §5: a D-SACK is judged against "the cumulative ACK which
	// is carried IN THE SAME PACKET", and "An implementation MUST NOT
	// compare the sequence space in the SACK block to the TCP state
	// variable snd.una ... as this may result in the wrong conclusion if
	// ACK packets are reordered": an old ACK's D-SACK counts too.
	dsack := t.sackOn && isDSACK(seg)
	if dsack {
		t.dsackArrived(seg.Options.SACK[0])
	}
	if !ackOld {
		t.ackArrived(seg, now, wndBefore, dsack)
	} else if dsack {
		t.maybeUndo(0)
	}
	// RFC 9293 §3.10.7.4 fifth check: "If SND.UNA =< SEG.ACK =< SND.NXT,
	// the send window should be updated" if the segment is newer (SND.WL1
	// < SEG.SEQ, or equal and SND.WL2 =< SEG.ACK).
	if !ackOld && (t.SND.WL1.LessThan(seg.SEQ) || (t.SND.WL1 == seg.SEQ && t.SND.WL2.LessEq(seg.ACK))) {
		t.SND.WND = uint32(seg.WND) << t.SND.Shift
		t.SND.WL1, t.SND.WL2 = seg.SEQ, seg.ACK
		t.SND.maxWND = max(t.SND.maxWND, t.SND.WND)
		if t.SND.WND > 0 {
			t.persistAt, t.persistBackoff = time.Time{}, 0
		}
	}
	if t.SND.WND == 0 && t.flight() > 0 && seg.ACK == t.SND.UNA {
		// RFC 9293 §3.8.6: the peer shrank its window to zero with our
		// text in flight, all of it now past the right edge; the sender
		// "SHOULD NOT time out the connection if data beyond the right
		// window edge is not acknowledged (SHLD-17)". Our retransmissions
		// are probes of the shut window, and an ACK of one says the peer
		// is there: R2 counts afresh, as answered zero-window probes keep
		// a connection open (§3.8.6.1, MUST-37). Linux likewise does not
		// time out a zero window while ACKs come (tcp_retransmit_timer);
		// the user timeout still applies (RFC 5482), as there.
		t.retries = 0
	}
	finAcked := t.finSent && seg.ACK == t.SND.NXT
	switch t.State {
	case FinWait1:
		if finAcked {
			t.State = FinWait2
			if t.rcvClosed {
				// An orphaned connection does not wait forever for the
				// peer's FIN (Linux tcp_fin_timeout).
				t.finWait2At = now.Add(t.cfg.FinWait2)
			}
		}
	case Closing:
		if finAcked {
			t.enterTimeWait(now)
		}
		return false
	case LastAck:
		if finAcked {
			t.enterClosed(nil)
		}
		return false
	case TimeWait:
		// The only thing that can arrive is a retransmission of the
		// remote FIN: acknowledge it and restart the 2 MSL timeout.
		if seg.Flags.Has(FIN) {
			t.ackNow = true
			t.timeWaitAt = now.Add(t.cfg.TimeWait)
		}
		return false
	}
	return true
}

// sampleRTT feeds a round-trip sample to the RFC 6298 estimator and keeps
// it for congestion control (Ack.RTT), unless the ACK's timestamp gives
// one (newlyAcked).
func (t *TCB) sampleRTT(r time.Duration) {
	if t.rec.adaptRTO {
		t.adaptRTO(r)
	} else {
		t.rtt.Sample(r)
	}
	t.ackRTT = r
}

// newlyAcked handles SND.UNA < SEG.ACK =< SND.NXT: drop acknowledged data,
// sample the RTT, run the retransmission timer; it returns the octets
// acknowledged.
func (t *TCB) newlyAcked(seg *Segment, now time.Time, dsack bool) int {
	acked := int(seg.ACK.Sub(t.SND.UNA))
	// RFC 3522: the Eifel detection, on the ACK's echo of the segment
	// that filled the hole at SND.UNA.
	spurTO := t.eifel(seg, t.SND.UNA, dsack)
	data := acked
	if t.finSent && seg.ACK == t.SND.NXT {
		data-- // the FIN takes a sequence number, not a buffer octet
	}
	t.sndBuf.Discard(data)
	t.SND.UNA = seg.ACK
	if t.retxNext.LessThan(t.SND.UNA) {
		t.retxNext = t.SND.UNA
	}
	t.progressAt = now
	t.retries = 0
	switch {
	case t.rttTiming && t.rttSeq.LessThan(seg.ACK):
		// RFC 6298 §2: a sample from a segment sent once (Karn's rule).
		t.rttTiming, t.rtoBackedOff = false, false
		t.sampleRTT(now.Sub(t.rttSentAt))
	case t.rtoBackedOff && t.tsOn && seg.Options.HasTimestamps && !spurTO &&
		!(t.rec.adaptRTO && tsOlder(seg.Options.TSEcr, t.rec.adaptTS)):
		// After a timeout Karn's rule leaves no segment timed until the
		// go-back is over and new data goes out, and the RTO stays backed
		// off (RFC 6298 §5.5) however well the retransmissions fare; a
		// loss or two more double it again. RFC 6298 §3: "The only case
		// when TCP can safely take RTT samples from retransmitted segments
		// is when the TCP timestamp option [JBB92] is employed"; RFC 7323
		// §4.1, RTTM: "A TSecr value received in a segment MAY be used to
		// update the averaged RTT measurement only if the segment
		// advances the left edge of the send window". After a spurious
		// timeout, RFC 4015 §3.1 adapts the timer on a sample of data
		// sent after it: not one echoing a segment sent before
		// (RetransmitTS, adaptTS).
		if d := int32(t.tsNow(now) - seg.Options.TSEcr); d >= 0 {
			t.rtoBackedOff = false
			t.sampleRTT(time.Duration(d) * (time.Second / tsHz))
		}
	}
	if t.tsOn && seg.Options.HasTimestamps {
		// Congestion control's sample (Ack.RTT), apart from the RFC 6298
		// estimator's one per round trip: HyStart++ wants several each
		// round (RFC 9406 §4.2, N_RTT_SAMPLE). RFC 7323 §4.1: "A TSecr
		// value received in a segment MAY be used to update the averaged
		// RTT measurement only if the segment advances the left edge of
		// the send window", as this one does; §4.2 has it "RTTM on every
		// ACK". A sample under one tick (1 ms) says nothing and is left
		// out.
		if d := int32(t.tsNow(now) - seg.Options.TSEcr); d > 0 {
			t.ackRTT = time.Duration(d) * (time.Second / tsHz)
		}
	}
	// RFC 6298 §5.2 and §5.3: stop the timer when everything is
	// acknowledged, otherwise restart it. During NewReno's fast recovery
	// this is RFC 6582 §4's "Slow-but-Steady" variant: the timer restarts
	// on every partial ACK, as RFC 6298 asks, not the first only.
	if t.SND.UNA == t.SND.NXT {
		t.rtoAt = time.Time{}
	} else {
		t.rtoAt = now.Add(t.rtt.RTO)
	}
	t.armTLP(now) // RFC 8985 §7.2: re-arm on an ACK that leaves data in flight
	return acked
}

// processText is the seventh and eighth checks of RFC 9293 §3.10.7.4.
func (t *TCB) processText(seg *Segment, now time.Time) {
	seq, text, fin := seg.SEQ, seg.Payload, seg.Flags.Has(FIN)
	switch t.State {
	case Established, FinWait1, FinWait2:
	default:
		// CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: a FIN has arrived, so
		// text cannot occur; ignore it.
		return
	}
	if t.rcvClosed && len(text) > 0 && t.RCV.NXT.LessThan(seq.Add(uint32(len(text)))) {
		// Deviation: RFC 9293 leaves this open; like Linux (tcp_rcv_state_process,
		// "data after close") we reset a connection whose user will never
		// read the new data.
		t.rst = &Segment{SEQ: t.SND.NXT, Flags: RST}
		t.enterClosed(ErrAborted)
		return
	}
	t.noteDuplicate(seq, len(text))
	if seq.LessThan(t.RCV.NXT) {
		// RFC 9293 §3.10.7.4: of a segment that straddles RCV.NXT only the
		// new part is processed.
		skip := t.RCV.NXT.Sub(seq)
		if skip >= uint32(len(text)) {
			if len(text) > 0 {
				t.Counters.DuplicateData += uint64(len(text))
				t.ackNow = true // RFC 5681 §4.2: a duplicate segment is ACKed at once
			}
			skip = uint32(len(text))
		} else {
			t.Counters.DuplicateData += uint64(skip)
		}
		text, seq = text[skip:], seq.Add(skip)
	}
	// Trim what lies beyond the window we advertised, and with it the FIN.
	if room := t.RCV.edge.Sub(seq); !seq.LessThan(t.RCV.edge) {
		text, fin = nil, false
	} else if uint32(len(text)) > room {
		text, fin = text[:room], false
	}
	if t.RCV.NXT.LessThan(seq) {
		// Beyond RCV.NXT: hold it for reassembly and send a duplicate ACK
		// at once, with SACK blocks (RFC 9293 §3.10.7.4 "should be held";
		// RFC 5681 §4.2; RFC 2018 §4).
		// A segment with neither (a bare ACK from a peer whose text was
		// lost) has nothing to acknowledge: the seventh and eighth checks
		// act on text and FIN only.
		if len(text) > 0 || fin {
			t.Counters.OutOfOrder++
			t.ooo.hold(seq, text, fin)
			t.ackNow = true
		}
		return
	}
	if len(text) > 0 {
		hadGap := t.ooo.Len() > 0
		t.deliver(text)
		t.rcvRTTFromTS(seg, len(text), now)
		for !fin {
			h, ok := t.ooo.next(t.RCV.NXT)
			if !ok {
				break
			}
			t.deliver(h.data)
			fin = h.fin
		}
		if hadGap {
			// RFC 5681 §4.2: a segment that fills a gap is ACKed at once.
			t.ackNow = true
		}
		t.rcvRTTFromWindow(now)
		t.scheduleACK(len(text), now)
	}
	// Eighth check: FIN, once every octet before it has arrived.
	if fin {
		t.RCV.NXT = t.RCV.NXT.Add(1)
		t.ackNow = true
		switch t.State {
		case Established:
			t.State = CloseWait
		case FinWait1:
			if t.finSent && seg.ACK == t.SND.NXT {
				t.enterTimeWait(now)
			} else {
				t.State = Closing
			}
		case FinWait2:
			t.enterTimeWait(now)
		}
	}
}

// noteDuplicate records, for the next ACK's D-SACK block, the first run
// of the n octets from seq that were already received: below RCV.NXT, or
// held out of order (RFC 2883 §4), and has the ACK sent at once. Only
// with SACK in use: "The use of D-SACK does not require separate
// negotiation between a TCP sender and receiver that have already
// negotiated SACK capability" (RFC 2883 §2).
func (t *TCB) noteDuplicate(seq Seq, n int) {
	if !t.sackOn || n == 0 {
		return
	}
	end := seq.Add(uint32(n))
	var dup SACKBlock
	switch {
	case seq.LessThan(t.RCV.NXT):
		// A sequence number more than a window old is not a duplicate
		// of anything this connection still knows of.
		if t.RCV.NXT.Sub(seq) > uint32(65535)<<t.RCV.Shift {
			return
		}
		// RFC 2883 §4: "(3) The left edge of the D-SACK block specifies
		// the first sequence number of the duplicate contiguous sequence,
		// and the right edge of the D-SACK block specifies the sequence
		// number immediately following the last sequence in the duplicate
		// contiguous sequence." Of a segment that straddles RCV.NXT only
		// the part below it is a duplicate.
		dup = SACKBlock{seq, minSeq(end, t.RCV.NXT)}
	default:
		var ok bool
		if dup, ok = t.ooo.duplicate(seq, end); !ok {
			return
		}
	}
	t.dsack, t.dsackNow = dup, true
	// RFC 2883 §2 changes nothing of "the TCP receiver's decision of
	// *when* to send an acknowledgement packet"; RFC 5681 §4.2 ACKs an
	// out-of-order segment at once, and so does Linux a duplicate
	// (tcp_data_queue, "Force an immediate ack"). A D-SACK held back by
	// the delayed-ACK timer would be dropped by the next segment's
	// arrival (rule (1) above).
	t.ackNow = true
}

// deliver queues in-order text for the application. All of it: text
// is trimmed to the window we advertised, which the buffer had room for
// then (WriteAll), even if SetRecvBuffer lowered it since.
func (t *TCB) deliver(text []byte) {
	n := t.rcvBuf.WriteAll(text)
	t.RCV.NXT = t.RCV.NXT.Add(uint32(n))
}

// scheduleACK acknowledges in-order data at once or after the delayed-ACK
// timeout: every second full-sized segment, or 2*RMSS octets of new data,
// is ACKed at once (RFC 9293 §3.8.6.3, SHLD-19), and no ACK waits longer
// than the timeout (MUST-40: under 0.5 s).
func (t *TCB) scheduleACK(n int, now time.Time) {
	if t.cfg.DisableDelayedACK {
		t.ackNow = true
		return
	}
	if n >= t.sndMSS || n >= t.cfg.MSS-t.optionSpace() {
		t.unackedSegs++
	}
	t.unackedBytes += n
	// RFC 9293 §3.8.6.3 (SHLD-19): "An ACK SHOULD be generated for at least
	// every second full-sized segment or 2*RMSS bytes of new data (where
	// RMSS is the MSS specified by the TCP endpoint receiving the
	// segments...)": ours, cfg.MSS. Counting segments alone left a peer
	// that sends less than full-sized segments waiting out the timer for
	// every ACK (found by the compare bench, DT-01b).
	if t.unackedSegs >= 2 || t.unackedBytes >= 2*t.cfg.MSS {
		t.ackNow = true
		return
	}
	if t.delackAt.IsZero() {
		t.delackAt = now.Add(t.cfg.DelayedACKTimeout)
	}
}
