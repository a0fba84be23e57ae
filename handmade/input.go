package handmade

import (
	"errors"
	"net/netip"
	"time"
)

// input is SEGMENT ARRIVES (RFC 9293 §3.10.7): decode, check it is ours,
// then dispatch on state.
func (c *seedConn) input(pkt []byte, now time.Time) {
	var seg Segment
	if err := Decode(pkt, &seg); err != nil {
		switch {
		case errors.Is(err, ErrBadTCPChecksum), errors.Is(err, ErrBadIPChecksum):
			// RFC 9293 §3.1 (MUST-3): verify the checksum, drop on failure.
			c.counters.DroppedChecksum++
		default:
			c.counters.DroppedMalformed++
		}
		c.tr.Notef("DROPPED a %d-octet packet: %v", len(pkt), err)
		return
	}
	if seg.Dst != c.local || (c.state != Listen && seg.Src != c.remote) {
		c.counters.DroppedNotOurs++
		return
	}
	c.counters.SegmentsReceived++
	c.counters.BytesReceived += uint64(len(seg.Payload))
	if seg.Flags.Has(RST) {
		c.counters.ResetsRecv++
	}
	c.tr.segment(false, &seg, c.ISS, c.IRS, c.state != Established, false, "")
	switch c.state {
	case Listen:
		c.inListen(&seg, now)
	case SynSent:
		c.inSynSent(&seg, now)
	case Closed:
		c.counters.DroppedUnacceptable++
	default:
		c.inSynchronized(&seg, now)
	}
}

func (c *seedConn) drop(why string) {
	c.counters.DroppedUnacceptable++
	c.tr.Notef("  ignored: %s", why)
}

// inListen is RFC 9293 §3.10.7.2.
func (c *seedConn) inListen(seg *Segment, now time.Time) {
	switch {
	case seg.Flags.Has(RST):
		// RFC 9293 §3.10.7.2, first check: an incoming RST is ignored.
		c.drop("RST in LISTEN")
	case seg.Flags.Has(ACK):
		// RFC 9293 §3.10.7.2, second check: any ACK is bad in LISTEN;
		// answer <SEQ=SEG.ACK><CTL=RST>.
		c.counters.DroppedUnacceptable++
		c.sendRST(seg, "ACK in LISTEN")
	case seg.Flags.Has(SYN):
		// RFC 9293 §3.10.7.2, third check.
		c.start = now
		c.passive = true
		c.remote = seg.Src
		c.IRS = seg.SEQ
		c.RCV.NXT = seg.SEQ.Add(1)
		c.RCV.WND = uint32(c.cfg.Window)
		c.ISS = c.newISS()
		c.SND.UNA, c.SND.NXT = c.ISS, c.ISS.Add(1)
		c.takeWindow(seg)
		c.takeMSS(seg)
		// Deviation: RFC 9293 §3.10.7.2 queues text carried on a SYN; the
		// seed profile does not acknowledge it, so the sender retransmits it
		// after the handshake (what Linux does without TCP Fast Open).
		c.setState(SynReceived, "SYN received")
		c.sendSYNACK(now, false)
	default:
		// RFC 9293 §3.10.7.2, fourth: any other control or text: drop.
		c.drop("no SYN in LISTEN")
	}
}

// takeMSS records the peer's MSS: the option's value, or 536 when absent
// (RFC 9293 §3.7.1, MUST-15).
func (c *seedConn) takeMSS(seg *Segment) {
	c.peerMSS = 536
	if seg.Options.HasMSS && seg.Options.MSS > 0 {
		c.peerMSS = int(seg.Options.MSS)
	}
}

// takeWindow updates the send window from seg (RFC 9293 §3.10.7.4, fifth
// check, ESTABLISHED: SND.WND, SND.WL1, SND.WL2).
func (c *seedConn) takeWindow(seg *Segment) {
	c.SND.WND = uint32(seg.WND)
	c.SND.WL1, c.SND.WL2 = seg.SEQ, seg.ACK
}

