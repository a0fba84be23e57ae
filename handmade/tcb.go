package handmade

import (
	"net/netip"
	"syscall"
	"time"
)

// TCB is the transmission control block of the full profile: one
// connection's state and rules, with no I/O of its own. Its driver (Stack)
// feeds it segments (Input) and timer expiries (OnTimer), passes on user
// calls (Write, Read, Close, CloseWrite, Abort), collects what to send
// (Output) and wakes it at Deadline. It reads no clock: every call takes
// the time.
//
//	     1          2          3          4
//	----------|----------|----------|----------
//	       SND.UNA    SND.NXT    SND.UNA
//	                            +SND.WND
//	(RFC 9293 §3.3.1, Figure 3: 1 acknowledged, 2 sent and not yet
//	acknowledged, 3 allowed to send, 4 not yet allowed)
//
//	         1          2          3
//	     ----------|----------|----------
//	            RCV.NXT    RCV.NXT
//	                      +RCV.WND
//	(Figure 4: 1 received, 2 may be received, 3 not yet allowed)
type TCB struct {
	cfg *Config

	State         State
	Local, Remote netip.AddrPort
	passive       bool
	// route is the IPv4 source route every segment we send takes (RFC
	// 9293 §3.9.2.1): the application's (appRoute, MUST-51), or the
	// return route of the peer's latest source-routed segment (MUST-53,
	// SHLD-24); zero for none.
	route    SourceRoute
	appRoute bool

	ISS, IRS Seq
	SND      struct {
		UNA, NXT Seq
		WND      uint32 // octets, scaled
		WL1, WL2 Seq
		Shift    uint8 // Snd.Wind.Shift (RFC 7323 §2.3)
		maxWND   uint32
	}
	RCV struct {
		NXT   Seq
		Shift uint8 // Rcv.Wind.Shift
		UP    Seq
		edge  Seq // RCV.NXT+RCV.WND as last advertised: never moves left
	}
	// sndMSS is the most data octets per segment we send: the peer's MSS
	// less our fixed option bytes (RFC 9293 §3.7.1, MUST-16).
	sndMSS  int
	peerMSS int
	softErr string // the last soft ICMP error (icmp.go)
	// sndUP is SND.UP, the sequence number after the last urgent octet
	// the application sent, while urgentMode (urgent.go).
	sndUP      Seq
	urgentMode bool

	tsOn, sackOn      bool
	tsRecent          uint32
	lastACKSent       Seq
	tsOffset          uint32
	tsEpoch           time.Time
	wsOffered         bool
	sackPermittedPeer bool

	sndBuf  ring // octets from SND.UNA on
	rcvBuf  ring // in-order octets not yet read
	tune    rcvTune
	sndTune sndTune
	ooo     oooQueue
	// dsack is the D-SACK block (RFC 2883) the next ACK reports, while
	// dsackNow: the duplicate octets the last segment carried.
	dsack    SACKBlock
	dsackNow bool

	// finQueued: the user closed the sending side; the FIN follows the
	// data. finSent: SND.NXT covers it.
	finQueued, finSent bool
	rcvClosed          bool // the user will read no more (Close)
	noDelay            bool
	lingerAbort        bool

	cc         CongestionControl
	retxNext   Seq // while retxNext < SND.NXT, Output retransmits from it
	retxOne    bool
	rec        recovery
	inRecovery bool
	recover    Seq
	dupAcks    int

	rtt          RTTEstimator
	rtoBackedOff bool          // a data timeout backed the RTO off; no sample since
	ackRTT       time.Duration // congestion control's sample from the segment in Input, 0 if none
	rttTiming    bool
	rttSeq       Seq
	rttSentAt    time.Time
	retries      int
	progressAt   time.Time // last time SND.UNA advanced or the queue started
	lastRecvAt   time.Time
	probes       int
	synPending   bool // SYN or SYN-ACK to (re)send
	probeNow     bool // a zero-window or keep-alive probe to send
	swsOverride  bool // the override timeout passed: send into a small window
	ackNow       bool
	unackedSegs  int // full-sized segments not yet acknowledged
	unackedBytes int // octets of text not yet acknowledged
	chalTokens   int
	chalRefillAt time.Time

	rtoAt, persistAt, delackAt, keepaliveAt, timeWaitAt, finWait2At time.Time
	persistBackoff                                                  int

	rst *Segment // a reset to send before anything else

	// Err is why the connection ended, if it ended badly.
	Err error
	// accepted is set once the listener handed the connection out.
	established bool

	Counters TCBCounters
}

