package handmade

import "time"

// Receive-buffer autotuning ("dynamic right-sizing"): a window no larger
// than the receive buffer lets a sender send one buffer per round trip,
// so a fixed buffer either holds back a long, fat path or spends memory
// on every connection that does not need it. RFC 9293 leaves the size to
// the implementation (§3.8.6: the window is "the amount of data the
// sender of this segment is willing to accept"); RFC 7323 §2 gives the
// window the room to grow. Every rule below is a heuristic of Linux's
// (tcp_rcv_space_adjust, tcp_rcv_rtt_measure, tcp_rcv_rtt_measure_ts)
// and gVisor's (ModerateRecvBuf), labelled as such, and our own where
// theirs grew the window on paths that did not need it: each measured
// round trip in which the window held the sender back, the receive buffer
// grows to about twice what the application read in it, when that was
// more than before, up to MaxRecvBuffer. It never shrinks, so the
// window's right edge never moves left (RFC 9293 §3.8.6.2.2, RFC 7323
// §2.4).
type rcvTune struct {
	on bool
	// rtt is the receiver's round-trip estimate, 0 until a sample:
	// from timestamps (rcvRTTFromTS) or, without them, from the window
	// (rcvRTTFromWindow).
	rtt time.Duration
	// lastTSecr is the TSecr of the last timestamp sample: the later
	// segments of a flight echo the same one and would sample more.
	// rcvMSS is the largest text of a segment seen: what the peer's
	// full-sized segments carry.
	lastTSecr uint32
	rcvMSS    int
	// tsSent is when each of the last few TSvals we sent first went out,
	// so a sample that echoes one is as fine as our clock, not as coarse
	// as the timestamp tick.
	tsSent [4]struct {
		val uint32
		at  time.Time
	}
	tsNext int
	// rttSeq is a right edge we advertised at rttAt, while rttAt is set:
	// data reaching it took about one round trip.
	rttSeq Seq
	rttAt  time.Time
	// windowLimited: since the measurement started, data reached a right
	// edge within two round trips of our advertising it.
	windowLimited bool
	// The measurement of the application's reading: seq is the sequence
	// number of the next octet it was to read and nxt was RCV.NXT at
	// time at (zero: not started); space is what was counted in the last
	// round trip that grew the buffer.
	seq, nxt Seq
	at       time.Time
	space    int
}

// recvBufferFor is the sizing rule: the receive buffer for an application
// that read copied octets in the last round trip, after space in the one
// the buffer was last sized from.
//
// Deviation: no RFC sizes the buffer; this is Linux's
// tcp_rcv_space_adjust in its earlier form. Twice what was read, so one
// loss (a round trip of data held out of order while its hole is
// repaired) does not shut the window, plus 16 segments for variation;
// and if reading grew by half or more, twice that again (by a quarter,
// half again), because a sender in slow start doubles its window each
// round trip and the window we advertise now is for the round trip after
// the next. Today's Linux and gVisor (ModerateRecvBuf) add twice the
// growth in proportion, without bound, so one round trip whose count
// jumped (a reader or a link that stalled, then caught up) takes the
// buffer to its cap; the earlier form grows it at most fourfold a step.
func recvBufferFor(copied, space, mss int) int {
	size := 2*copied + 16*mss
	switch {
	case space <= 0:
	case copied >= space+space/2:
		size *= 2
	case copied >= space+space/4:
		size += size / 2
	}
	return size
}

// rcvTuneStart turns autotuning on for a connection whose buffer starts
// at cfg.RecvBuffer.
func (t *TCB) rcvTuneStart() {
	a := &t.tune
	a.on = !t.cfg.DisableRecvAutotune && t.cfg.MaxRecvBuffer > t.cfg.RecvBuffer
	// Deviation (Linux's tcp_init_buffer_space): reading counts as
	// growing once it passes an initial window of ten segments (RFC 6928),
	// what a sender's first round trip can bring.
	a.space = min(t.cfg.RecvBuffer, 10*t.cfg.MSS)
}

// rcvRTT is the round trip autotuning measures over: the receiver's own
// estimate or, before it has one, the connection's (SRTT, RFC 6298), as
// gVisor does.
func (t *TCB) rcvRTT() time.Duration {
	if t.tune.rtt > 0 {
		return t.tune.rtt
	}
	return t.rtt.SRTT
}

// readSeq is the sequence number of the next octet the application reads.
func (t *TCB) readSeq() Seq { return t.RCV.NXT.Add(-uint32(t.rcvBuf.Len())) }

// rcvRTTFromTS takes a receiver round-trip sample from a segment of
// in-order text: the time since we sent the TSval it echoes (RFC 7323
// §4.1: "TSecr ... echoes a timestamp value that was sent by the
// remote TCP"). RFC 7323 §4 measures the sender's RTT this way; the
// receiver does the same from a full-sized segment of the sender's.
//
// Deviation (Linux's tcp_rcv_rtt_measure_ts): only from a segment as
// large as the largest seen (the sender's full-sized segments: gVisor's
// carry 1420 octets where ours carry 1448), and one sample per echoed
// TSval: the first segment to echo it answers the first ACK that carried
// it, so the sample is timed from when that ACK went out (tsSent) if we
// still know, else counted in ticks of 1 ms (RFC 7323 §5.4), at least
// one. As gVisor (not Linux, which averages), the estimate is the least
// sample: on a path whose queue fills as the window grows, an average
// follows the queue up and the window with it.
func (t *TCB) rcvRTTFromTS(seg *Segment, n int, now time.Time) {
	a := &t.tune
	o := &seg.Options
	a.rcvMSS = max(a.rcvMSS, min(n, t.cfg.MSS))
	if !a.on || !t.tsOn || !o.HasTimestamps || o.TSEcr == a.lastTSecr || n < a.rcvMSS {
		return
	}
	a.lastTSecr = o.TSEcr
	var r time.Duration
	for _, s := range a.tsSent {
		if s.val == o.TSEcr && !s.at.IsZero() {
			r = now.Sub(s.at)
		}
	}
	if r <= 0 {
		d := int32(t.tsNow(now) - o.TSEcr)
		if d < 0 {
			return
		}
		r = max(time.Duration(d), 1) * (time.Second / tsHz)
	}
	if a.rtt == 0 || r < a.rtt {
		a.rtt = r
	}
}

