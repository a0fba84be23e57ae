package handmade

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Conn is one connection of a Stack as a net.Conn, with CloseWrite like
// *net.TCPConn. Errors are *net.OpError; a timeout wraps
// os.ErrDeadlineExceeded, so it satisfies net.Error with Timeout() true.
type Conn struct {
	s         *Stack
	tcb       *TCB
	l         *Listener
	handedOut bool
	traced    State // the state the trace last told
	deferred  bool  // in Stack.deferred: took segments, not yet serviced

	timer ClockTimer
	armed time.Time

	// changed is closed and replaced whenever the connection changes, to
	// wake callers blocked in Read, Write or Dial.
	changed                     chan struct{}
	readDeadline, writeDeadline time.Time
	closed                      bool
	// ttl and tos go into the IPv4 header of every segment the
	// connection sends (SetTTL, SetTOS); ttl 0 is the stack's default.
	ttl, tos uint8
}

var _ net.Conn = (*Conn)(nil)

func (c *Conn) onTimer() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.conns[fourTuple{c.tcb.Local, c.tcb.Remote}] != c {
		return
	}
	now := s.clock.Now()
	c.armed = time.Time{} // fired: service re-arms from the new deadline
	c.tcb.OnTimer(now)
	s.service(c, now)
}

func (c *Conn) signal() {
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

// waitLocked blocks, with s.mu released, until the connection changes or
// deadline passes; it reports false when the deadline passed.
func (c *Conn) waitLocked(deadline time.Time) bool {
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return false
	}
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	ch := c.changed
	c.s.mu.Unlock()
	defer c.s.mu.Lock()
	if deadline.IsZero() {
		<-ch
		return true
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// past reports a deadline that is set and has passed.
func past(deadline time.Time) bool { return !deadline.IsZero() && !time.Now().Before(deadline) }

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// Read is RECEIVE: in-order data, io.EOF after the peer's FIN.
func (c *Conn) Read(p []byte) (int, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		switch {
		case c.closed:
			return 0, c.opError("read", net.ErrClosed)
		case past(c.readDeadline):
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		case len(p) == 0:
			return 0, nil
		case c.tcb.Readable() > 0:
			now := s.clock.Now()
			n := c.tcb.Read(p, now)
			s.service(c, now)
			return n, nil
		case c.tcb.PeerClosed():
			return 0, io.EOF
		case c.tcb.Err != nil:
			return 0, c.opError("read", c.tcb.Err)
		case c.tcb.State == Closed:
			return 0, io.EOF
		case s.readErr != nil:
			return 0, c.opError("read", s.readErr)
		}
		if !c.waitLocked(c.readDeadline) {
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
	}
}

// Write is SEND: it blocks while the send buffer is full.
func (c *Conn) Write(p []byte) (int, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	total := 0
	for total < len(p) {
		switch {
		case c.closed:
			return total, c.opError("write", net.ErrClosed)
		case past(c.writeDeadline):
			return total, c.opError("write", os.ErrDeadlineExceeded)
		case c.tcb.Err != nil:
			return total, c.opError("write", c.tcb.Err)
		case c.tcb.finQueued || c.tcb.State == Closed:
			return total, c.opError("write", errWriteClosed)
		case s.readErr != nil:
			return total, c.opError("write", s.readErr)
		}
		if n := c.tcb.Write(p[total:], s.clock.Now()); n > 0 {
			total += n
			s.service(c, s.clock.Now())
			continue
		}
		if !c.waitLocked(c.writeDeadline) {
			return total, c.opError("write", os.ErrDeadlineExceeded)
		}
	}
	return total, nil
}

var errWriteClosed = &errnoError{"write after the sending side was closed", syscall.EPIPE}

// Close closes the connection gracefully: queued data, then a FIN. The
// connection lives on in the stack until the close completes.
func (c *Conn) Close() error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closed {
		return c.opError("close", net.ErrClosed)
	}
	c.closed = true
	if !s.closed {
		c.tcb.Close(s.clock.Now())
		s.service(c, s.clock.Now())
	}
	c.signal()
	return nil
}

// CloseWrite sends a FIN after the queued data; reading goes on.
func (c *Conn) CloseWrite() error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closed {
		return c.opError("close", net.ErrClosed)
	}
	c.tcb.CloseWrite(s.clock.Now())
	s.service(c, s.clock.Now())
	return nil
}

// Abort resets the connection (RFC 9293 §3.10.5), as close with SO_LINGER
// 0 does.
func (c *Conn) Abort() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c.closed = true
	c.tcb.Abort(s.clock.Now())
	s.service(c, s.clock.Now())
}

// SetLinger with 0 makes Close send a RST instead of a FIN (SO_LINGER 0);
// any other value restores the graceful close.
func (c *Conn) SetLinger(sec int) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.tcb.lingerAbort = sec == 0
	return nil
}

// SetReadBuffer fixes the connection's receive buffer at bytes octets
// and turns receive-buffer autotuning off for it, as SO_RCVBUF does
// (net.TCPConn.SetReadBuffer on Linux). The window scale was chosen at
// the handshake from Config.MaxRecvBuffer; a window already advertised
// is honoured.
func (c *Conn) SetReadBuffer(bytes int) error {
	return c.setBuffer("receive", bytes, c.tcb.SetRecvBuffer)
}

// SetWriteBuffer fixes the connection's send buffer at bytes octets and
// turns send-buffer autotuning off for it, as SO_SNDBUF does
// (net.TCPConn.SetWriteBuffer on Linux, which doubles the size for its
// bookkeeping; here bytes is data octets). Octets already queued stay;
// a writer blocked on a full buffer is woken if it grew.
func (c *Conn) SetWriteBuffer(bytes int) error {
	return c.setBuffer("send", bytes, c.tcb.SetSendBuffer)
}

