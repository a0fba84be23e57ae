package handmade

import (
	"math"
	"time"
)

// RFC 9438 §5 constants ("C SHOULD be set to 0.4", "β_cubic SHOULD be set
// to 0.7") and §4.3's α_cubic = 3 * (1 - β_cubic) / (1 + β_cubic).
const (
	cubicC     = 0.4
	cubicBeta  = 0.7
	cubicAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)
	// cubicFastConvergence turns on RFC 9438 §4.7. Its "In network
	// environments with only a single CUBIC flow and without any other
	// traffic, Fast Convergence SHOULD be disabled" asks for knowledge a
	// sender does not have; like Linux (tcp_cubic's fast_convergence=1)
	// and gVisor's cubic we keep it on.
	cubicFastConvergence = true
)

// cubic is CUBIC congestion control (RFC 9438) with HyStart++ (RFC 9406)
// for its first slow start. cwnd and ssthresh are in octets, as the
// interface has them; the cubic function's variables (W_max, W_est,
// cwnd_prior) are in segments of the ACK's SMSS and its times in seconds,
// as RFC 9438 §4.1 defines them.
type cubic struct {
	cubicState
	// prior is the state before the last loss or timeout response, for
	// Undo (RFC 9438 §4.9); hasPrior says it has not been undone yet.
	prior    cubicState
	hasPrior bool
}

type cubicState struct {
	cwnd, ssthresh int
	// epochStart is t_epoch (RFC 9438 §4.1), when the current congestion
	// avoidance stage began; zero until the first ACK in it.
	epochStart time.Time
	// wMax is W_max, 0 while undefined (before the first congestion
	// event, after a timeout: §4.8 and §4.10); k is K in seconds; wEst
	// is W_est; cwndPrior is cwnd_prior, the window before the last
	// reduction (§4.6), which decides α_cubic (§4.3).
	wMax, k, wEst, cwndPrior float64
	// carry is growth in octets not yet whole, so that many small
	// increments of (target - cwnd) / cwnd add up.
	carry float64
	// idleFrom is when an ACK left nothing in flight: the sender had no
	// data, and §4.2's t must not count the wait.
	idleFrom time.Time
	hs       hystart
}

func newCubic(mss int) *cubic {
	// RFC 9438 §4.10 slow start from RFC 6928's IW; RFC 5681 §3.1:
	// ssthresh starts arbitrarily high.
	return &cubic{cubicState: cubicState{cwnd: initialWindow(mss), ssthresh: 1 << 30, hs: newHystart()}}
}

func (c *cubic) Cwnd() int     { return c.cwnd }
func (c *cubic) Ssthresh() int { return c.ssthresh }

func (c *cubic) OnAck(a Ack) {
	c.skipIdle(a)
	acked := a.Delivered
	if c.cwnd < c.ssthresh {
		if acked = c.slowStart(a); acked == 0 {
			return
		}
	}
	c.avoid(a, acked)
}

// skipIdle keeps the time the sender had nothing to send out of t. RFC
// 9438 §4.2: "The elapsed time t in Figure 1 MUST NOT include periods
// during which cwnd has not been updated due to an application limit".
// The TCB says no more than SND.UNA and SND.NXT: an ACK that leaves
// nothing in flight starts the wait, and the next ACK, a round trip
// (SRTT) after sending resumed, ends it.
func (c *cubic) skipIdle(a Ack) {
	if !c.idleFrom.IsZero() {
		if idle := a.Now.Sub(c.idleFrom) - a.SRTT; idle > 0 && !c.epochStart.IsZero() {
			c.epochStart = c.epochStart.Add(idle)
		}
		c.idleFrom = time.Time{}
	}
	if a.SndUna == a.SndNxt {
		c.idleFrom = a.Now
	}
}

