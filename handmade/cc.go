package handmade

import (
	"fmt"
	"time"
)

// CongestionControl is the seam for congestion control algorithms: the
// TCB tells it what the ACK clock and the loss signals say, and reads the
// congestion window back. It owns cwnd and ssthresh and nothing else: how
// loss is detected and repaired (RFC 6675's scoreboard and pipe, RFC
// 6582's window inflation) is loss recovery's (recovery.go), so an
// algorithm such as CUBIC decides only how far to back off and how fast
// to grow.
type CongestionControl interface {
	// Cwnd and Ssthresh are in octets.
	Cwnd() int
	Ssthresh() int
	// OnAck: an ACK outside loss recovery delivered new octets.
	OnAck(a Ack)
	// OnLoss: loss recovery starts (RFC 5681 §3.2 step 2, RFC 6675 §5
	// step 4); flight is FlightSize without what Limited Transmit sent.
	// The algorithm sets ssthresh, and cwnd to what recovery runs at.
	OnLoss(flight, mss int)
	// OnTimeout: the retransmission timer expired with flight octets out.
	OnTimeout(flight, mss int)
	// Undo: the response of the last OnLoss or OnTimeout answered a
	// loss that did not happen, as D-SACK (RFC 3708) or the timestamps
	// (RFC 3522) showed. The algorithm returns to the window it had
	// before the response without a burst: RFC 4015 §3.1, "Reverse the
	// congestion control state", is "cwnd <- FlightSize + min
	// (bytes_acked, IW)" and "ssthresh <- pipe_prev", pipe_prev being
	// max(FlightSize, ssthresh) when the response was made (its step
	// (0)). flight is FlightSize now, acked the octets the ACK that
	// showed it acknowledged. Undo never shrinks the window. A second
	// Undo, or one with no response since the last, does nothing.
	Undo(flight, acked, mss int)
}

// Ack is what an ACK outside loss recovery tells congestion control.
type Ack struct {
	// Delivered is the octets newly acknowledged or SACKed; MSS is
	// SMSS.
	Delivered, MSS int
	Now            time.Time
	// RTT is the round-trip sample this ACK gave, 0 if none: with
	// timestamps every ACK that advances SND.UNA gives one (RFC 7323
	// §4.1), otherwise only the segment RFC 6298 times, one per round
	// trip. SRTT is the smoothed estimate (RFC 6298), 0 before the first
	// sample.
	RTT, SRTT time.Duration
	// SndUna and SndNxt are SND.UNA after the ACK and SND.NXT: a round
	// of the ACK clock ends when SND.UNA passes what SND.NXT was at its
	// start.
	SndUna, SndNxt Seq
}

// Names of the congestion control algorithms, for Config.CongestionControl
// and Conn.SetCongestionControl (Linux's TCP_CONGESTION names them alike).
const (
	NewReno = "newreno" // RFC 5681, the default
	CUBIC   = "cubic"   // RFC 9438, with HyStart++ (RFC 9406)
)

// errCongestionControl is the error for a name that is neither.
func errCongestionControl(name string) error {
	return fmt.Errorf("handmade: unknown congestion control %q: want %q or %q", name, NewReno, CUBIC)
}

// newCongestionControl starts the named algorithm for a connection whose
// SMSS is mss, at the initial window.
func newCongestionControl(name string, mss int) (CongestionControl, error) {
	switch name {
	case NewReno, "":
		return newNewReno(mss), nil
	case CUBIC:
		return newCubic(mss), nil
	}
	return nil, errCongestionControl(name)
}

// switchCongestionControl starts the named algorithm where another left
// off: from its cwnd and ssthresh, as Linux's tcp_reinit_congestion_control
// keeps them when TCP_CONGESTION changes on a connection. Nothing else
// carries over: CUBIC starts with W_max undefined (RFC 9438 §4.10's case),
// and its HyStart++ only while ssthresh is still the initial one (RFC 9406
// §4.2, "only for the initial slow start").
func switchCongestionControl(name string, mss int, from CongestionControl) (CongestionControl, error) {
	cc, err := newCongestionControl(name, mss)
	if err != nil {
		return nil, err
	}
	cwnd, ssthresh := from.Cwnd(), from.Ssthresh()
	switch cc := cc.(type) {
	case *newReno:
		cc.cwnd, cc.ssthresh = cwnd, ssthresh
	case *cubic:
		cc.cwnd, cc.hs.on = cwnd, cc.hs.on && ssthresh == cc.ssthresh
		cc.ssthresh = ssthresh
	}
	return cc, nil
}