// TCBCounters count one connection's events, one field per reason a
// segment was dropped or answered specially.
type TCBCounters struct {
	SegmentsSent, SegmentsReceived uint64
	BytesSent, BytesReceived       uint64 // payload octets
	Retransmissions                uint64 // segments resent (timeout, fast retransmit, SYN)
	Timeouts, FastRetransmits      uint64
	DupAcksReceived                uint64
	ResetsSent, ResetsReceived     uint64
	ChallengeACKs                  uint64
	ChallengeACKsSuppressed        uint64
	DroppedUnacceptable            uint64 // failed the RFC 9293 §3.10.7.4 first check
	DroppedPAWS                    uint64 // RFC 7323 §5 PAWS
	DroppedNoTimestamp             uint64 // RFC 7323 §3.2: no TSopt once negotiated
	DroppedNoACK                   uint64 // ACK bit off (fifth check)
	DroppedACKTooNew               uint64 // SEG.ACK > SND.NXT
	OutOfOrder                     uint64 // segments held for reassembly
	DuplicateData                  uint64 // octets already received
	WindowProbes                   uint64
	KeepAliveProbes                uint64
	LossProbes                     uint64 // RFC 8985 §7 tail loss probes
	LostRetransmissions            uint64 // retransmissions found lost in recovery
	Urgent                         uint64 // segments with URG, data taken inline
	// ICMP errors quoting the connection's segments (RFC 9293 §3.9.2.2):
	// soft ones recorded, hard ones that aborted it, Fragmentation Needed
	// that lowered the MSS, and ignored ones (Source Quench, a quoted
	// SEG.SEQ not in flight, an MTU under 68).
	ICMPSoftErrors, ICMPHardErrors, ICMPFragNeeded, ICMPIgnored uint64
	// D-SACK blocks (RFC 2883) sent for duplicate segments, and received.
	DSACKsSent, DSACKsReceived uint64
	// SpuriousRetransmissions are retransmissions of a loss response
	// (fast retransmit, timeout) found unnecessary, by a D-SACK (RFC
	// 3708) or the timestamps (RFC 3522); a loss probe's outside one is
	// not counted. Undos are the loss responses reversed because of them
	// (RFC 4015), SpuriousTimeouts the Undos that reversed a
	// retransmission timeout.
	SpuriousRetransmissions, Undos, SpuriousTimeouts uint64
	// SendBufferGrown counts the times send-buffer autotuning grew the
	// send buffer (sndtune.go).
	SendBufferGrown uint64
}

// Errors that end a connection. Each also matches its errno with
// errors.Is, as the kernel's do (syscall.ECONNRESET and so on).
var (
	ErrReset    error = &errnoError{"connection reset by peer", syscall.ECONNRESET}
	ErrRefused  error = &errnoError{"connection refused", syscall.ECONNREFUSED}
	ErrTimedOut error = &errnoError{"connection timed out", syscall.ETIMEDOUT}
	ErrAborted  error = &errnoError{"connection aborted", syscall.ECONNABORTED}
)

type errnoError struct {
	msg   string
	errno syscall.Errno
}

func (e *errnoError) Error() string        { return e.msg }
func (e *errnoError) Is(target error) bool { return target == e.errno }

// tsHz is the timestamp clock: one tick per millisecond (RFC 7323 §5.4).
const tsHz = 1000

// optionSpace is what our own options take from every data segment: the
// 12 octets of an aligned timestamp option when in use.
func (t *TCB) optionSpace() int {
	if t.tsOn {
		return 12
	}
	return 0
}

// ipOptionSpace is what the source route takes of every datagram's IPv4
// header: RFC 9293 §3.7.1 (MUST-16) takes IP options out of the
// effective send MSS ("Eff.snd.MSS = min(SendMSS+20, MMS_S) -
// TCPhdrsize - IPoptionsize").
func (t *TCB) ipOptionSpace() int { return t.route.optionLen() }

// SetSourceRoute is the application's source route for an active OPEN
// (RFC 9293 §3.9.2.1: "An application MUST be able to specify a source
// route when it actively opens a TCP connection (MUST-51), and this MUST
// take precedence over a source route received in a datagram
// (MUST-52)"). Called before the SYN goes out.
func (t *TCB) SetSourceRoute(r SourceRoute) {
	t.route, t.appRoute = r, !r.IsZero()
}

