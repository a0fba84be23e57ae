package compare

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"time"

	"tcplab/wire"
)

// Addresses of a scenario's wire: the bench owns TBAddr, the device under
// test DUTAddr (RFC 2544's benchmarking range, as every test in tcplab).
var (
	TBAddr  = netip.MustParseAddr("198.18.0.1")
	DUTAddr = netip.MustParseAddr("198.18.0.2")
)

// InfraError is a fault of the bench or its link (closed, failing), not a
// verdict about the device under test. Scenarios that meet one stop with
// the verdict "error".
type InfraError struct{ Err error }

func (e *InfraError) Error() string { return "bench: " + e.Err.Error() }
func (e *InfraError) Unwrap() error { return e.Err }

// Mismatch is an expectation the device under test did not meet: what
// was expected and what came instead. It is a verdict, not a fault.
type Mismatch struct {
	Want   string
	Within time.Duration
	Got    []string // segments of the connection that came and did not match, with why
}

func (m *Mismatch) Error() string {
	if m.Want == "" {
		return fmt.Sprintf("expected nothing within %v, got:\n  %s", m.Within, strings.Join(m.Got, "\n  "))
	}
	if len(m.Got) == 0 {
		return fmt.Sprintf("expected %s within %v, got nothing", m.Want, m.Within)
	}
	return fmt.Sprintf("expected %s within %v, got instead:\n  %s", m.Want, m.Within, strings.Join(m.Got, "\n  "))
}

// Bench is the test bench on one end of a link: it owns TBAddr, sends what
// scenarios craft and hands each received segment to the bench connection
// whose 4-tuple it carries. Segments that belong to none, and packets that
// are not IPv4 TCP, are kept as strays for the scenario's log.
type Bench struct {
	link   wire.Link
	local  netip.Addr
	remote netip.Addr
	start  time.Time
	rng    *rand.Rand
	// now is the clock segments are stamped with: real time, or the run's
	// VirtualClock; realStart is real time's start, for TSval.
	now       func() time.Time
	realStart time.Time

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	conns  []*Conn
	strays []string
	// straySegs are the TCP segments among strays.
	straySegs []*Segment
	badSums   []string // DUT segments with a bad checksum (MUST-2)
	err       error    // the link's failure, once it failed
	log       []string
	usedPrt   map[uint16]bool

	// dutPort maps a scenario's DUT port to the device's, and claim takes
	// an ephemeral port from a set shared with other runs (External);
	// nil: the port as given, any free port.
	dutPort func(uint16) uint16
	claim   func(uint16) bool
}

// NewBench starts a bench owning local on link, facing the device under
// test at remote. seed makes its choices (ports, ISNs) reproducible. The
// bench reads the link until Close; it does not close the link.
func NewBench(link wire.Link, local, remote netip.Addr, seed uint64) *Bench {
	return newBench(link, local, remote, seed, time.Now)
}

// newBench is NewBench stamping segments with now (a VirtualClock's Now
// for a timer scenario on an in-process stack).
func newBench(link wire.Link, local, remote netip.Addr, seed uint64, now func() time.Time) *Bench {
	b := &Bench{
		link: link, local: local, remote: remote, start: now(), now: now, realStart: time.Now(),
		rng:     rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc909)),
		done:    make(chan struct{}),
		usedPrt: map[uint16]bool{},
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	go b.reader()
	return b
}

// Close stops the bench's reader. The link stays open.
func (b *Bench) Close() {
	b.cancel()
	<-b.done
}

func (b *Bench) reader() {
	defer close(b.done)
	buf := make([]byte, 1<<16)
	for {
		n, err := b.link.ReadPacket(b.ctx, buf)
		if err != nil && !errors.Is(err, wire.ErrTruncated) {
			b.mu.Lock()
			if b.ctx.Err() == nil {
				b.err = fmt.Errorf("reading the link: %w", err)
			} else {
				b.err = errors.New("the bench is closed")
			}
			conns := b.conns
			b.mu.Unlock()
			for _, c := range conns {
				c.wake()
			}
			return
		}
		b.dispatch(buf[:n], err)
	}
}

