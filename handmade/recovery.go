package handmade

import "time"

// recovery holds the loss-detection aids of the full profile beyond the
// RFC 5681 core: Limited Transmit (RFC 3042), Early Retransmit (RFC 5827)
// and the tail loss probe of RACK-TLP (RFC 8985 §7). SACK-scoreboard
// recovery (RFC 6675) and RACK's time-based detection plug in here.
type recovery struct {
	// limitedTx is how many segments beyond cwnd Limited Transmit allows
	// now: one per duplicate ACK, at most two (RFC 3042 §2).
	limitedTx int
	// tlpAt is the probe timeout; tlpNew asks Output for one new segment
	// regardless of cwnd, as the probe (RFC 8985 §7.3).
	tlpAt  time.Time
	tlpNew bool
	// retxFrom is where a one-shot retransmission (retxOne) starts: SND.UNA
	// for fast retransmit, the last segment for a loss probe.
	retxFrom Seq
	// retxAt, retxSeq and retxHigh record the last retransmission of
	// SND.UNA during fast recovery: when, of what, and SND.NXT then.
	retxAt            time.Time
	retxSeq, retxHigh Seq
}

// recoveryDeadline is when the retransmission of SND.UNA during fast
// recovery counts as lost though no later data proved it (the ACKs stopped,
// or nothing was sent after it): two round trips, a quarter more for
// reordering (RACK's reo_wnd, RFC 8985 §6.2), and the loss probe's 2 ms
// of slack. This stands in for RACK's reordering timer; without it a lost
// retransmission at the end of recovery waits for the RTO.
func (t *TCB) recoveryDeadline() time.Time {
	r := &t.rec
	if !t.inRecovery || r.retxAt.IsZero() || r.retxSeq != t.SND.UNA || t.rtt.SRTT == 0 {
		return time.Time{}
	}
	return r.retxAt.Add(2*t.rtt.SRTT + t.rtt.SRTT/4 + 2*time.Millisecond)
}

// retransmissionLost reports, on a duplicate ACK during fast recovery,
// that the retransmission of SND.UNA was lost as well: the ACK SACKs data
// first sent after that retransmission, a quarter of a round trip has
// passed (RACK's reordering window), and SND.UNA has not moved. This is
// RACK's rule (RFC 8985 §6.2: a segment is lost once one sent after it is
// delivered and the reordering window has passed) for the one segment
// NewReno retransmits; RFC 6582 alone would wait for the RTO, 200 ms or
// more whatever the path's round trip.
func (t *TCB) retransmissionLost(seg *Segment, now time.Time) bool {
	r := &t.rec
	if r.retxAt.IsZero() || r.retxSeq != t.SND.UNA || now.Sub(r.retxAt) < t.rtt.SRTT/4 {
		return false
	}
	for _, b := range seg.Options.SACK[:seg.Options.NumSACK] {
		if r.retxHigh.LessThan(b.Right) && b.Right.LessEq(t.SND.NXT) {
			return true
		}
	}
	return false
}

// wcDelAckT is RFC 8985 §7.2's worst-case delayed-ACK time, added to the
// probe timeout when a single segment is in flight.
const wcDelAckT = 200 * time.Millisecond

// dupThresh is the number of duplicate ACKs that starts fast retransmit:
// three (RFC 5681 §3.2), or fewer when too little is in flight to bring
// three and no new data can go out (Early Retransmit, RFC 5827 §3.1:
// ER_thresh = oseg - 1, for 2 <= oseg < 4; one segment in flight cannot
// bring a duplicate ACK at all).
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
	if t.flight() == 0 || t.inRecovery || t.rtt.SRTT == 0 || !t.State.synchronized() {
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
