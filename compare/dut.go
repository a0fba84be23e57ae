package compare

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"tcplab/wire"
)

// DUT is a device under test: a TCP stack driven through a socket-like
// API, the way packetimpact drives its DUT over its posix server. Each
// scenario gets a fresh one.
//
// Errors returned by a DUT follow the Linux socket API, so scenarios can
// compare stacks: they wrap the errno a socket would return
// (syscall.ECONNRESET, ECONNREFUSED, EPIPE, ETIMEDOUT; test with
// errors.Is), io.EOF is the end of the peer's stream, and a timeout wraps
// os.ErrDeadlineExceeded.
//
// The linux backend (Linux) fits the same interface: the DUT is a set of
// sockets opened inside a network namespace made for the scenario
// (netns.New), whose TUN device (tun.Device, kernel side 198.18.0.2/24)
// is the link; the userspace side of the TUN is the bench's wire.Link, so
// the bench owns 198.18.0.1 and no host kernel answers for it. Sockets
// are made on the namespace's thread (Namespace.Do) with
// golang.org/x/sys/unix and map one to one onto listen(2), connect(2)
// with O_NONBLOCK (the Pending result comes from polling for
// writability), accept4(2), send(2), recv(2), shutdown(SHUT_WR),
// close(2), SO_LINGER {1, 0} + close, TCP_NODELAY,
// SO_KEEPALIVE/TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT and
// TCP_USER_TIMEOUT; the waiting goes through the Go runtime's poller,
// since a socket stays in its namespace whichever thread uses it. Setup
// becomes SO_RCVBUF before listen/connect; the namespace has the sysctls
// of LinuxSysctls pinned. Its Timing (LinuxTiming) has a longer Quiet
// window than the in-process stacks', for delayed ACKs.
type DUT interface {
	// Name is the stack's name in reports: "handmade", "netstack",
	// "linux", "external".
	Name() string
	// Addr is the DUT's IPv4 address on the link (DUTAddr).
	Addr() netip.Addr
	// Listen is a passive OPEN on port (RFC 9293 §3.10.1).
	Listen(port uint16) (Listener, error)
	// Connect is an active OPEN to the bench; it returns at once, the
	// socket (or the error) comes later.
	Connect(to netip.AddrPort) *Pending[Socket]
	// ConnectVia is Connect with an IPv4 loose source route through
	// gateways, which the application sets before the SYN goes out (RFC
	// 9293 §3.9.2.1, MUST-51): Linux's IP_OPTIONS, handmade's
	// DialOptions.SourceRoute. The result's error wraps
	// errors.ErrUnsupported on a stack with no way to set one.
	ConnectVia(to netip.AddrPort, gateways []netip.Addr) *Pending[Socket]
	// Close tears the DUT down: sockets, stack, link.
	Close() error
}

// Listener is a listening socket.
type Listener interface {
	// Accept waits, in the background, for the next connection.
	Accept() *Pending[Socket]
	Close() error
}

// Socket is a connected socket of the DUT.
type Socket interface {
	// Send writes p, waiting at most timeout for buffer space.
	Send(p []byte, timeout time.Duration) (int, error)
	// SendUrgent writes p as urgent data (send with MSG_OOB: RFC 9293
	// §3.9.1 SEND with the urgent flag); errors.ErrUnsupported from a
	// stack that cannot.
	SendUrgent(p []byte, timeout time.Duration) (int, error)
	// Recv reads at most max octets, waiting at most timeout for some.
	Recv(max int, timeout time.Duration) ([]byte, error)
	// ShutdownWrite is shutdown(SHUT_WR): a FIN after the queued data.
	ShutdownWrite() error
	// Close is close(2): graceful, unless unread data or SO_LINGER 0 make
	// it a reset.
	Close() error
	// Abort is close(2) with SO_LINGER {on, 0}: RFC 9293 §3.10.5 ABORT.
	Abort() error
	// SetNoDelay switches Nagle's algorithm off (TCP_NODELAY).
	SetNoDelay(on bool) error
	// SetKeepAlive configures keep-alive probes (RFC 9293 §3.8.4).
	SetKeepAlive(k KeepAlive) error
	// SetUserTimeout sets TCP_USER_TIMEOUT (RFC 5482; RFC 9293 §3.8.3 R2,
	// MUST-21); 0 turns it off.
	SetUserTimeout(d time.Duration) error
	// SetTTL sets IP_TTL: the TTL of the socket's segments (RFC 9293
	// §3.9.1, MUST-49).
	SetTTL(ttl uint8) error
	// SetTOS sets IP_TOS: the Diffserv field of the socket's segments
	// (RFC 9293 §3.9.1, MUST-48, SHLD-21, SHLD-22).
	SetTOS(tos uint8) error
	// LocalPort is the socket's local port.
	LocalPort() uint16
}

// KeepAlive is SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL and
// TCP_KEEPCNT; zero durations and count keep the stack's defaults.
type KeepAlive struct {
	On             bool
	Idle, Interval time.Duration
	Count          int
}

