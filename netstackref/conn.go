package netstackref

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Conn is a gonet.TCPConn that keeps its gVisor endpoint, so the socket
// options a conformance scenario sets per connection (TCP_NODELAY,
// SO_KEEPALIVE and the keep-alive timers, TCP_USER_TIMEOUT, SO_LINGER) can
// be set on it: gonet.TCPConn hides its endpoint. Dial and the listeners
// of Listen hand out *Conn.
type Conn struct {
	*gonet.TCPConn
	ep tcpip.Endpoint
}

func newConn(wq *waiter.Queue, ep tcpip.Endpoint) *Conn {
	return &Conn{TCPConn: gonet.NewTCPConn(wq, ep), ep: ep}
}

func (c *Conn) opError(op string, err tcpip.Error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: errors.New(err.String())}
}

// SetNoDelay switches Nagle's algorithm off (true) or on (false) for this
// connection, like (*net.TCPConn).SetNoDelay (tcpip DelayOption).
func (c *Conn) SetNoDelay(noDelay bool) error {
	c.ep.SocketOptions().SetDelayOption(!noDelay)
	return nil
}

// SetKeepAlive turns keep-alive probes on or off (SO_KEEPALIVE).
func (c *Conn) SetKeepAlive(on bool) error {
	c.ep.SocketOptions().SetKeepAlive(on)
	return nil
}

// SetKeepAliveConfig sets the idle time before the first probe
// (TCP_KEEPIDLE), the time between probes (TCP_KEEPINTVL) and how many
// unanswered probes end the connection (TCP_KEEPCNT); zero values keep
// the current setting. It does not turn probes on: see SetKeepAlive.
func (c *Conn) SetKeepAliveConfig(idle, interval time.Duration, count int) error {
	if idle > 0 {
		o := tcpip.KeepaliveIdleOption(idle)
		if err := c.ep.SetSockOpt(&o); err != nil {
			return c.opError("set", err)
		}
	}
	if interval > 0 {
		o := tcpip.KeepaliveIntervalOption(interval)
		if err := c.ep.SetSockOpt(&o); err != nil {
			return c.opError("set", err)
		}
	}
	if count > 0 {
		if err := c.ep.SetSockOptInt(tcpip.KeepaliveCountOption, count); err != nil {
			return c.opError("set", err)
		}
	}
	return nil
}

// SetUserTimeout sets TCP_USER_TIMEOUT (RFC 5482): the connection is
// aborted when sent data stays unacknowledged for d; 0 turns it off.
func (c *Conn) SetUserTimeout(d time.Duration) error {
	o := tcpip.TCPUserTimeoutOption(max(d, 0))
	if err := c.ep.SetSockOpt(&o); err != nil {
		return c.opError("set", err)
	}
	return nil
}

// SetTTL sets the IPv4 TTL of the connection's segments (IP_TTL, tcpip
// IPv4TTLOption); 0 restores the stack's default.
func (c *Conn) SetTTL(ttl int) error {
	if err := c.ep.SetSockOptInt(tcpip.IPv4TTLOption, ttl); err != nil {
		return c.opError("set", err)
	}
	return nil
}

// SetTOS sets the IPv4 Type of Service octet of the connection's segments
// (IP_TOS, tcpip IPv4TOSOption).
func (c *Conn) SetTOS(tos int) error {
	if err := c.ep.SetSockOptInt(tcpip.IPv4TOSOption, tos); err != nil {
		return c.opError("set", err)
	}
	return nil
}

// SetLinger sets SO_LINGER like (*net.TCPConn).SetLinger: a negative sec
// restores the default graceful close, 0 makes Close send a RST instead
// of a FIN, a positive value lingers that long.
func (c *Conn) SetLinger(sec int) error {
	if sec < 0 {
		c.ep.SocketOptions().SetLinger(tcpip.LingerOption{})
		return nil
	}
	c.ep.SocketOptions().SetLinger(tcpip.LingerOption{Enabled: true, Timeout: time.Duration(sec) * time.Second})
	return nil
}

// Abort resets the connection (RFC 9293 §3.10.5 ABORT) the way an
// application asks for it through the socket API: SO_LINGER {on, 0}, then
// close.
func (c *Conn) Abort() error {
	if err := c.SetLinger(0); err != nil {
		return err
	}
	return c.Close()
}

// Listener is a gVisor listening endpoint as a net.Listener whose Accept
// returns *Conn (gonet.TCPListener returns a gonet.TCPConn without its
// endpoint).
type Listener struct {
	ep        tcpip.Endpoint
	wq        *waiter.Queue
	closeOnce sync.Once
	closed    chan struct{}
}

var _ net.Listener = (*Listener)(nil)

// Accept waits for the next established connection; it returns *Conn.
func (l *Listener) Accept() (net.Conn, error) { return l.AcceptConn() }

// AcceptConn is Accept returning the concrete type.
func (l *Listener) AcceptConn() (*Conn, error) {
	we, notify := waiter.NewChannelEntry(waiter.ReadableEvents)
	l.wq.EventRegister(&we)
	defer l.wq.EventUnregister(&we)
	for {
		ep, wq, err := l.ep.Accept(nil)
		if _, ok := err.(*tcpip.ErrWouldBlock); ok {
			select {
			case <-l.closed:
				return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
			case <-notify:
			}
			continue
		}
		if err != nil {
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: fmt.Errorf("%s: %w", err, net.ErrClosed)}
		}
		return newConn(wq, ep), nil
	}
}

// Close stops listening; connections not yet accepted are reset.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.ep.Close()
	})
	return nil
}

// Addr is the listening address.
func (l *Listener) Addr() net.Addr {
	a, err := l.ep.GetLocalAddress()
	if err != nil {
		return nil
	}
	return &net.TCPAddr{IP: net.IP(a.Addr.AsSlice()), Port: int(a.Port)}
}
