package handmade

import "time"

// RFC 9406 §4.3 constants.
const (
	hystartMinRTTThresh  = 4 * time.Millisecond  // MIN_RTT_THRESH
	hystartMaxRTTThresh  = 16 * time.Millisecond // MAX_RTT_THRESH
	hystartMinRTTDivisor = 8                     // MIN_RTT_DIVISOR
	hystartNRTTSample    = 8                     // N_RTT_SAMPLE
	hystartCSSGrowthDiv  = 4                     // CSS_GROWTH_DIVISOR
	hystartCSSRounds     = 5                     // CSS_ROUNDS
	hystartL             = 8                     // L, in SMSS: "L = 8 if non-paced"; we do not pace
	hystartInfinity      = time.Duration(1<<63 - 1)
)

// hystart is HyStart++ (RFC 9406): slow start that watches the minimum
// RTT of each round and, when it grows, leaves for Conservative Slow
// Start (CSS), which grows a quarter as fast for at most CSS_ROUNDS rounds
// before congestion avoidance, or returns to slow start if the RTT falls
// back. It decides nothing about loss: on a loss or timeout the algorithm
// it serves turns it off.
type hystart struct {
	// on: in use. RFC 9406 §4.2: "An implementation SHOULD use HyStart++
	// only for the initial slow start (when the ssthresh is at its
	// initial value of arbitrarily high per [RFC5681]) and fall back to
	// using standard slow start for the remainder of the connection
	// lifetime."
	on bool
	// started says windowEnd holds a round's end: RFC 9406 §4.2, "a
	// round ... ends when the ACK for windowEnd (SND.NXT at its start)
	// arrives".
	started   bool
	windowEnd Seq
	// RFC 9406 §4.2's variables, "infinity" being hystartInfinity.
	lastRoundMinRTT, currentRoundMinRTT, cssBaselineMinRTT time.Duration
	rttSampleCount                                         int
	// css: in Conservative Slow Start; cssRounds the rounds it has run,
	// the partial first one included.
	css       bool
	cssRounds int
}

func newHystart() hystart {
	return hystart{on: true, lastRoundMinRTT: hystartInfinity, currentRoundMinRTT: hystartInfinity, cssBaselineMinRTT: hystartInfinity}
}

// sample takes an ACK's RTT sample into the round's minimum.
func (h *hystart) sample(a Ack) {
	if !h.started {
		// RFC 9406 §4.2: "Define windowEnd as a sequence number
		// initialized to SND.NXT."
		h.windowEnd, h.started = a.SndNxt, true
	}
	if a.RTT > 0 {
		// "Keep track of the minimum observed RTT: currentRoundMinRTT =
		// min(currentRoundMinRTT, currRTT); rttSampleCount += 1".
		h.currentRoundMinRTT = min(h.currentRoundMinRTT, a.RTT)
		h.rttSampleCount++
	}
}

// endOfRound ends the round if the ACK covers windowEnd and reports
// whether CSS has now run CSS_ROUNDS rounds: the caller then enters
// congestion avoidance, "by setting the ssthresh to the current cwnd"
// (RFC 9406 §4.2).
func (h *hystart) endOfRound(a Ack) (leave bool) {
	if a.SndUna.LessThan(h.windowEnd) {
		return false
	}
	// RFC 9406 §4.2: "When windowEnd is ACKed, the current round ends and
	// windowEnd is set to SND.NXT": what this ACK lets the sender send
	// next belongs to the new round.
	if h.css {
		// "CSS lasts at most CSS_ROUNDS rounds. If the transition into
		// CSS happens in the middle of a round, that partial round
		// counts towards the limit."
		h.cssRounds++
		if h.cssRounds >= hystartCSSRounds {
			h.on, h.css = false, false
			return true
		}
	}
	// "At the start of each round during standard slow start [RFC5681]
	// and CSS, initialize the variables used to compute the last round's
	// and current round's minimum RTT": lastRoundMinRTT =
	// currentRoundMinRTT, currentRoundMinRTT = infinity, rttSampleCount =
	// 0.
	h.lastRoundMinRTT, h.currentRoundMinRTT, h.rttSampleCount = h.currentRoundMinRTT, hystartInfinity, 0
	h.windowEnd = a.SndNxt
	return false
}

// growth is how much of the octets an ACK delivered grow cwnd: RFC 9406
// §4.2, "cwnd = cwnd + min(N, L * SMSS)" in standard slow start and
// "cwnd = cwnd + (min(N, L * SMSS) / CSS_GROWTH_DIVISOR)" in CSS.
func (h *hystart) growth(n, mss int) int {
	g := min(n, hystartL*mss)
	if h.css {
		g /= hystartCSSGrowthDiv
	}
	return g
}

// check runs RFC 9406 §4.2's tests after an ACK's growth: the delay
// increase that leaves slow start for CSS, and in CSS the fall in RTT
// that shows the exit was spurious.
func (h *hystart) check() {
	if h.rttSampleCount < hystartNRTTSample {
		// "For rounds where at least N_RTT_SAMPLE RTT samples have been
		// obtained" (both tests).
		return
	}
	if !h.css {
		// "if ((rttSampleCount >= N_RTT_SAMPLE) AND (currentRoundMinRTT
		// != infinity) AND (lastRoundMinRTT != infinity)) RttThresh =
		// max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR,
		// MAX_RTT_THRESH)); if (currentRoundMinRTT >= (lastRoundMinRTT +
		// RttThresh)) cssBaselineMinRtt = currentRoundMinRTT; exit slow
		// start and enter CSS".
		if h.currentRoundMinRTT == hystartInfinity || h.lastRoundMinRTT == hystartInfinity {
			return
		}
		thresh := max(hystartMinRTTThresh, min(h.lastRoundMinRTT/hystartMinRTTDivisor, hystartMaxRTTThresh))
		if h.currentRoundMinRTT >= h.lastRoundMinRTT+thresh {
			h.cssBaselineMinRTT, h.css, h.cssRounds = h.currentRoundMinRTT, true, 0
		}
		return
	}
	// "if (currentRoundMinRTT < cssBaselineMinRtt) cssBaselineMinRtt =
	// infinity; resume slow start including HyStart++".
	if h.currentRoundMinRTT < h.cssBaselineMinRTT {
		h.cssBaselineMinRTT, h.css = hystartInfinity, false
	}
}
