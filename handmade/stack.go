package handmade

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"tcplab/wire"
)

// Stack is the driver of the full profile: it owns a link and an IPv4
// address, demultiplexes segments to connections and listeners, answers
// segments for no connection, runs each connection's timers, and turns
// user calls into TCB calls. One mutex guards every TCB; one goroutine
// reads the link and one writes it.
type Stack struct {
	link  wire.Link
	addr  netip.Addr
	cfg   Config
	clock Clock
	isn   *isnGenerator

	mu        sync.Mutex
	conns     map[fourTuple]*Conn
	listeners map[uint16]*Listener
	closed    bool
	closing   bool // Close is aborting the connections
	enc       Encoder
	seg       Segment
	payload   []byte
	txq       chan *[]byte
	pending   map[*Conn]struct{} // connections with output waiting for txq room
	// deferred are the connections that took segments of a burst still
	// being read, not yet serviced (reader); burst counts its packets.
	deferred []*Conn
	burst    int
	starved  atomic.Bool
	counters StackCounters
	readErr  error

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	writerWG sync.WaitGroup
	pool     sync.Pool
}

type fourTuple struct{ local, remote netip.AddrPort }

// StackCounters count what the stack did with packets no connection saw.
type StackCounters struct {
	PacketsReceived  uint64
	DroppedChecksum  uint64 // bad IPv4 or TCP checksum (RFC 9293 §3.1 MUST-3)
	DroppedMalformed uint64 // truncated, not IPv4, fragment, not TCP, bad header
	DroppedNotOurs   uint64 // for another IPv4 address
	// DroppedBadSource: from a source no host can have (RFC 9293 §3.9.2.3
	// MUST-63; RFC 1122 §3.2.1.3).
	DroppedBadSource uint64
	ResetsNoConn     uint64 // RSTs answering segments for no connection (§3.10.7.1)
	ListenOverflows  uint64 // SYNs dropped: SYN queue or accept backlog full
	ListenDropped    uint64 // non-SYN segments a listener dropped
	// SYNCookiesSent and SYNCookiesAccepted count stateless handshakes
	// (RFC 4987 §3.6) while a SYN queue was full.
	SYNCookiesSent, SYNCookiesAccepted uint64
	// ICMPDropped counts ICMP messages that are not errors about a TCP
	// connection of ours (echo requests, errors quoting nothing we have).
	ICMPDropped uint64
	// TimeWaitReopened counts connections a new SYN reopened from
	// TIME-WAIT (RFC 9293 §3.6.1, RFC 6191).
	TimeWaitReopened uint64
}

const txQueueLen = 4096

// NewStack starts a stack owning addr on l. Close stops it; the link stays
// the caller's.
func NewStack(l wire.Link, addr netip.Addr, cfg Config) (*Stack, error) {
	if !addr.Is4() {
		return nil, fmt.Errorf("handmade: %v is not an IPv4 address", addr)
	}
	cfg = cfg.withDefaults(l.MTU())
	if cfg.MSS > l.MTU()-40 {
		return nil, fmt.Errorf("handmade: MSS %d does not fit the link MTU %d less 40 octets of headers", cfg.MSS, l.MTU())
	}
	if _, err := newCongestionControl(cfg.CongestionControl, cfg.MSS); err != nil {
		return nil, err
	}
	s := &Stack{
		link: l, addr: addr, cfg: cfg, clock: cfg.Clock,
		isn:       newISNGenerator(cfg.ISNKey, cfg.Clock.Now()),
		conns:     map[fourTuple]*Conn{},
		listeners: map[uint16]*Listener{},
		payload:   make([]byte, 65536),
		txq:       make(chan *[]byte, txQueueLen),
		pending:   map[*Conn]struct{}{},
	}
	s.pool.New = func() any { b := make([]byte, 0, l.MTU()); return &b }
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.reader()
	s.writerWG.Add(1)
	go s.writer()
	return s, nil
}

