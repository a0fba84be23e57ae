package handmade

import "time"

// Output fills seg with the next segment to send and reports whether there
// is one. Its payload is copied into buf, which must hold at least one
// MSS. The driver calls Output until it reports false.
func (t *TCB) Output(now time.Time, seg *Segment, buf []byte) bool {
	// RFC 9293 §3.9.2.1: the route is used "for all segments sent on
	// this connection" (MUST-53), RSTs included.
	*seg = Segment{Src: t.Local, Dst: t.Remote, Route: t.route}
	if r := t.rst; r != nil {
		t.rst = nil
		seg.SEQ, seg.ACK, seg.Flags = r.SEQ, r.ACK, r.Flags
		if t.tsOn {
			// RFC 7323 §3.2: once negotiated, TSopt "SHOULD be sent in an
			// <RST> segment".
			seg.Options.HasTimestamps, seg.Options.TSVal, seg.Options.TSEcr = true, t.tsNow(now), t.tsRecent
		}
		t.Counters.ResetsSent++
		t.count(seg)
		return true
	}
	switch t.State {
	case Closed, Listen:
		return false
	case SynSent, SynReceived:
		if !t.synPending {
			return t.pureACK(now, seg)
		}
		t.synPending = false
		if t.retries == 0 {
			t.rttSentAt = now
		}
		t.fillSYN(now, seg)
		if t.rtoAt.IsZero() {
			t.rtoAt = now.Add(t.rtt.RTO)
		}
		t.count(seg)
		return true
	}
	if t.sendData(now, seg, buf) {
		return true
	}
	return t.pureACK(now, seg)
}

// fillSYN makes our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) with the
// options we offer (RFC 9293 §3.10.1 and §3.10.7.2): MSS always (MUST-14),
// window scale, timestamps and SACK-permitted as configured and, on a
// SYN-ACK, only if the peer offered them.
func (t *TCB) fillSYN(now time.Time, seg *Segment) {
	seg.SEQ, seg.Flags = t.ISS, SYN
	// RFC 7323 §2.2: the window of a SYN or SYN-ACK is never scaled.
	seg.WND = t.synWindow()
	o := &seg.Options
	o.MSS, o.HasMSS = uint16(min(t.cfg.MSS, 65535)), true
	active := t.State == SynSent
	if (active && !t.cfg.DisableWindowScale) || (!active && t.wsOffered) {
		// RFC 7323 §2.3: sized from the largest the buffer may grow to.
		o.WScale, o.HasWScale = rcvShift(t.cfg.MaxRecvBuffer), true
		if active {
			t.RCV.Shift = o.WScale
		}
	}
	if (active && !t.cfg.DisableTimestamps) || (!active && t.tsOn) {
		o.HasTimestamps, o.TSVal = true, t.tsNow(now)
		if !active {
			o.TSEcr = t.tsRecent
		}
	}
	o.SACKPermitted = (active && !t.cfg.DisableSACK) || (!active && t.sackOn)
	if !active {
		seg.Flags |= ACK
		seg.ACK = t.RCV.NXT
		t.lastACKSent = t.RCV.NXT
	}
	t.RCV.edge = t.RCV.NXT.Add(uint32(seg.WND))
}

// synWindow is the window field of our SYN or SYN-ACK: unscaled (RFC 7323
// §2.2), so at most 65535.
func (t *TCB) synWindow() uint16 { return uint16(min(t.rcvBuf.Free(), 65535)) }

// fillACK sets the acknowledgement fields every synchronized segment
// carries: ACK=RCV.NXT, the window (RFC 9293 §3.8.6.2.2 for when it may
// grow; never shrunk), timestamps (RFC 7323 §3.2) and SACK blocks (RFC 2018
// §4), and clears the pending-ACK state.
func (t *TCB) fillACK(now time.Time, seg *Segment) {
	seg.Flags |= ACK
	seg.ACK = t.RCV.NXT
	seg.WND = t.advertise()
	t.rcvRTTWindowSent(now)
	if t.tsOn {
		seg.Options.HasTimestamps, seg.Options.TSVal, seg.Options.TSEcr = true, t.tsNow(now), t.tsRecent
		t.tsSentAt(seg.Options.TSVal, now)
	}
	if t.sackOn && (t.ooo.Len() > 0 || t.dsackNow) {
		t.fillSACK(&seg.Options)
	}
	t.lastACKSent = t.RCV.NXT
	t.ackNow, t.unackedSegs, t.unackedBytes, t.delackAt = false, 0, 0, time.Time{}
}

