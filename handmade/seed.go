package handmade

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"tcplab/wire"
)

// SeedConfig tunes the seed profile. The zero value gives the defaults below.
type SeedConfig struct {
	// ChunkSize is the most data octets per segment: 1400, the article's.
	ChunkSize int
	// MSS is the maximum segment size we advertise (RFC 9293 §3.7.1);
	// default the link MTU less 40 octets of IPv4 and TCP headers.
	MSS int
	// Window is the receive window we advertise: default 65535.
	Window uint16
	// InitialRTO, MinRTO and MaxRTO bound the retransmission timer
	// (RFC 6298): defaults 1 s, 20 ms, 60 s.
	InitialRTO, MinRTO, MaxRTO time.Duration
	// MaxRetries is how often one segment is retransmitted before the
	// connection gives up: default 8.
	MaxRetries int
	// TimeWait is how long the active closer stays in TIME-WAIT: default
	// 500 ms.
	TimeWait time.Duration
	// ISS picks the initial send sequence number; nil picks at random.
	ISS func() Seq
	// Trace narrates the connection; nil is silent.
	Trace *Trace
}

func (c SeedConfig) withDefaults(mtu int) SeedConfig {
	if c.ChunkSize <= 0 {
		c.ChunkSize = 1400
	}
	if c.MSS <= 0 {
		c.MSS = max(mtu-40, 536)
	}
	if c.Window == 0 {
		c.Window = 65535
	}
	if c.InitialRTO <= 0 {
		// RFC 6298 §2.1: initial RTO of one second.
		c.InitialRTO = time.Second
	}
	if c.MinRTO <= 0 {
		// Deviation: RFC 6298 §2.4 asks for a 1 s floor and Linux and
		// gVisor use 200 ms; the seed profile is stop-and-wait on lab
		// links with sub-millisecond round trips, where a 200 ms floor
		// would make every loss cost a thousand round trips. 20 ms keeps
		// a lossy run short; the estimator still backs off.
		c.MinRTO = 20 * time.Millisecond
	}
	if c.MaxRTO <= 0 {
		// RFC 6298 §2.5: a maximum of at least 60 s.
		c.MaxRTO = 60 * time.Second
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = 8
	}
	if c.TimeWait <= 0 {
		// Deviation: RFC 9293 §3.10.7.4 (TIME-WAIT) holds 2*MSL; Linux
		// and gVisor 60 s. The seed profile lingers 500 ms: long enough to
		// answer a FIN the peer retransmits at the 200 ms minimum RTO of
		// Linux and gVisor, short enough for a demo.
		c.TimeWait = 500 * time.Millisecond
	}
	return c
}

// Counters count what a connection sent, received and dropped, one field
// per reason.
type Counters struct {
	SegmentsSent, SegmentsReceived uint64
	// BytesSent and BytesReceived count payload octets, retransmissions
	// included.
	BytesSent, BytesReceived uint64
	Retransmissions          uint64
	ResetsSent, ResetsRecv   uint64
	ChallengeACKs            uint64
	// DroppedChecksum: bad IPv4 header or TCP checksum (RFC 9293 §3.1 MUST-3).
	DroppedChecksum uint64
	// DroppedMalformed: truncated, not IPv4, fragment, not TCP, bad header.
	DroppedMalformed uint64
	// DroppedNotOurs: a well-formed segment for another connection.
	DroppedNotOurs uint64
	// DroppedUnacceptable: failed a check of RFC 9293 §3.10.7.
	DroppedUnacceptable uint64
	// OutOfOrder: data beyond RCV.NXT, held and answered with a
	// duplicate ACK.
	OutOfOrder uint64
	// DuplicateData: data at or below RCV.NXT, already delivered.
	DuplicateData uint64
}

// Report is what one seed-profile connection did.
type Report struct {
	Role          string // "client" or "server"
	Local, Remote netip.AddrPort
	// Bytes is the payload the application handed over (client) or
	// received in order (server); SHA256 is its digest.
	Bytes  int64
	SHA256 [32]byte
	// Duration runs from the first SYN to the close as the application
	// sees it (TIME-WAIT entered or CLOSED).
	Duration  time.Duration
	State     State
	SRTT, RTO time.Duration
	PeerMSS   int
	Counters  Counters
}

