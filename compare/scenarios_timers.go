package compare

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Sections F (the FIN-WAIT-2 and TIME-WAIT timers), G and H of
// CONFORMANCE.md: the timers. Each runs on a virtual clock on the
// in-process stacks (Setup.VirtualClock), so a 60 s TIME-WAIT costs
// milliseconds, and in real time on linux, where every wait is a few
// seconds at most: short timers are set where Linux lets a socket or the
// namespace set them (keep-alive, user timeout, tcp_fin_timeout), and
// TIME-WAIT, which has no setting, is read from the kernel (inet_diag)
// instead of waited out. Every scenario asserts the intervals it
// measured, within a tolerance band (CONFORMANCE.md, "Normalise before
// comparing"), and logs them.
var timerScenarios = []Scenario{
	{ID: "FC-05", Title: "Orphaned FIN-WAIT-2 ends after the configured time (2 s): a later ACK gets <SEQ=SEG.ACK><CTL=RST>",
		RFC:   "RFC 9293 §3.10.7.4 (FIN-WAIT-2), §3.10.7.1; an implementation's timer (Linux tcp_fin_timeout, TCP_LINGER2)",
		Setup: Setup{VirtualClock: true, FinWait2: timerFinWait2}, Run: finWait2Timeout},
	{ID: "FC-06b", Title: "TIME-WAIT lasts the stack's configured time (60 s on all three), measured or read from the kernel",
		RFC: "RFC 9293 §3.10.7.4 (TIME-WAIT), §3.10.8 (time-wait timeout)", Requirements: []string{"MUST-13"},
		Setup: Setup{VirtualClock: true}, Run: timeWaitLength},
	{ID: "RT-01a", Title: "SYN retransmitted at ~1, 2, 4 s intervals: initial RTO 1 s, doubled at each timeout",
		RFC: "RFC 6298 §2.1, §5.5; RFC 9293 §3.8.1, §3.8.3", Requirements: []string{"MUST-19", "MUST-22"},
		Setup: Setup{VirtualClock: true}, Run: synBackoff},
	{ID: "RT-01b", Title: "A listener retransmits its SYN-ACK at ~1, 2, 4 s intervals",
		RFC: "RFC 6298 §2.1, §5.5; RFC 9293 §3.8.1, §3.8.3", Requirements: []string{"MUST-19", "MUST-22"},
		Setup: Setup{VirtualClock: true}, Run: synAckBackoff},
	{ID: "RT-06", Title: "connect() retries its SYN for at least 3 minutes before it gives up",
		RFC: "RFC 9293 §3.8.3 (R2 for a SYN); RFC 1122 §4.2.3.5", Requirements: []string{"MUST-23"},
		Setup: Setup{VirtualClock: true}, Run: synGiveUp},
	{ID: "RT-07", Title: "Unacknowledged data is retransmitted for at least 100 s before the connection is given up",
		RFC: "RFC 9293 §3.8.3 (R2); RFC 1122 §4.2.3.5", Requirements: []string{"SHLD-11"},
		Setup: Setup{VirtualClock: true}, Run: dataGiveUp},
	{ID: "RT-02", Title: "Data RTO: SND.UNA retransmitted after the RTO, then after twice as long, and twice again",
		RFC: "RFC 6298 §5.4-§5.6, §2.4; RFC 9293 §3.8.1", Requirements: []string{"MUST-18", "MUST-19"},
		Setup: Setup{VirtualClock: true}, Run: dataRTOBackoff},
	{ID: "RT-03a", Title: "Three duplicate ACKs (no SACK) retransmit the lost segment before the RTO",
		RFC: "RFC 5681 §3.2; RFC 9293 §3.8.2", Requirements: []string{"MUST-19"},
		Setup: Setup{VirtualClock: true}, Run: fastRetransmit(false)},
	{ID: "RT-03b", Title: "Three duplicate ACKs with SACK blocks retransmit the lost segment before the RTO",
		RFC: "RFC 6675 §5; RFC 2018 §4; RFC 5681 §3.2", Requirements: []string{"MUST-19"},
		Setup: Setup{VirtualClock: true}, Run: fastRetransmit(true)},
	{ID: "RT-04", Title: "User timeout (2 s): an ACK before it keeps the connection; data unacked past it aborts, a late ACK gets RST",
		RFC: "RFC 9293 §3.8.3 (R2); RFC 5482", Requirements: []string{"MUST-20", "MUST-21"},
		Setup: Setup{VirtualClock: true}, Run: userTimeout},
	{ID: "RT-05a", Title: "Keep-alive: <SEQ=SND.NXT-1> without data after the idle time, then each interval; aborts after count unanswered",
		RFC: "RFC 9293 §3.8.4", Requirements: []string{"MAY-5", "MUST-24", "MUST-26", "MUST-27", "MUST-29", "SHLD-12"},
		Setup: Setup{VirtualClock: true}, Run: keepAlive},
	{ID: "RT-05b", Title: "Keep-alive is off unless asked for, and its default idle time is at least two hours",
		RFC: "RFC 9293 §3.8.4", Requirements: []string{"MUST-25", "MUST-28"},
		Setup: Setup{VirtualClock: true}, Run: keepAliveDefaults},
	{ID: "ZW-01", Title: "Zero window: no probe while nothing is queued; the first probe about one RTO after data is",
		RFC: "RFC 9293 §3.8.6.1", Requirements: []string{"MUST-34", "MUST-35", "MUST-36", "SHLD-29"},
		Setup: Setup{VirtualClock: true}, Run: zeroWindowFirstProbe},
	{ID: "ZW-02", Title: "Zero window: probe intervals grow, answered probes never abort; data resumes from SND.UNA when it opens",
		RFC: "RFC 9293 §3.8.6.1", Requirements: []string{"MUST-36", "MUST-37", "SHLD-30"},
		Setup: Setup{VirtualClock: true}, Run: zeroWindowBackoff},
}

// Timer settings the scenarios ask for.
const (
	timerFinWait2    = 2 * time.Second // FC-05, on every stack
	timerUserTimeout = 2 * time.Second // RT-04: TCP_USER_TIMEOUT
	timerKeepIdle    = time.Second     // RT-05a: TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT
	timerKeepIntvl   = time.Second
	timerKeepCount   = 3
	rfcInitialRTO    = time.Second // RFC 6298 §2.1
	stackMinRTO      = 200 * time.Millisecond
	linuxTimeWaitLen = 60 * time.Second // Linux's TCP_TIMEWAIT_LEN, a constant
	synHorizon       = 8500 * time.Millisecond
	firstRTOLimit    = 3 * time.Second // the latest a first RTO may come: 3 x 1 s
)