// advertise computes the window field: what the receive buffer can take,
// moved right only in steps of at least min(half the buffer, one MSS)
// (receiver SWS avoidance, RFC 9293 §3.8.6.2.2, MUST-39), never left
// (RFC 9293 §3.8.6: the receiver "SHOULD NOT shrink the window", SHLD-14;
// RFC 7323 §2.4), scaled by Rcv.Wind.Shift.
func (t *TCB) advertise() uint16 {
	could := t.RCV.NXT.Add(uint32(t.rcvBuf.Free()))
	if t.RCV.edge.LessThan(t.RCV.NXT) {
		t.RCV.edge = t.RCV.NXT
	}
	old, target := t.RCV.edge, t.RCV.edge
	if old.LessThan(could) && (int(could.Sub(old)) >= min(t.rcvBuf.Cap()/2, t.cfg.MSS) || old == t.RCV.NXT) {
		target = could
	}
	// RFC 7323 §2.4: the scaled field says the window only to 2^shift
	// octets, and the peer computes the edge as SEG.ACK + (SEG.WND <<
	// shift). Rounded down, that edge moves left of the one it was given
	// as RCV.NXT advances by less than the granularity (gVisor lets it).
	// We round down when that still reaches the old edge, and otherwise
	// up, just far enough, as Linux does (tcp_select_window: ALIGN), so
	// the edge does not move left and the edge we accept to is exactly
	// the one advertised. Rounding up promises a little more than the
	// buffer has room for, which it takes (ring.WriteAll).
	w := target.Sub(t.RCV.NXT) >> t.RCV.Shift
	if t.RCV.NXT.Add(w << t.RCV.Shift).LessThan(old) {
		up := (old.Sub(t.RCV.NXT) + 1<<t.RCV.Shift - 1) >> t.RCV.Shift
		// Deviation: rounding up again on every ACK of a filling buffer
		// promises up to 2^shift-1 octets more each time (about g/MSS of
		// the window, 9% at shift 7, while it fills), and would keep the
		// window open forever to a sender of segments smaller than the
		// granularity. Linux bounds that by dropping data over its memory
		// limit; we let the buffer go an eighth (or one granularity, if
		// more) past the largest it has been (Peak, which honours windows
		// advertised before SetRecvBuffer lowered it), and past that round
		// down, moving the edge left by less than 2^shift, as gVisor
		// always does.
		if int(t.RCV.NXT.Add(up<<t.RCV.Shift).Sub(t.readSeq())) <= t.rcvBuf.Peak()+max(t.rcvBuf.Peak()/8, 1<<t.RCV.Shift) {
			w = up
		}
	}
	if w > 65535 {
		// The field caps the window: RCV.WND, and with it what the first
		// check accepts (RFC 9293 §3.10.7.4: "RCV.NXT =< SEG.SEQ <
		// RCV.NXT+RCV.WND"), is what we advertise, not the buffer. The
		// edge is not moved left of a window already advertised: that
		// one was capped the same way from an older RCV.NXT.
		w = 65535
	}
	t.RCV.edge = t.RCV.NXT.Add(w << t.RCV.Shift)
	return uint16(w)
}

// fillSACK reports up to three blocks (four without timestamps): a
// D-SACK block first if a duplicate arrived (RFC 2883 §4), then the held
// blocks, the most recently received first (RFC 2018 §4).
func (t *TCB) fillSACK(o *Options) {
	limit := 4
	if t.tsOn {
		limit = 3
	}
	n := 0
	larger := -1 // the index in blocks of the D-SACK's block, if any
	if t.dsackNow {
		// RFC 2883 §4: "When D-SACK is used, the first block of the SACK
		// option should be a D-SACK block specifying the sequence numbers
		// for the duplicate segment that triggers the acknowledgement";
		// "(2) Each duplicate contiguous sequence of data received is
		// reported in at most one D-SACK block."
		o.SACK[0], n = t.dsack, 1
		t.dsackNow = false
		t.Counters.DSACKsSent++
	}
	blocks := t.ooo.blocks()
	if n == 1 {
		// RFC 2883 §4: "(4) If the D-SACK block reports a duplicate
		// contiguous sequence from a (possibly larger) block of data in
		// the receiver's data queue above the cumulative acknowledgement,
		// then the second SACK block in that SACK option should specify
		// that (possibly larger) block of data."
		for i, b := range blocks {
			if b.Left.LessEq(t.dsack.Left) && t.dsack.Right.LessEq(b.Right) {
				o.SACK[1], n, larger = b, 2, i
				break
			}
		}
	}
	// RFC 2883 §4: "(5) Following the SACK blocks described above for
	// reporting duplicate segments, additional SACK blocks can be used
	// for reporting additional blocks of data, as specified in RFC 2018."
	for i, b := range blocks {
		if n == limit {
			break
		}
		if i == larger {
			continue
		}
		o.SACK[n] = b
		n++
	}
	o.NumSACK = n
}

