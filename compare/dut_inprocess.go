package compare

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"tcplab/handmade"
	"tcplab/netstackref"
	"tcplab/wire"
)

// Handmade is the backend of tcplab's hand-built stack with cfg (its
// zero value: the full profile's defaults), in process over an in-memory
// wire. Setup.RecvBuffer overrides cfg.RecvBuffer, Setup.FinWait2
// cfg.FinWait2, Setup.MaxRetries cfg.MaxRetries, and the run's virtual
// clock cfg.Clock.
func Handmade(cfg handmade.Config) Backend {
	return HandmadeOn("handmade", cfg, nil)
}

// HandmadeOverTUN is Handmade reached over TUN devices (Link "tun"): the
// stack runs in process on a TUN device of its own, and the kernel of a
// namespace made for the run routes between it and the bench's (see
// OverTUN). It needs root.
func HandmadeOverTUN(cfg handmade.Config) Backend {
	return overTUN("handmade", "tcplab handmade", handmadeStart("handmade", cfg, nil))
}

// HandmadeOn is Handmade under another name, with wrap (if not nil)
// between the stack and its end of the wire: a test's way to break the
// DUT on purpose and see the bench notice.
func HandmadeOn(name string, cfg handmade.Config, wrap func(wire.Link) wire.Link) Backend {
	return inMemory(name, "tcplab "+name, handmadeStart(name, cfg, wrap))
}

// stackStart starts an in-process stack owning addr on l.
type stackStart func(l wire.Link, addr netip.Addr, s Setup) (DUT, error)

func handmadeStart(name string, cfg handmade.Config, wrap func(wire.Link) wire.Link) stackStart {
	return func(l wire.Link, addr netip.Addr, s Setup) (DUT, error) {
		if wrap != nil {
			l = wrap(l)
		}
		c := cfg
		if s.RecvBuffer > 0 {
			c.RecvBuffer = s.RecvBuffer
		}
		if s.FinWait2 > 0 {
			c.FinWait2 = s.FinWait2
		}
		if s.MaxRetries > 0 {
			c.MaxRetries = s.MaxRetries
		}
		if s.clock != nil {
			c.Clock = s.clock.Handmade()
		}
		st, err := handmade.NewStack(l, addr, c)
		if err != nil {
			return nil, err
		}
		return &handmadeDUT{name: name, s: st}, nil
	}
}

type handmadeDUT struct {
	name string
	s    *handmade.Stack
}

func (d *handmadeDUT) Name() string     { return d.name }
func (d *handmadeDUT) Addr() netip.Addr { return d.s.Addr() }
func (d *handmadeDUT) Close() error     { return d.s.Close() }

func (d *handmadeDUT) timers() Timers {
	c := d.s.Config()
	return Timers{TimeWait: c.TimeWait, FinWait2: c.FinWait2}
}

func (d *handmadeDUT) Listen(port uint16) (Listener, error) {
	l, err := d.s.Listen(port)
	if err != nil {
		return nil, err
	}
	return &listener{l: l, accept: func() (Socket, error) {
		c, err := l.AcceptTCP()
		if err != nil {
			return nil, err
		}
		return handmadeSocket(c), nil
	}}, nil
}

func (d *handmadeDUT) Connect(to netip.AddrPort) *Pending[Socket] {
	return d.dial(to, handmade.DialOptions{})
}

// ConnectVia is handmade's DialOptions.SourceRoute, loose.
func (d *handmadeDUT) ConnectVia(to netip.AddrPort, gateways []netip.Addr) *Pending[Socket] {
	r, err := handmade.NewSourceRoute(false, gateways...)
	if err != nil {
		return Go(func() (Socket, error) { return nil, err }, nil)
	}
	return d.dial(to, handmade.DialOptions{SourceRoute: r})
}

func (d *handmadeDUT) dial(to netip.AddrPort, o handmade.DialOptions) *Pending[Socket] {
	ctx, cancel := context.WithCancel(context.Background())
	return Go(func() (Socket, error) {
		defer cancel()
		c, err := d.s.DialWith(ctx, to, o)
		if err != nil {
			return nil, err
		}
		return handmadeSocket(c), nil
	}, cancel)
}

func handmadeSocket(c *handmade.Conn) Socket {
	return &socket{c: c, tcp: c, abort: func() error { c.Abort(); return nil }, norm: identity, urgent: c.WriteUrgent}
}