// tolerance is a band around an expected interval: [lo x, hi x].
type tolerance struct{ lo, hi float64 }

var (
	// estimated is the band of an interval the stack derives from its own
	// RTO (CONFORMANCE.md: "RTO within [0.5x, 3x]").
	estimated = tolerance{0.5, 3}
	// configured is the band of an interval the application set: a timer
	// may fire late (Linux's timer wheel rounds long timers up), never
	// early.
	configured = tolerance{0.9, 1.5}
	// keepAliveBand is configured for keep-alive intervals, which Linux
	// counts in whole seconds from the last segment received and runs in
	// real time: on a loaded machine (CI runs test packages in parallel)
	// its 1 s probe came 1.94 s after the answer to the one before, once
	// in a few runs. Late by up to the interval again, never early.
	keepAliveBand = tolerance{0.9, 2}
	// doubling bounds the ratio of one backed-off interval to the one
	// before (RFC 6298 §5.5: RTO <- RTO * 2).
	doubling = tolerance{1.5, 3}
	// userBand is the band of an abort for the user timeout: Linux counts
	// it from its first retransmission by the RTO (tp->retrans_stamp,
	// tcp_clamp_rto_to_user_timeout), gVisor checks it when the RTO
	// expires (snd.go retransmitTimerExpired): both later than the data's
	// first transmission by up to a few RTOs.
	userBand = tolerance{0.9, 2}
	// lifetime is the band of a connection's time in FIN-WAIT-2 or
	// TIME-WAIT: probed at 0.9 and 1.1 of it, or read from the kernel.
	lifetime = tolerance{0.9, 1.1}
)

func (b tolerance) has(d, want time.Duration) bool {
	return float64(d) >= b.lo*float64(want) && float64(d) <= b.hi*float64(want)
}

func (b tolerance) of(want time.Duration) string {
	return fmt.Sprintf("[%v, %v]", roundDur(time.Duration(b.lo*float64(want))), roundDur(time.Duration(b.hi*float64(want))))
}

// rtoRange is the band of a first RTO: RFC 6298 §2.4 rounds it up to
// 1 s (a SHOULD), Linux, gVisor and handmade to 200 ms; the band runs
// from half the smaller to three times the larger.
func rtoRange(d time.Duration) bool { return d >= stackMinRTO/2 && d <= 3*rfcInitialRTO }

const rtoRangeText = "[100ms, 3s] (RTO.min 200 ms as Linux, gVisor and handmade; 1 s by RFC 6298 §2.4)"

func roundDur(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// segIntervals are the times between consecutive segments.
func segIntervals(segs []*Segment) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(segs); i++ {
		out = append(out, segs[i].At.Sub(segs[i-1].At))
	}
	return out
}

func durList(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = roundDur(d).String()
	}
	return strings.Join(s, ", ")
}

// stepFor is the smallest virtual-clock step for waiting on an interval of
// about d: a fortieth of it, so a measured interval is exact to 2.5%
// (T.NextSegment lengthens the steps as a wait grows).
func stepFor(d time.Duration) time.Duration { return max(d/40, time.Millisecond) }

// ---- Retransmission ----

// synBackoff: RFC 6298 §2.1 sets the initial RTO to 1 s ("the sender
// SHOULD set RTO <- 1 second"), and §5.5 doubles it at every
// expiry ("RTO <- RTO * 2 (back off the timer)"); RFC 9293 §3.8.3 says
// SYN retransmissions "MUST be handled in the general way" (MUST-22), and
// §3.8.1 requires exponential backoff (MUST-19). So the DUT's SYN comes
// again after ~1 s, ~2 s and ~4 s; each interval is held to [0.5x, 3x].
// Linux since 6.5 retransmits the first tcp_syn_linear_timeouts (default
// 4) SYNs at the initial RTO before it backs off (1, 1, 1, 1, 1, 2, 4 s;
// commit ccce324dabfe, for faster recovery of lost SYNs): a departure
// from §5.5 the bench tolerates only in that shape.
func synBackoff(t *T) {
	c, _, syn := dutConnect(t)
	iv := retransmissions(t, c, syn, "the SYN again, same ISS", func(seg *Segment) bool {
		return seg.Flags&^PSH == SYN && seg.Seq == syn.Seq
	}, func(iv []time.Duration) bool { return exponential(iv) || linearThenDoubling(iv) })
	t.Logf("SYN retransmission intervals: %s", durList(iv))
	switch {
	case exponential(iv):
	case linearThenDoubling(iv):
		t.Allowed(fmt.Sprintf("retransmits the SYN at the initial RTO several times before backing off (%s): Linux's tcp_syn_linear_timeouts (default 4, since 6.5), a departure from RFC 6298 §5.5", durList(iv)))
	default:
		t.Fail(backoffWanted("SYN"), fmt.Sprintf("%d intervals within %v: %s", len(iv), synHorizon, durList(iv)))
	}
}

// synAckBackoff: the same for a listener's SYN-ACK, which RFC 6298 and
// RFC 9293 §3.8.3 treat alike; Linux's linear SYN timeouts do not apply
// to it ("no effect on SYNACK at the passive TCP side").
func synAckBackoff(t *T) {
	t.Listen(DUTPort)
	c := t.TB.Dial(DUTPort)
	syn := t.Send(c, TCP{Flags: Ptr(SYN)})
	first := t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(syn.End())})
	iv := retransmissions(t, c, first, "the SYN-ACK again, same ISS", func(seg *Segment) bool {
		return seg.Flags&^PSH == SYN|ACK && seg.Seq == first.Seq && seg.Ack == syn.End()
	}, exponential)
	t.Logf("SYN-ACK retransmission intervals: %s", durList(iv))
	if !exponential(iv) {
		t.Fail(backoffWanted("SYN-ACK"), fmt.Sprintf("%d intervals within %v: %s", len(iv), synHorizon, durList(iv)))
	}
}