func (b *Bench) dispatch(p []byte, readErr error) {
	now := b.now()
	seg, err := parse(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if readErr != nil || err != nil {
		why := err
		if readErr != nil {
			why = readErr
		}
		b.strays = append(b.strays, fmt.Sprintf("%d-octet packet: %v", len(p), why))
		return
	}
	seg.At = now
	if !seg.ChecksumOK || !seg.IPChecksumOK {
		b.badSums = append(b.badSums, seg.String())
	}
	for _, c := range b.conns {
		if c.claims(seg) {
			c.push(seg)
			return
		}
	}
	b.strays = append(b.strays, seg.String())
	b.straySegs = append(b.straySegs, seg)
}

// StraySegments are the TCP segments among Strays: ones no connection of
// the bench claimed (sent to an address or port the bench did not open).
func (b *Bench) StraySegments() []*Segment {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*Segment(nil), b.straySegs...)
}

// Err is the link's failure, if it failed.
func (b *Bench) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Strays lists what arrived for no bench connection.
func (b *Bench) Strays() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.strays...)
}

// BadChecksums lists the segments from the device under test whose IPv4 or
// TCP checksum did not verify (MUST-2).
func (b *Bench) BadChecksums() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.badSums...)
}

// Log is every segment the bench sent and received, in order, rendered
// relative to each connection's ISNs.
func (b *Bench) Log() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.log...)
}

func (b *Bench) record(seg *Segment) {
	b.log = append(b.log, fmt.Sprintf("%7.3fms %s", float64(seg.At.Sub(b.start).Microseconds())/1000, seg))
}

// ephemeral picks an unused local port in the dynamic range.
func (b *Bench) ephemeral() uint16 {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		p := uint16(49152 + b.rng.IntN(16384))
		if !b.usedPrt[p] && (b.claim == nil || b.claim(p)) {
			b.usedPrt[p] = true
			return p
		}
	}
}

// Dial makes a bench connection from a fresh local port to the DUT's
// port. Nothing is sent: Handshake opens it, or the scenario sends what it
// likes.
func (b *Bench) Dial(dutPort uint16) *Conn {
	if b.dutPort != nil {
		dutPort = b.dutPort(dutPort)
	}
	return b.newConn(b.ephemeral(), dutPort)
}

// Listen makes a bench connection on local port port that claims the
// first segment arriving for it from any DUT port; AcceptFrom answers the
// DUT's SYN.
func (b *Bench) Listen(port uint16) *Conn {
	b.mu.Lock()
	b.usedPrt[port] = true
	b.mu.Unlock()
	return b.newConn(port, 0)
}

func (b *Bench) newConn(local, remote uint16) *Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := &Conn{
		b:          b,
		localPort:  local,
		remotePort: remote,
		notify:     make(chan struct{}, 1),
		Window:     65535,
		iss:        b.rng.Uint32(),
		tsBase:     b.rng.Uint32(),
		SYNOptions: Options{MSS: Ptr[uint16](1460), SACKOK: true, TS: &Timestamps{}},
	}
	c.sndNxt = c.iss
	c.lastTSval = c.tsBase
	b.conns = append(b.conns, c)
	return c
}

func (b *Bench) write(ctx context.Context, p []byte) error {
	if err := b.link.WritePacket(ctx, p); err != nil {
		return &InfraError{fmt.Errorf("writing the link: %w", err)}
	}
	return nil
}

// Conn is the bench's side of one TCP connection, packetimpact-style: it
// tracks its own and the DUT's sequence numbers (so scenarios state intent,
// not arithmetic), fills defaults into what it sends and updates its state
// from what was sent and received.
type Conn struct {
	b                     *Bench
	localPort, remotePort uint16

	// Window is the window the bench advertises by default (unscaled).
	Window uint16
	// SYNOptions are the options of a SYN or SYN-ACK the bench sends with
	// Options left nil; a TS field there means "offer timestamps" (its
	// values are filled in). Default: MSS 1460, SACK-permitted, TS.
	SYNOptions Options

	notify chan struct{}
	queue  []*Segment // received, not yet consumed (guarded by b.mu)

	iss, sndNxt uint32 // the bench's ISN and next sequence number
	irs, rcvNxt uint32 // the DUT's ISN and the next octet expected from it
	haveIRS     bool

	// What the two SYNs said.
	sentSYN              bool
	offeredWS, dutWS     *uint8
	offeredTS, dutTS     bool
	offeredSACK, dutSACK bool
	tsRecent             uint32 // the DUT's newest TSval
	tsBase               uint32
	lastTSval            uint32
	dutAck, dutWnd       uint32 // the latest ACK and (scaled) window from the DUT
	dutMaxSeq            uint32 // highest SEQ+LEN seen from the DUT
}