// Addr is the stack's IPv4 address.
func (s *Stack) Addr() netip.Addr { return s.addr }

// Counters snapshots the stack's own counters.
func (s *Stack) Counters() StackCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters
}

// Close aborts every connection (a RST to each synchronized peer), closes
// every listener and stops the stack's goroutines. The link stays open.
func (s *Stack) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	now := s.clock.Now()
	s.closing = true
	for _, c := range s.conns {
		c.tcb.Abort(now)
		s.service(c, now)
	}
	for _, l := range s.listeners {
		l.closeLocked()
	}
	s.closed = true
	close(s.txq)
	s.mu.Unlock()
	// Let the resets out, unless the link pushes back for too long.
	done := make(chan struct{})
	go func() { s.writerWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	s.cancel()
	s.writerWG.Wait()
	s.wg.Wait()
	return nil
}

func (s *Stack) writer() {
	defer s.writerWG.Done()
	for pkt := range s.txq {
		if s.ctx.Err() == nil {
			s.link.WritePacket(s.ctx, *pkt)
		}
		s.pool.Put(pkt)
		if s.starved.Load() {
			s.mu.Lock()
			if !s.closed {
				s.starved.Store(false)
				now := s.clock.Now()
				for c := range s.pending {
					delete(s.pending, c)
					s.service(c, now)
				}
			}
			s.mu.Unlock()
		}
	}
}

// maxBurst bounds how many packets a burst takes before the connections
// are serviced (Stack.input): gVisor's maxSegmentsPerWake.
const maxBurst = 100

func (s *Stack) reader() {
	defer s.wg.Done()
	buf := make([]byte, 65536)
	buffered, _ := s.link.(wire.Buffered)
	for {
		n, err := s.link.ReadPacket(s.ctx, buf)
		if errors.Is(err, wire.ErrTruncated) {
			s.mu.Lock()
			s.counters.DroppedMalformed++
			s.mu.Unlock()
			continue
		}
		if err != nil {
			s.mu.Lock()
			s.flushDeferred()
			if s.ctx.Err() == nil {
				s.readErr = err
				for _, c := range s.conns {
					c.signal()
				}
			}
			s.mu.Unlock()
			return
		}
		more := buffered != nil && buffered.Buffered() > 0
		s.input(buf[:n], more)
	}
}