// retransmissions collects the retransmissions of first (each must pass
// same, or the scenario fails with want) until done says the intervals
// seen settle the question, none comes within three times the next
// expected backoff, or synHorizon has passed since first; it returns the
// intervals.
func retransmissions(t *T, c *Conn, first *Segment, want string, same func(*Segment) bool, done func([]time.Duration) bool) []time.Duration {
	segs := []*Segment{first}
	for !done(segIntervals(segs)) {
		next := rfcInitialRTO << (len(segs) - 1)
		left := synHorizon - t.Now().Sub(first.At)
		if left <= 0 {
			break
		}
		seg := t.NextSegment(c, min(left, 3*next), stepFor(next))
		if seg == nil {
			break
		}
		if !same(seg) {
			t.Fail(want, seg.String())
		}
		segs = append(segs, seg)
	}
	return segIntervals(segs)
}

func backoffWanted(what string) string {
	return fmt.Sprintf("%s retransmissions at intervals of ~1 s, 2 s, 4 s (within %s, %s, %s)", what,
		estimated.of(rfcInitialRTO), estimated.of(2*rfcInitialRTO), estimated.of(4*rfcInitialRTO))
}

// exponential: the first three intervals are 1, 2 and 4 s, each within
// the estimated band.
func exponential(iv []time.Duration) bool {
	return len(iv) >= 3 && estimated.has(iv[0], rfcInitialRTO) && estimated.has(iv[1], 2*rfcInitialRTO) && estimated.has(iv[2], 4*rfcInitialRTO)
}

// linearThenDoubling: at least two intervals of about the initial RTO,
// then at least one that doubles it.
func linearThenDoubling(iv []time.Duration) bool {
	n := 0
	for n < len(iv) && configured.has(iv[n], rfcInitialRTO) {
		n++
	}
	if n < 2 || n == len(iv) {
		return false
	}
	for k, d := range iv[n:] {
		if !estimated.has(d, rfcInitialRTO<<(k+1)) {
			return false
		}
	}
	return true
}

// establishOffering is T.Established with the bench's SYN offering opts.
func establishOffering(t *T, opts Options) (*Conn, Socket) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	c.SYNOptions = opts
	_, err := c.Handshake(t.Context(), t.Timing.Reply)
	t.Check(err)
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	if err := s.SetNoDelay(true); err != nil {
		t.Fatal(fmt.Errorf("TCP_NODELAY: %w", err))
	}
	return c, s
}

// appWrite has the application write p, which must be taken at once.
func appWrite(t *T, s Socket, p []byte) {
	if n, err := s.Send(p, t.Timing.Reply); err != nil || n != len(p) {
		t.Fatal(fmt.Errorf("send(%d octets): %d, %v", len(p), n, err))
	}
}

// dataRTOBackoff: "When the retransmission timer expires ... retransmit
// the earliest segment that has not been acknowledged" (RFC 6298 §5.4),
// "RTO <- RTO * 2" (§5.5) and restart the timer (§5.6). The first
// interval is one RTO, within the band of rtoRange; each next one is
// twice the one before, within [1.5x, 3x]. SACK is not offered: a tail
// loss probe (RFC 8985 §7), which Linux and gVisor send only on SACK
// connections, would come before the RTO.
func dataRTOBackoff(t *T) {
	c, s := establishOffering(t, Options{MSS: Ptr[uint16](1460), TS: &Timestamps{}})
	una := c.RcvNxt()
	data := []byte("retransmit me, please")
	appWrite(t, s, data)
	first := t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(una), Payload: data})
	segs := []*Segment{first}
	for len(segs) < 4 {
		want := rfcInitialRTO
		if n := len(segs); n > 1 {
			want = 2 * segs[n-1].At.Sub(segs[n-2].At)
		}
		seg := t.NextSegment(c, 3*want, stepFor(min(want, stackMinRTO)))
		if seg == nil {
			break
		}
		if seg.Flags&(SYN|FIN|RST) != 0 || seg.Seq != una || len(seg.Payload) == 0 {
			t.Fail(fmt.Sprintf("text from SND.UNA (seq %d) again", c.RelIRS(una)), seg.String())
		}
		segs = append(segs, seg)
	}
	iv := segIntervals(segs)
	t.Logf("retransmission intervals: %s", durList(iv))
	if len(iv) < 3 {
		t.Fail("three retransmissions of SND.UNA, each after twice the wait of the one before", fmt.Sprintf("%d: %s", len(iv), durList(iv)))
	}
	if !rtoRange(iv[0]) {
		t.Fail("the first retransmission after one RTO, within "+rtoRangeText, roundDur(iv[0]).String())
	}
	for k := 1; k < len(iv); k++ {
		if !doubling.has(iv[k], iv[k-1]) {
			t.Fail(fmt.Sprintf("each interval twice the one before (RFC 6298 §5.5), within %v", doubling.of(iv[k-1])),
				durList(iv))
		}
	}
	t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(first.End())})
}