// claims reports whether seg belongs to c (called with b.mu held). A
// listening connection binds to the first DUT port that reaches it.
func (c *Conn) claims(seg *Segment) bool {
	if seg.Dst.Port() != c.localPort || seg.Src.Addr() != c.b.remote || seg.Dst.Addr() != c.b.local {
		return false
	}
	if c.remotePort == 0 {
		c.remotePort = seg.Src.Port()
	}
	return seg.Src.Port() == c.remotePort
}

func (c *Conn) push(seg *Segment) {
	seg.fromDUT = true
	c.observe(seg)
	c.b.record(seg)
	c.queue = append(c.queue, seg)
	c.wake()
}

func (c *Conn) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// observe updates the connection state from a DUT segment (b.mu held).
func (c *Conn) observe(seg *Segment) {
	if seg.Flags&SYN != 0 && !c.haveIRS {
		c.irs, c.rcvNxt, c.haveIRS = seg.Seq, seg.Seq+1, true
		c.dutMaxSeq = c.rcvNxt
		c.dutWS = seg.Options.WS
		c.dutTS = seg.Options.TS != nil
		c.dutSACK = seg.Options.SACKOK
	}
	c.setBases(seg)
	if seg.Options.TS != nil && seg.Flags&RST == 0 {
		c.tsRecent = seg.Options.TS.Val
	}
	if seg.Flags&RST != 0 {
		return
	}
	if c.haveIRS && seg.Flags&SYN == 0 {
		// In-order text or FIN advances RCV.NXT; anything else leaves it.
		if seqLE(seg.Seq, c.rcvNxt) && seqLT(c.rcvNxt, seg.End()) {
			c.rcvNxt = seg.End()
		}
		if seqLT(c.dutMaxSeq, seg.End()) {
			c.dutMaxSeq = seg.End()
		}
	}
	if seg.Flags&ACK != 0 {
		wnd := uint32(seg.Window)
		if seg.Flags&SYN == 0 && c.wsOn() {
			// RFC 7323 §2.2: windows of non-SYN segments are scaled.
			wnd <<= *c.dutWS
		}
		c.dutAck, c.dutWnd = seg.Ack, wnd
	}
}

func (c *Conn) setBases(seg *Segment) {
	if seg.fromDUT {
		if c.haveIRS {
			seg.seqBase = Ptr(c.irs)
		}
		if c.sentSYN {
			seg.ackBase = Ptr(c.iss)
		}
		return
	}
	if c.sentSYN {
		seg.seqBase = Ptr(c.iss)
	}
	if c.haveIRS {
		seg.ackBase = Ptr(c.irs)
	}
}

func (c *Conn) wsOn() bool { return c.offeredWS != nil && c.dutWS != nil }

// TSOn reports whether both SYNs carried timestamps (RFC 7323 §3.2).
func (c *Conn) TSOn() bool {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	return c.tsOn()
}

func (c *Conn) tsOn() bool { return c.offeredTS && c.dutTS }

// SACKOn reports whether both SYNs carried SACK-permitted (RFC 2018 §2).
func (c *Conn) SACKOn() bool {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	return c.offeredSACK && c.dutSACK
}

// WSOn reports whether both SYNs carried window scale (RFC 7323 §2.2).
func (c *Conn) WSOn() bool {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	return c.wsOn()
}

// ISS is the bench's initial sequence number.
func (c *Conn) ISS() uint32 { c.b.mu.Lock(); defer c.b.mu.Unlock(); return c.iss }

// SetISS changes the bench's initial sequence number before anything was
// sent.
func (c *Conn) SetISS(v uint32) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.iss, c.sndNxt = v, v
}

// IRS is the DUT's initial sequence number (0 before its SYN came).
func (c *Conn) IRS() uint32 { c.b.mu.Lock(); defer c.b.mu.Unlock(); return c.irs }

// SndNxt is the bench's next sequence number.
func (c *Conn) SndNxt() uint32 { c.b.mu.Lock(); defer c.b.mu.Unlock(); return c.sndNxt }

// SetSndNxt moves the bench's next sequence number (after a scenario sent
// segments out of order, say).
func (c *Conn) SetSndNxt(v uint32) { c.b.mu.Lock(); defer c.b.mu.Unlock(); c.sndNxt = v }

// RcvNxt is the next sequence number the bench expects from the DUT: the
// DUT's SND.NXT as far as the bench has seen it.
func (c *Conn) RcvNxt() uint32 { c.b.mu.Lock(); defer c.b.mu.Unlock(); return c.rcvNxt }