// Setup holds DUT settings a scenario needs before any socket exists;
// the backend applies them when it builds the DUT (stack-wide for the
// in-process stacks, per socket or per namespace sysctl for Linux). The
// zero value is the stack's defaults.
type Setup struct {
	// RecvBuffer is the receive buffer of every connection, in octets.
	RecvBuffer int

	// VirtualClock runs the DUT's timers on a VirtualClock of the run,
	// shared with the bench and moved by T.Advance, on a backend that can
	// (Backend.VirtualTime); elsewhere (linux) time stays real.
	VirtualClock bool
	// FinWait2 is how long an orphaned connection waits in FIN-WAIT-2 for
	// the peer's FIN (handmade.Config.FinWait2, gVisor's
	// TCPLingerTimeoutOption, Linux's net.ipv4.tcp_fin_timeout in the
	// namespace, whole seconds); 0 keeps the stack's default.
	FinWait2 time.Duration
	// MaxRetries is R2 for data as a count of retransmissions (RFC 9293
	// §3.8.3): handmade.Config.MaxRetries, gVisor's TCPMaxRetriesOption,
	// Linux's net.ipv4.tcp_retries2 in the namespace (which Linux turns
	// into a time from a 200 ms RTO doubling); 0 keeps the stack's
	// default (15 on all three).
	MaxRetries int

	clock *VirtualClock // made by the run when VirtualClock is honoured
}

// Timing is how long a bench waits on a DUT.
type Timing struct {
	// Reply bounds the wait for a segment a scenario expects.
	Reply time.Duration
	// Quiet is the window in which "expect none" must see nothing. It
	// must cover the DUT's processing delay: short for in-process stacks,
	// longer for a kernel behind a TUN.
	Quiet time.Duration
}

// InProcessTiming is the Timing of the in-process stacks.
var InProcessTiming = Timing{Reply: time.Second, Quiet: 200 * time.Millisecond}

// Backend makes fresh DUTs, one per scenario run.
type Backend struct {
	Name string
	// Version says what runs, for reports (e.g. the gVisor module version,
	// the kernel release).
	Version string
	// Link is how the bench reaches the stack: "mem" (in process, over a
	// wire.Pipe) or "tun" (a TUN device: the kernel itself, or an
	// in-process stack on a TUN device of its own behind a forwarding
	// kernel, as HandmadeOverTUN).
	Link string
	// Settings are what the backend pins on every run (Linux's sysctls),
	// for reports; empty for the stacks' defaults.
	Settings []string
	Timing   Timing
	// VirtualTime says Start honours Setup.VirtualClock.
	VirtualTime bool
	// Start builds a DUT and returns it with the link the bench uses to
	// reach it (the other end of the DUT's link). DUT.Close releases
	// both.
	Start func(ctx context.Context, s Setup) (DUT, wire.Link, error)
	// Capabilities are what the DUT's application can be asked for (see
	// Capability): nil for a stack whose sockets the bench drives itself
	// (handmade, netstack, linux), the declared ones for External. A
	// scenario needing more is n/a.
	Capabilities []Capability

	// benchAddr and dutAddr are the addresses of the scenario's wire when
	// they are not TBAddr and DUTAddr (External).
	benchAddr, dutAddr netip.Addr
}

// ErrPending is returned by Pending.Wait when the result did not come in
// time.
var ErrPending = errors.New("compare: the DUT call has not completed")

// Pending is the result of a DUT call that completes later (accept,
// connect).
type Pending[V any] struct {
	done   chan struct{}
	v      V
	err    error
	cancel func()
	once   sync.Once
}

// Go runs f in the background; cancel, if not nil, is what Cancel calls.
func Go[V any](f func() (V, error), cancel func()) *Pending[V] {
	p := &Pending[V]{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(p.done)
		p.v, p.err = f()
	}()
	return p
}

// Wait returns the result, waiting at most timeout; ErrPending if it has
// not come.
func (p *Pending[V]) Wait(timeout time.Duration) (V, error) {
	select {
	case <-p.done:
		return p.v, p.err
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.v, p.err
	case <-t.C:
		var zero V
		return zero, ErrPending
	}
}

// Done reports whether the result has come.
func (p *Pending[V]) Done() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Cancel gives up the call: for Connect it is the application closing the
// socket while the handshake is in progress (RFC 9293 §3.10.4, SYN-SENT).
func (p *Pending[V]) Cancel() {
	p.once.Do(func() {
		if p.cancel != nil {
			p.cancel()
		}
	})
}

// inMemory makes a Backend that runs a stack in process on the far end of
// a wire.Pipe.
func inMemory(name, version string, start stackStart) Backend {
	return Backend{
		Name:    name,
		Version: version,
		Link:    "mem",
		Timing:  InProcessTiming,
		// Both in-process stacks take the run's clock (see Handmade and
		// Netstack).
		VirtualTime: true,
		Start: func(ctx context.Context, s Setup) (DUT, wire.Link, error) {
			tb, dutEnd := wire.Pipe(wire.PipeConfig{Names: [2]string{"tb", name}})
			d, err := start(dutEnd, DUTAddr, s)
			if err != nil {
				tb.Close()
				return nil, nil, fmt.Errorf("starting %s: %w", name, err)
			}
			return &closeLink{DUT: d, link: tb}, tb, nil
		},
	}
}

// closeLink closes the wire after the DUT.
type closeLink struct {
	DUT
	link wire.Link
}

// unwrap is the DUT inside, for the optional interfaces a scenario asks
// for (timerSettings).
func (c *closeLink) unwrap() DUT { return c.DUT }

func (c *closeLink) Close() error {
	err := c.DUT.Close()
	c.link.Close()
	return err
}

// deadline turns a timeout into a deadline (zero timeout: none).
func deadline(timeout time.Duration) time.Time {
	if timeout <= 0 {
		return time.Time{}
	}
	return time.Now().Add(timeout)
}