// fastRetransmit: with at least four segments in flight, the bench loses
// the first and sends three duplicate ACKs (with SACK blocks covering
// what came, if sack). "The TCP sender SHOULD use the 'fast retransmit'
// algorithm ... after receiving 3 duplicate ACKs, TCP performs a
// retransmission of what appears to be the missing segment, without
// waiting for the retransmission timer to expire" (RFC 5681 §3.2; with
// SACK, RFC 6675 §5 and IsLost). On a virtual clock the clock does not move at all
// between the ACKs and the retransmission, so no timer can have sent it;
// in real time it must come sooner than any stack's RTO.min (200 ms).
// One segment is delivered and ACKed first: gVisor never fast-retransmits
// the first octets of a connection (snd.go detectLoss requires SEG.ACK-1
// beyond its NewReno "recover", which starts at ISS; RFC 6582 §3.2 step 2
// asks only SEG.ACK > recover), a quirk of the reference this scenario is
// not about.
func fastRetransmit(sack bool) func(t *T) {
	return func(t *T) {
		c, s := establishOffering(t, Options{MSS: Ptr[uint16](536), TS: &Timestamps{}, SACKOK: sack})
		una := c.RcvNxt()
		primer := []byte("delivered first")
		appWrite(t, s, primer)
		t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(una), Payload: primer})
		una += uint32(len(primer))
		t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(una)})
		t.Settle()

		data := make([]byte, 5*536)
		for i := range data {
			data[i] = byte('a' + i%26)
		}
		appWrite(t, s, data)
		// The burst: whatever the congestion window lets out at once, taken
		// quickly, before any RTO could add to it.
		segs := []*Segment{t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(una)})}
		for next := segs[0].End(); seqLT(next, una+uint32(len(data))); {
			seg, err := c.Expect(TCP{Flags: Ptr(ACK)}, 50*time.Millisecond)
			var m *Mismatch
			if errors.As(err, &m) && len(m.Got) == 0 {
				break
			}
			t.Check(err)
			if len(seg.Payload) == 0 || seg.Seq != next {
				t.Fail(fmt.Sprintf("new text at %d", c.RelIRS(next)), seg.String())
			}
			segs = append(segs, seg)
			next = seg.End()
		}
		if len(segs) < 4 {
			t.Fail("at least four segments in flight (RFC 5681 §3.1: an IW of 4 segments for a 536-octet MSS)", fmt.Sprintf("%d segments", len(segs)))
		}
		var third *Segment
		for i := 1; i <= 3; i++ {
			o := Options{TS: c.tsOption()}
			if sack {
				o.SACK = []SACKBlock{{segs[1].Seq, segs[i].End()}}
			}
			third = t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(una), Options: &o})
		}
		for {
			seg := t.Expect(c, TCP{Flags: Ptr(ACK), FlagsMask: Ptr(ACK | SYN)})
			if seg.Flags&RST != 0 {
				t.Fail("the lost segment again", seg.String())
			}
			if seg.Seq != una || len(seg.Payload) == 0 {
				t.Logf("before the retransmission: %s", seg)
				continue
			}
			d := seg.At.Sub(third.At)
			if d < 0 {
				t.Fatal(fmt.Errorf("the retransmission came %v before the bench's third duplicate ACK went out: the bench was too slow", -d))
			}
			t.Logf("%d segments in flight; the first retransmitted %v after the third duplicate ACK", len(segs), roundDur(d))
			if (t.Virtual() && d != 0) || d >= stackMinRTO {
				t.Fail("the lost segment retransmitted before any RTO (RFC 5681 §3.2)", fmt.Sprintf("%v after the third duplicate ACK: %s", roundDur(d), seg))
			}
			break
		}
		t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.DUTSndMax())})
	}
}

// tsOption is the timestamps option the bench's next segment carries, or
// nil when not negotiated: for a segment whose options a scenario sets.
func (c *Conn) tsOption() *Timestamps {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if !c.tsOn() {
		return nil
	}
	return &Timestamps{Val: c.tsVal(), Ecr: c.tsRecent}
}

// abortedWithin waits, moving time, until the application sees the
// connection fail (an error other than a read timeout), at most within;
// it returns the error, or nil if none came.
func abortedWithin(t *T, s Socket, within, step time.Duration) error {
	var got error
	t.await(within, step, func() bool {
		_, err := s.Recv(1, time.Millisecond)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			got = err
			return true
		}
		return false
	})
	return got
}

// lateACKGetsReset drains what the DUT sent (logging a RST it sent when
// it gave up: CONFORMANCE.md leaves that open), then sends an ACK of ack,
// which a connection that is gone answers with <SEQ=SEG.ACK><CTL=RST>
// (RFC 9293 §3.10.7.1).
func lateACKGetsReset(t *T, c *Conn, ack uint32) {
	t.Settle()
	time.Sleep(50 * time.Millisecond)
	for _, seg := range c.Drain() {
		if seg.Flags&RST != 0 {
			t.Logf("sent a RST when it gave up: %s", seg)
		}
	}
	late := t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(ack)})
	t.Expect(c, TCP{Flags: Ptr(RST), FlagsMask: Ptr(RST | SYN | FIN), Seq: Ptr(late.Ack)})
}

// userTimeout: "An application MUST be able to set the value for R2 for a
// particular connection" (MUST-21), and at R2 the TCP MUST "close the
// connection" (§3.8.3 (c), MUST-20); RFC 5482's TCP_USER_TIMEOUT states
// R2 as time: how long sent data may stay unacknowledged. Data ACKed at
// 0.6 U keeps the connection; data then left unACKed aborts it about U
// after it was sent (the application sees the error), and a late ACK
// finds no connection: RST.
func userTimeout(t *T) {
	c, s := establishOffering(t, Options{MSS: Ptr[uint16](1460), TS: &Timestamps{}})
	if err := s.SetUserTimeout(timerUserTimeout); err != nil {
		t.Fatal(fmt.Errorf("TCP_USER_TIMEOUT: %w", err))
	}
	una := c.RcvNxt()
	d1 := []byte("acknowledged in time")
	appWrite(t, s, d1)
	first := t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(una), Payload: d1})
	t.AdvanceTo(first.At.Add(timerUserTimeout * 6 / 10))
	t.Settle()
	c.Drain() // retransmissions of d1: the ACK echoes the newest TSval
	una += uint32(len(d1))
	t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(una)})
	t.Settle()

	d2 := []byte("never acknowledged")
	appWrite(t, s, d2)
	var sent *Segment
	for sent == nil {
		seg := t.Expect(c, TCP{Flags: Ptr(ACK), FlagsMask: Ptr(ACK | SYN)})
		switch {
		case seg.Flags&RST != 0:
			t.Fail("the connection alive: its data was acknowledged before the user timeout", seg.String())
		case seg.Seq == una && len(seg.Payload) > 0:
			sent = seg
		}
	}
	err := abortedWithin(t, s, 3*timerUserTimeout, stepFor(timerUserTimeout))
	if err == nil {
		t.Fail(fmt.Sprintf("the connection aborted about %v (TCP_USER_TIMEOUT) after its data was sent", timerUserTimeout), fmt.Sprintf("still open %v later", roundDur(t.Now().Sub(sent.At))))
	}
	d := t.Now().Sub(sent.At)
	t.Logf("aborted %v after the unacknowledged data was sent: %v", roundDur(d), err)
	if !userBand.has(d, timerUserTimeout) {
		t.Fail(fmt.Sprintf("the abort %s after the data was sent", userBand.of(timerUserTimeout)), roundDur(d).String())
	}
	lateACKGetsReset(t, c, una+uint32(len(d2)))
}