// takeRoute keeps the return route of a segment that came by a source
// route: RFC 9293 §3.9.2.1, "When a TCP connection is OPENed passively
// and a packet arrives with a completed IP Source Route Option
// (containing a return route), TCP MUST save the return route and use
// it for all segments sent on this connection (MUST-53). If a different
// source route arrives in a later segment, the later definition SHOULD
// override the earlier one (SHLD-24)." A route the application gave
// stays (MUST-52); a segment without a route leaves the one we have.
// Called for a SYN that opens the connection and for segments that pass
// the sequence check, so an off-path segment cannot redirect the
// connection. The send MSS follows the header's new size.
func (t *TCB) takeRoute(seg *Segment) {
	if t.appRoute || seg.Route.IsZero() {
		return
	}
	back := seg.Route.Return(seg.Src.Addr().As4(), seg.Dst.Addr().As4())
	if back == t.route {
		return
	}
	if t.sndMSS > 0 {
		t.sndMSS = max(t.sndMSS+t.ipOptionSpace()-back.optionLen(), 1)
	}
	t.route = back
}

// Route is the source route the connection's segments take.
func (t *TCB) Route() SourceRoute { return t.route }

func newTCB(stackCfg *Config, local, remote netip.AddrPort, iss Seq, now time.Time) *TCB {
	// Each connection keeps its own copy, so per-connection settings
	// (keep-alive, user timeout, Nagle) do not leak into the stack's.
	cfg := new(Config)
	*cfg = *stackCfg
	t := &TCB{
		cfg: cfg, Local: local, Remote: remote, ISS: iss,
		sndBuf:   newRing(cfg.SendBuffer),
		rcvBuf:   newRing(cfg.RecvBuffer),
		rtt:      NewRTTEstimator(cfg.InitialRTO, cfg.MinRTO, cfg.MaxRTO),
		noDelay:  cfg.NoDelay,
		tsEpoch:  now,
		tsOffset: uint32(iss) * 2654435761, // a per-connection offset (RFC 7323 §5.4)
	}
	t.SND.UNA, t.SND.NXT = iss, iss.Add(1)
	t.retxNext, t.recover = t.SND.NXT, iss
	t.lastRecvAt, t.progressAt = now, now
	t.chalTokens, t.chalRefillAt = cfg.ChallengeACKLimit, now
	t.rcvTuneStart()
	t.sndTuneStart()
	return t
}

// rcvShift picks our window scale for a receive buffer that may grow to
// buf octets: the smallest shift that lets the 16-bit field say it (RFC
// 7323 §2.3: the shift is chosen at SYN time and "the maximum scale
// exponent is limited to 14"). A larger shift would cost the window its
// granularity for nothing; a smaller one would cap the window below the
// buffer autotuning may grow to.
func rcvShift(buf int) uint8 {
	var s uint8
	for s < 14 && buf>>s > 65535 {
		s++
	}
	return s
}

// openActive is OPEN in CLOSED, active (RFC 9293 §3.10.1): queue a SYN and
// enter SYN-SENT.
func (t *TCB) openActive(now time.Time) {
	t.State = SynSent
	t.synPending = true
	t.wsOffered = !t.cfg.DisableWindowScale
}

// openPassive makes the TCB of a SYN that arrived at a listener (RFC 9293
// §3.10.7.2, third check) and queues the SYN-ACK.
func (t *TCB) openPassive(seg *Segment, now time.Time) {
	t.passive = true
	t.State = SynReceived
	t.takeRoute(seg) // RFC 9293 §3.9.2.1 (MUST-53)
	t.IRS = seg.SEQ
	t.RCV.NXT = seg.SEQ.Add(1)
	t.RCV.UP = t.RCV.NXT // no urgent data yet; compared modulo 2^32 from here
	t.takeSynOptions(seg, true)
	t.SND.WND = uint32(seg.WND) // RFC 7323 §2.2: the SYN's window is never scaled
	t.SND.WL1, t.SND.WL2 = seg.SEQ, t.ISS
	t.synPending = true
	t.lastRecvAt = now
	// Deviation: RFC 9293 §3.10.7.2 queues text that comes with a SYN; we
	// drop it unacknowledged and the peer resends it after the handshake,
	// as Linux does without TCP Fast Open.
}