func identity(err error) error { return err }

// Netstack is the backend of gVisor's netstack (netstackref) with opt,
// in process over an in-memory wire. Setup.RecvBuffer sets the default
// receive buffer and turns receive buffer moderation off, so the window
// the scenario asked for stays; Setup.FinWait2 sets opt.FinWait2,
// Setup.MaxRetries opt.MaxRetries, and the run's virtual clock opt.Clock.
func Netstack(opt netstackref.Options) Backend {
	return inMemory("netstack", netstackVersion(), netstackStart(opt))
}

// NetstackOverTUN is Netstack reached over TUN devices (Link "tun"), as
// HandmadeOverTUN is Handmade.
func NetstackOverTUN(opt netstackref.Options) Backend {
	return overTUN("netstack", netstackVersion(), netstackStart(opt))
}

func netstackVersion() string { return "gvisor.dev/gvisor " + netstackref.Version() }

func netstackStart(opt netstackref.Options) stackStart {
	return func(l wire.Link, addr netip.Addr, s Setup) (DUT, error) {
		o := opt
		if s.RecvBuffer > 0 {
			o.ReceiveBufferDefault = s.RecvBuffer
			o.ReceiveBufferMin = min(o.ReceiveBufferMin, s.RecvBuffer)
			o.ReceiveBufferMax = max(o.ReceiveBufferMax, s.RecvBuffer)
			o.ModerateReceiveBuffer = false
		}
		if s.FinWait2 > 0 {
			o.FinWait2 = s.FinWait2
		}
		if s.MaxRetries > 0 {
			o.MaxRetries = s.MaxRetries
		}
		if s.clock != nil {
			o.Clock = s.clock.Tcpip()
		}
		st, err := netstackref.New(l, addr, o)
		if err != nil {
			return nil, err
		}
		return &netstackDUT{s: st, addr: addr, opt: o}, nil
	}
}

type netstackDUT struct {
	s    *netstackref.Stack
	addr netip.Addr
	opt  netstackref.Options
}

func (d *netstackDUT) Name() string     { return "netstack" }
func (d *netstackDUT) Addr() netip.Addr { return d.addr }
func (d *netstackDUT) Close() error     { return d.s.Close() }
func (d *netstackDUT) timers() Timers {
	return Timers{TimeWait: d.opt.TimeWait, FinWait2: d.opt.FinWait2}
}

func (d *netstackDUT) Listen(port uint16) (Listener, error) {
	l, err := d.s.Listen(port)
	if err != nil {
		return nil, err
	}
	nl := l.(*netstackref.Listener)
	return &listener{l: l, accept: func() (Socket, error) {
		c, err := nl.AcceptConn()
		if err != nil {
			return nil, err
		}
		return netstackSocket(c), nil
	}}, nil
}

func (d *netstackDUT) Connect(to netip.AddrPort) *Pending[Socket] {
	ctx, cancel := context.WithCancel(context.Background())
	return Go(func() (Socket, error) {
		defer cancel()
		c, err := d.s.Dial(ctx, to)
		if err != nil {
			return nil, err
		}
		return netstackSocket(c.(*netstackref.Conn)), nil
	}, cancel)
}

// ConnectVia: gVisor's TCP has no IP_OPTIONS, and its IPv4 layer
// originates no source route option (it writes only the options it
// builds itself: Router Alert, and what it forwards).
func (d *netstackDUT) ConnectVia(netip.AddrPort, []netip.Addr) *Pending[Socket] {
	return Go(func() (Socket, error) {
		return nil, fmt.Errorf("a source route for connect(): gVisor's netstack has no IP_OPTIONS: %w", errors.ErrUnsupported)
	}, nil)
}

func netstackSocket(c *netstackref.Conn) Socket {
	return &socket{c: c, tcp: c, abort: c.Abort, norm: gvisorErrno}
}