// ConnError is a connection that ended badly: in which state, and why.
type ConnError struct {
	Role          string
	Local, Remote netip.AddrPort
	State         State
	Err           error
	Detail        string
}

func (e *ConnError) Error() string {
	s := fmt.Sprintf("handmade %s %s -> %s in %s: %v", e.Role, e.Local, e.Remote, e.State, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *ConnError) Unwrap() error { return e.Err }

// Reasons a connection ends badly.
var (
	ErrPeerNotAnswering = errors.New("peer not answering")
	ErrConnRefused      = errors.New("connection refused")
	ErrConnReset        = errors.New("connection reset by peer")
)

// Upload is the article's client: it opens a connection from local (a
// random ephemeral port) to remote over l, sends payload in stop-and-wait
// chunks (each waits for its ACK, with a retransmission timer), closes with
// FIN, and waits out TIME-WAIT. The report is returned even on error.
func Upload(ctx context.Context, l wire.Link, local netip.Addr, remote netip.AddrPort, payload []byte, cfg SeedConfig) (*Report, error) {
	c := newSeedConn(l, cfg, "client")
	c.local = netip.AddrPortFrom(local, uint16(49152+rand.IntN(16384)))
	c.remote = remote
	c.data = payload
	c.activeClose = true
	c.hash.Write(payload)
	return c.run(ctx, c.connect)
}

// Serve is the article's server, made robust: it listens on local over l,
// accepts one connection, takes any in-order, in-window data whatever its
// flags and acknowledges it cumulatively, acknowledges the client's FIN,
// sends its own FIN and returns once that is acknowledged.
func Serve(ctx context.Context, l wire.Link, local netip.AddrPort, cfg SeedConfig) (*Report, error) {
	c := newSeedConn(l, cfg, "server")
	c.local = local
	c.state = Listen
	c.tr.Notef("LISTENING on %s (%s)", local, Listen)
	return c.run(ctx, nil)
}

// seedConn is the transmission control block of the seed profile: a
// stop-and-wait sender (at most one segment unacknowledged) and an
// in-order receiver.
//
//	     1          2          3          4
//	----------|----------|----------|----------
//	       SND.UNA    SND.NXT    SND.UNA
//	                            +SND.WND
//	(RFC 9293 §3.3.1, Figure 3: 1 acknowledged, 2 sent and not yet
//	acknowledged, 3 allowed to send, 4 not yet allowed)
type seedConn struct {
	cfg  SeedConfig
	link wire.Link
	tr   *Trace
	role string
	enc  Encoder
	tx   []byte

	state         State
	local, remote netip.AddrPort
	passive       bool

	ISS, IRS Seq
	SND      struct {
		UNA, NXT Seq
		WND      uint32
		WL1, WL2 Seq
	}
	RCV struct {
		NXT Seq
		WND uint32
	}
	peerMSS int

	// data is the application's payload; data[0] has sequence ISS+1.
	data        []byte
	activeClose bool
	hash        hash.Hash
	delivered   int64
	ooo         oooQueue

	rtt           RTTEstimator
	rtoAt         time.Time // zero: nothing outstanding
	sentAt        time.Time
	firstSentAt   time.Time
	retransmitted bool
	retries       int
	persistAt     time.Time
	timeWaitAt    time.Time

	counters Counters
	start    time.Time
	closedAt time.Time
	err      error
}

func newSeedConn(l wire.Link, cfg SeedConfig, role string) *seedConn {
	cfg = cfg.withDefaults(l.MTU())
	return &seedConn{
		cfg: cfg, link: l, tr: cfg.Trace, role: role,
		hash: sha256.New(),
		rtt:  NewRTTEstimator(cfg.InitialRTO, cfg.MinRTO, cfg.MaxRTO),
	}
}

func (c *seedConn) newISS() Seq {
	if c.cfg.ISS != nil {
		return c.cfg.ISS()
	}
	return Seq(rand.Uint32())
}

// run drives the connection: it owns the clock, the link and the timer,
// and feeds the control block one event at a time.
func (c *seedConn) run(ctx context.Context, open func(time.Time)) (*Report, error) {
	rctx, cancel := context.WithCancel(ctx)
	rx := make(chan []byte, 64)
	readErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.readLoop(rctx, rx, readErr)
	}()
	defer func() { cancel(); wg.Wait() }()

	if open != nil {
		open(time.Now())
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for c.err == nil {
		now := time.Now()
		c.output(now)
		if c.state == Closed && c.err == nil && !c.closedAt.IsZero() {
			break
		}
		if c.state == TimeWait && !now.Before(c.timeWaitAt) {
			c.tr.Notef("TIME-WAIT over: CLOSED")
			c.state = Closed
			break
		}
		if d := c.nextDeadline(); !d.IsZero() {
			timer.Reset(time.Until(d))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			c.fail(ctx.Err(), "")
		case err := <-readErr:
			c.fail(fmt.Errorf("link: %w", err), "")
		case pkt := <-rx:
			c.input(pkt, time.Now())
		case now := <-timer.C:
			c.onTimer(now)
		}
	}
	c.tr.summary()
	return c.report(), c.err
}

func (c *seedConn) readLoop(ctx context.Context, rx chan<- []byte, errc chan<- error) {
	buf := make([]byte, 65536)
	for {
		n, err := c.link.ReadPacket(ctx, buf)
		if errors.Is(err, wire.ErrTruncated) {
			n = 0 // an empty packet: input counts it as truncated
		} else if err != nil {
			if ctx.Err() == nil {
				errc <- err
			}
			return
		}
		pkt := append([]byte(nil), buf[:n]...)
		select {
		case rx <- pkt:
		case <-ctx.Done():
			return
		}
	}
}

func (c *seedConn) report() *Report {
	r := &Report{
		Role: c.role, Local: c.local, Remote: c.remote,
		State: c.state, SRTT: c.rtt.SRTT, RTO: c.rtt.RTO, PeerMSS: c.peerMSS,
		Counters: c.counters,
	}
	if c.role == "client" {
		r.Bytes = int64(len(c.data))
	} else {
		r.Bytes = c.delivered
	}
	copy(r.SHA256[:], c.hash.Sum(nil))
	if !c.start.IsZero() {
		end := c.closedAt
		if end.IsZero() {
			end = time.Now()
		}
		r.Duration = end.Sub(c.start)
	}
	return r
}

func (c *seedConn) fail(err error, detail string) {
	if c.err == nil {
		c.err = &ConnError{Role: c.role, Local: c.local, Remote: c.remote, State: c.state, Err: err, Detail: detail}
		c.tr.Notef("ERROR: %v", c.err)
	}
}

func (c *seedConn) setState(s State, why string) {
	if why != "" {
		c.tr.Notef("%s -> %s: %s", c.state, s, why)
	} else {
		c.tr.Notef("%s -> %s", c.state, s)
	}
	c.state = s
}

// enterClosed marks the end of the connection as the application sees it.
func (c *seedConn) closeNow(now time.Time, s State, why string) {
	c.setState(s, why)
	c.closedAt = now
	c.rtoAt = time.Time{}
	if s == TimeWait {
		c.timeWaitAt = now.Add(c.cfg.TimeWait)
		c.tr.Notef("TIME-WAIT for %v: a retransmitted FIN is answered until then", c.cfg.TimeWait)
	}
}

func (c *seedConn) nextDeadline() time.Time {
	d := c.rtoAt
	for _, t := range []time.Time{c.persistAt, c.timeWaitAt} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// connect starts an active OPEN (RFC 9293 §3.10.1, CLOSED): send a SYN,
// enter SYN-SENT.
func (c *seedConn) connect(now time.Time) {
	c.start = now
	c.ISS = c.newISS()
	c.SND.UNA, c.SND.NXT = c.ISS, c.ISS.Add(1)
	c.RCV.WND = uint32(c.cfg.Window)
	c.tr.Notef("CONNECTING %s -> %s", c.local, c.remote)
	c.state = SynSent
	c.sendSYN(now, false)
}

// --- segment construction ---

func (c *seedConn) emit(s *Segment, retransmit bool, note string) {
	s.Src, s.Dst = c.local, c.remote
	c.tx = c.enc.Append(c.tx[:0], s)
	c.counters.SegmentsSent++
	c.counters.BytesSent += uint64(len(s.Payload))
	if s.Flags.Has(RST) {
		c.counters.ResetsSent++
	}
	if retransmit {
		c.counters.Retransmissions++
	}
	c.tr.segment(true, s, c.ISS, c.IRS, c.state != Established, retransmit, note)
	// The driver has no other work while the link pushes back, so a
	// blocking write is the backpressure the wire asks for.
	if err := c.link.WritePacket(context.Background(), c.tx); err != nil {
		c.fail(fmt.Errorf("link: %w", err), "")
	}
}

// arm starts the retransmission timer for the segment just sent (RFC 6298
// §5.1).
func (c *seedConn) arm(now time.Time, retransmit bool) {
	if !retransmit {
		c.firstSentAt = now
		c.retries = 0
		c.retransmitted = false
	}
	c.sentAt = now
	c.rtoAt = now.Add(c.rtt.RTO)
}

func (c *seedConn) sendSYN(now time.Time, retransmit bool) {
	// RFC 9293 §3.7.1 (MUST-14 and MUST-15): send the MSS option on the SYN.
	s := Segment{SEQ: c.ISS, Flags: SYN, WND: c.cfg.Window, Options: Options{MSS: uint16(c.cfg.MSS), HasMSS: true}}
	c.emit(&s, retransmit, "")
	c.arm(now, retransmit)
}

func (c *seedConn) sendSYNACK(now time.Time, retransmit bool) {
	// RFC 9293 §3.10.7.2, third check: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>,
	// with our MSS (RFC 9293 §3.7.1 MUST-14).
	s := Segment{SEQ: c.ISS, ACK: c.RCV.NXT, Flags: SYN | ACK, WND: c.cfg.Window, Options: Options{MSS: uint16(c.cfg.MSS), HasMSS: true}}
	c.emit(&s, retransmit, "")
	c.arm(now, retransmit)
}

func (c *seedConn) sendACK(note string) {
	// RFC 9293 §3.10.7.4: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
	s := Segment{SEQ: c.SND.NXT, ACK: c.RCV.NXT, Flags: ACK, WND: c.cfg.Window}
	c.emit(&s, false, note)
}

// sendRST answers seg with a reset (RFC 9293 §3.10.7.2 and §3.10.7.3:
// <SEQ=SEG.ACK><CTL=RST>), unless seg is itself a reset (§3.10.7.1: an
// incoming segment containing a RST is discarded, never answered).
func (c *seedConn) sendRST(seg *Segment, note string) {
	if seg.Flags.Has(RST) {
		return
	}
	s := Segment{SEQ: seg.ACK, Flags: RST, Src: seg.Dst, Dst: seg.Src}
	remote := c.remote
	c.remote = seg.Src
	c.emit(&s, false, note)
	c.remote = remote
}

func (c *seedConn) sendFIN(now time.Time, retransmit bool) {
	// RFC 9293 §3.10.4: the FIN takes the sequence number after the data.
	s := Segment{SEQ: c.SND.NXT.Add(^uint32(0)), ACK: c.RCV.NXT, Flags: FIN | ACK, WND: c.cfg.Window}
	c.emit(&s, retransmit, "")
	c.arm(now, retransmit)
}

func (c *seedConn) sendData(now time.Time, from Seq, n int, retransmit bool, note string) {
	off := from.Sub(c.ISS.Add(1))
	s := Segment{SEQ: from, ACK: c.RCV.NXT, Flags: PSH | ACK, WND: c.cfg.Window, Payload: c.data[off : off+uint32(n)]}
	c.emit(&s, retransmit, note)
	c.arm(now, retransmit)
}

// output sends what is due: the next chunk once the last is acknowledged
// (stop and wait, the article's flow), then the FIN.
func (c *seedConn) output(now time.Time) {
	if !c.rtoAt.IsZero() || c.err != nil {
		return
	}
	if c.state != Established && c.state != CloseWait {
		return
	}
	if off := c.SND.NXT.Sub(c.ISS.Add(1)); int(off) < len(c.data) {
		n := min(c.cfg.ChunkSize, c.peerMSS, len(c.data)-int(off), int(c.SND.WND))
		if n == 0 {
			// RFC 9293 §3.8.6.1 (MUST-36): with a zero send window, probe
			// after a retransmission timeout with one octet.
			if c.persistAt.IsZero() {
				c.persistAt = now.Add(c.rtt.RTO)
				c.tr.Notef("peer window is zero: probing in %v", c.rtt.RTO)
				return
			}
			if now.Before(c.persistAt) {
				return
			}
			n = 1
		}
		c.persistAt = time.Time{}
		from := c.SND.NXT
		c.SND.NXT = c.SND.NXT.Add(uint32(n))
		c.sendData(now, from, n, false, "")
		return
	}
	if c.state == CloseWait || c.activeClose {
		// RFC 9293 §3.10.4 CLOSE: ESTABLISHED -> FIN-WAIT-1, CLOSE-WAIT ->
		// LAST-ACK, once all queued data is sent.
		next := FinWait1
		if c.state == CloseWait {
			next = LastAck
		}
		c.setState(next, "all data acknowledged, closing")
		c.SND.NXT = c.SND.NXT.Add(1)
		c.sendFIN(now, false)
	}
}

// onTimer handles the retransmission, persist and TIME-WAIT deadlines;
// each handler re-checks its own deadline.
func (c *seedConn) onTimer(now time.Time) {
	if !c.rtoAt.IsZero() && !now.Before(c.rtoAt) {
		c.retransmit(now)
	}
}

// retransmit resends the one outstanding segment after the RTO expired
// (RFC 6298 §5.4-5.6), or gives up after MaxRetries (RFC 9293 §3.8.3, R2).
func (c *seedConn) retransmit(now time.Time) {
	if c.retries >= c.cfg.MaxRetries {
		what := "segment"
		switch c.state {
		case SynSent:
			what = "SYN"
		case SynReceived:
			what = "SYN-ACK"
		case FinWait1, Closing, LastAck:
			what = "FIN"
		}
		c.fail(ErrPeerNotAnswering, fmt.Sprintf("%s sent %d times over %v without an answer; is anything listening at %s, and is the link up?",
			what, c.retries+1, now.Sub(c.firstSentAt).Round(time.Millisecond), c.remote))
		return
	}
	c.retries++
	c.retransmitted = true
	c.rtt.Backoff() // RFC 6298 §5.5
	switch {
	case c.state == SynSent:
		c.sendSYN(now, true)
	case c.state == SynReceived:
		c.sendSYNACK(now, true)
	case c.state == FinWait1 || c.state == Closing || c.state == LastAck:
		c.sendFIN(now, true)
	case c.SND.UNA.LessThan(c.SND.NXT):
		// RFC 6298 §5.4: retransmit the earliest unacknowledged segment.
		c.sendData(now, c.SND.UNA, int(c.SND.NXT.Sub(c.SND.UNA)), true, "")
	default:
		c.rtoAt = time.Time{}
	}
}

// ackedAll stops the timer once everything sent is acknowledged (RFC 6298
// §5.2), taking an RTT sample unless the segment was retransmitted (Karn's
// rule, RFC 6298 §3).
func (c *seedConn) ackedAll(now time.Time) {
	if c.rtoAt.IsZero() {
		return
	}
	if !c.retransmitted {
		c.rtt.Sample(now.Sub(c.sentAt))
	}
	c.rtoAt = time.Time{}
	c.retries = 0
	c.retransmitted = false
}