// input takes one packet from the link; more says another is waiting.
//
// Deviation: RFC 9293 §3.8.6.3 (SHLD-19) asks for an ACK for at least
// every second full-sized segment. While the link has more packets
// waiting, a connection takes the segments of text among them as one
// burst (up to maxBurst) and is serviced once, at the end, so one ACK
// covers the burst, as gVisor does (handleSegmentsLocked: one ACK per
// up to maxSegmentsPerWake segments), and Linux after GRO. A segment
// without text, one that changes the connection's state, and one that
// arrives while data is held out of order are serviced at once. With
// an ACK every second segment, a gVisor sender took 16 times the ACKs
// its own receiver sends, and on the clean in-memory wire, where CPU
// time is the bottleneck, sent to us at 0.84 times the rate it sends
// to itself (tcplab bench).
func (s *Stack) input(pkt []byte, more bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.burst++
	if !more || s.burst >= maxBurst {
		// Whatever happens below, the burst ends with this packet.
		defer s.flushDeferred()
	}
	s.counters.PacketsReceived++
	if len(pkt) > ipv4Proto && pkt[0]>>4 == 4 && pkt[ipv4Proto] == protoICMP {
		s.icmp(pkt)
		return
	}
	seg := &s.seg
	if err := Decode(pkt, seg); err != nil {
		if errors.Is(err, ErrBadTCPChecksum) || errors.Is(err, ErrBadIPChecksum) {
			s.counters.DroppedChecksum++
		} else {
			s.counters.DroppedMalformed++
		}
		s.cfg.Trace.Notef("DROPPED a %d-octet packet: %v", len(pkt), err)
		return
	}
	if seg.Dst.Addr() != s.addr {
		// RFC 9293 §3.9.2.3 (MUST-57): a SYN to a broadcast or multicast
		// address is discarded silently; so is anything not for our one
		// unicast address.
		s.counters.DroppedNotOurs++
		return
	}
	if !validSource(seg.Src.Addr()) {
		// RFC 9293 §3.9.2.3 (MUST-63): "An incoming SYN with an invalid
		// source address MUST be ignored either by TCP or by the IP
		// layer"; RFC 1122 §3.2.1.3 has the IP layer discard every
		// datagram from one, which is what this is.
		s.counters.DroppedBadSource++
		return
	}
	now := s.clock.Now()
	if c, ok := s.conns[fourTuple{seg.Dst, seg.Src}]; ok {
		if l, ok := s.listeners[seg.Dst.Port()]; ok && c.tcb.State == TimeWait && seg.Flags&(SYN|ACK|RST) == SYN && c.tcb.reopens(seg) {
			// RFC 9293 §3.6.1 (MAY-2, SHLD-4): a new SYN reopens the
			// connection from TIME-WAIT; the old incarnation ends here,
			// and the new one starts above its sequence space.
			s.trace(c, false, seg, false)
			syn := *seg // service writes its output into s.seg
			floor := c.tcb.SND.NXT
			c.tcb.enterClosed(nil)
			s.service(c, now)
			s.counters.TimeWaitReopened++
			s.listenAbove(l, &syn, now, floor)
			return
		}
		s.trace(c, false, seg, false)
		before, text, held := c.tcb.State, len(seg.Payload) > 0, c.tcb.ooo.Len() > 0
		c.tcb.Input(seg, now)
		if c.tcb.State != before || !text || held || c.tcb.ooo.Len() > 0 {
			// A change of state is serviced at once: a closed connection
			// leaves s.conns before the next segment of the burst, which
			// gets <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.1) rather
			// than a TCB's silence. So is a segment without text: what
			// an ACK lets the sender send goes before the next ACK is
			// taken (RFC 5681 §3.2's FlightSize at a loss counts it).
			// And so is text while data is held out of order: RFC 5681
			// §4.2's immediate duplicate ACK, and the ACK of a segment
			// that fills a gap, go for each segment, as gVisor sends
			// them, so the sender counts its duplicate ACKs.
			s.service(c, now)
			return
		}
		if !c.deferred {
			c.deferred = true
			s.deferred = append(s.deferred, c)
		}
		return
	}
	if l, ok := s.listeners[seg.Dst.Port()]; ok {
		s.listen(l, seg, now)
		return
	}
	s.noConnection(seg)
}

// flushDeferred services the connections that took segments of the burst
// just read.
func (s *Stack) flushDeferred() {
	now := s.clock.Now()
	for i, c := range s.deferred {
		c.deferred = false
		s.deferred[i] = nil
		if !s.closed {
			s.service(c, now)
		}
	}
	s.deferred, s.burst = s.deferred[:0], 0
}

// validSource reports whether a is an address a peer can send from (RFC
// 1122 §3.2.1.3): not 0.0.0.0/8 ("this network", only while a host learns
// its address), not 127.0.0.0/8 off the loopback, not multicast
// (224.0.0.0/4) or limited broadcast, not class E (240.0.0.0/4). A
// subnet's broadcast address is left to the IP layer that knows the
// subnet; this stack owns one address, not a prefix.
func validSource(a netip.Addr) bool {
	b := a.As4()
	return b[0] != 0 && b[0] != 127 && b[0] < 224
}