// keepAlive: with keep-alives turned on for the connection (MUST-24) and
// an idle time and interval of 1 s (MUST-27), a probe comes only after
// the connection was idle that long (MUST-26), as "a segment with SEG.SEQ
// = SND.NXT-1" and no data (SHLD-12; one garbage octet is MAY-6). An
// answered probe restarts the idle time; an unanswered one is not taken
// for a dead connection (MUST-29): the next comes an interval later.
// After the configured count unanswered the connection is aborted, as
// Linux and gVisor do, and a late ACK gets RST.
func keepAlive(t *T) {
	c, s := t.Established()
	start := t.Now()
	if err := s.SetKeepAlive(KeepAlive{On: true, Idle: timerKeepIdle, Interval: timerKeepIntvl, Count: timerKeepCount}); err != nil {
		t.Fatal(fmt.Errorf("keep-alive: %w", err))
	}
	probe := func(after time.Time, want time.Duration, what string) *Segment {
		seg := t.NextSegment(c, 3*want, stepFor(want))
		if seg == nil {
			t.Fail(fmt.Sprintf("a keep-alive probe %s after %s", keepAliveBand.of(want), what), "nothing")
		}
		sndNxt := c.DUTSndMax()
		switch {
		case seg.Flags&^PSH != ACK || seg.Seq != sndNxt-1 || seg.Ack != c.SndNxt():
			t.Fail(fmt.Sprintf("a probe <SEQ=SND.NXT-1 (%d)><ACK=%d><CTL=ACK>", c.RelIRS(sndNxt-1), c.RelSeq(c.SndNxt())), seg.String())
		case len(seg.Payload) > 1:
			t.Fail("a probe without data (SHLD-12), or one garbage octet (MAY-6)", seg.String())
		case len(seg.Payload) == 1:
			t.Allowed("keep-alive probes carry one garbage octet (RFC 9293 §3.8.4, MAY-6)")
		}
		d := seg.At.Sub(after)
		if !keepAliveBand.has(d, want) {
			t.Fail(fmt.Sprintf("a keep-alive probe %s after %s", keepAliveBand.of(want), what), fmt.Sprintf("%v: %s", roundDur(d), seg))
		}
		return seg
	}
	p1 := probe(start, timerKeepIdle, "keep-alive was turned on")
	answer := t.Send(c, TCP{Flags: Ptr(ACK)})
	t.Settle()
	p2 := probe(answer.At, timerKeepIdle, "the answer to the first probe (idle again)")
	p3 := probe(p2.At, timerKeepIntvl, "an unanswered probe")
	p4 := probe(p3.At, timerKeepIntvl, "a second unanswered probe")
	err := abortedWithin(t, s, 3*timerKeepIntvl, stepFor(timerKeepIntvl))
	if err == nil {
		t.Fail(fmt.Sprintf("the connection aborted after %d unanswered probes", timerKeepCount), "still open")
	}
	d := t.Now().Sub(p4.At)
	t.Logf("probes after %v, then %v (idle, after the answer), %v, %v; aborted %v after the last: %v",
		roundDur(p1.At.Sub(start)), roundDur(p2.At.Sub(answer.At)), roundDur(p3.At.Sub(p2.At)), roundDur(p4.At.Sub(p3.At)), roundDur(d), err)
	if !keepAliveBand.has(d, timerKeepIntvl) {
		t.Fail(fmt.Sprintf("the abort one interval %s after the last probe", keepAliveBand.of(timerKeepIntvl)), roundDur(d).String())
	}
	lateACKGetsReset(t, c, c.RcvNxt())
}

// keepAliveDefaults: keep-alives "MUST default to off" (MUST-25), and
// the idle interval "MUST default to no less than two hours" (MUST-28).
// On a virtual clock: three hours of an idle connection bring nothing;
// with keep-alive turned on and nothing else set, the first probe comes
// no sooner than two hours. Linux is read instead (inet_diag): no timer
// on the idle connection, then the keep-alive timer, with two hours or
// more on it.
func keepAliveDefaults(t *T) {
	c, s := t.Established()
	if !t.Virtual() {
		keepAliveDefaultsKernel(t, c, s)
		return
	}
	t.Advance(3 * time.Hour)
	if seg := t.Next(c); seg != nil {
		t.Fail("nothing on an idle connection without keep-alive (MUST-25: off by default)", fmt.Sprintf("after 3h: %s", seg))
	}
	start := t.Now()
	if err := s.SetKeepAlive(KeepAlive{On: true}); err != nil {
		t.Fatal(fmt.Errorf("keep-alive: %w", err))
	}
	const least = 2 * time.Hour
	t.Advance(least - time.Second)
	if seg := t.Next(c); seg != nil {
		t.Fail("no keep-alive probe before two hours idle (MUST-28)", fmt.Sprintf("%s, less than %v after keep-alive was turned on", seg, least))
	}
	seg := t.NextSegment(c, 2*least, time.Second)
	if seg == nil {
		t.Fail("a keep-alive probe after the default idle time", fmt.Sprintf("nothing within %v", 3*least-time.Second))
	}
	t.Logf("first probe %v after keep-alive was turned on with the defaults", roundDur(seg.At.Sub(start)))
}

