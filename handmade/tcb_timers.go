package handmade

import (
	"fmt"
	"time"
)

// OnTimer runs every timer whose deadline has passed (RFC 9293 §3.10.8).
// Each handler re-checks its own deadline, so a spurious call is harmless.
func (t *TCB) OnTimer(now time.Time) {
	due := func(d time.Time) bool { return !d.IsZero() && !now.Before(d) }
	if due(t.timeWaitAt) {
		// RFC 9293 §3.10.8, time-wait timeout: delete the TCB.
		t.enterClosed(nil)
		return
	}
	if due(t.finWait2At) && t.State == FinWait2 {
		// Deviation: RFC 9293 waits in FIN-WAIT-2 for the peer's FIN
		// indefinitely; like Linux (tcp_fin_timeout) and gVisor
		// (TCPLingerTimeoutOption) an orphaned connection gives up after
		// FinWait2. They drop it silently (the compare bench's FC-05);
		// we also send <SEQ=SND.NXT><CTL=RST>, which the RFC leaves open,
		// so a peer still in CLOSE-WAIT learns at once that nobody reads
		// what it sends.
		t.rst = &Segment{SEQ: t.SND.NXT, Flags: RST}
		t.enterClosed(fmt.Errorf("%w: no FIN from the peer within %v in FIN-WAIT-2", ErrTimedOut, t.cfg.FinWait2))
		return
	}
	if t.cfg.UserTimeout > 0 && t.flight() > 0 && now.Sub(t.progressAt) >= t.cfg.UserTimeout {
		// RFC 9293 §3.8.3 (R2) and RFC 5482: the user timeout. The RST
		// is ours, as for R2 in onRTO: Linux and gVisor close silently
		// (the compare bench's RT-04).
		t.rst = &Segment{SEQ: t.SND.NXT, Flags: RST}
		t.enterClosed(fmt.Errorf("%w: data unacknowledged for the user timeout %v in %s", ErrTimedOut, t.cfg.UserTimeout, t.State))
		return
	}
	if due(t.rtoAt) {
		t.onRTO(now)
		if t.State == Closed {
			return
		}
	}
	if due(t.persistAt) {
		// RFC 9293 §3.8.6.1 (MUST-36, MUST-37): probe the zero window,
		// backing off exponentially, for as long as the peer answers.
		t.persistAt = time.Time{}
		switch {
		case t.flight() > 0 || t.sndBuf.Len() == 0:
		case t.SND.WND == 0:
			t.probeNow = true
			t.Counters.WindowProbes++
			t.persistBackoff = min(t.persistBackoff+1, 16)
			t.persistAt = now.Add(min(t.rtt.RTO<<t.persistBackoff, t.cfg.MaxRTO))
		default:
			// RFC 9293 §3.8.6.2.1, sender SWS avoidance: send data "(4)
			// or if the override timeout occurs". The window is open but
			// below what SWS avoidance sends into, nothing is in flight to
			// bring an ACK, and the update that opened it further may have
			// been lost: send what it takes, and its ACK says the window.
			t.swsOverride = true
		}
	}
	if due(t.rec.tlpAt) {
		t.onTLP(now)
	}
	if due(t.recoveryDeadline()) {
		t.onRecoveryTimer(now)
	}
	if due(t.rec.reoAt) {
		t.onReorderTimer(now)
	}
	if due(t.delackAt) {
		t.ackNow = true
	}
	if due(t.keepaliveAt) {
		t.onKeepalive(now)
	}
}

