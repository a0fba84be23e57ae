package compare

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// externalDUT is a stack tcplab does not run, seen through the wire: what
// the application does is what the contract (ExternalConfig.Capabilities)
// says it does, and the state of its connections is read from the
// segments each way.
type externalDUT struct {
	cfg  ExternalConfig
	link *externalLink

	mu        sync.Mutex
	flows     map[[2]uint16]*flow // bench port, device port
	accepts   []*flow             // handshakes completed with cfg.Port, not yet accepted
	changed   chan struct{}       // closed and replaced on every change
	needs     []Capability        // undeclared capabilities the scenario asked for
	frozen    bool                // the scenario ended: cleanups ask for nothing
	listening bool                // the scenario called Listen
}

// flow is one connection as the wire shows it.
type flow struct {
	benchPort, devPort uint16
	iss, irs           uint32 // the bench's and the device's ISN
	haveISS, haveIRS   bool
	established        bool
	accepted           bool
	acked              uint32 // octets of the bench's stream the device acknowledged (FIN included)
	stream             []byte // the bench's octets, by offset from ISS+1
	known              []bool
	conflict           bool            // two different octets sent for one offset
	fins               map[uint32]bool // offsets the bench sent a FIN at
	rst                bool
	devAck             uint32 // the device's latest ACK: its RCV.NXT
	haveDevAck         bool
}

func (d *externalDUT) Name() string     { return "external" }
func (d *externalDUT) Addr() netip.Addr { return d.cfg.Addr }