func (t *TCB) pureACK(now time.Time, seg *Segment) bool {
	if !t.ackNow && (t.delackAt.IsZero() || now.Before(t.delackAt)) {
		return false
	}
	if t.State == SynSent || !t.State.synchronized() && t.State != SynReceived {
		t.ackNow = false
		return false
	}
	seg.SEQ = t.SND.NXT
	t.fillACK(now, seg)
	t.count(seg)
	return true
}

func (t *TCB) count(seg *Segment) {
	t.Counters.SegmentsSent++
	t.Counters.BytesSent += uint64(len(seg.Payload))
}

// flight is the octets sent and not yet acknowledged.
func (t *TCB) flight() int { return int(t.SND.NXT.Sub(t.SND.UNA)) }

// dataEnd is the sequence number after the last octet queued to send.
func (t *TCB) dataEnd() Seq { return t.SND.UNA.Add(uint32(t.sndBuf.Len())) }

// sendData sends one segment of data (retransmitted or new) or the FIN, as
// the windows, Nagle and sender SWS avoidance allow.
func (t *TCB) sendData(now time.Time, seg *Segment, buf []byte) bool {
	switch t.State {
	case Established, CloseWait, FinWait1, Closing, LastAck:
	default:
		return false
	}
	if t.SND.UNA == t.ISS { // our SYN is not acknowledged yet
		return false
	}
	if t.probeNow {
		t.probeNow = false
		// RFC 9293 §3.8.4 (SHLD-12) and RFC 1122 §4.2.3.6: a keep-alive
		// probe is SEG.SEQ = SND.NXT-1 with no data; it is out of window
		// and elicits an ACK with the window.
		// Deviation: RFC 9293 §3.8.6.1 probes a zero window with "at
		// least one octet of new data"; like Linux (tcp_xmit_probe_skb)
		// we send the same empty <SEQ=SND.UNA-1> (= SND.NXT-1: nothing is
		// in flight), which draws the same ACK without queueing an octet
		// the receiver must refuse.
		seg.SEQ = t.SND.NXT.Add(^uint32(0))
		t.fillACK(now, seg)
		t.count(seg)
		return true
	}
	from, n, fin, kind, ok := t.pickSegment(now)
	if !ok {
		return false
	}
	retransmit := kind != segNew
	seg.SEQ = from
	end := t.dataEnd()
	if n > 0 {
		t.sndBuf.Peek(int(from.Sub(t.SND.UNA)), buf[:n])
		seg.Payload = buf[:n]
		if from.Add(uint32(n)) == end {
			seg.Flags = PSH // RFC 9293 §3.9.1: push the last queued octet
		}
	}
	if fin {
		seg.Flags |= FIN
	}
	t.fillACK(now, seg)
	t.markUrgent(seg)
	nxt := from.Add(uint32(n))
	if fin {
		nxt = nxt.Add(1)
	}
	if retransmit {
		t.Counters.Retransmissions++
		if kind == segGoBack {
			t.retxNext = nxt
		}
		// Karn's rule (RFC 6298 §3): no sample from a retransmitted segment.
		if t.rttTiming && from.LessEq(t.rttSeq) {
			t.rttTiming = false
		}
	} else {
		t.SND.NXT = nxt
		if !t.retxNext.LessThan(from) {
			t.retxNext = nxt
		}
		if fin {
			t.finSent = true
		}
		if !t.rttTiming {
			t.rttTiming, t.rttSeq, t.rttSentAt = true, from, now
		}
	}
	t.sent(kind, from, nxt, now)
	t.persistAt = time.Time{}
	if t.rtoAt.IsZero() {
		// RFC 6298 §5.1: start the timer when data is sent and it is off.
		t.rtoAt = now.Add(t.rtt.RTO)
	}
	if !retransmit && t.rec.tlpAt.IsZero() {
		t.armTLP(now) // RFC 8985 §7.2: arm when new data is sent
	}
	t.count(seg)
	return true
}