// gvisorErrno gives gonet's errors, which carry only tcpip.Error's text,
// the errno a Linux socket would return, and its timeouts (a private
// net.Error) os.ErrDeadlineExceeded.
func gvisorErrno(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%w)", err, os.ErrDeadlineExceeded)
	}
	for _, x := range []struct {
		text  string
		errno syscall.Errno
	}{
		{"connection reset by peer", syscall.ECONNRESET},
		{"connection aborted", syscall.ECONNABORTED},
		{"connection refused", syscall.ECONNREFUSED},
		{"connection timed out", syscall.ETIMEDOUT},
		{"endpoint is closed for send", syscall.EPIPE},
		{"broken pipe", syscall.EPIPE},
	} {
		if strings.Contains(err.Error(), x.text) && !errors.Is(err, x.errno) {
			return fmt.Errorf("%w (%w)", err, x.errno)
		}
	}
	return err
}

type listener struct {
	l      net.Listener
	accept func() (Socket, error)
}

func (l *listener) Accept() *Pending[Socket] { return Go(l.accept, nil) }
func (l *listener) Close() error             { return l.l.Close() }

// tcpOptions are the per-connection settings both in-process stacks'
// connections have.
type tcpOptions interface {
	CloseWrite() error
	SetNoDelay(bool) error
	SetKeepAlive(bool) error
	SetKeepAliveConfig(idle, interval time.Duration, count int) error
	SetUserTimeout(time.Duration) error
	SetTTL(int) error
	SetTOS(int) error
}

// socket is a Socket over a net.Conn of an in-process stack.
type socket struct {
	c     net.Conn
	tcp   tcpOptions
	abort func() error
	norm  func(error) error
	// urgent writes urgent data; nil for a stack that cannot (gVisor's
	// netstack has no MSG_OOB for TCP).
	urgent func([]byte) (int, error)
}

func (s *socket) Send(p []byte, timeout time.Duration) (int, error) {
	s.c.SetWriteDeadline(deadline(timeout))
	n, err := s.c.Write(p)
	return n, s.norm(err)
}

func (s *socket) SendUrgent(p []byte, timeout time.Duration) (int, error) {
	if s.urgent == nil {
		return 0, fmt.Errorf("sending urgent data: %w", errors.ErrUnsupported)
	}
	s.c.SetWriteDeadline(deadline(timeout))
	n, err := s.urgent(p)
	return n, s.norm(err)
}

func (s *socket) Recv(max int, timeout time.Duration) ([]byte, error) {
	s.c.SetReadDeadline(deadline(timeout))
	b := make([]byte, max)
	n, err := s.c.Read(b)
	return b[:n], s.norm(err)
}

func (s *socket) ShutdownWrite() error { return s.norm(s.tcp.CloseWrite()) }
func (s *socket) Close() error         { return s.norm(s.c.Close()) }
func (s *socket) Abort() error         { return s.norm(s.abort()) }
func (s *socket) SetNoDelay(on bool) error {
	return s.tcp.SetNoDelay(on)
}

func (s *socket) SetKeepAlive(k KeepAlive) error {
	if err := s.tcp.SetKeepAliveConfig(k.Idle, k.Interval, k.Count); err != nil {
		return err
	}
	return s.tcp.SetKeepAlive(k.On)
}

func (s *socket) SetUserTimeout(d time.Duration) error { return s.tcp.SetUserTimeout(d) }
func (s *socket) SetTTL(ttl uint8) error               { return s.tcp.SetTTL(int(ttl)) }
func (s *socket) SetTOS(tos uint8) error               { return s.tcp.SetTOS(int(tos)) }

func (s *socket) LocalPort() uint16 {
	if a, ok := s.c.LocalAddr().(*net.TCPAddr); ok {
		return uint16(a.Port)
	}
	return 0
}

// Backends are the stacks that run in process, with their defaults, over
// the in-memory wire.
func Backends() []Backend {
	return []Backend{Handmade(handmade.Config{}), Netstack(netstackref.DefaultOptions())}
}

// BackendsOver are the in-process stacks with their defaults, reached
// over link: "mem" (Backends) or "tun" (HandmadeOverTUN,
// NetstackOverTUN; their Start fails without root, see TUNAvailable).
func BackendsOver(link string) ([]Backend, error) {
	switch link {
	case "mem", "":
		return Backends(), nil
	case "tun":
		return []Backend{HandmadeOverTUN(handmade.Config{}), NetstackOverTUN(netstackref.DefaultOptions())}, nil
	}
	return nil, fmt.Errorf("compare: no link %q (have mem, tun)", link)
}

// LookupBackends picks in-process backends by name; an empty list is all
// of them.
func LookupBackends(names []string) ([]Backend, error) { return pick(Backends(), names) }