// keepAliveDefaultsKernel is keepAliveDefaults for a kernel: the timer of
// the connection's socket as inet_diag reports it.
func keepAliveDefaultsKernel(t *T, c *Conn, s Socket) {
	timer := func() KernelSocket {
		socks, ok, err := dutKernelSockets(t.DUT)
		if !ok {
			t.NA("the DUT runs in real time and has no kernel to read its keep-alive timer from: two hours would have to pass")
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range socks {
			if k.Local.Port() == DUTPort && k.Remote.Port() == c.LocalPort() {
				return k
			}
		}
		t.Fail("the connection in the kernel's socket table", "no socket for it")
		return KernelSocket{}
	}
	if k := timer(); k.Timer != kernelTimerNone {
		t.Fail("no timer on an idle connection without keep-alive (MUST-25: off by default)", fmt.Sprintf("inet_diag timer %d, %v left", k.Timer, k.Expires))
	}
	if err := s.SetKeepAlive(KeepAlive{On: true}); err != nil {
		t.Fatal(fmt.Errorf("keep-alive: %w", err))
	}
	k := timer()
	t.Logf("inet_diag: keep-alive timer (%d) with %v left", k.Timer, roundDur(k.Expires))
	if k.Timer != kernelTimerKeepAlive || k.Expires < 2*time.Hour-time.Minute {
		t.Fail("the keep-alive timer with at least two hours on it (MUST-28)", fmt.Sprintf("inet_diag timer %d, %v left", k.Timer, roundDur(k.Expires)))
	}
}

// ---- Zero window ----

// zeroWindowConn opens a connection, turns Nagle off and has the bench
// advertise a zero window. It returns SND.UNA.
func zeroWindowConn(t *T) (*Conn, Socket, uint32) {
	c, s := t.Established()
	if err := s.SetNoDelay(true); err != nil {
		t.Fatal(err)
	}
	t.Send(c, TCP{Flags: Ptr(ACK), Window: Ptr[uint16](0)})
	t.Settle()
	return c, s, c.RcvNxt()
}

// checkZWProbe judges a segment sent into a zero window: a probe at
// SND.UNA-1, without data (as Linux and handmade send) or with the one
// octet already acknowledged (as gVisor sends: its sendZeroWindowProbe
// resends the octet at SND.UNA-1, which the receiver drops as a
// duplicate and ACKs), or one octet of new data at SND.UNA (RFC 9293
// §3.8.6.1's own probe, as Windows sends).
func checkZWProbe(t *T, c *Conn, seg *Segment, una uint32, data []byte) {
	switch {
	case seg.Flags&(SYN|FIN|RST) != 0 || seg.Flags&ACK == 0:
		t.Fail("a zero-window probe", seg.String())
	case seg.Seq == una-1 && len(seg.Payload) <= 1:
	case seg.Seq == una && len(seg.Payload) == 1 && seg.Payload[0] == data[0]:
	case len(seg.Payload) > 1:
		t.Fail("nothing beyond the zero window but a probe of at most one octet (MUST-34, MUST-36)", seg.String())
	default:
		t.Fail(fmt.Sprintf("a probe <SEQ=SND.UNA-1 (%d)> without data, or one octet at SND.UNA", c.RelIRS(una-1)), seg.String())
	}
}

// zeroWindowFirstProbe: "The transmitting host SHOULD send the first
// zero-window probe when a zero window has existed for the retransmission
// timeout period" (RFC 9293 §3.8.6.1, SHLD-29) — for data waiting on the
// window (MUST-36): with nothing queued there is nothing to probe for,
// and no segment comes (10 s virtual, 1 s real). Once the application
// writes, the first probe comes one RTO later, within rtoRange, and no
// text goes beyond the window (MUST-34).
func zeroWindowFirstProbe(t *T) {
	c, s, una := zeroWindowConn(t)
	quiet := time.Second
	if t.Virtual() {
		quiet = 10 * time.Second
	}
	if seg := t.NextSegment(c, quiet, stepFor(quiet)); seg != nil {
		t.Fail("nothing while no data waits on the zero window", seg.String())
	}
	data := []byte("waiting for the window")
	queued := t.Now()
	appWrite(t, s, data)
	seg := t.NextSegment(c, firstRTOLimit, stepFor(stackMinRTO))
	if seg == nil {
		t.Fail("a zero-window probe about one RTO after data was queued (SHLD-29)", fmt.Sprintf("nothing within %v", firstRTOLimit))
	}
	checkZWProbe(t, c, seg, una, data)
	d := seg.At.Sub(queued)
	t.Logf("first probe %v after the data was queued: %s", roundDur(d), seg)
	if !rtoRange(d) {
		t.Fail("the first probe one RTO after the data was queued, within "+rtoRangeText, roundDur(d).String())
	}
}

// zeroWindowBackoff: "As long as the receiving TCP continues to send
// acknowledgments in response to the probe segments, the sending TCP
// MUST allow the connection to stay open" (RFC 9293 §3.8.6.1, MUST-37):
// probes answered with the window still zero go on, never an abort, at
// intervals that grow ("SHOULD increase exponentially the interval
// between successive probes", SHLD-30: each twice the one before, within
// [1.5x, 3x]); when the window opens, the data goes out from SND.UNA.
func zeroWindowBackoff(t *T) {
	c, s, una := zeroWindowConn(t)
	data := []byte("waiting for the window")
	queued := t.Now()
	appWrite(t, s, data)
	segs := []*Segment{}
	last := queued
	want := rfcInitialRTO
	for len(segs) < 4 {
		seg := t.NextSegment(c, 3*want, stepFor(min(want, stackMinRTO)))
		if seg == nil {
			t.Fail(fmt.Sprintf("zero-window probe %d within %v of the last", len(segs)+1, 3*want), "nothing")
		}
		checkZWProbe(t, c, seg, una, data)
		if len(segs) > 0 {
			want = 2 * seg.At.Sub(last)
		}
		segs = append(segs, seg)
		last = seg.At
		t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(una), Window: Ptr[uint16](0)})
		t.Settle()
	}
	iv := segIntervals(segs)
	t.Logf("first probe %v after the data was queued, then intervals of %s", roundDur(segs[0].At.Sub(queued)), durList(iv))
	for k := 1; k < len(iv); k++ {
		if !doubling.has(iv[k], iv[k-1]) {
			t.Fail(fmt.Sprintf("probe intervals growing exponentially (SHLD-30): each %gx to %gx the one before", doubling.lo, doubling.hi), durList(iv))
		}
	}
	t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(una), Window: Ptr[uint16](65535)})
	var got []byte
	for len(got) < len(data) {
		seg := t.Expect(c, TCP{Flags: Ptr(ACK), FlagsMask: Ptr(ACK | SYN | RST)})
		switch {
		case len(seg.Payload) == 0:
			continue
		case seg.Seq != una+uint32(len(got)):
			t.Fail(fmt.Sprintf("the queued data from SND.UNA (seq %d) once the window opened", c.RelIRS(una+uint32(len(got)))), seg.String())
		}
		got = append(got, seg.Payload...)
	}
	if string(got[:len(data)]) != string(data) {
		t.Fail(fmt.Sprintf("%q", data), fmt.Sprintf("%q", got))
	}
	t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(una + uint32(len(data)))})
}

// ---- FIN-WAIT-2 and TIME-WAIT ----

// probeFractions are the points, in fractions of a timer's expected
// length, at which the bench asks whether the connection is still there.
var probeFractions = []float64{0.5, 0.9, 1.1, 1.5, 2, 3}