// newReno is RFC 5681 congestion control: the window response that
// NewReno's fast recovery (RFC 6582) and SACK-based recovery (RFC 6675)
// both run under. It stays plain RFC 5681, without HyStart++ (which only
// CUBIC runs), so that `tcplab bench` compares it like for like with
// gVisor's reno.
type newReno struct {
	cwnd, ssthresh int
	// pipePrev is RFC 4015's pipe_prev, max(FlightSize, ssthresh) before
	// the last loss response, for Undo; hasPrior says it has not been
	// undone yet.
	pipePrev int
	hasPrior bool
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

func (r *newReno) OnAck(a Ack) {
	acked, mss := a.Delivered, a.MSS
	if r.cwnd < r.ssthresh {
		// RFC 5681 §3.1: slow start, cwnd += min(N, SMSS) per ACK; RFC
		// 3465 §2.2 lets the limit L be 2*SMSS, so that a receiver that
		// ACKs every other segment does not halve the growth.
		// Deviation: no limit per ACK, as Linux (tcp_slow_start) and gVisor
		// (renoState.updateSlowStart) count every segment acknowledged: a
		// receiver that ACKs several segments at once (gVisor, once per
		// batch it processes, against RFC 9293 §3.8.6.3's every second
		// segment) would otherwise slow slow start from doubling per round
		// trip to 1.4 times. Growth stops at ssthresh; what is left over
		// counts towards congestion avoidance.
		grow := min(acked, r.ssthresh-r.cwnd)
		r.cwnd += grow
		r.bytesAcked = 0
		if acked -= grow; acked == 0 {
			return
		}
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

func (r *newReno) OnLoss(flight, mss int) {
	// RFC 5681 §3.2 step 2, equation (4): ssthresh = max(FlightSize/2,
	// 2*SMSS); RFC 6675 §5 (4.2): "ssthresh = cwnd = (FlightSize / 2)".
	// NewReno's inflation by 3*SMSS (RFC 5681 §3.2 step 3) is recovery's,
	// on top.
	r.save(flight)
	r.ssthresh = max(flight/2, 2*mss)
	r.cwnd = r.ssthresh
	r.bytesAcked = 0
}

func (r *newReno) OnTimeout(flight, mss int) {
	// RFC 5681 §3.1, equation (4), and the loss window of one segment.
	r.save(flight)
	r.ssthresh = max(flight/2, 2*mss)
	r.cwnd = mss
	r.bytesAcked = 0
}

// save is RFC 4015 §3.1 step (0): "Before the variables cwnd and
// ssthresh get updated when loss recovery is initiated, set a "pipe_prev"
// variable as follows: pipe_prev <- max (FlightSize, ssthresh)".
func (r *newReno) save(flight int) { r.pipePrev, r.hasPrior = max(flight, r.ssthresh), true }

func (r *newReno) Undo(flight, acked, mss int) {
	if !r.hasPrior {
		return
	}
	r.hasPrior = false
	// RFC 4015 §3.1, "Reverse the congestion control state": "cwnd <-
	// FlightSize + min (bytes_acked, IW); ssthresh <- pipe_prev". The
	// window resumes from what is in flight and slow-starts back to
	// where it was, instead of letting out at once all that the old
	// window allows. (The ECN-Echo exception does not arise: we do not
	// negotiate ECN.) A window that grew past that since is kept.
	r.ssthresh = max(r.ssthresh, r.pipePrev)
	r.cwnd = max(r.cwnd, flight+min(acked, initialWindow(mss)))
	r.bytesAcked = 0
}