// icmp hands an ICMP error about one of our segments to its connection
// (RFC 9293 §3.9.2.2); ICMP messages of other kinds, or about nothing we
// have, are counted and dropped.
func (s *Stack) icmp(pkt []byte) {
	e, ok := parseICMPError(pkt)
	if !ok {
		s.counters.ICMPDropped++
		return
	}
	c, found := s.conns[fourTuple{e.Local, e.Remote}]
	if !found || IPv4Header(pkt).Dst() != s.addr.As4() { // a conn's local address is ours
		s.counters.ICMPDropped++
		return
	}
	now := s.clock.Now()
	s.cfg.Trace.Notef("ICMP type %d code %d about %v -> %v seq %d", e.Type, e.Code, e.Local, e.Remote, uint32(e.SEQ))
	c.tcb.ICMP(e, now)
	s.service(c, now)
}

// noConnection answers a segment for no connection (RFC 9293 §3.10.7.1):
// nothing for a RST; <SEQ=SEG.ACK><CTL=RST> for an ACK; otherwise
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
func (s *Stack) noConnection(seg *Segment) {
	if seg.Flags.Has(RST) {
		return
	}
	// RFC 1122 §3.2.1.8(c): a reply to a source-routed datagram goes
	// back by the reversed route.
	r := Segment{Src: seg.Dst, Dst: seg.Src, Flags: RST, Route: seg.Route.Return(seg.Src.Addr().As4(), seg.Dst.Addr().As4())}
	if seg.Flags.Has(ACK) {
		r.SEQ = seg.ACK
	} else {
		r.ACK, r.Flags = seg.SEQ.Add(seg.LEN()), RST|ACK
	}
	s.counters.ResetsNoConn++
	s.sendStateless(&r)
}

func (s *Stack) sendStateless(r *Segment) {
	if len(s.txq) == cap(s.txq) {
		return // a reset is advisory; the peer retransmits and asks again
	}
	p := s.pool.Get().(*[]byte)
	*p = s.enc.Append((*p)[:0], r)
	s.txq <- p
}

// listen is RFC 9293 §3.10.7.2 for a segment to a listening port.
func (s *Stack) listen(l *Listener, seg *Segment, now time.Time) {
	s.listenAbove(l, seg, now, 0)
}

// listenAbove is listen with an ISS floor: a SYN that reopens a
// connection from TIME-WAIT gets an ISS above the old incarnation's
// SND.NXT (floor; 0: none), RFC 1122 §4.2.2.13 condition (1).
func (s *Stack) listenAbove(l *Listener, seg *Segment, now time.Time, floor Seq) {
	switch {
	case seg.Flags.Has(RST):
		// First check: an incoming RST is ignored.
		s.counters.ListenDropped++
	case seg.Flags.Has(ACK):
		if !seg.Flags.Has(SYN) {
			mss, ok := s.isn.checkCookie(seg, now)
			if ok && len(l.acceptq) >= s.cfg.Backlog {
				// A full accept queue drops the ACK, as Linux does; the
				// client's next segment brings the cookie back again.
				s.counters.ListenOverflows++
				return
			}
			if ok {
				// RFC 4987 §3.6: a valid cookie came back. The connection
				// starts established and the segment's data is taken.
				s.counters.SYNCookiesAccepted++
				t := openFromCookie(&s.cfg, seg, mss, now)
				c := s.newConn(t, l)
				l.halfOpen++
				s.trace(c, false, seg, false)
				t.Input(seg, now)
				s.service(c, now)
				return
			}
		}
		// Second check: any acknowledgement is bad in LISTEN:
		// <SEQ=SEG.ACK><CTL=RST>.
		s.counters.ResetsNoConn++
		s.sendStateless(&Segment{Src: seg.Dst, Dst: seg.Src, SEQ: seg.ACK, Flags: RST, Route: seg.Route.Return(seg.Src.Addr().As4(), seg.Dst.Addr().As4())})
	case seg.Flags.Has(SYN):
		// Third check: SYN. A full accept backlog drops it, as Linux does;
		// a full SYN queue answers with a SYN cookie (RFC 4987 §3.6), so a
		// flood of half-open connections cannot lock legitimate clients
		// out, and the memory it costs stays bounded.
		if len(l.acceptq) >= s.cfg.Backlog {
			s.counters.ListenOverflows++
			return
		}
		if l.halfOpen >= s.cfg.SYNQueue {
			s.sendCookieSYNACK(seg, now)
			return
		}
		iss := s.isn.ISN(seg.Dst, seg.Src, now)
		if floor != 0 && !floor.LessThan(iss) {
			// RFC 1122 §4.2.2.13 (1): "assigns its initial sequence number
			// for the new connection to be larger than the largest
			// sequence number it used on the previous connection
			// incarnation"; a window's worth above, as Linux does.
			iss = floor.Add(65535 + 2)
		}
		t := newTCB(&s.cfg, seg.Dst, seg.Src, iss, now)
		t.tsOffset, t.tsEpoch = s.isn.tsClock(seg.Dst, seg.Src)
		t.openPassive(seg, now)
		c := s.newConn(t, l)
		l.halfOpen++
		s.trace(c, false, seg, false)
		s.service(c, now)
	default:
		// Fourth: any other segment: drop.
		s.counters.ListenDropped++
	}
}