// onRTO is the retransmission timeout (RFC 6298 §5.4-5.6): back off, go
// back to SND.UNA, shrink the congestion window to one segment, or give up
// after the retry limit (RFC 9293 §3.8.3, R2).
func (t *TCB) onRTO(now time.Time) {
	t.rtoAt, t.rec.tlpAt = time.Time{}, time.Time{}
	limit := t.cfg.MaxRetries
	if t.State == SynSent || t.State == SynReceived {
		limit = t.cfg.SynRetries
	}
	if t.retries >= limit {
		what := "data"
		switch t.State {
		case SynSent:
			what = "SYN"
		case SynReceived:
			what = "SYN-ACK"
		}
		err := fmt.Errorf("%w: %s retransmitted %d times without an answer in %s", ErrTimedOut, what, t.retries, t.State)
		if t.State.synchronized() {
			// Deviation: RFC 9293 §3.8.3 (R2) just closes the connection,
			// as Linux (tcp_write_err) and gVisor (timerHandler) do,
			// silently; we also send <SEQ=SND.NXT><CTL=RST>, so a peer
			// that is still there (a one-way outage) learns of it.
			t.rst = &Segment{SEQ: t.SND.NXT, Flags: RST}
		}
		t.enterClosed(err)
		return
	}
	t.retries++
	t.Counters.Timeouts++
	t.rtt.Backoff() // RFC 6298 §5.5
	t.rttTiming = false
	switch t.State {
	case SynSent, SynReceived:
		t.synPending = true
		t.Counters.Retransmissions++
		t.rtoAt = now.Add(t.rtt.RTO)
		return
	}
	if t.flight() == 0 {
		return
	}
	t.rtoBackedOff = true
	if t.retries == 1 {
		t.armUndo(true)
	} else {
		// RFC 3522 §3.2: the detection "MUST NOT be reinitiated after
		// loss recovery has already started. In particular, it must not
		// be reinitiated upon subsequent timeouts for the same segment";
		// RFC 4015 responds to the first timeout only.
		t.disarmUndo()
	}
	t.cc.OnTimeout(t.flight(), t.sndMSS)
	// RFC 6582 §3.2 step 4: "After a retransmit timeout, record the
	// highest sequence number transmitted in the variable recover, and
	// exit the fast recovery procedure if applicable." RFC 6675 §5.1: "If
	// an RTO occurs during loss recovery ... RecoveryPoint MUST be set to
	// HighData ... and the loss recovery algorithm outlined in this
	// document MUST be terminated."
	t.endRecovery()
	t.recover = t.SND.NXT
	t.resetDupAcks()
	t.retxOne = false
	// RFC 6675 §5.1: "[RFC2018] suggests that a TCP sender SHOULD expunge
	// the SACK information gathered from a receiver upon a retransmission
	// timeout (RTO) 'since the timeout might indicate that the data
	// receiver has reneged.' Additionally, a TCP sender MUST 'ignore prior
	// SACK information in determining which data to retransmit.'" What
	// the receiver SACKs from now on is used (pickSegment's go-back).
	t.rec.sb.reset()
	t.rec.reoAt = time.Time{}
	// RFC 6298 §5.4: retransmit the earliest unacknowledged segment, and
	// on from there as the window opens (RFC 5681 §3.1: cwnd = LW).
	t.retxNext = t.SND.UNA
	t.rtoAt = now.Add(t.rtt.RTO) // RFC 6298 §5.6
}

// armKeepalive (re)starts the keep-alive idle timer after a segment from
// the peer (RFC 9293 §3.8.4, MUST-26: only after an idle interval).
func (t *TCB) armKeepalive(now time.Time) {
	t.probes = 0
	if !t.cfg.KeepAlive {
		t.keepaliveAt = time.Time{}
		return
	}
	t.keepaliveAt = now.Add(t.cfg.KeepAliveIdle)
}

// onKeepalive sends a probe, <SEQ=SND.NXT-1> without data (RFC 9293
// §3.8.4, SHLD-12), every KeepAliveInterval, and ends the connection after
// KeepAliveCount unanswered probes.
func (t *TCB) onKeepalive(now time.Time) {
	t.keepaliveAt = time.Time{}
	if !t.cfg.KeepAlive || !(t.State == Established || t.State == CloseWait) {
		return
	}
	if t.flight() > 0 || t.sndBuf.Len() > 0 {
		// Data in flight has its own timer; idle means idle.
		t.keepaliveAt = now.Add(t.cfg.KeepAliveInterval)
		return
	}
	if t.probes >= t.cfg.KeepAliveCount {
		// Deviation: RFC 9293 §3.8.4 does not say what ends the
		// connection; like Linux (tcp_keepalive_timer) we reset it after
		// KeepAliveCount unanswered probes.
		t.rst = &Segment{SEQ: t.SND.NXT, Flags: RST}
		t.enterClosed(fmt.Errorf("%w: %d keep-alive probes unanswered", ErrTimedOut, t.probes))
		return
	}
	t.probes++
	t.probeNow = true
	t.Counters.KeepAliveProbes++
	t.keepaliveAt = now.Add(t.cfg.KeepAliveInterval)
}