// takeSynOptions records what the peer's SYN or SYN-ACK offered and
// decides what is in use. On a passive open we offer exactly what was
// offered (RFC 7323 §2.2 and §3.2, RFC 2018 §2).
func (t *TCB) takeSynOptions(seg *Segment, passive bool) {
	o := &seg.Options
	// RFC 9293 §3.7.1 (MUST-15): without an MSS option, assume 536.
	t.peerMSS = 536
	if o.HasMSS && o.MSS > 0 {
		t.peerMSS = int(o.MSS)
	}
	// RFC 7323 §2.2: window scaling only if both sides sent the option;
	// a shift above 14 is taken as 14 (§2.3).
	if o.HasWScale && !t.cfg.DisableWindowScale {
		t.SND.Shift = min(o.WScale, 14)
		t.RCV.Shift = rcvShift(t.cfg.MaxRecvBuffer)
		t.wsOffered = true
	} else {
		t.SND.Shift, t.RCV.Shift = 0, 0
		if passive {
			t.wsOffered = false
		}
	}
	// RFC 7323 §3.2: timestamps only if both sides sent them.
	t.tsOn = o.HasTimestamps && !t.cfg.DisableTimestamps
	if t.tsOn {
		t.tsRecent = o.TSVal
	}
	// RFC 2018 §2: SACK only if both sides sent SACK-permitted.
	t.sackOn = o.SACKPermitted && !t.cfg.DisableSACK
	t.sackPermittedPeer = o.SACKPermitted
	t.sndMSS = max(min(t.peerMSS, t.cfg.MSS)-t.optionSpace()-t.ipOptionSpace(), 1)
	t.cc = t.newCC()
}

// newCC starts the configured congestion control; NewStack and
// SetCongestionControl checked the name, and a TCB made by hand with
// none gets NewReno.
func (t *TCB) newCC() CongestionControl {
	cc, err := newCongestionControl(t.cfg.CongestionControl, t.sndMSS)
	if err != nil {
		return newNewReno(t.sndMSS)
	}
	return cc
}

// SetCongestionControl switches the connection to the named algorithm.
// Before the handshake has set SMSS it is only recorded; after, the new
// algorithm carries on from the current cwnd and ssthresh.
func (t *TCB) SetCongestionControl(name string) error {
	if t.cc == nil {
		if _, err := newCongestionControl(name, 536); err != nil {
			return err
		}
	} else {
		cc, err := switchCongestionControl(name, t.sndMSS, t.cc)
		if err != nil {
			return err
		}
		t.cc = cc
	}
	t.cfg.CongestionControl = name
	return nil
}

func (t *TCB) tsNow(now time.Time) uint32 {
	return t.tsOffset + uint32(now.Sub(t.tsEpoch)/(time.Second/tsHz))
}

// Write is SEND (RFC 9293 §3.10.2): it queues as much of p as the send
// buffer takes and returns that count. Taking less than all of p tells
// send-buffer autotuning that the application waits for room
// (sndtune.go).
func (t *TCB) Write(p []byte, now time.Time) int {
	if t.finQueued || t.Err != nil {
		return 0
	}
	switch t.State {
	case SynSent, SynReceived, Established, CloseWait:
	default:
		return 0
	}
	if t.sndBuf.Len() == 0 {
		t.progressAt = now
	}
	n := t.sndBuf.Write(p)
	t.sndWrote(n, len(p))
	return n
}

// Read is RECEIVE (RFC 9293 §3.10.3): it takes in-order data, and
// autotuning sizes the receive buffer from how fast the application
// reads (autotune.go). A window that grew enough is announced (RFC 9293
// §3.8.6.2.2).
func (t *TCB) Read(p []byte, now time.Time) int {
	before := t.readSeq()
	n := t.rcvBuf.Read(p)
	// Only a peer that may still send cares that the window opened: after
	// its FIN (CLOSE-WAIT and later) a window update is noise.
	peerSends := t.State == Established || t.State == FinWait1 || t.State == FinWait2
	if n > 0 && peerSends {
		t.tuneRecvBuffer(before, now)
		if t.windowGrewEnough() {
			t.ackNow = true
		}
	}
	return n
}