func (s *Stack) newConn(t *TCB, l *Listener) *Conn {
	c := &Conn{s: s, tcb: t, l: l}
	s.conns[fourTuple{t.Local, t.Remote}] = c
	return c
}

// service runs after every event of c: send what is due, re-arm the timer,
// hand a newly established child to its listener, wake waiting callers,
// and forget a closed connection.
func (s *Stack) service(c *Conn, now time.Time) {
	t := c.tcb
	s.narrateState(c)
	for {
		if len(s.txq) == cap(s.txq) {
			s.pending[c] = struct{}{}
			s.starved.Store(true)
			break
		}
		retx := t.Counters.Retransmissions
		if !t.Output(now, &s.seg, s.payload) {
			break
		}
		s.trace(c, true, &s.seg, t.Counters.Retransmissions != retx)
		s.seg.TTL, s.seg.TOS = c.ttl, c.tos
		p := s.pool.Get().(*[]byte)
		*p = s.enc.Append((*p)[:0], &s.seg)
		s.txq <- p
	}
	if l := c.l; l != nil && !c.handedOut && t.established {
		c.handedOut = true
		l.halfOpen--
		if l.closed || len(l.acceptq) == cap(l.acceptq) {
			t.Abort(now)
			s.service(c, now)
			return
		}
		l.acceptq <- c
	}
	if t.State == Closed {
		if c.l != nil && !c.handedOut {
			c.handedOut = true
			c.l.halfOpen--
		}
		delete(s.conns, fourTuple{t.Local, t.Remote})
		delete(s.pending, c)
		if c.timer != nil {
			c.timer.Stop()
		}
		c.armed = time.Time{}
		c.signal()
		return
	}
	if d := t.Deadline(); d != c.armed {
		c.armed = d
		switch {
		case d.IsZero():
			if c.timer != nil {
				c.timer.Stop()
			}
		case c.timer == nil:
			c.timer = s.clock.AfterFunc(d.Sub(now), c.onTimer)
		default:
			c.timer.Reset(d.Sub(now))
		}
	}
	c.signal()
}

// narrateState tells the trace about a change of state, in the article's
// words where it has them.
func (s *Stack) narrateState(c *Conn) {
	t := c.tcb
	if t.State == c.traced {
		return
	}
	from := c.traced
	c.traced = t.State
	if s.cfg.Trace == nil || from == Closed && t.State == SynSent {
		return
	}
	why := ""
	switch {
	case s.closing && from == TimeWait:
		why = ": the stack closed, TIME-WAIT cut short"
	case s.closing:
		why = ": the stack closed, connection aborted"
	case t.State == Established:
		why = ": THREE-WAY HANDSHAKE COMPLETE"
	case t.State == Closed && t.Err != nil:
		why = ": " + t.Err.Error()
	case t.State == TimeWait:
		why = fmt.Sprintf(": lingering %v to answer a retransmitted FIN", s.cfg.TimeWait)
	}
	if from == Closed && t.State == SynReceived {
		from = Listen
	}
	s.cfg.Trace.Notef("%s -> %s%s", from, t.State, why)
}