// setBuffer checks a buffer size, applies it with set and lets the
// connection act on it (a window to open, a writer to wake).
func (c *Conn) setBuffer(which string, bytes int, set func(int)) error {
	if bytes <= 0 {
		return &net.OpError{Op: "set", Net: "tcp", Addr: c.RemoteAddr(), Err: fmt.Errorf("%s buffer %d: want a positive size", which, bytes)}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	set(bytes)
	c.s.service(c, c.s.clock.Now())
	return nil
}

// SetNoDelay switches Nagle's algorithm off (true) or on (false).
func (c *Conn) SetNoDelay(noDelay bool) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.tcb.noDelay = noDelay
	c.s.service(c, c.s.clock.Now())
	return nil
}

// SetCongestionControl switches the connection's congestion control, like
// Linux's TCP_CONGESTION: NewReno ("newreno") or CUBIC ("cubic"). Mid-
// connection the new algorithm starts from the current cwnd and ssthresh.
func (c *Conn) SetCongestionControl(name string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if err := c.tcb.SetCongestionControl(name); err != nil {
		return c.opError("set", err)
	}
	return nil
}

// WriteUrgent writes p as urgent data (RFC 9293 §3.9.1 SEND with the
// urgent flag, like MSG_OOB): every segment carrying octets of it has
// URG set and an urgent pointer to the octet after its last (MUST-62).
// The peer's application reads it inline, in order.
func (c *Conn) WriteUrgent(p []byte) (int, error) {
	c.s.mu.Lock()
	if c.tcb.Err == nil && !c.tcb.finQueued && !c.closed {
		c.tcb.urgentFollows(len(p))
	}
	c.s.mu.Unlock()
	return c.Write(p)
}

// SetTTL sets the IPv4 Time to Live of the connection's segments, like
// IP_TTL (RFC 9293 §3.9.1, MUST-49: "the TTL value used to send TCP
// segments MUST be configurable"); 0 restores the default, 64.
func (c *Conn) SetTTL(ttl int) error {
	if ttl < 0 || ttl > 255 {
		return &net.OpError{Op: "set", Net: "tcp", Addr: c.RemoteAddr(), Err: fmt.Errorf("TTL %d: want 0 to 255", ttl)}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.ttl = uint8(ttl)
	return nil
}

// SetTOS sets the IPv4 Type of Service octet of the connection's
// segments, like IP_TOS: the Diffserv field in the upper six bits (RFC
// 2474). RFC 9293 §3.9.1: the application "MUST be able to specify the
// Diffserv field" (MUST-48), TCP SHOULD pass it unchanged to IP
// (SHLD-22), and the application SHOULD be able to change it during the
// connection (SHLD-21): the next segment carries the new value. The two
// ECN bits are TCP's own (RFC 3168 §6.1.1), so they are left clear here.
func (c *Conn) SetTOS(tos int) error {
	if tos < 0 || tos > 255 {
		return &net.OpError{Op: "set", Net: "tcp", Addr: c.RemoteAddr(), Err: fmt.Errorf("TOS %d: want 0 to 255", tos)}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.tos = uint8(tos) &^ 0x3
	return nil
}

// Info snapshots the connection, like TCP_INFO.
func (c *Conn) Info() Info {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.tcb.Info()
}

func (c *Conn) LocalAddr() net.Addr  { return tcpAddr(c.tcb.Local) }
func (c *Conn) RemoteAddr() net.Addr { return tcpAddr(c.tcb.Remote) }

func (c *Conn) SetDeadline(t time.Time) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.readDeadline, c.writeDeadline = t, t
	c.signal()
	return nil
}

func (c *Conn) SetReadDeadline(t time.Time) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.readDeadline = t
	c.signal()
	return nil
}

func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.writeDeadline = t
	c.signal()
	return nil
}

// WaitClosed blocks until the connection has left the stack (CLOSED, or
// TIME-WAIT entered: the close is complete for the application) or ctx
// ends.
func (c *Conn) WaitClosed(ctx context.Context) error {
	s := c.s
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		c.signal()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c.tcb.State != Closed && c.tcb.State != TimeWait && !s.closed {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.waitLocked(time.Time{})
	}
	return nil
}

// SetKeepAlive turns keep-alive probes on or off for this connection (RFC
// 9293 §3.8.4), like (*net.TCPConn).SetKeepAlive.
func (c *Conn) SetKeepAlive(on bool) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.tcb.cfg.KeepAlive = on
	c.tcb.armKeepalive(c.s.clock.Now())
	c.s.service(c, c.s.clock.Now())
	return nil
}

// SetKeepAliveConfig sets the idle time before the first probe, the time
// between probes and how many unanswered probes end the connection; zero
// values keep the current setting.
func (c *Conn) SetKeepAliveConfig(idle, interval time.Duration, count int) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	cfg := c.tcb.cfg
	if idle > 0 {
		cfg.KeepAliveIdle = idle
	}
	if interval > 0 {
		cfg.KeepAliveInterval = interval
	}
	if count > 0 {
		cfg.KeepAliveCount = count
	}
	c.tcb.armKeepalive(c.s.clock.Now())
	c.s.service(c, c.s.clock.Now())
	return nil
}

// SetUserTimeout aborts the connection when sent data stays
// unacknowledged for d (RFC 9293 §3.8.3 R2, RFC 5482's TCP_USER_TIMEOUT);
// 0 turns it off.
func (c *Conn) SetUserTimeout(d time.Duration) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.tcb.cfg.UserTimeout = max(d, 0)
	c.s.service(c, c.s.clock.Now())
	return nil
}