// probeLifetime sends a pure in-window ACK at each probeFraction of want
// after from, until one gets <SEQ=SEG.ACK><CTL=RST> (the connection is
// gone, RFC 9293 §3.10.7.1); anything else, or silence, means it is still
// there. It fails the scenario unless the connection was there at 0.9
// want and gone by 1.1 want, and logs what it found.
func probeLifetime(t *T, c *Conn, from time.Time, want time.Duration, what string) {
	t.Settle() // the DUT takes the segment that started the timer before time moves
	alive := 0.0
	for _, f := range probeFractions {
		t.AdvanceTo(from.Add(time.Duration(f * float64(want))))
		t.Settle()
		for _, seg := range c.Drain() {
			if seg.Flags&RST != 0 {
				t.Logf("sent a RST when %s ended: %s", what, seg)
			} else {
				t.Logf("unprompted in %s: %s", what, seg)
			}
		}
		ack := t.Send(c, TCP{Flags: Ptr(ACK)})
		seg := t.Next(c)
		if seg == nil || seg.Flags&RST == 0 {
			alive = f
			continue
		}
		if seg.Seq != ack.Ack {
			t.Fail("<SEQ=SEG.ACK><CTL=RST>", seg.String())
		}
		t.Logf("%s ended between %v and %v (configured %v)", what,
			roundDur(time.Duration(alive*float64(want))), roundDur(time.Duration(f*float64(want))), roundDur(want))
		if alive < lifetime.lo || f > lifetime.hi {
			t.Fail(fmt.Sprintf("%s to last %v, within %v", what, want, lifetime.of(want)),
				fmt.Sprintf("it ended between %v and %v", roundDur(time.Duration(alive*float64(want))), roundDur(time.Duration(f*float64(want)))))
		}
		return
	}
	t.Fail(fmt.Sprintf("%s to end after %v", what, want), fmt.Sprintf("still there %v later", roundDur(t.Now().Sub(from))))
}

// finWait2Timeout: RFC 9293 lets FIN-WAIT-2 wait for the peer's FIN
// forever; every implementation limits it for a connection the
// application has closed (Linux tcp_fin_timeout and TCP_LINGER2, gVisor
// TCPLingerTimeoutOption, handmade Config.FinWait2), here set to 2 s.
// The bench ACKs the DUT's FIN and sends nothing more: the connection is
// there (a pure ACK draws nothing) until the time is up, then gone (a
// pure ACK draws a RST, §3.10.7.1).
func finWait2Timeout(t *T) {
	c, s := t.Established()
	want := c.RcvNxt()
	if err := s.Close(); err != nil {
		t.Fatal(fmt.Errorf("close: %w", err))
	}
	fin := t.Expect(c, TCP{Flags: Ptr(FIN | ACK), Seq: Ptr(want)})
	t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(fin.End())})
	entered := t.Now()
	wait := timerFinWait2
	if ts, ok := dutTimers(t.DUT); ok {
		wait = ts.FinWait2
	}
	probeLifetime(t, c, entered, wait, "FIN-WAIT-2")
}

