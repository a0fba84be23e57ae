package handmade

import "time"

// RFC 6298 §2 constants.
const (
	rttAlpha        = 8 // alpha = 1/8 (RFC 6298 §2.3)
	rttBeta         = 4 // beta = 1/4 (RFC 6298 §2.3)
	rttK            = 4 // K = 4 (RFC 6298 §2.2)
	rttClockGranule = time.Millisecond
)

// RTTEstimator computes the retransmission timeout of RFC 6298 from round
// trip samples. It holds no clock: the caller measures and feeds samples.
type RTTEstimator struct {
	SRTT, RTTVAR time.Duration
	// RTO is the current timeout, backoff included.
	RTO         time.Duration
	Min, Max    time.Duration
	hasMeasured bool
}

// NewRTTEstimator starts at initial (RFC 6298 §2.1: 1 s unless configured)
// and clamps every RTO to [min, max].
func NewRTTEstimator(initial, min, max time.Duration) RTTEstimator {
	e := RTTEstimator{Min: min, Max: max}
	e.RTO = e.clamp(initial)
	return e
}

// Sample feeds one round-trip measurement. The caller applies Karn's rule
// (RFC 6298 §3): no sample from a segment that was retransmitted.
func (e *RTTEstimator) Sample(r time.Duration) {
	if !e.hasMeasured {
		// RFC 6298 §2.2: first measurement.
		e.SRTT, e.RTTVAR, e.hasMeasured = r, r/2, true
	} else {
		// RFC 6298 §2.3: RTTVAR before SRTT, with the old SRTT.
		d := e.SRTT - r
		if d < 0 {
			d = -d
		}
		e.RTTVAR += (d - e.RTTVAR) / rttBeta
		e.SRTT += (r - e.SRTT) / rttAlpha
	}
	// RFC 6298 §2.2/§2.3: RTO = SRTT + max(G, K*RTTVAR).
	e.RTO = e.clamp(e.SRTT + max(rttClockGranule, rttK*e.RTTVAR))
}

// Restart sets SRTT and RTTVAR outright, and RTO from them (RFC 6298
// §2.3's formula), for RFC 4015's adaptation after a spurious timeout.
func (e *RTTEstimator) Restart(srtt, rttvar time.Duration) {
	e.SRTT, e.RTTVAR, e.hasMeasured = srtt, rttvar, true
	e.RTO = e.clamp(e.SRTT + max(rttClockGranule, rttK*e.RTTVAR))
}

// Backoff doubles the RTO after a timeout (RFC 6298 §5.5), up to Max.
func (e *RTTEstimator) Backoff() { e.RTO = e.clamp(2 * e.RTO) }

func (e *RTTEstimator) clamp(d time.Duration) time.Duration {
	// RFC 6298 §2.4 and §2.5: a lower and an upper bound on RTO.
	return min(max(d, e.Min), e.Max)
}