// inSynSent is RFC 9293 §3.10.7.3.
func (c *seedConn) inSynSent(seg *Segment, now time.Time) {
	if seg.Flags.Has(ACK) {
		// First check: SEG.ACK =< ISS or SEG.ACK > SND.NXT is unacceptable;
		// send <SEQ=SEG.ACK><CTL=RST> unless RST is set.
		if seg.ACK.LessEq(c.ISS) || c.SND.NXT.LessThan(seg.ACK) {
			c.counters.DroppedUnacceptable++
			c.sendRST(seg, "unacceptable ACK in SYN-SENT")
			return
		}
	}
	if seg.Flags.Has(RST) {
		// Second check: with an acceptable ACK, the connection is refused;
		// without an ACK, drop.
		if seg.Flags.Has(ACK) {
			c.fail(ErrConnRefused, "the peer answered the SYN with a RST: nothing listens on "+c.remote.String())
			return
		}
		c.drop("RST without ACK in SYN-SENT")
		return
	}
	if !seg.Flags.Has(SYN) {
		// Fifth check: neither SYN nor RST: drop.
		c.drop("no SYN in SYN-SENT")
		return
	}
	// Fourth check: SYN.
	c.IRS = seg.SEQ
	c.RCV.NXT = seg.SEQ.Add(1)
	c.takeMSS(seg)
	if seg.Flags.Has(ACK) {
		c.SND.UNA = seg.ACK
	}
	if c.ISS.LessThan(c.SND.UNA) {
		// Our SYN is acknowledged: ESTABLISHED, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
		c.ackedAll(now)
		c.takeWindow(seg)
		c.sendACK("")
		c.setState(Established, "THREE-WAY HANDSHAKE COMPLETE")
		// Deviation: text on a SYN-ACK is not queued; the peer resends it.
		return
	}
	// Simultaneous open (RFC 9293 §3.5, Figure 8): SYN-RECEIVED,
	// <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
	c.setState(SynReceived, "simultaneous open")
	c.sendSYNACK(now, false)
}

// acceptable is the first check of RFC 9293 §3.10.7.4: the four cases of
// segment length and receive window.
func (c *seedConn) acceptable(seg *Segment) bool {
	n, wnd := seg.LEN(), c.RCV.WND
	switch {
	case n == 0 && wnd == 0:
		return seg.SEQ == c.RCV.NXT
	case n == 0:
		return seg.SEQ.InWindow(c.RCV.NXT, wnd)
	case wnd == 0:
		return false
	default:
		return seg.SEQ.InWindow(c.RCV.NXT, wnd) || seg.SEQ.Add(n-1).InWindow(c.RCV.NXT, wnd)
	}
}