// timeWaitLength: "When a connection is closed actively, it MUST linger
// in the TIME-WAIT state for a time 2xMSL" (MUST-13); Linux
// (TCP_TIMEWAIT_LEN) and gVisor (DefaultTCPTimeWaitTimeout) linger 60 s,
// less than 2 MSL on purpose (CONFORMANCE.md FC-06: not flagged), and
// handmade its Config.TimeWait. The in-process stacks report their
// setting and the bench measures it on the virtual clock, probing with
// pure ACKs (ignored in TIME-WAIT, answered with RST once it ended; they
// do not restart the timer, only a retransmitted FIN does); Linux's is a
// constant, read from the kernel: inet_diag's timer on the TIME-WAIT
// socket, read twice to see it count down.
func timeWaitLength(t *T) {
	c, s := t.Established()
	toTimeWait(t, c, s)
	entered := t.Now()
	if ts, ok := dutTimers(t.DUT); ok {
		probeLifetime(t, c, entered, ts.TimeWait, "TIME-WAIT")
		return
	}
	read := func() (time.Duration, time.Time) {
		socks, ok, err := dutKernelSockets(t.DUT)
		if !ok {
			t.NA("the stack reports no TIME-WAIT setting and has no kernel to ask")
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range socks {
			if k.Local.Port() == DUTPort && k.Remote.Port() == c.LocalPort() {
				if k.State != kernelTimeWait || k.Timer != kernelTimerTWait {
					t.Fail("the connection in TIME-WAIT with its timer running (inet_diag state 6, timer 3)",
						fmt.Sprintf("state %d, timer %d", k.State, k.Timer))
				}
				return k.Expires, time.Now()
			}
		}
		t.Fail("the connection in TIME-WAIT in the kernel's socket table", "no socket for it")
		return 0, time.Time{}
	}
	left1, at1 := read()
	t.Advance(300 * time.Millisecond)
	left2, at2 := read()
	length := at1.Sub(entered) + left1
	t.Logf("inet_diag: %v left %v after entering TIME-WAIT, %v left %v later: %v in all (TCP_TIMEWAIT_LEN %v)",
		roundDur(left1), roundDur(at1.Sub(entered)), roundDur(left2), roundDur(at2.Sub(at1)), roundDur(length), linuxTimeWaitLen)
	if d := left1 - left2; d < 100*time.Millisecond || d > time.Second {
		t.Fail("the TIME-WAIT timer counting down", fmt.Sprintf("%v left, then %v left %v later", left1, left2, roundDur(at2.Sub(at1))))
	}
	if !lifetime.has(length, linuxTimeWaitLen) {
		t.Fail(fmt.Sprintf("TIME-WAIT of %v, within %v", linuxTimeWaitLen, lifetime.of(linuxTimeWaitLen)), roundDur(length).String())
	}
}

// synR2 is RFC 9293 §3.8.3's floor for giving up on a SYN: "the value of
// R2 for a SYN segment MUST be set large enough to provide retransmission
// of the segment for at least 3 minutes" (MUST-23).
const synR2 = 3 * time.Minute

// synGiveUp: the DUT connects to a bench that never answers; connect()
// must not fail before synR2 has passed since the first SYN. On a virtual
// clock the give-up time is measured (each SYN retransmission checked to
// be one); Linux runs in real time, so its time is read from the kernel's
// settings instead (linuxSynGiveUp).
func synGiveUp(t *T) {
	if !t.Virtual() {
		n, linear, ok, err := dutSynRetries(t.DUT)
		switch {
		case err != nil:
			t.Fatal(err)
		case !ok:
			t.Fatal(fmt.Errorf("a DUT in real time without SYN retry settings to read"))
		}
		judgeSynGiveUp(t, linuxSynGiveUp(n, linear), fmt.Sprintf("from the kernel's tcp_syn_retries=%d and tcp_syn_linear_timeouts=%d", n, linear))
		return
	}
	c, p, syn := dutConnect(t)
	retx := 0
	deadline := syn.At.Add(10 * time.Minute)
	for !p.Done() {
		left := deadline.Sub(t.Now())
		if left <= 0 {
			t.Fail("connect() to give up within 10 minutes", fmt.Sprintf("still connecting after %d SYN retransmissions", retx))
		}
		step := stepFor(min(rfcInitialRTO<<retx, 2*time.Minute))
		if !t.await(left, step, func() bool { return p.Done() || c.queued() }) || p.Done() {
			continue
		}
		seg, err := c.next(time.Now())
		t.Check(err)
		if seg.Flags&^PSH != SYN || seg.Seq != syn.Seq {
			t.Fail("only the SYN again, same ISS, until connect() fails", seg.String())
		}
		retx++
	}
	gaveUp := t.Now().Sub(syn.At)
	if _, err := p.Wait(0); err == nil {
		t.Fail("connect() to fail with nobody answering", "a connected socket")
	}
	judgeSynGiveUp(t, gaveUp, fmt.Sprintf("measured, %d retransmissions", retx))
}

func judgeSynGiveUp(t *T, gaveUp time.Duration, how string) {
	t.Logf("connect() gave up %v after the first SYN (%s)", roundDur(gaveUp), how)
	if gaveUp < synR2 {
		t.Allowed(fmt.Sprintf("gives up on a SYN after %v (%s); RFC 9293 §3.8.3 asks for at least 3 minutes (MUST-23)", roundDur(gaveUp), how))
	}
}

// linuxSynGiveUp is when Linux's connect() fails with nobody answering
// (net/ipv4/tcp_timer.c, tcp_write_timeout, since 6.5): after
// tcp_syn_retries + tcp_syn_linear_timeouts retransmissions, the first
// linear+1 timeouts at the initial RTO (1 s) and the rest doubling from
// there, each capped at TCP_RTO_MAX (120 s); it gives up when the timeout
// after the last retransmission expires. For the defaults (6 and 4) that
// is 131 s; measured once on Linux 6.18 in a namespace: 10 retransmissions
// at 1, 1, 1, 1, 1, 2, 4, 8, 16, 32 s, and connect() failing with
// ETIMEDOUT 2 min 13 s after the first SYN.
func linuxSynGiveUp(retries, linear int) time.Duration {
	var total time.Duration
	rto := rfcInitialRTO
	for i := 0; i <= retries+linear; i++ {
		if i > linear {
			rto = min(2*rto, 120*time.Second)
		}
		total += rto
	}
	return total
}

// dataR2 is RFC 9293 §3.8.3's recommendation for giving up on data:
// "The value of R2 SHOULD correspond to at least 100 seconds" (SHLD-11).
const dataR2 = 100 * time.Second

// dataGiveUp: the DUT sends text the bench never acknowledges; for
// dataR2 after the first transmission the DUT is still retransmitting it
// (every segment that comes is that text again, no RST) and its socket
// has not failed. Linux runs in real time: its give-up time comes from
// tcp_retries2 (linuxDataGiveUp) instead.
func dataGiveUp(t *T) {
	if !t.Virtual() {
		n, ok, err := dutRetries2(t.DUT)
		switch {
		case err != nil:
			t.Fatal(err)
		case !ok:
			t.Fatal(fmt.Errorf("a DUT in real time without retry settings to read"))
		}
		d := linuxDataGiveUp(n)
		t.Logf("gives up on data %v after its first transmission (from the kernel's tcp_retries2=%d)", roundDur(d), n)
		if d < dataR2 {
			t.Allowed(fmt.Sprintf("gives up on data after %v (tcp_retries2=%d); RFC 9293 §3.8.3 recommends at least 100 s (SHLD-11)", roundDur(d), n))
		}
		return
	}
	c, s := t.Established()
	next := c.RcvNxt()
	text := []byte("never acknowledged")
	if _, err := s.Send(text, t.Timing.Reply); err != nil {
		t.Fatal(fmt.Errorf("DUT send: %w", err))
	}
	first := t.Expect(c, TCP{Seq: Ptr(next), Payload: text})
	retx := 0
	for {
		left := dataR2 - t.Now().Sub(first.At)
		if left <= 0 {
			break
		}
		seg := t.NextSegment(c, left, stepFor(min(stackMinRTO<<retx, 2*time.Minute)))
		if seg == nil {
			break
		}
		if seg.Flags.Has(RST) || seg.Seq != next {
			t.Fail(fmt.Sprintf("only the text again for %v", dataR2), fmt.Sprintf("%v after %d retransmissions, %v in", seg, retx, roundDur(seg.At.Sub(first.At))))
		}
		retx++
	}
	t.Logf("%d retransmissions in the first %v", retx, dataR2)
	if retx < 3 {
		t.Fail(fmt.Sprintf("the text retransmitted several times within %v", dataR2), fmt.Sprintf("%d times", retx))
	}
	if _, err := s.Recv(1, time.Millisecond); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fail(fmt.Sprintf("the connection alive %v after the text was first sent", dataR2), err.Error())
	}
}

// linuxDataGiveUp is when Linux gives up on unacknowledged data: tcp_retries2
// retransmissions modelled from TCP_RTO_MIN (200 ms) doubling up to
// TCP_RTO_MAX (120 s) (net/ipv4/tcp_timer.c, tcp_model_timeout; 924.6 s
// for the default 15).
func linuxDataGiveUp(retries2 int) time.Duration {
	var total time.Duration
	rto := stackMinRTO
	for i := 0; i <= retries2; i++ {
		total += rto
		rto = min(2*rto, 120*time.Second)
	}
	return total
}