// windowGrewEnough reports whether the window we could advertise now
// exceeds the one last advertised by min(half the buffer, one MSS)
// (receiver SWS avoidance, RFC 9293 §3.8.6.2.2, MUST-39).
func (t *TCB) windowGrewEnough() bool {
	// RFC 9293 §3.8.6.2.2: the right edge moves only as far as the window
	// field can say (65535 << Rcv.Wind.Shift, RFC 7323 §2.3, as advertise
	// caps it): buffer space beyond that moves nothing, and an ACK for it
	// would repeat the last one, a duplicate ACK to a sender with data in
	// flight (RFC 5681 §2).
	free := min(uint32(t.rcvBuf.Free()), uint32(65535)<<t.RCV.Shift)
	could := t.RCV.NXT.Add(free)
	return t.RCV.edge.LessThan(could) && int(could.Sub(t.RCV.edge)) >= min(t.rcvBuf.Cap()/2, t.cfg.MSS)
}

// Readable is how many octets Read would return now.
func (t *TCB) Readable() int { return t.rcvBuf.Len() }

// Writable is how many octets Write would take now.
func (t *TCB) Writable() int { return t.sndBuf.Free() }

// PeerClosed reports that the peer's FIN arrived: after the buffered
// data, reads see end of file.
func (t *TCB) PeerClosed() bool {
	switch t.State {
	case CloseWait, Closing, LastAck, TimeWait:
		return true
	case Closed:
		return t.Err == nil
	}
	return false
}

// CloseWrite is CLOSE for the sending direction (RFC 9293 §3.10.4): the
// FIN follows the queued data; reads go on.
func (t *TCB) CloseWrite(now time.Time) {
	switch t.State {
	case SynSent:
		// RFC 9293 §3.10.4, SYN-SENT: delete the TCB.
		t.enterClosed(nil)
	case SynReceived:
		// RFC 9293 §3.10.4, SYN-RECEIVED: "If no SENDs have been issued
		// and there is no pending data to send, then form a FIN segment
		// and send it, and enter FIN-WAIT-1 state; otherwise, queue for
		// processing after entering ESTABLISHED state."
		// Deviation: we always take the second branch: the FIN waits for
		// the ACK of our SYN (inSynchronized enters FIN-WAIT-1 then), so
		// the SYN-ACK goes on being retransmitted as SYN-RECEIVED's own.
		t.finQueued = true
	case Established:
		// RFC 9293 §3.10.4: queue the FIN, enter FIN-WAIT-1.
		if !t.finQueued {
			t.finQueued = true
			t.State = FinWait1
		}
	case CloseWait:
		// RFC 9293 §3.10.4, CLOSE-WAIT: queue the FIN, enter LAST-ACK.
		if !t.finQueued {
			t.finQueued = true
			t.State = LastAck
		}
	}
}

// Close is CLOSE (RFC 9293 §3.10.4) from a user that will neither read nor
// write again. Unread data, or data arriving later, is answered with a
// reset.
func (t *TCB) Close(now time.Time) {
	t.rcvClosed = true
	if t.lingerAbort || (t.rcvBuf.Len() > 0 && t.State.synchronized()) {
		// Deviation: RFC 9293 §3.10.4 closes gracefully; like Linux
		// (tcp_close) and RFC 2525 §2.17 we reset a connection closed
		// with unread data, so the peer learns it was lost. SO_LINGER 0
		// asks for the same.
		t.Abort(now)
		return
	}
	t.CloseWrite(now)
	if t.State == FinWait2 {
		t.finWait2At = now.Add(t.cfg.FinWait2)
	}
}

// Abort is ABORT (RFC 9293 §3.10.5): in a synchronized state send
// <SEQ=SND.NXT><CTL=RST>, then CLOSED.
func (t *TCB) Abort(now time.Time) {
	switch t.State {
	case SynReceived, Established, FinWait1, FinWait2, CloseWait:
		t.rst = &Segment{SEQ: t.SND.NXT, Flags: RST}
	}
	t.enterClosed(ErrAborted)
}

func (t *TCB) enterClosed(err error) {
	if t.Err == nil {
		t.Err = err
	}
	t.State = Closed
	t.rtoAt, t.persistAt, t.delackAt, t.keepaliveAt, t.timeWaitAt, t.finWait2At = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	// And loss recovery's: the recovery deadline and the reordering timer
	// (RFC 8985 §6.3) end with recovery, the loss probe (§7.2) here.
	t.endRecovery()
	t.rec.tlpAt, t.rec.tlpNew = time.Time{}, false
	t.synPending, t.ackNow = false, false
}