// inSynchronized is RFC 9293 §3.10.7.4 for SYN-RECEIVED and every later
// state: the checks in the RFC's order.
func (c *seedConn) inSynchronized(seg *Segment, now time.Time) {
	if c.state == SynReceived && seg.Flags&(SYN|ACK|RST) == SYN && seg.SEQ == c.IRS {
		// Deviation: RFC 9293 §3.10.7.4's first check answers a
		// retransmitted SYN with a bare ACK; like Linux (tcp_check_req) we
		// retransmit the SYN-ACK, which is what a client whose SYN-ACK was
		// lost needs.
		c.retries++
		c.retransmitted = true
		c.sendSYNACK(now, true)
		return
	}
	// First check: sequence number.
	if !c.acceptable(seg) {
		if seg.Flags.Has(RST) {
			c.drop("RST out of window")
			return
		}
		if c.state == TimeWait && seg.Flags.Has(FIN) {
			// RFC 9293 §3.10.7.4, eighth check (TIME-WAIT): a retransmitted
			// FIN is acknowledged and restarts the 2 MSL timeout.
			c.timeWaitAt = now.Add(c.cfg.TimeWait)
		}
		c.counters.DroppedUnacceptable++
		c.sendACK("unacceptable segment: re-ACK RCV.NXT")
		return
	}
	// Second check: RST.
	if seg.Flags.Has(RST) {
		if seg.SEQ != c.RCV.NXT {
			// RFC 5961 §3.2 (RFC 9293 §3.10.7.4 second check): an in-window
			// RST that is not exact earns a challenge ACK.
			c.counters.ChallengeACKs++
			c.sendACK("challenge ACK (RFC 5961 §3.2)")
			return
		}
		switch c.state {
		case SynReceived:
			if c.passive {
				// Passive OPEN: return to LISTEN.
				c.setState(Listen, "RST in SYN-RECEIVED")
				c.rtoAt, c.passive, c.remote = time.Time{}, false, netip.AddrPort{}
				return
			}
			c.fail(ErrConnRefused, "RST in SYN-RECEIVED after a simultaneous open")
		case Closing, LastAck, TimeWait:
			c.closeNow(now, Closed, "RST")
		default:
			c.fail(ErrConnReset, "")
		}
		return
	}
	// Third check (security) does not apply: no IPv4 security option.
	// Fourth check: SYN in a synchronized state.
	if seg.Flags.Has(SYN) {
		// RFC 5961 §4.2 (RFC 9293 §3.10.7.4 fourth check): challenge ACK.
		c.counters.ChallengeACKs++
		c.sendACK("challenge ACK for SYN (RFC 5961 §4.2)")
		return
	}
	// Fifth check: ACK.
	if !seg.Flags.Has(ACK) {
		// RFC 9293 §3.10.7.4 fifth check: if the ACK bit is off, drop.
		c.drop("no ACK bit")
		return
	}
	if c.state == SynReceived {
		if !(c.SND.UNA.LessThan(seg.ACK) && seg.ACK.LessEq(c.SND.NXT)) {
			// SYN-RECEIVED: an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>.
			c.counters.DroppedUnacceptable++
			c.sendRST(seg, "unacceptable ACK in SYN-RECEIVED")
			return
		}
		c.SND.UNA = seg.ACK
		c.ackedAll(now)
		c.takeWindow(seg)
		c.setState(Established, "THREE-WAY HANDSHAKE COMPLETE")
	} else {
		if c.SND.NXT.LessThan(seg.ACK) {
			// The ACK acknowledges something not yet sent: send an ACK,
			// drop the segment.
			c.counters.DroppedUnacceptable++
			c.sendACK("ACK beyond SND.NXT")
			return
		}
		if c.SND.UNA.LessThan(seg.ACK) {
			c.SND.UNA = seg.ACK
			if c.SND.UNA == c.SND.NXT {
				c.ackedAll(now)
			} else {
				// RFC 6298 §5.3: new data acknowledged, restart the timer.
				c.rtoAt = now.Add(c.rtt.RTO)
			}
		}
		// Update the send window if the segment is newer (SND.WL1 < SEG.SEQ,
		// or equal with SND.WL2 =< SEG.ACK).
		if c.SND.UNA.LessEq(seg.ACK) && (c.SND.WL1.LessThan(seg.SEQ) || (c.SND.WL1 == seg.SEQ && c.SND.WL2.LessEq(seg.ACK))) {
			c.takeWindow(seg)
		}
		finAcked := seg.ACK == c.SND.NXT
		switch c.state {
		case FinWait1:
			if finAcked {
				c.setState(FinWait2, "our FIN is acknowledged")
			}
		case Closing:
			if finAcked {
				c.closeNow(now, TimeWait, "our FIN is acknowledged")
			}
			return
		case LastAck:
			if finAcked {
				c.closeNow(now, Closed, "our FIN is acknowledged")
			}
			return
		case TimeWait:
			// Only a retransmitted FIN can arrive: handled by the first check.
			return
		}
	}
	// Sixth check, URG: the seed profile takes urgent data inline.
	// Seventh check: segment text, in ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2.
	needACK, finArrived := false, false
	seq, text, fin := seg.SEQ, seg.Payload, seg.Flags.Has(FIN)
	if c.state == Established || c.state == FinWait1 || c.state == FinWait2 {
		if seq.LessThan(c.RCV.NXT) {
			// RFC 9293 §3.10.7.4, first check: of a segment that straddles
			// RCV.NXT only the new part is processed.
			skip := c.RCV.NXT.Sub(seq)
			if skip >= uint32(len(text)) {
				if len(text) > 0 {
					c.counters.DuplicateData++
				}
				skip = uint32(len(text))
			}
			text, seq = text[skip:], seq.Add(skip)
		}
		// The first check put seq inside the window, so room > 0.
		if room := c.RCV.WND - seq.Sub(c.RCV.NXT); uint32(len(text)) > room {
			// RFC 9293 §3.10.7.4, first check: data beyond the window is
			// trimmed off, and with it the FIN.
			text, fin = text[:room], false
		}
		if seq != c.RCV.NXT {
			// Beyond RCV.NXT: hold it for when the gap fills, and send a
			// duplicate ACK at once (RFC 5681 §4.2: an out-of-order segment
			// SHOULD be acknowledged immediately), which drives the
			// sender's fast retransmit.
			c.counters.OutOfOrder++
			c.ooo.hold(seq, text, fin)
			c.sendACK("out of order: held; duplicate ACK of RCV.NXT")
			return
		}
		needACK = len(text) > 0 || fin
		c.deliver(text)
		finArrived = fin
		// Held segments that the new data made contiguous follow it.
		for !finArrived {
			h, ok := c.ooo.next(c.RCV.NXT)
			if !ok {
				break
			}
			c.deliver(h.data)
			finArrived = h.fin
		}
	}
	// In CLOSE-WAIT, CLOSING, LAST-ACK and TIME-WAIT a FIN was already
	// received: text and FIN are ignored (seventh and eighth checks).
	// Eighth check: FIN, only once every octet before it has arrived.
	if finArrived {
		c.RCV.NXT = c.RCV.NXT.Add(1)
		needACK = true
		switch c.state {
		case Established:
			c.setState(CloseWait, "FIN received")
		case FinWait1:
			if seg.ACK == c.SND.NXT {
				c.closeNow(now, TimeWait, "FIN received, ours acknowledged")
			} else {
				c.setState(Closing, "simultaneous close")
			}
		case FinWait2:
			c.closeNow(now, TimeWait, "FIN received")
		}
	}
	if needACK {
		c.sendACK("")
	}
}

// deliver hands in-order text to the application and advances RCV.NXT.
func (c *seedConn) deliver(text []byte) {
	if len(text) == 0 {
		return
	}
	c.hash.Write(text)
	c.delivered += int64(len(text))
	c.RCV.NXT = c.RCV.NXT.Add(uint32(len(text)))
}