// slowStart is RFC 9438 §4.10: "CUBIC MUST employ a slow-start algorithm,
// when cwnd is no more than ssthresh"; §4.10 names HyStart++ (RFC 9406)
// for it, which we run in the first slow start (hystart.on). It returns
// the octets left for congestion avoidance once cwnd reaches ssthresh.
func (c *cubic) slowStart(a Ack) int {
	if c.hs.on {
		c.hs.sample(a)
	}
	// RFC 9406 §4.2: "cwnd = cwnd + min(N, L * SMSS)", a quarter of it in
	// CSS. After the first slow start HyStart++ is off and the same limit
	// L stays. Deviation: RFC 5681 §3.1 grows cwnd by at most SMSS per
	// ACK, and RFC 3465 §2.2 by 2*SMSS; like newReno (and Linux and
	// gVisor, which count every segment acknowledged) we take stretch
	// ACKs of up to L segments whole, so that gVisor's ACKs, one per batch
	// it receives, do not slow slow start.
	grow := min(c.hs.growth(a.Delivered, a.MSS), c.ssthresh-c.cwnd)
	c.cwnd += grow
	if c.hs.on {
		c.hs.check()
		if c.hs.endOfRound(a) {
			// RFC 9406 §4.2: CSS_ROUNDS rounds are over; "enter
			// congestion avoidance by setting the ssthresh to the current
			// cwnd". RFC 9438 §4.10: "CUBIC sets cwnd_prior = cwnd and
			// switches to congestion avoidance", with W_max undefined
			// until the stage begins (avoid).
			c.ssthresh, c.cwndPrior, c.wMax = c.cwnd, float64(c.cwnd)/float64(a.MSS), 0
			return 0
		}
	}
	if c.cwnd < c.ssthresh {
		return 0
	}
	// RFC 5681 §3.1: at ssthresh congestion avoidance takes over; what
	// the ACK delivered beyond the growth counts there.
	return max(a.Delivered-grow, 0)
}

// wCubic is RFC 9438 §4.2, Figure 1: W_cubic(t) = C * (t - K)^3 + W_max,
// in segments, t in seconds.
func (c *cubic) wCubic(t float64) float64 {
	d := t - c.k
	return cubicC*d*d*d + c.wMax
}

// avoid is congestion avoidance for an ACK that delivered acked octets
// (RFC 9438 §4.2 to §4.5).
func (c *cubic) avoid(a Ack, acked int) {
	mss := float64(a.MSS)
	if c.epochStart.IsZero() {
		// RFC 9438 §4.2: the congestion avoidance stage starts; t counts
		// from here and cwnd_epoch is cwnd now.
		c.epochStart, c.carry = a.Now, 0
		cwndEpoch := float64(c.cwnd) / mss
		if c.wMax == 0 {
			// RFC 9438 §4.8 (the first stage after a timeout) and §4.10
			// (after HyStart++ left slow start without a loss, or with no
			// congestion event yet): "K is set to 0, and W_max is set to
			// the congestion window size at the beginning of the current
			// congestion avoidance stage".
			c.wMax, c.k = cwndEpoch, 0
		} else {
			// RFC 9438 §4.2, Figure 2: K = cubic_root((W_max -
			// cwnd_epoch) / C).
			c.k = math.Cbrt((c.wMax - cwndEpoch) / cubicC)
		}
		// RFC 9438 §4.3: "W_est is set equal to cwnd_epoch at the start
		// of the congestion avoidance stage."
		c.wEst = cwndEpoch
	}
	t := a.Now.Sub(c.epochStart).Seconds()
	w := float64(c.cwnd) / mss
	// segments_acked (§4.1): "a decimal value when a new ACK acknowledges
	// an amount of data that is not MSS-sized".
	segs := float64(acked) / mss
	// RFC 9438 §4.3, Figure 4: W_est = W_est + α_cubic * segments_acked /
	// cwnd; "Once W_est has grown to reach the cwnd at the time of most
	// recently setting ssthresh -- that is, W_est >= cwnd_prior -- the
	// sender SHOULD set α_cubic to 1".
	alpha := cubicAlpha
	if c.wEst >= c.cwndPrior {
		alpha = 1
	}
	c.wEst += alpha * segs / w
	if c.wCubic(t) < c.wEst {
		// RFC 9438 §4.3: "If W_cubic(t) is less than W_est, then CUBIC
		// is in the Reno-friendly region and cwnd SHOULD be set to W_est
		// at each reception of a new ACK." Only upwards: cwnd can stand
		// above W_est where W_cubic(t + RTT) took it on the last ACK, and
		// an ACK never shrinks the window.
		c.cwnd = max(c.cwnd, int(c.wEst*mss))
		return
	}
	// RFC 9438 §4.2: target = W_cubic(t + RTT), RTT being SRTT, clamped to
	// [cwnd, 1.5 * cwnd] so that growth "is non-decreasing and is less
	// than the increase rate of slow start".
	target := min(max(c.wCubic(t+a.SRTT.Seconds()), w), 1.5*w)
	// RFC 9438 §4.4 (concave region, cwnd < W_max) and §4.5 (convex
	// region, cwnd >= W_max) alike: "cwnd MUST be incremented by (target
	// - cwnd) / cwnd for each received new ACK". We count it per SMSS
	// acknowledged, as §4.3 asks of W_est under byte counting (RFC 3465)
	// and as Linux (bictcp_update's cnt) does: a receiver that ACKs
	// several segments at once, as gVisor does, grows it alike.
	c.carry += (target - w) / w * segs * mss
	if n := int(c.carry); n > 0 {
		c.cwnd += n
		c.carry -= float64(n)
	}
}