func (s *Stack) trace(c *Conn, out bool, seg *Segment, retransmit bool) {
	if s.cfg.Trace == nil {
		return
	}
	t := c.tcb
	// The handshake, the teardown and every control segment are narrated;
	// data and its ACKs in between are counted.
	important := seg.Flags&(SYN|FIN|RST) != 0 || t.State == SynSent || t.State == SynReceived ||
		len(seg.Payload) == 0 && (t.State == Closing || t.State == LastAck || t.State == TimeWait)
	s.cfg.Trace.segment(out, seg, t.ISS, t.IRS, important, retransmit, "")
}

// ephemeralPort picks a free local port from the dynamic range (RFC 6335
// §6), starting at random (RFC 6056).
func (s *Stack) ephemeralPort(remote netip.AddrPort) (uint16, error) {
	const lo, n = 49152, 16384
	start := rand.IntN(n)
	for i := range n {
		p := uint16(lo + (start+i)%n)
		if _, used := s.conns[fourTuple{netip.AddrPortFrom(s.addr, p), remote}]; !used {
			if _, l := s.listeners[p]; !l {
				return p, nil
			}
		}
	}
	return 0, fmt.Errorf("handmade: no free local port toward %v", remote)
}

// Dial opens a connection to remote (RFC 9293 §3.10.1, active OPEN) and
// waits for the handshake, ctx's end or the connection's failure.
func (s *Stack) Dial(ctx context.Context, remote netip.AddrPort) (*Conn, error) {
	return s.DialFrom(ctx, 0, remote)
}

// DialFrom is Dial from local port port; 0 picks an ephemeral one. A
// caller that must know the port before the SYN goes out (to filter the
// host kernel's RSTs for it) chooses it here.
func (s *Stack) DialFrom(ctx context.Context, port uint16, remote netip.AddrPort) (*Conn, error) {
	return s.DialWith(ctx, remote, DialOptions{LocalPort: port})
}

// DialOptions are what an active OPEN may ask for besides the remote
// address.
type DialOptions struct {
	// LocalPort is the connection's local port; 0 picks an ephemeral one.
	LocalPort uint16
	// SourceRoute is the IPv4 source route every segment of the
	// connection takes, the SYN first (RFC 9293 §3.9.2.1, MUST-51); it
	// takes precedence over any route the peer's datagrams bring
	// (MUST-52). Zero: none, and the connection answers a peer that
	// source-routes its segments by the reversed route (MUST-53).
	SourceRoute SourceRoute
}

