package handmade

// Send-buffer autotuning. The send buffer holds every octet from SND.UNA
// on: what is in flight and what waits to go. A sender has at most a
// buffer in flight, so on a long, fat path a fixed buffer holds it to a
// buffer per round trip (1 MiB at 100 ms: 84 Mbit/s) however far the
// congestion window and the peer's window open; a large fixed buffer
// instead queues that much on every connection whose path is slow. RFC
// 9293 §3.10.2 (SEND) leaves the buffer's size to the implementation;
// the rules below are Linux's (tcp_new_space, tcp_should_expand_sndbuf,
// tcp_sndbuf_expand) and gVisor's (computeTCPSendBufferSize), each
// labelled: when the buffer is what holds the sender back, it grows to
// twice what the windows let be in flight, up to MaxSendBuffer. It never
// shrinks.
type sndTune struct {
	on bool
	// waiting: the application's last Write found the buffer full (it
	// took less than it was given), so the application has more to send
	// than the buffer takes. Linux's SOCK_NOSPACE.
	waiting bool
}

// sendBufferFor is the sizing rule: the send buffer for a congestion
// window of cwnd octets and a send window (the peer's, SND.WND) of wnd.
//
// Deviation: no RFC sizes the buffer. What may be in flight is the lesser
// of the two windows (RFC 5681 §2, cwnd: "a TCP MUST NOT send data with
// a sequence number higher than the sum of the highest acknowledged
// sequence number and the minimum of cwnd and rwnd"), and the buffer is
// twice that, as Linux's tcp_sndbuf_expand and gVisor's
// computeTCPSendBufferSize make it twice cwnd: the second half is a round
// trip's worth queued behind the flight, so the sender does not run dry
// while the application wakes and refills (Linux: the "application might
// react slowly"), a window that doubles in slow start finds the next
// round trip's data waiting, and in fast recovery the buffer holds the
// flight not yet repaired while new data goes out (Linux: "Fast Recovery
// (RFC 5681 3.2): Cubic needs 1.7 factor, rounded to 2"). Linux and
// gVisor go by cwnd alone; ours grows on every ACK whether or not it is
// what limits the sender (there is no RFC 7661 check), so where the
// peer's window is the smaller, cwnd alone would size the buffer for a
// flight that window never lets out.
func sendBufferFor(cwnd, wnd int) int { return 2 * min(cwnd, wnd) }

// sndTuneStart turns autotuning on for a connection whose buffer starts
// at cfg.SendBuffer.
func (t *TCB) sndTuneStart() {
	t.sndTune.on = !t.cfg.DisableSendAutotune && t.cfg.MaxSendBuffer > t.cfg.SendBuffer
}

// sndWrote notes what the application's Write left over: took octets of
// asked.
func (t *TCB) sndWrote(took, asked int) { t.sndTune.waiting = took < asked }

// tuneSendBuffer runs when pickNew sends no new data, avail octets
// being queued and not yet sent. If they are less than a full-sized
// segment (what is left of a full buffer once its full segments are
// out: Nagle or sender SWS avoidance holds it), the application waits
// for room, both windows would let at least one more full-sized segment
// go, and both would hold the whole buffer in flight, then the buffer
// is what holds the sender back, and it grows (sendBufferFor) up to
// MaxSendBuffer. Where cwnd or the peer's window is the limit, data
// stays queued behind the flight.
//
// Deviation: Linux's tcp_should_expand_sndbuf (the user did not fix the
// size, SOCK_NOSPACE set, fewer packets in flight than cwnd), run as
// tcp_new_space does, when an ACK freed room; gVisor grows on every ACK
// that frees room in a half-full buffer, whatever held the sender back.
// Linux asks only that in-flight be under cwnd. We also ask for room in
// the peer's window, so a sender held to the peer's window does not grow
// its buffer on the ACKs that open it again, and that the windows hold
// the whole buffer: right after an ACK, in-flight is the buffer less
// what the ACK freed and the writer has not yet refilled, so a window a
// little under the buffer passed the first two tests. On the clean
// in-memory wire (a 1 MiB buffer, the peer's window just under it) that
// grew the buffer to twice the window, 2 MiB, and handmade->handmade
// moved 10 to 15% less (tcplab bench, interleaved with the fixed
// buffer): a larger ring, more memory touched per octet, for a sender
// the window held back all along. In loss recovery with SACK what is in
// flight is RFC 6675's pipe, as for the sending rule there (§5 step C),
// and Linux's in-flight count.
func (t *TCB) tuneSendBuffer(avail int) {
	a := &t.sndTune
	if !a.on || !a.waiting || avail >= t.sndMSS {
		return
	}
	inFlight := t.flight()
	if t.pipeRules() {
		inFlight = t.rec.pipe
	}
	cwnd, wnd := t.cwnd(), int(t.SND.WND)
	if cwnd-inFlight < t.sndMSS || wnd-t.flight() < t.sndMSS || min(cwnd, wnd) < t.sndBuf.Cap() {
		return
	}
	if size := min(sendBufferFor(cwnd, wnd), t.cfg.MaxSendBuffer); size > t.sndBuf.Cap() {
		t.sndBuf.SetLimit(size)
		// The waiting writer is woken (Stack.service signals after
		// every event) and finds room; it is waiting again only if it
		// fills this too.
		a.waiting = false
		t.Counters.SendBufferGrown++
	}
}

// SetSendBuffer fixes the send buffer at n octets and turns autotuning
// off, as SO_SNDBUF does on Linux (which doubles the value asked for, to
// cover its bookkeeping; ours counts data octets only and takes n as
// given). Octets already queued stay queued, even above n: Write takes
// more once the buffer has drained below it.
func (t *TCB) SetSendBuffer(n int) {
	t.sndTune.on = false
	t.sndBuf.SetLimit(max(n, 1))
}