func (c *cubic) OnLoss(flight, mss int) {
	c.save()
	w := float64(c.cwnd) / float64(mss)
	// RFC 9438 §4.7, fast convergence, before the reduction: "W_max =
	// cwnd * (1 + β_cubic) / 2 if cwnd < W_max and fast convergence is
	// enabled, further reduce W_max; cwnd otherwise, remember cwnd before
	// reduction".
	if cubicFastConvergence && w < c.wMax {
		c.wMax = w * (1 + cubicBeta) / 2
	} else {
		c.wMax = w
	}
	// RFC 9438 §4.6, Figure 5: "ssthresh = flight_size * β_cubic;
	// cwnd_prior = cwnd; cwnd = max(ssthresh, 2) [reduction on packet
	// loss, cwnd is at least 2 MSS]; ssthresh = max(ssthresh, 2)".
	// RFC 9438 §4.6: "the sender MUST reduce cwnd and ssthresh
	// immediately upon entering loss recovery".
	ss := int(float64(flight) * cubicBeta)
	c.cwndPrior = w
	c.cwnd, c.ssthresh = max(ss, 2*mss), max(ss, 2*mss)
	c.endStage()
}

func (c *cubic) OnTimeout(flight, mss int) {
	c.save()
	// RFC 9438 §4.8: "CUBIC follows Reno to reduce cwnd [RFC5681], but
	// sets ssthresh using β_cubic (same as in Section 4.6)": RFC 5681
	// §3.1's loss window of one segment. W_max becomes undefined: "During
	// the first congestion avoidance stage after a timeout ... K is set
	// to 0, and W_max is set to the congestion window size at the
	// beginning of the current congestion avoidance stage" (avoid).
	c.cwndPrior = float64(c.cwnd) / float64(mss)
	c.ssthresh = max(int(float64(flight)*cubicBeta), 2*mss)
	c.cwnd, c.wMax = mss, 0
	c.endStage()
}

// endStage ends the congestion avoidance stage and HyStart++ at a
// congestion event: the next stage's t starts at its first ACK (RFC 9438
// §4.2), and RFC 9406 §4.2 uses HyStart++ for the initial slow start
// only.
func (c *cubic) endStage() {
	c.epochStart, c.carry, c.idleFrom = time.Time{}, 0, time.Time{}
	c.hs.on, c.hs.css = false, false
}

// save is RFC 9438 §4.9: "When there is a congestion event, a CUBIC
// implementation SHOULD save the current value of the following variables
// before the congestion window reduction": cwnd_prior (cwnd),
// ssthresh_prior, W_max_prior, K_prior, epoch_start_prior, W_est_prior;
// we keep the whole state, HyStart++'s with it.
func (c *cubic) save() { c.prior, c.hasPrior = c.cubicState, true }

// Undo ignores RFC 4015's FlightSize and bytes_acked: RFC 9438 §4.9
// restores CUBIC's own variables instead.
func (c *cubic) Undo(flight, acked, mss int) {
	if !c.hasPrior {
		return
	}
	c.hasPrior = false
	// RFC 9438 §4.9: "CUBIC SHOULD restore the original values of
	// above-mentioned variables ... if the current cwnd is lower than
	// cwnd_prior"; "In rare cases, when the detection happens long after
	// a spurious loss event and the current cwnd is already higher than
	// cwnd_prior, CUBIC SHOULD continue to use the current and the most
	// recent values of these variables."
	if c.cwnd < c.prior.cwnd {
		c.cubicState = c.prior
	}
}