// DialWith is Dial with the options o.
func (s *Stack) DialWith(ctx context.Context, remote netip.AddrPort, o DialOptions) (*Conn, error) {
	port := o.LocalPort
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: net.ErrClosed}
	}
	if !remote.Addr().Is4() || !validSource(remote.Addr()) {
		// RFC 9293 §3.9.2.3 (MUST-46): "A TCP implementation MUST reject
		// as an error a local OPEN call for an invalid remote IP address
		// (e.g., a broadcast or multicast address)".
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote),
			Err: fmt.Errorf("%v is not a unicast IPv4 address a connection can go to (RFC 9293 §3.9.2.3): %w", remote.Addr(), syscall.ENETUNREACH)}
	}
	if port == 0 {
		var err error
		if port, err = s.ephemeralPort(remote); err != nil {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: err}
		}
	} else if _, used := s.conns[fourTuple{netip.AddrPortFrom(s.addr, port), remote}]; used {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: fmt.Errorf("handmade: local port %d already has a connection to %v", port, remote)}
	}
	now := s.clock.Now()
	local := netip.AddrPortFrom(s.addr, port)
	t := newTCB(&s.cfg, local, remote, s.isn.ISN(local, remote, now), now)
	t.tsOffset, t.tsEpoch = s.isn.tsClock(local, remote)
	t.SetSourceRoute(o.SourceRoute)
	t.openActive(now)
	c := s.newConn(t, nil)
	s.service(c, now)
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		c.signal()
		s.mu.Unlock()
	})
	defer stop()
	for t.State == SynSent || t.State == SynReceived {
		if ctx.Err() != nil {
			t.enterClosed(ctx.Err())
			s.service(c, s.clock.Now())
			break
		}
		if s.readErr != nil {
			t.enterClosed(s.readErr)
			s.service(c, s.clock.Now())
			break
		}
		c.waitLocked(time.Time{})
	}
	if !t.established {
		err := t.Err
		if err == nil {
			err = ErrRefused
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Source: tcpAddr(local), Addr: tcpAddr(remote), Err: err}
	}
	return c, nil
}

// Listen starts accepting connections on port (RFC 9293 §3.10.1, passive
// OPEN).
func (s *Stack) Listen(port uint16) (*Listener, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := tcpAddr(netip.AddrPortFrom(s.addr, port))
	if s.closed {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Addr: addr, Err: net.ErrClosed}
	}
	if _, ok := s.listeners[port]; ok || port == 0 {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Addr: addr, Err: fmt.Errorf("port %d already has a listener or is invalid", port)}
	}
	// The accept queue holds Backlog connections, and room for every
	// half-open one besides: a SYN is refused while Backlog are waiting,
	// so a handshake that completes always finds a place, and no client
	// that saw its handshake complete is reset for a full queue.
	l := &Listener{s: s, port: port, acceptq: make(chan *Conn, s.cfg.Backlog+s.cfg.SYNQueue), done: make(chan struct{})}
	s.listeners[port] = l
	return l, nil
}

func tcpAddr(a netip.AddrPort) *net.TCPAddr { return net.TCPAddrFromAddrPort(a) }

// Listener is a passive OPEN: a net.Listener over a Stack.
type Listener struct {
	s        *Stack
	port     uint16
	acceptq  chan *Conn
	halfOpen int // connections in SYN-RECEIVED
	closed   bool
	done     chan struct{}
}

var _ net.Listener = (*Listener)(nil)

// Accept waits for the next established connection.
func (l *Listener) Accept() (net.Conn, error) { return l.AcceptTCP() }

// AcceptTCP is Accept returning the concrete type.
func (l *Listener) AcceptTCP() (*Conn, error) {
	select {
	case c := <-l.acceptq:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
}

// Close stops listening and resets connections not yet accepted.
func (l *Listener) Close() error {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.closed {
		return &net.OpError{Op: "close", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
	l.closeLocked()
	return nil
}

func (l *Listener) closeLocked() {
	if l.closed {
		return
	}
	l.closed = true
	close(l.done)
	delete(l.s.listeners, l.port)
	now := l.s.clock.Now()
	for {
		select {
		case c := <-l.acceptq:
			c.tcb.Abort(now)
			l.s.service(c, now)
			continue
		default:
		}
		break
	}
	for _, c := range l.s.conns {
		if c.l == l && !c.handedOut {
			c.tcb.Abort(now)
			l.s.service(c, now)
		}
	}
}

// Addr is the listening address.
func (l *Listener) Addr() net.Addr { return tcpAddr(netip.AddrPortFrom(l.s.addr, l.port)) }

// Config is the stack's configuration as it runs: the one NewStack was
// given, with the defaults filled in.
func (s *Stack) Config() Config { return s.cfg }
