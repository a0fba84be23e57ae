package compare

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"tcplab/rawlink"
	"tcplab/wire"
)

// Capability is something a device under test that tcplab does not run
// (External) can be asked for. tcplab cannot call listen(2) or connect(2)
// inside a foreign stack: the user declares what their stack's
// application does, and a scenario needing anything else is n/a on it,
// with the capability named.
type Capability string

// The capabilities a user can declare (ExternalConfig.Capabilities).
const (
	// NeedListener: the device accepts connections on ExternalConfig.Port
	// and keeps them open. DUT.Listen on DUTPort is then a no-op, and
	// Accept returns a connection once the bench's three-way handshake on
	// that port completes on the wire.
	NeedListener Capability = "listen"
	// NeedSink: the device's application reads everything it receives, to
	// the end of the stream. Socket.Recv then returns, in order, the
	// octets the bench sent that the device acknowledged, and io.EOF once
	// the device acknowledged the bench's FIN.
	NeedSink Capability = "sink"
	// NeedClosedPort: nothing listens on ExternalConfig.Port+1, the port
	// scenarios use to reach a closed port (DUTPort+1).
	NeedClosedPort Capability = "closed-port"
)

// Capabilities a scenario may need that no external device can be asked
// for yet: they need the application to act at a moment the scenario
// chooses, and tcplab has no control channel to a foreign application.
const (
	// NeedSend: the application writes data (Socket.Send).
	NeedSend Capability = "send"
	// NeedAppClose: the application closes, shuts down or aborts a socket
	// or a listener at a chosen moment.
	NeedAppClose Capability = "close"
	// NeedSocketOptions: socket options and stack settings (TCP_NODELAY,
	// keep-alive, TCP_USER_TIMEOUT, SO_RCVBUF via Setup.RecvBuffer,
	// Setup.FinWait2).
	NeedSocketOptions Capability = "sockopts"
	// NeedClient: the device opens a connection to the bench when the
	// scenario asks (DUT.Connect).
	NeedClient Capability = "client"
	// NeedEcho: the application's reads are known from the wire only while
	// the bench never sends two different octets for one sequence number;
	// otherwise what it read could only be learnt from an echo.
	NeedEcho Capability = "echo"
	// NeedOtherAddresses: the scenario sends from or to an address that
	// is neither the bench's nor the device's (a broadcast destination, a
	// spoofed source). Against a device tcplab does not run, the bench
	// sends only between the two, whatever the user declares.
	NeedOtherAddresses Capability = "other-addresses"
)

// Declarable are the capabilities ParseCapabilities accepts.
var Declarable = []Capability{NeedListener, NeedSink, NeedClosedPort}

// ParseCapabilities parses a flag value like "listen,sink".
func ParseCapabilities(s string) ([]Capability, error) {
	var out []Capability
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		c := Capability(f)
		switch {
		case slices.Contains(Declarable, c):
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		case c == NeedOtherAddresses:
			return nil, fmt.Errorf("capability %q cannot be declared: against an external device the bench sends only between its address and the device's", f)
		case slices.Contains([]Capability{NeedSend, NeedAppClose, NeedSocketOptions, NeedClient, NeedEcho}, c):
			return nil, fmt.Errorf("capability %q cannot be declared yet: tcplab has no way to ask a foreign application for it (declarable: %s)", f, joinCaps(Declarable))
		default:
			return nil, fmt.Errorf("unknown capability %q (declarable: %s)", f, joinCaps(Declarable))
		}
	}
	return out, nil
}

func joinCaps(cs []Capability) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// RouteMark is the SO_MARK of the bench's raw socket with link route
// ("tclb"): the run's RST filter spares the packets that carry it, the
// bench's own RSTs, and drops the kernel's (mark 0).
const RouteMark = 0x74636c62