// need records that the scenario asked for c; false when it is not
// declared.
func (d *externalDUT) need(c Capability) bool {
	if d.cfg.can(c) {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.frozen && !slices.Contains(d.needs, c) {
		d.needs = append(d.needs, c)
	}
	return false
}

// needRecorder is a DUT that records what a scenario asks of its
// application beyond what it declared.
type needRecorder interface {
	// undeclared ends the recording (the scenario is over; its cleanups
	// ask for nothing) and returns what it asked for.
	undeclared() []Capability
}

// undeclared ends the recording (the scenario is over) and returns what
// it asked for beyond the contract.
func (d *externalDUT) undeclared() []Capability {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.frozen = true
	return d.needs
}

func errUndeclared(c Capability) error {
	return fmt.Errorf("external: the device did not declare %q", c)
}

// dutPort maps the scenarios' ports to the device's: DUTPort, once the
// scenario listens, is cfg.Port; any other port, and DUTPort before a
// Listen, is a port where nothing listens, cfg.Port+1.
func (d *externalDUT) dutPort(p uint16) uint16 {
	d.mu.Lock()
	listening := d.listening
	d.mu.Unlock()
	if p == DUTPort && listening {
		return d.cfg.Port
	}
	d.need(NeedClosedPort)
	return d.cfg.Port + 1
}

// wake tells waiters something changed (d.mu held).
func (d *externalDUT) wake() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// wireTCP is what the watcher reads of a segment, parsed by hand: a
// segment gopacket refuses (illegal option lengths) still counts.
type wireTCP struct {
	src, dst uint16
	seq, ack uint32
	flags    Flags
	payload  []byte
}

// parseWire reads an IPv4 TCP packet; false when it is not one, or its
// TCP checksum is wrong (the device discards it; the bench would see it).
func parseWire(p []byte) (wireTCP, bool) {
	var w wireTCP
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != 6 {
		return w, false
	}
	ihl, total := int(p[0]&0xf)*4, int(p[2])<<8|int(p[3])
	if total > len(p) || total < ihl+20 {
		return w, false
	}
	t := p[ihl:total]
	doff := int(t[12]>>4) * 4
	if doff < 20 || doff > len(t) || checksum(t, pseudoHeader(p[12:16], p[16:20], len(t))) != 0 {
		return w, false
	}
	w.src, w.dst = uint16(t[0])<<8|uint16(t[1]), uint16(t[2])<<8|uint16(t[3])
	w.seq = uint32(t[4])<<24 | uint32(t[5])<<16 | uint32(t[6])<<8 | uint32(t[7])
	w.ack = uint32(t[8])<<24 | uint32(t[9])<<16 | uint32(t[10])<<8 | uint32(t[11])
	w.flags = Flags(t[13])
	w.payload = t[doff:]
	return w, true
}

// observe follows a segment between the bench (fromBench) and the device.
func (d *externalDUT) observe(p []byte, fromBench bool) {
	seg, ok := parseWire(p)
	if !ok {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.wake()
	key := [2]uint16{seg.dst, seg.src}
	if fromBench {
		key = [2]uint16{seg.src, seg.dst}
	}
	f := d.flows[key]
	if fromBench {
		if seg.flags&SYN != 0 && seg.flags&ACK == 0 && (f == nil || !f.established) {
			f = &flow{benchPort: key[0], devPort: key[1], iss: seg.seq, haveISS: true, fins: map[uint32]bool{}}
			d.flows[key] = f
		}
		if f == nil || !f.haveISS {
			return
		}
		if seg.flags&RST != 0 {
			// Only a RST at the device's RCV.NXT resets for sure (RFC
			// 5961 §3: others get a challenge ACK).
			next := f.iss + 1
			if f.haveDevAck {
				next = f.devAck
			}
			if seg.seq == next {
				f.rst = true
			}
			return
		}
		if seg.flags&ACK != 0 && seg.flags&SYN == 0 && f.haveIRS && !f.established && !f.rst &&
			seg.seq == f.iss+1 && seg.ack == f.irs+1 {
			f.established = true
			if f.devPort == d.cfg.Port {
				d.accepts = append(d.accepts, f)
			}
		}
		off := seg.seq - (f.iss + 1)
		if seg.flags&SYN != 0 {
			off++
		}
		if off >= 1<<30 {
			return
		}
		if len(seg.payload) > 0 {
			if seg.flags&URG != 0 {
				f.conflict = true // urgent octets may be taken out of band
			}
			need := int(off) + len(seg.payload)
			for len(f.stream) < need {
				f.stream = append(f.stream, 0)
				f.known = append(f.known, false)
			}
			for i, b := range seg.payload {
				j := int(off) + i
				if f.known[j] && f.stream[j] != b {
					f.conflict = true
				}
				f.stream[j], f.known[j] = b, true
			}
		}
		if seg.flags&FIN != 0 {
			f.fins[off+uint32(len(seg.payload))] = true
		}
		return
	}
	if f == nil || !f.haveISS {
		return
	}
	if seg.flags&RST != 0 {
		// A RST of the device ends an established connection; before,
		// it answers an unacceptable ACK and the half-open one stays.
		if f.established {
			f.rst = true
		}
		return
	}
	if seg.flags&SYN != 0 && seg.flags&ACK != 0 && seg.ack == f.iss+1 && !f.established {
		f.irs, f.haveIRS = seg.seq, true
	}
	if seg.flags&ACK != 0 {
		f.devAck, f.haveDevAck = seg.ack, true
		if a := seg.ack - (f.iss + 1); f.established && a < 1<<30 && a > f.acked {
			f.acked = a
		}
	}
}

// delivered is how much of the bench's stream the application has read
// (the sink reads all the device acknowledged), whether the device took
// a FIN there, and whether the wire cannot tell (d.mu held). Nothing
// follows a FIN: a FIN at X was taken only if the device's ACK stops at
// X+1.
func (f *flow) delivered() (upTo uint32, eof, ambiguous bool) {
	if f.conflict {
		return 0, false, true
	}
	if f.acked > 0 && f.fins[f.acked-1] {
		x := f.acked - 1
		if int(x) < len(f.known) && f.known[x] {
			return 0, false, true // text and a FIN at the same octet
		}
		return x, true, false
	}
	return f.acked, false, false
}

// Close resets, as the bench, every connection the device may still hold
// (it cannot be asked to close them), then ends the run's link.
func (d *externalDUT) Close() error {
	d.mu.Lock()
	var rsts [][]byte
	for _, f := range d.flows {
		if f.rst || !f.haveIRS {
			continue
		}
		seq := f.iss + 1
		if f.haveDevAck {
			seq = f.devAck
		}
		p, err := build(&wireSegment{
			src: netip.AddrPortFrom(d.cfg.BenchAddr, f.benchPort), dst: netip.AddrPortFrom(d.cfg.Addr, f.devPort),
			ttl: 64, seq: seq, flags: RST,
		})
		if err == nil {
			rsts = append(rsts, p)
		}
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, p := range rsts {
		d.link.WritePacket(ctx, p)
	}
	return d.link.Close()
}

// Listen on DUTPort is the declared listener on cfg.Port: nothing to do.
func (d *externalDUT) Listen(port uint16) (Listener, error) {
	if !d.need(NeedListener) {
		return nil, errUndeclared(NeedListener)
	}
	if port != DUTPort {
		return nil, fmt.Errorf("external: the device listens on %d (DUTPort) only, not %d", d.cfg.Port, port-DUTPort+d.cfg.Port)
	}
	d.mu.Lock()
	d.listening = true
	d.mu.Unlock()
	return &externalListener{d: d}, nil
}

// Connect would need the device's application to connect on demand.
func (d *externalDUT) Connect(netip.AddrPort) *Pending[Socket] {
	d.need(NeedClient)
	return Go(func() (Socket, error) { return nil, errUndeclared(NeedClient) }, nil)
}

// ConnectVia needs a client that sets socket options.
func (d *externalDUT) ConnectVia(netip.AddrPort, []netip.Addr) *Pending[Socket] {
	d.need(NeedClient)
	d.need(NeedSocketOptions)
	return Go(func() (Socket, error) { return nil, errUndeclared(NeedClient) }, nil)
}

type externalListener struct {
	d      *externalDUT
	closed chan struct{}
	once   sync.Once
}

// Accept returns the next connection whose handshake with cfg.Port the
// bench completed.
func (l *externalListener) Accept() *Pending[Socket] {
	d := l.d
	return Go(func() (Socket, error) {
		for {
			d.mu.Lock()
			if len(d.accepts) > 0 {
				f := d.accepts[0]
				d.accepts = d.accepts[1:]
				f.accepted = true
				d.mu.Unlock()
				return &externalSocket{d: d, f: f}, nil
			}
			ch := d.changed
			d.mu.Unlock()
			select {
			case <-ch:
			case <-d.link.closed:
				return nil, fmt.Errorf("external: accept: %w", os.ErrClosed)
			}
		}
	}, nil)
}

// Close would need the application to close its listener.
func (l *externalListener) Close() error {
	if !l.d.need(NeedAppClose) {
		return errUndeclared(NeedAppClose)
	}
	return nil
}

// externalSocket is an accepted connection of the device.
type externalSocket struct {
	d    *externalDUT
	f    *flow
	read uint32 // octets of the stream returned by Recv
}

func (s *externalSocket) Send([]byte, time.Duration) (int, error) {
	s.d.need(NeedSend)
	return 0, errUndeclared(NeedSend)
}

func (s *externalSocket) SendUrgent([]byte, time.Duration) (int, error) {
	s.d.need(NeedSend)
	return 0, errUndeclared(NeedSend)
}

// Recv returns the next octets of the bench's stream the device
// acknowledged: the declared sink reads all it gets.
func (s *externalSocket) Recv(max int, timeout time.Duration) ([]byte, error) {
	d := s.d
	if !d.need(NeedSink) {
		return nil, errUndeclared(NeedSink)
	}
	end := time.Now().Add(timeout)
	for {
		d.mu.Lock()
		f := s.f
		upTo, eof, ambiguous := f.delivered()
		if ambiguous {
			d.mu.Unlock()
			d.need(NeedEcho)
			return nil, errUndeclared(NeedEcho)
		}
		if s.read < upTo && int(upTo) <= len(f.stream) {
			n := min(int(upTo-s.read), max)
			b := append([]byte(nil), f.stream[s.read:s.read+uint32(n)]...)
			s.read += uint32(n)
			d.mu.Unlock()
			return b, nil
		}
		switch {
		case eof && s.read >= upTo:
			d.mu.Unlock()
			return nil, io.EOF
		case f.rst:
			d.mu.Unlock()
			return nil, os.NewSyscallError("recv", syscall.ECONNRESET)
		}
		ch := d.changed
		d.mu.Unlock()
		wait := time.Until(end)
		if wait <= 0 {
			return nil, fmt.Errorf("external: recv: %w", os.ErrDeadlineExceeded)
		}
		t := time.NewTimer(wait)
		select {
		case <-ch:
		case <-t.C:
		case <-d.link.closed:
		}
		t.Stop()
	}
}

func (s *externalSocket) appClose() error {
	if !s.d.need(NeedAppClose) {
		return errUndeclared(NeedAppClose)
	}
	return nil
}

func (s *externalSocket) ShutdownWrite() error { return s.appClose() }
func (s *externalSocket) Close() error         { return s.appClose() }
func (s *externalSocket) Abort() error         { return s.appClose() }

func (s *externalSocket) sockopt() error {
	s.d.need(NeedSocketOptions)
	return errUndeclared(NeedSocketOptions)
}

func (s *externalSocket) SetNoDelay(bool) error              { return s.sockopt() }
func (s *externalSocket) SetKeepAlive(KeepAlive) error       { return s.sockopt() }
func (s *externalSocket) SetUserTimeout(time.Duration) error { return s.sockopt() }
func (s *externalSocket) SetTTL(uint8) error                 { return s.sockopt() }
func (s *externalSocket) SetTOS(uint8) error                 { return s.sockopt() }
func (s *externalSocket) LocalPort() uint16                  { return s.f.devPort }
