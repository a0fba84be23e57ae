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
type newReno struct {
	cwnd, ssthresh int
	// bytesAcked counts octets acknowledged in congestion avoidance
	// towards the next SMSS of growth (RFC 5681 §3.1).
	bytesAcked int
}

func newNewReno(mss int) *newReno {
	// RFC 5681 §3.1: ssthresh starts arbitrarily high.
	return &newReno{cwnd: initialWindow(mss), ssthresh: 1 << 30}
}

// initialWindow is IW, the congestion window before the first loss or
// timeout (RFC 6928 §2): min(10*MSS, max(2*MSS, 14600)), the window gVisor
// and Linux start with. RFC 5681 §3.1's 2 to 4 segments cost a transfer
// two round trips of slow start more than its peers spend.
func initialWindow(mss int) int { return min(10*mss, max(2*mss, 14600)) }

func (r *newReno) Cwnd() int     { return r.cwnd }
func (r *newReno) Ssthresh() int { return r.ssthresh }

func (r *newReno) OnAck(acked, mss int) {
	if r.cwnd < r.ssthresh {
		// RFC 5681 §3.1: slow start, cwnd += min(N, SMSS); with
		// appropriate byte counting (RFC 3465 §2.2) the limit L may be
		// 2*SMSS, so that a receiver that ACKs every other segment does
		// not halve the growth.
		r.cwnd += min(acked, 2*mss)
		r.bytesAcked = 0
		return
	}
	// RFC 5681 §3.1: "The RECOMMENDED way to increase cwnd during
	// congestion avoidance is to count the number of bytes that have been
	// acknowledged by ACKs for new data. ... When the number of bytes
	// acknowledged reaches cwnd, then cwnd can be incremented by up to
	// SMSS bytes." Equation (3), SMSS*SMSS/cwnd per ACK, grows a window
	// by a segment per round trip only if every segment is ACKed: a
	// receiver that stretches its ACKs over several segments (gVisor ACKs
	// once per batch it processes) slows it several times over.
	r.bytesAcked += acked
	if r.bytesAcked >= r.cwnd {
		r.bytesAcked -= r.cwnd
		r.cwnd += mss
	}
}

func (r *newReno) OnFastRetransmit(flight, mss int) {
	// RFC 5681 §3.2 steps 2 and 3.
	r.ssthresh = max(flight/2, 2*mss)
	r.cwnd = r.ssthresh + 3*mss
	r.bytesAcked = 0
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
	r.bytesAcked = 0
}