// ExternalConfig is the contract with a stack tcplab does not run: where
// it is, how the bench reaches it, and what its application does.
type ExternalConfig struct {
	// Addr:Port is the device's IPv4 address and the port it listens on.
	Addr netip.Addr
	Port uint16
	// Interface is the Ethernet interface the device is reached on
	// (rawlink, AF_PACKET): the bench sends only there, and only to Addr.
	Interface string
	// Route, instead of Interface, reaches the device through the
	// kernel's routing (a raw IP socket; the device may be hops away),
	// with the kernel's own RSTs to Addr dropped for the run (rstfilter).
	Route bool
	// BenchAddr is the bench's own IPv4 address. On an Interface, one the
	// host does not own: rawlink answers ARP for it, and no kernel on the
	// bench's side sees the connections (so none answers them with RSTs).
	// With Route, one the host owns, from which Addr is routed (the src of
	// `ip route get ADDR`): the device's answers come back to it.
	BenchAddr netip.Addr
	// Capabilities are what the device's application does.
	Capabilities []Capability
	// Timing is how long the bench waits on the device; zero: LinuxTiming
	// (delayed ACKs up to 200 ms).
	Timing Timing
	// Do, if set, runs f in the network namespace Interface lives in (a
	// test's netns.Namespace.Do); nil: the calling thread's.
	Do func(f func())
	// Log, if set, narrates what the link does (rawlink.Config.Log).
	Log func(format string, args ...any)
}

// ParseExternalConfig reads a short config file: one "key value" (or
// key=value) per line, # comments, keys addr, port, link (iface:NAME or
// route), bench-addr, can (listen,sink). Example:
//
//	addr 10.9.0.2
//	port 8080
//	link iface:ens224
//	bench-addr 10.9.0.1
//	can listen,sink
func ParseExternalConfig(file string) (ExternalConfig, error) {
	var cfg ExternalConfig
	f, err := os.Open(file)
	if err != nil {
		return cfg, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, " ")
		}
		if !ok {
			return cfg, fmt.Errorf("%s:%d: expected \"key value\", got %q", file, n, line)
		}
		if err := cfg.Set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return cfg, fmt.Errorf("%s:%d: %w", file, n, err)
		}
	}
	return cfg, sc.Err()
}

// Set sets one field by its flag or file key: addr, port, link
// (iface:NAME or route), bench-addr, can.
func (c *ExternalConfig) Set(key, value string) error {
	var err error
	switch key {
	case "addr":
		c.Addr, err = parseIPv4(value)
	case "bench-addr":
		c.BenchAddr, err = parseIPv4(value)
	case "port":
		var p uint64
		if p, err = strconv.ParseUint(value, 10, 16); err == nil && p == 0 {
			err = errors.New("port 0")
		}
		c.Port = uint16(p)
	case "link":
		if value == "route" {
			c.Route, c.Interface = true, ""
			break
		}
		kind, name, ok := strings.Cut(value, ":")
		if !ok || kind != "iface" || name == "" {
			return fmt.Errorf("link %q: expected iface:NAME (an Ethernet interface, for example iface:ens224) or route (through the kernel's routing)", value)
		}
		c.Interface, c.Route = name, false
	case "can":
		c.Capabilities, err = ParseCapabilities(value)
	default:
		return fmt.Errorf("unknown key %q (addr, port, link, bench-addr, can)", key)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

func parseIPv4(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, err
	}
	if !a.Is4() {
		return a, fmt.Errorf("%v is not an IPv4 address", a)
	}
	return a, nil
}

// Check says what is missing or inconsistent in the contract.
func (c ExternalConfig) Check() error {
	var missing []string
	if !c.Addr.IsValid() {
		missing = append(missing, "the device's address (addr)")
	}
	if c.Port == 0 {
		missing = append(missing, "its port (port)")
	}
	if c.Interface == "" && !c.Route {
		missing = append(missing, "the link it is on (link iface:NAME, or link route)")
	}
	if !c.BenchAddr.IsValid() {
		missing = append(missing, "the bench's own address (bench-addr)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("external: missing %s", strings.Join(missing, ", "))
	}
	if c.Addr == c.BenchAddr {
		return fmt.Errorf("external: the bench's address %v is the device's", c.Addr)
	}
	if c.Port == 65535 && slices.Contains(c.Capabilities, NeedClosedPort) {
		return errors.New("external: closed-port is Port+1, and Port is 65535")
	}
	return nil
}

func (c ExternalConfig) can(x Capability) bool { return slices.Contains(c.Capabilities, x) }

// External is the backend of a stack tcplab does not run, reached at
// cfg.Addr over the Ethernet interface cfg.Interface (rawlink), or
// through the kernel's routing (cfg.Route, routeLink), with the bench on
// cfg.BenchAddr. One link serves every run at once
// (opened with the first, closed with the last); each run's bench gets
// its ports from a set shared by the whole run, so no two scenarios, and
// no scenario and a connection an earlier one left in the device, share
// a 4-tuple. The bench sends only IPv4 to cfg.Addr; anything else is
// refused. Opening the link checks the device answers first (ARP on an
// interface; a SYN through the kernel's routing): a device that does not
// answer within a few seconds is an error that says so.
//
// The DUT is what the contract allows, and nothing more (see
// Capability): Listen on DUTPort is a no-op and Accept returns once the
// bench completes a handshake with cfg.Port; Recv returns the octets the
// device acknowledged; every other application call is recorded, and a
// scenario that made one, or whose Setup needs socket options, is n/a,
// naming the capability. Timer scenarios run in real time, as on linux.
func External(cfg ExternalConfig) Backend {
	_, b := newExternal(cfg)
	return b
}

// newExternal is External, with the backend's state for tests.
func newExternal(cfg ExternalConfig) (*externalBackend, Backend) {
	e := &externalBackend{cfg: cfg, ports: map[uint16]*externalLink{}}
	caps := append([]Capability{}, cfg.Capabilities...) // never nil: nil is "can do all"
	timing := cfg.Timing
	if timing == (Timing{}) {
		timing = LinuxTiming
	}
	link := "iface:" + cfg.Interface
	if cfg.Route {
		link = "route"
	}
	return e, Backend{
		Name:         "external",
		Version:      fmt.Sprintf("%v:%d (can: %s)", cfg.Addr, cfg.Port, joinCaps(caps)),
		Link:         link,
		Timing:       timing,
		Capabilities: caps,
		benchAddr:    cfg.BenchAddr,
		dutAddr:      cfg.Addr,
		Start:        e.start,
	}
}

// Two external devices are tested here (issue #8): the Linux kernel in a
// namespace of its own (external_linux_test.go), whose column must equal
// the linux backend's, and testdata/scapy/responder.py, a handshake and a
// stop-and-wait receive written with Scapy as the article's server,
// reached both over AF_PACKET on its link and through the kernel's
// routing one router away (external_scapy_linux_test.go). The responder's
// deviations are declared beside it (testdata/scapy/DEVIATIONS), each a
// sentence and the scenarios it must fail, and its column must be exactly
// those fails, n/a where an undeclared capability or a feature it never
// negotiates says so, and pass (or a reference's allowed answer)
// everywhere else: any other verdict is a bug in the bench or in it.

// missingNeeds lists what scenario s needs that backend b cannot do: its
// declared Needs and what its Setup implies. A backend without declared
// capabilities (nil) can do everything: the bench drives its application.
func missingNeeds(s Scenario, b Backend) []Capability {
	if b.Capabilities == nil {
		return nil
	}
	needs := append([]Capability(nil), s.Needs...)
	if s.Setup.RecvBuffer > 0 || s.Setup.FinWait2 > 0 || s.Setup.MaxRetries > 0 {
		needs = append(needs, NeedSocketOptions)
	}
	var out []Capability
	for _, n := range needs {
		if !slices.Contains(b.Capabilities, n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// naReason is the n/a detail for needs a device did not declare.
func naReason(missing []Capability) string {
	var undeclarable []string
	for _, c := range missing {
		if !slices.Contains(Declarable, c) && c != NeedOtherAddresses {
			undeclarable = append(undeclarable, string(c))
		}
	}
	s := "needs " + joinCaps(missing) + ", which the device did not declare"
	if len(undeclarable) > 0 {
		s += " (" + strings.Join(undeclarable, ", ") + ": no way yet to ask a foreign application)"
	}
	if slices.Contains(missing, NeedOtherAddresses) {
		s += " (other-addresses: the bench sends an external device nothing but packets from its own address to the device's)"
	}
	return s
}

// externalBackend shares one link (rawlink, or routeLink) among the runs
// of a backend.
type externalBackend struct {
	cfg ExternalConfig

	mu      sync.Mutex
	link    wire.Link // a *rawlink.Link or a routeLink
	refs    int
	done    chan struct{}            // closed when the reader of link ends
	err     error                    // why the link could not be opened: every later run fails at once
	closing chan struct{}            // closed once the link being closed is
	ports   map[uint16]*externalLink // bench ports, for the whole backend's life; nil value: a finished run's
	// kernelRSTs counts the RSTs of the kernel's that the routed links'
	// filters dropped (Route).
	kernelRSTs uint64
}

// start opens (or shares) the link, makes the run's view of it and the
// DUT that watches it.
func (e *externalBackend) start(ctx context.Context, s Setup) (DUT, wire.Link, error) {
	if err := e.cfg.Check(); err != nil {
		return nil, nil, err
	}
	if err := e.acquire(ctx); err != nil {
		return nil, nil, err
	}
	l := &externalLink{e: e, in: make(chan []byte, 256), closed: make(chan struct{})}
	d := &externalDUT{cfg: e.cfg, link: l, flows: map[[2]uint16]*flow{}, changed: make(chan struct{})}
	l.dut = d
	return d, l, nil
}

// acquire opens the link for the first run and checks the device answers
// ARP; later runs share it.
func (e *externalBackend) acquire(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	// A link still closing (its reader takes e.mu) goes first: one
	// AF_PACKET socket at a time, and Open and Close do not race on the
	// interface's offloads.
	for e.closing != nil {
		ch := e.closing
		e.mu.Unlock()
		<-ch
		e.mu.Lock()
	}
	if e.link != nil {
		e.refs++
		return nil
	}
	if e.err != nil {
		return e.err
	}
	l, done, err := openExternal(ctx, e.cfg, e.reader)
	if err != nil {
		e.err = err
		return err
	}
	e.link, e.done, e.refs = l, done, 1
	return nil
}

// ExternalReachable opens the link of cfg, checks the device answers
// (ARP, or a SYN through the kernel's routing) and closes it: what a
// command checks before running a matrix against the device.
func ExternalReachable(ctx context.Context, cfg ExternalConfig) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	l, done, err := openExternal(ctx, cfg, func(l wire.Link, done chan struct{}) {
		defer close(done)
		buf := make([]byte, 1<<16)
		for {
			if _, err := l.ReadPacket(context.Background(), buf); err != nil && !errors.Is(err, wire.ErrTruncated) {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	l.Close()
	<-done
	return nil
}

// openExternal opens the link of cfg, starts reader on it (which closes
// done when the link is closed) and checks the device answers.
func openExternal(ctx context.Context, cfg ExternalConfig, reader func(wire.Link, chan struct{})) (wire.Link, chan struct{}, error) {
	if cfg.Route {
		l, err := openRoute(cfg)
		if err != nil {
			return nil, nil, err
		}
		if err := probe(ctx, l, cfg); err != nil {
			l.Close()
			return nil, nil, err
		}
		done := make(chan struct{})
		go reader(l, done)
		return l, done, nil
	}
	var l *rawlink.Link
	var err error
	open := func() {
		l, err = rawlink.Open(rawlink.Config{Interface: cfg.Interface, Addr: cfg.BenchAddr, Log: cfg.Log})
	}
	if cfg.Do != nil {
		cfg.Do(open)
	} else {
		open()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("external: %w", err)
	}
	if l.HostOwnsAddr() {
		l.Close()
		return nil, nil, fmt.Errorf("external: the bench's address %v belongs to this host on %s: its kernel would answer the device's segments with RSTs; give the bench an unused address on the link", cfg.BenchAddr, cfg.Interface)
	}
	done := make(chan struct{})
	go reader(l, done)
	if err := resolve(ctx, l, cfg); err != nil {
		l.Close()
		<-done
		return nil, nil, err
	}
	return l, done, nil
}

// probe checks that a device reached through the kernel's routing
// answers, before any run: three SYNs a second apart to its listener
// (listen declared: it must answer with a SYN-ACK, which a RST then
// closes) or to its closed port (closed-port declared: a RST), from a
// port below the dynamic range the bench picks its own from. A device that
// declared neither is asked nothing.
func probe(ctx context.Context, l wire.Link, cfg ExternalConfig) error {
	var port uint16
	switch {
	case cfg.can(NeedListener):
		port = cfg.Port
	case cfg.can(NeedClosedPort):
		port = cfg.Port + 1
	default:
		return nil
	}
	local := uint16(32768 + rand.IntN(16384))
	iss := rand.Uint32()
	seg := wireSegment{src: netip.AddrPortFrom(cfg.BenchAddr, local), dst: netip.AddrPortFrom(cfg.Addr, port), ttl: 64, seq: iss, flags: SYN, window: 65535}
	syn, err := build(&seg)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<16)
	for sent := 1; sent <= 3; sent++ {
		if err := l.WritePacket(ctx, syn); err != nil {
			return fmt.Errorf("external: sending to %v through the kernel's routing: %w", cfg.Addr, err)
		}
		wait := time.Second
		if sent == 3 {
			wait = 2 * time.Second
		}
		rctx, cancel := context.WithTimeout(ctx, wait)
		answered, err := awaitAnswer(rctx, l, buf, port, local, iss)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return fmt.Errorf("external: reading through the kernel's routing: %w", err)
		}
		if answered != nil {
			if answered.flags&RST == 0 {
				seg.seq, seg.flags = iss+1, RST
				if rst, err := build(&seg); err == nil {
					l.WritePacket(ctx, rst)
				}
			}
			return nil
		}
	}
	return fmt.Errorf("external: %v does not answer through the kernel's routing (3 SYNs to port %d from %v, no SYN-ACK or RST within 4 s): is it up, %s, and routed from here (ip route get %v)?",
		cfg.Addr, port, cfg.BenchAddr, map[bool]string{true: "listening", false: "with nothing on that port"}[port == cfg.Port], cfg.Addr)
}

// awaitAnswer reads l until a SYN-ACK of iss or a RST arrives from the
// device's port to the bench's local one, or ctx ends (nil).
func awaitAnswer(ctx context.Context, l wire.Link, buf []byte, port, local uint16, iss uint32) (*wireTCP, error) {
	for {
		n, err := l.ReadPacket(ctx, buf)
		if errors.Is(err, wire.ErrTruncated) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
				return nil, nil
			}
			return nil, err
		}
		w, ok := parseWire(buf[:n])
		if !ok || w.src != port || w.dst != local {
			continue
		}
		if w.flags&RST != 0 || w.flags&(SYN|ACK) == SYN|ACK && w.ack == iss+1 {
			return &w, nil
		}
	}
}

// resolve sends one ICMP echo request to the device, which makes the link
// resolve its address, and waits for the ARP reply: rawlink gives up
// after three requests a second apart.
func resolve(ctx context.Context, l *rawlink.Link, cfg ExternalConfig) error {
	p := echoRequest(cfg.BenchAddr, cfg.Addr)
	if err := l.WritePacket(ctx, p); err != nil {
		return fmt.Errorf("external: sending to %v on %s: %w", cfg.Addr, cfg.Interface, err)
	}
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		st := l.Stats()
		if st.QueuedSent > 0 || st.ARPRepliesReceived > 0 {
			return nil
		}
		if st.ARPFailures > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("external: %v does not answer ARP on %s (%d requests, no reply): is the device up, on this link, with that address?", cfg.Addr, cfg.Interface, l.Stats().ARPRequestsSent)
}

// echoRequest is an ICMP echo request from src to dst.
func echoRequest(src, dst netip.Addr) []byte {
	p := make([]byte, 28)
	p[0], p[8], p[9] = 0x45, 64, 1 // IPv4, 20-octet header; TTL 64; ICMP
	p[3] = 28
	s, d := src.As4(), dst.As4()
	copy(p[12:16], s[:])
	copy(p[16:20], d[:])
	c := checksum(p[:20], 0)
	p[10], p[11] = byte(c>>8), byte(c)
	p[20] = 8                 // echo request
	p[24], p[25] = 0x74, 0x6c // identifier "tl"
	c = checksum(p[20:], 0)
	p[22], p[23] = byte(c>>8), byte(c)
	return p
}

func (e *externalBackend) release() {
	e.mu.Lock()
	if e.refs--; e.refs > 0 {
		e.mu.Unlock()
		return
	}
	l, done, closing := e.link, e.done, make(chan struct{})
	e.link, e.closing = nil, closing
	e.mu.Unlock()
	l.Close()
	<-done // the reader may wait for e.mu: not held here
	var dropped uint64
	if r, ok := l.(interface{ kernelRSTsDropped() (uint64, error) }); ok {
		if n, err := r.kernelRSTsDropped(); err == nil {
			dropped = n
			if e.cfg.Log != nil && n > 0 {
				e.cfg.Log("external: route: dropped %d RSTs the kernel sent %v for the bench's connections", n, e.cfg.Addr)
			}
		}
	}
	e.mu.Lock()
	e.closing = nil
	e.kernelRSTs += dropped
	e.mu.Unlock()
	close(closing)
}

// reader hands each IPv4 TCP packet from the device to the run that owns
// its destination port; the rest is dropped.
func (e *externalBackend) reader(l wire.Link, done chan struct{}) {
	defer close(done)
	buf := make([]byte, 1<<16)
	for {
		n, err := l.ReadPacket(context.Background(), buf)
		if err != nil {
			if errors.Is(err, wire.ErrTruncated) {
				continue
			}
			return
		}
		p := buf[:n]
		if n < 20 || p[9] != 6 || netip.AddrFrom4([4]byte(p[12:16])) != e.cfg.Addr {
			continue
		}
		ihl := int(p[0]&0xf) * 4
		if n < ihl+4 {
			continue
		}
		port := uint16(p[ihl+2])<<8 | uint16(p[ihl+3])
		e.mu.Lock()
		owner := e.ports[port]
		e.mu.Unlock()
		if owner != nil {
			owner.deliver(append([]byte(nil), p...))
		}
	}
}

// claim gives port to run l for good, unless another run had it.
func (e *externalBackend) claim(l *externalLink, port uint16) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, used := e.ports[port]; used {
		return false
	}
	e.ports[port] = l
	return true
}

// externalLink is one run's view of the shared link: the packets for its
// ports, and a WritePacket that sends only to the device.
type externalLink struct {
	e      *externalBackend
	dut    *externalDUT
	in     chan []byte
	closed chan struct{}
	once   sync.Once
}

func (l *externalLink) deliver(p []byte) {
	l.dut.observe(p, false)
	select {
	case l.in <- p:
	case <-l.closed:
	default: // the bench is not reading: drop, as a NIC would
	}
}

func (l *externalLink) ReadPacket(ctx context.Context, b []byte) (int, error) {
	select {
	case p := <-l.in:
		n := copy(b, p)
		if n < len(p) {
			return n, wire.ErrTruncated
		}
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-l.closed:
		return 0, fmt.Errorf("external link: %w", os.ErrClosed)
	}
}

// WritePacket refuses anything but IPv4 from the bench's address to the
// device's: the bench sends only to the address given.
func (l *externalLink) WritePacket(ctx context.Context, p []byte) error {
	if len(p) < 20 || p[0]>>4 != 4 {
		return errors.New("external: refusing a packet that is not IPv4")
	}
	if src, dst := netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20])); dst != l.e.cfg.Addr || src != l.e.cfg.BenchAddr {
		return fmt.Errorf("external: refusing a packet %v → %v: the bench sends only from %v to the device, %v", src, dst, l.e.cfg.BenchAddr, l.e.cfg.Addr)
	}
	select {
	case <-l.closed:
		return fmt.Errorf("external link: %w", os.ErrClosed)
	default:
	}
	l.dut.observe(p, true)
	return l.e.link.WritePacket(ctx, p)
}

func (l *externalLink) MTU() int { return l.e.link.MTU() }

// Close ends the run's view; its ports stay used (the device may still
// hold connections on them).
func (l *externalLink) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.e.mu.Lock()
		for p, o := range l.e.ports {
			if o == l {
				l.e.ports[p] = nil
			}
		}
		l.e.mu.Unlock()
		l.e.release()
	})
	return nil
}