// DUTWindowEdge is RCV.NXT+RCV.WND of the DUT as its latest ACK
// advertised it (scaled): the first sequence number beyond its window.
func (c *Conn) DUTWindowEdge() uint32 {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	return c.dutAck + c.dutWnd
}

// DUTSndMax is the highest SEQ+LEN the DUT has sent: its SND.NXT even
// when it retransmits below it.
func (c *Conn) DUTSndMax() uint32 { c.b.mu.Lock(); defer c.b.mu.Unlock(); return c.dutMaxSeq }

// DUTWindow is the DUT's latest advertised window, scaled.
func (c *Conn) DUTWindow() uint32 { c.b.mu.Lock(); defer c.b.mu.Unlock(); return c.dutWnd }

// LocalPort and RemotePort are the connection's ports (RemotePort is 0
// for a listening connection until the DUT's first segment).
func (c *Conn) LocalPort() uint16 { return c.localPort }

func (c *Conn) RemotePort() uint16 {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	return c.remotePort
}

// tsVal is the bench's timestamp clock: 1 ms ticks from a random base,
// never going backwards.
func (c *Conn) tsVal() uint32 {
	v := c.tsBase + uint32(time.Since(c.b.realStart).Milliseconds())
	if seqLT(v, c.lastTSval) {
		v = c.lastTSval
	}
	c.lastTSval = v
	return v
}

// Send sends one segment: tcp over the connection's defaults (see TCP).
// It returns the segment as sent. Errors are infrastructure faults.
func (c *Conn) Send(ctx context.Context, tcp TCP) (*Segment, error) {
	return c.SendIP(ctx, IPv4{}, tcp)
}

// SendIP is Send with IPv4 fields set too.
func (c *Conn) SendIP(ctx context.Context, ip IPv4, tcp TCP) (*Segment, error) {
	c.b.mu.Lock()
	w := c.fill(&ip, &tcp)
	p, err := build(w)
	if err != nil {
		c.b.mu.Unlock()
		return nil, &InfraError{err}
	}
	sent, err := parse(p)
	if err != nil {
		c.b.mu.Unlock()
		return nil, &InfraError{fmt.Errorf("the bench cannot parse what it built: %w", err)}
	}
	sent.At, sent.fromTB = c.b.now(), true
	c.sent(sent)
	c.b.record(sent)
	c.b.mu.Unlock()
	return sent, c.b.write(ctx, p)
}

// fill applies the connection's defaults (b.mu held).
func (c *Conn) fill(ip *IPv4, tcp *TCP) *wireSegment {
	w := &wireSegment{
		src:    netip.AddrPortFrom(c.b.local, c.localPort),
		dst:    netip.AddrPortFrom(c.b.remote, c.remotePort),
		ttl:    64,
		df:     true,
		flags:  ACK,
		seq:    c.sndNxt,
		window: c.Window,
	}
	if ip.Src != nil {
		w.src = netip.AddrPortFrom(*ip.Src, w.src.Port())
	}
	if ip.Dst != nil {
		w.dst = netip.AddrPortFrom(*ip.Dst, w.dst.Port())
	}
	setIf(&w.tos, ip.TOS)
	setIf(&w.ttl, ip.TTL)
	setIf(&w.id, ip.ID)
	setIf(&w.df, ip.DF)
	w.ipOptions = ip.Options
	if tcp.SrcPort != nil {
		w.src = netip.AddrPortFrom(w.src.Addr(), *tcp.SrcPort)
	}
	if tcp.DstPort != nil {
		w.dst = netip.AddrPortFrom(w.dst.Addr(), *tcp.DstPort)
	}
	setIf(&w.flags, tcp.Flags)
	setIf(&w.seq, tcp.Seq)
	if w.flags&ACK != 0 {
		w.ack = c.rcvNxt
	}
	setIf(&w.ack, tcp.Ack)
	setIf(&w.window, tcp.Window)
	setIf(&w.urgent, tcp.Urgent)
	switch {
	case tcp.Options != nil:
		w.options = *tcp.Options
	case w.flags&SYN != 0:
		w.options = c.SYNOptions
		if w.options.TS != nil {
			ecr := uint32(0)
			if w.flags&ACK != 0 {
				ecr = c.tsRecent
			}
			w.options.TS = &Timestamps{Val: c.tsVal(), Ecr: ecr}
		}
	case c.tsOn():
		// RFC 7323 §3.2: once negotiated, every segment carries TSopt.
		w.options.TS = &Timestamps{Val: c.tsVal(), Ecr: c.tsRecent}
	}
	w.payload = tcp.Payload
	w.badChecksum = tcp.BadChecksum
	return w
}