// tsSentAt notes that an ACK carrying TSval v goes out now (rcvRTTFromTS).
func (t *TCB) tsSentAt(v uint32, now time.Time) {
	a := &t.tune
	last := &a.tsSent[(a.tsNext+len(a.tsSent)-1)%len(a.tsSent)]
	if !a.on || last.val == v && !last.at.IsZero() {
		return
	}
	a.tsSent[a.tsNext].val, a.tsSent[a.tsNext].at = v, now
	a.tsNext = (a.tsNext + 1) % len(a.tsSent)
}

// rcvRTTFromWindow times a right edge we advertised to the data that
// reaches it: about one round trip when the sender is held back by the
// window, more when it is not. A time within two round trips marks the
// transfer window-limited: only then does the buffer grow
// (tuneRecvBuffer).
//
// Deviation (Linux's tcp_rcv_rtt_measure, gVisor's updateRTT): without
// timestamps, a smaller time is an RTT sample, so the estimate is the
// least such time seen; and, as gVisor, the handshake's sample (SRTT)
// counts as one: the first window timed is seldom filled in one round
// trip by a sender still in slow start, and taken alone it made the
// estimate four round trips.
func (t *TCB) rcvRTTFromWindow(now time.Time) {
	a := &t.tune
	if !a.on || a.rttAt.IsZero() || t.RCV.NXT.LessThan(a.rttSeq) {
		return
	}
	r, cur := now.Sub(a.rttAt), t.rcvRTT()
	if r <= 2*cur {
		a.windowLimited = true
	}
	if !t.tsOn && r > 0 && (cur == 0 || r < cur) {
		a.rtt = r
	}
	a.rttAt = time.Time{}
}

// rcvRTTWindowSent starts a window measurement (rcvRTTFromWindow) at an
// advertisement, unless one is running.
func (t *TCB) rcvRTTWindowSent(now time.Time) {
	a := &t.tune
	if a.on && a.rttAt.IsZero() && t.RCV.NXT.LessThan(t.RCV.edge) {
		a.rttSeq, a.rttAt = t.RCV.edge, now
	}
}

// tuneRecvBuffer runs after the application read: once a round trip has
// passed since the measurement started, it sizes the receive buffer from
// what the application read in it (recvBufferFor), never smaller than it
// is and never over MaxRecvBuffer. before is readSeq before the read.
//
// Deviation: Linux's tcp_rcv_space_adjust, run from recvmsg as here, but
// counting the lesser of what the application read and what arrived in
// the round trip: an application that was held up and then drains its
// backlog reads many round trips' worth in one, while what a window must
// carry is what the path delivers in one.
func (t *TCB) tuneRecvBuffer(before Seq, now time.Time) {
	a := &t.tune
	if !a.on {
		return
	}
	if a.at.IsZero() {
		a.seq, a.nxt, a.at = before, t.RCV.NXT, now
		return
	}
	rtt := t.rcvRTT()
	if rtt <= 0 || now.Sub(a.at) < rtt {
		return
	}
	seq := t.readSeq()
	// Deviation: Linux and gVisor grow whenever reading grew; we grow
	// only if the window held the sender back in the round trip (it
	// filled a window within two round trips, rcvRTTFromWindow). A
	// window the sender does not fill is large enough. Growing it anyway
	// took it to megabytes on the clean in-memory wire (round trips of
	// 0.1 ms, in which a stalled reader or link makes the count jump),
	// and a netstack sender then sent into us at 0.8 of its rate into
	// itself, against 1.0 with the window at 1 MiB (tcplab bench).
	if copied := min(int(seq.Sub(a.seq)), int(t.RCV.NXT.Sub(a.nxt))); copied > a.space && a.windowLimited {
		if size := min(recvBufferFor(copied, a.space, t.cfg.MSS), t.cfg.MaxRecvBuffer); size > t.rcvBuf.Cap() {
			t.rcvBuf.SetLimit(size)
		}
		a.space = copied
	}
	a.seq, a.nxt, a.at, a.windowLimited = seq, t.RCV.NXT, now, false
}

// SetRecvBuffer fixes the receive buffer at n octets and turns
// autotuning off, as SO_RCVBUF does on Linux. The window scale stays what
// the handshake chose, so a buffer over 65535 << Rcv.Wind.Shift is not
// all advertised (RFC 7323 §2.3). A window already advertised is kept:
// data within it is taken even if the buffer is now smaller (RFC 7323
// §2.4, RFC 9293 §3.8.6.2.2: the right edge does not move left).
func (t *TCB) SetRecvBuffer(n int) {
	t.tune.on = false
	t.rcvBuf.SetLimit(max(n, 1))
}