// pickSegment chooses the next data segment, in this order: a one-shot
// retransmission (fast retransmit, a NewReno partial ACK's, a loss
// probe's); during SACK-based recovery whatever RFC 6675's NextSeg ()
// returns; the go-back retransmission after a timeout, as the congestion
// window allows (RFC 5681 §3.1: cwnd is one segment after a timeout); new
// data.
func (t *TCB) pickSegment(now time.Time) (from Seq, n int, fin bool, kind segKind, ok bool) {
	una, nxt := t.SND.UNA, t.SND.NXT
	if t.retxOne {
		t.retxOne = false
		from = t.rec.retxFrom
		if from.LessThan(una) || !from.LessThan(nxt) {
			from = una
		}
		limit := nxt
		if t.sackOn {
			// Not what the receiver has SACKed (RFC 6675 §4 NextSeg ()
			// retransmits unSACKed octets only).
			from, limit, ok = t.rec.sb.hole(from, nxt)
		} else {
			ok = from.LessThan(nxt)
		}
		if ok {
			if n, fin = t.segmentFrom(from, limit); n > 0 || fin {
				return from, n, fin, segOne, true
			}
		}
	}
	if t.inRecovery && t.sackOn {
		return t.nextSeg(now)
	}
	if t.retxNext.LessThan(nxt) {
		// The go-back after a timeout skips what the receiver SACKed
		// since: RFC 6675 §5.1 expunges the scoreboard at the timeout,
		// and "Update () SHOULD continue to be used appropriately upon
		// receipt of ACKs". What it sent again and is neither SACKed nor
		// found lost is in flight, held to cwnd.
		inFlight := span(una, t.retxNext) - t.rec.sb.sackedBelow(t.retxNext) - t.relostPending()
		if inFlight < t.cwnd() {
			// Deviation (as in nextSeg): a go-back retransmission found
			// lost (a later one was SACKed) goes again now, not at the
			// next, backed-off, timeout.
			if from, n, fin, ok := t.nextRelost(); ok {
				return from, n, fin, segRelost, true
			}
		}
		from, limit, more := t.rec.sb.hole(t.retxNext, nxt)
		if more && inFlight < t.cwnd() {
			if n, fin = t.segmentFrom(from, limit); n > 0 || fin {
				return from, n, fin, segGoBack, true
			}
		}
		if more {
			t.retxNext = from
		} else {
			t.retxNext = nxt
		}
	}
	from, n, fin, ok = t.pickNew(now, t.sendRoom())
	return from, n, fin, segNew, ok
}

// sendRoom is how many octets of new data the congestion window lets go
// out now (the receive window is pickNew's to apply).
func (t *TCB) sendRoom() int {
	switch {
	case t.rec.tlpNew:
		// A loss probe (RFC 8985 §7.3) sends one segment regardless of
		// cwnd.
		t.rec.tlpNew = false
		return t.sndMSS
	case t.pipeRules():
		// RFC 6675 §5 (3.3): "If (cwnd - pipe) >= 1 SMSS ... transmit up
		// to 1 SMSS of data starting with the octet HighData+1".
		if t.cwnd()-t.rec.pipe >= t.sndMSS {
			return t.sndMSS
		}
		return 0
	}
	// RFC 5681 §3.1 and, during NewReno's fast recovery, the inflated
	// window of §3.2 steps 3 to 5; Limited Transmit (RFC 3042 §2) lets
	// each of the first two duplicate ACKs send one new segment beyond
	// cwnd.
	return t.cwnd() + t.rec.limitedTx*t.sndMSS - t.flight()
}

// pickNew chooses new data from SND.NXT: at most room octets as the
// congestion window allows, within the usable window SND.UNA+SND.WND
// (RFC 9293 §3.8.6), and the FIN once all data is sent.
func (t *TCB) pickNew(now time.Time, room int) (from Seq, n int, fin, ok bool) {
	from = t.SND.NXT
	end := t.dataEnd()
	avail := 0
	if from.LessThan(end) {
		avail = int(end.Sub(from))
	}
	usable := min(int(t.SND.WND)-t.flight(), room)
	n = max(min(avail, t.sndMSS, usable), 0)
	fin = t.finQueued && !t.finSent && from.Add(uint32(n)) == end
	switch {
	case n == 0 && !fin:
		t.tuneSendBuffer(avail)
		t.maybePersist(now, avail)
		return from, 0, false, false
	case n < avail && n < t.sndMSS && uint32(n) < t.SND.maxWND/2 && !t.swsOverride:
		// Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a partial segment
		// only when it is at least half the largest window seen.
		t.maybePersist(now, avail)
		return from, 0, false, false
	case n == avail && n < t.sndMSS && !fin && !t.noDelay && t.flight() > 0:
		// Nagle (RFC 9293 §3.7.4, RFC 896): with data in flight, a short
		// segment waits for the ACK or for a full segment.
		t.tuneSendBuffer(avail)
		return from, 0, false, false
	}
	t.swsOverride = false
	return from, n, fin, true
}

// maybePersist arms the persist timer when data waits for a window the peer
// keeps shut and nothing is in flight to bring an ACK (RFC 9293 §3.8.6.1,
// MUST-36).
func (t *TCB) maybePersist(now time.Time, avail int) {
	if avail == 0 || t.flight() > 0 || !t.persistAt.IsZero() || !t.rtoAt.IsZero() {
		return
	}
	t.persistAt = now.Add(min(t.rtt.RTO<<t.persistBackoff, t.cfg.MaxRTO))
}