func setIf[V any](dst *V, src *V) {
	if src != nil {
		*dst = *src
	}
}

// sent updates the state from a segment as it was written (b.mu held).
// Only what the DUT will take advances SND.NXT: the first SYN, and text or
// FIN at SND.NXT (or overlapping it). A RST, a later SYN (a stimulus on a
// synchronized connection), a segment with a bad checksum, or one sent
// out of order or out of the window on purpose leave it alone; a scenario
// that needs otherwise calls SetSndNxt.
func (c *Conn) sent(seg *Segment) {
	c.setBases(seg)
	if !seg.ChecksumOK || seg.Flags&RST != 0 || seg.Src.Port() != c.localPort || seg.Dst.Port() != c.remotePort {
		return
	}
	if seg.Flags&SYN != 0 {
		if !c.sentSYN {
			c.sentSYN = true
			c.iss, c.sndNxt = seg.Seq, seg.Seq+1
			c.offeredWS = seg.Options.WS
			c.offeredTS = seg.Options.TS != nil
			c.offeredSACK = seg.Options.SACKOK
			c.setBases(seg)
		}
		return
	}
	if seqLE(seg.Seq, c.sndNxt) && seqLT(c.sndNxt, seg.End()) {
		c.sndNxt = seg.End()
	}
}

// Expect waits up to timeout for a segment of this connection matching m
// and returns it. Segments of the connection that came first and did not
// match are consumed and listed in the *Mismatch error; an *InfraError
// means the link failed.
func (c *Conn) Expect(m TCP, timeout time.Duration) (*Segment, error) {
	return c.ExpectIP(nil, m, timeout)
}

// ExpectIP is Expect with IPv4 constraints.
func (c *Conn) ExpectIP(ip *IPv4, m TCP, timeout time.Duration) (*Segment, error) {
	deadline := time.Now().Add(timeout)
	var got []string
	for {
		seg, err := c.next(deadline)
		if err != nil {
			if errors.Is(err, errTimeout) {
				c.b.mu.Lock()
				want := describe(ip, &m, c.seqBaseDUT(), c.ackBaseDUT())
				c.b.mu.Unlock()
				return nil, &Mismatch{Want: want, Within: timeout, Got: got}
			}
			return nil, err
		}
		why := match(ip, &m, seg)
		if why == "" {
			return seg, nil
		}
		got = append(got, fmt.Sprintf("%s (%s)", seg, why))
	}
}

func (c *Conn) seqBaseDUT() *uint32 {
	if c.haveIRS {
		return Ptr(c.irs)
	}
	return nil
}

func (c *Conn) ackBaseDUT() *uint32 {
	if c.sentSYN {
		return Ptr(c.iss)
	}
	return nil
}

var errTimeout = errors.New("timeout")

// next pops the next received segment, waiting until deadline.
func (c *Conn) next(deadline time.Time) (*Segment, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		c.b.mu.Lock()
		if len(c.queue) > 0 {
			seg := c.queue[0]
			c.queue = c.queue[1:]
			c.b.mu.Unlock()
			return seg, nil
		}
		err := c.b.err
		c.b.mu.Unlock()
		if err != nil {
			return nil, &InfraError{err}
		}
		select {
		case <-c.notify:
		case <-t.C:
			return nil, errTimeout
		}
	}
}

// ExpectNone waits for window and fails with a *Mismatch listing whatever
// segments of this connection arrived.
func (c *Conn) ExpectNone(window time.Duration) error {
	deadline := time.Now().Add(window)
	var got []string
	for {
		seg, err := c.next(deadline)
		if errors.Is(err, errTimeout) {
			break
		}
		if err != nil {
			return err
		}
		got = append(got, seg.String())
	}
	if len(got) > 0 {
		return &Mismatch{Within: window, Got: got}
	}
	return nil
}

// Drain consumes and returns whatever segments of this connection have
// arrived so far.
func (c *Conn) Drain() []*Segment {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	q := c.queue
	c.queue = nil
	return q
}

// Sequence arithmetic modulo 2^32 (RFC 9293 §3.4).
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }
