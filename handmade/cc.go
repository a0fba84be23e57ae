package handmade

// CongestionControl is the seam for congestion control algorithms: the
// TCB tells it what the ACK clock and the loss signals say, and reads the
// congestion window back. NewReno is the one in use; CUBIC and friends
// plug in here.
type CongestionControl interface {
	// Cwnd and Ssthresh are in octets.
	Cwnd() int
	Ssthresh() int
	// OnAck: acked new octets arrived outside loss recovery.
	OnAck(acked, mss int)
	// OnFastRetransmit: three duplicate ACKs with flight octets out.
	OnFastRetransmit(flight, mss int)
	// OnDupAck: a further duplicate ACK during fast recovery.
	OnDupAck(mss int)
	// OnPartialAck: an ACK during recovery that leaves data outstanding.
	OnPartialAck(acked, mss int)
	// OnRecoveryExit: the ACK that ends fast recovery.
	OnRecoveryExit(mss int)
	// OnTimeout: the retransmission timer expired with flight octets out.
	OnTimeout(flight, mss int)
}

// newReno is RFC 5681 congestion control with the NewReno partial-ACK
// rules of RFC 6582 §3.2.
type newReno struct{ cwnd, ssthresh int }

func newNewReno(mss int) *newReno {
	// RFC 5681 §3.1: IW = 2, 3 or 4 segments depending on the SMSS.
	iw := 4 * mss
	switch {
	case mss > 2190:
		iw = 2 * mss
	case mss > 1095:
		iw = 3 * mss
	}
	// RFC 5681 §3.1: ssthresh starts arbitrarily high.
	return &newReno{cwnd: iw, ssthresh: 1 << 30}
}

func (r *newReno) Cwnd() int     { return r.cwnd }
func (r *newReno) Ssthresh() int { return r.ssthresh }

func (r *newReno) OnAck(acked, mss int) {
	if r.cwnd < r.ssthresh {
		// RFC 5681 §3.1: slow start, cwnd += min(N, SMSS); with
		// appropriate byte counting (RFC 3465 §2.2) the limit L may be
		// 2*SMSS, so that a receiver that ACKs every other segment does
		// not halve the growth.
		r.cwnd += min(acked, 2*mss)
		return
	}
	// RFC 5681 §3.1: congestion avoidance, cwnd += SMSS*SMSS/cwnd.
	r.cwnd += max(1, mss*mss/r.cwnd)
}

func (r *newReno) OnFastRetransmit(flight, mss int) {
	// RFC 5681 §3.2 steps 2 and 3.
	r.ssthresh = max(flight/2, 2*mss)
	r.cwnd = r.ssthresh + 3*mss
}

// OnDupAck inflates the window (RFC 5681 §3.2 step 4).
func (r *newReno) OnDupAck(mss int) { r.cwnd += mss }

func (r *newReno) OnPartialAck(acked, mss int) {
	// RFC 6582 §3.2 step 5: deflate by the amount acked, add back one SMSS
	// if that was at least one SMSS.
	r.cwnd = max(r.cwnd-acked, mss)
	if acked >= mss {
		r.cwnd += mss
	}
}

// OnRecoveryExit deflates the window (RFC 5681 §3.2 step 6).
func (r *newReno) OnRecoveryExit(mss int) { r.cwnd = r.ssthresh }

func (r *newReno) OnTimeout(flight, mss int) {
	// RFC 5681 §3.1, equation (4), and the loss window of one segment.
	r.ssthresh = max(flight/2, 2*mss)
	r.cwnd = mss
}