func (t *TCB) enterTimeWait(now time.Time) {
	t.State = TimeWait
	t.rtoAt, t.persistAt, t.keepaliveAt, t.finWait2At = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	// RFC 9293 §3.10.7.4: start the time-wait timer (2 MSL; TimeWait here).
	t.timeWaitAt = now.Add(t.cfg.TimeWait)
}

// Deadline is when the TCB next needs OnTimer: the earliest of its timers,
// zero if none is armed.
func (t *TCB) Deadline() time.Time {
	var d time.Time
	var user time.Time
	if t.cfg.UserTimeout > 0 && t.flight() > 0 && t.State != Closed {
		user = t.progressAt.Add(t.cfg.UserTimeout)
	}
	for _, x := range [...]time.Time{t.rtoAt, t.persistAt, t.delackAt, t.keepaliveAt, t.timeWaitAt, t.finWait2At, user, t.rec.tlpAt, t.recoveryDeadline(), t.rec.reoAt} {
		if !x.IsZero() && (d.IsZero() || x.Before(d)) {
			d = x
		}
	}
	return d
}

// Info is a snapshot of the connection, like Linux's TCP_INFO.
type Info struct {
	State              State
	SRTT, RTTVAR, RTO  time.Duration
	Cwnd, Ssthresh     int // octets
	CongestionControl  string
	SndWnd, RcvWnd     uint32
	SndMSS, PeerMSS    int
	SndShift, RcvShift uint8
	Timestamps, SACK   bool
	Unacked, Buffered  int // octets in flight; octets queued to send
	Readable           int
	// RcvBuf is the receive buffer's size (autotuning grows it), RcvRTT
	// the receiver's round-trip estimate autotuning measures over.
	// SndBuf is the send buffer's size (autotuning grows it too).
	RcvBuf, SndBuf  int
	RcvRTT          time.Duration
	Retransmissions uint64
	Counters        TCBCounters
	// SoftError is the last soft ICMP error reported for the connection
	// (RFC 9293 §3.9.2.2, SHLD-25), empty if none.
	SoftError string
}

// Info snapshots the connection.
func (t *TCB) Info() Info {
	i := Info{
		State: t.State, SRTT: t.rtt.SRTT, RTTVAR: t.rtt.RTTVAR, RTO: t.rtt.RTO,
		SndWnd: t.SND.WND, RcvWnd: uint32(t.RCV.edge.Sub(t.RCV.NXT)),
		SndMSS: t.sndMSS, PeerMSS: t.peerMSS, SndShift: t.SND.Shift, RcvShift: t.RCV.Shift,
		Timestamps: t.tsOn, SACK: t.sackOn, CongestionControl: t.cfg.CongestionControl,
		Unacked: int(t.SND.NXT.Sub(t.SND.UNA)), Buffered: t.sndBuf.Len(), Readable: t.rcvBuf.Len(),
		RcvBuf: t.rcvBuf.Cap(), SndBuf: t.sndBuf.Cap(), RcvRTT: t.rcvRTT(),
		Retransmissions: t.Counters.Retransmissions, Counters: t.Counters, SoftError: t.softErr,
	}
	if t.cc != nil {
		i.Cwnd, i.Ssthresh = t.cwnd(), t.cc.Ssthresh()
	}
	return i
}

// reopens reports whether syn, a SYN for this connection in TIME-WAIT,
// may reopen it (RFC 9293 §3.6.1, MAY-2 and SHLD-4), by RFC 6191 §2's
// rules. Condition (2) of RFC 1122 §4.2.2.13, going back to TIME-WAIT
// should the SYN prove an old duplicate, is not kept: the old
// incarnation is gone once a SYN reopens it, as in Linux.
func (t *TCB) reopens(syn *Segment) bool {
	newTS := syn.Options.HasTimestamps && !t.cfg.DisableTimestamps
	switch {
	case newTS && t.tsOn:
		// RFC 6191 §2: honor a SYN whose timestamp is greater than the
		// last one seen on the previous incarnation, or equal to it with
		// a greater sequence number.
		d := int32(syn.Options.TSVal - t.tsRecent)
		return d > 0 || d == 0 && t.RCV.NXT.LessThan(syn.SEQ)
	case !newTS && t.tsOn:
		// RFC 6191 §2: timestamps on the previous incarnation but not on
		// the new one: honor it.
		return true
	}
	// RFC 6191 §2, no timestamps to go by: RFC 1122 §4.2.2.13, a sequence
	// number above the old incarnation's.
	return t.RCV.NXT.LessThan(syn.SEQ)
}
