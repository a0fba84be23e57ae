//go:build linux

package compare

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tcplab/rstfilter"
	"tcplab/wire"
)

// routeMark is the SO_MARK of the bench's raw socket ("tclb"): the RST
// filter spares the packets that carry it, the bench's own RSTs.
const routeMark = 0x74636c62

// routeLink reaches a device through the kernel's routing (ExternalConfig
// Route): one raw IPv4 socket bound to the bench's address, which the
// host owns, writes the bench's packets whole (IP_HDRINCL: the kernel
// routes them and resolves the next hop, so the device may be hops away,
// behind a TUN, a veth or a router) and reads the TCP segments the kernel
// delivers to that address. The kernel has no socket for the bench's
// connections and would answer every segment of the device with a RST:
// an rstfilter table, owned by this process, drops the RSTs from the
// bench's address to the device that do not carry routeMark, for the
// link's life.
type routeLink struct {
	conn     *net.IPConn
	rc       syscall.RawConn
	bench    netip.Addr
	dev      netip.Addr
	dst      unix.SockaddrInet4
	mtu      int
	filter   *rstfilter.Filter
	closed   chan struct{}
	closeErr error
	once     sync.Once
}

// openRoute opens the routed link of cfg in its namespace (cfg.Do).
func openRoute(cfg ExternalConfig) (wire.Link, error) {
	l := &routeLink{bench: cfg.BenchAddr, dev: cfg.Addr, dst: unix.SockaddrInet4{Addr: cfg.Addr.As4()}, closed: make(chan struct{})}
	var err error
	do(cfg, func() { err = l.open(cfg) })
	if err != nil {
		if l.conn != nil {
			l.conn.Close()
		}
		return nil, err
	}
	return l, nil
}

func (l *routeLink) open(cfg ExternalConfig) error {
	// The path MTU, and a route check that says what is wrong.
	u, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.BenchAddr, 0)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.Addr, cfg.Port)))
	if err != nil {
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("external: route: the bench's address %v is not this host's: through the kernel's routing the bench uses an address the host owns (the src of `ip route get %v`), so that the device's answers come back to it", cfg.BenchAddr, cfg.Addr)
		}
		return fmt.Errorf("external: route: no route from %v to %v here (%v): add one, or reach the device on its link (link iface:NAME)", cfg.BenchAddr, cfg.Addr, err)
	}
	l.mtu = 1500
	if rc, err := u.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			if m, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU); err == nil && m > 0 {
				l.mtu = m
			}
		})
	}
	u.Close()

	c, err := net.ListenPacket("ip4:tcp", cfg.BenchAddr.String())
	if err != nil {
		return fmt.Errorf("external: route: a raw socket on %v: %w (needs CAP_NET_RAW)", cfg.BenchAddr, err)
	}
	l.conn = c.(*net.IPConn)
	if l.rc, err = l.conn.SyscallConn(); err != nil {
		return err
	}
	var serr error
	if err := l.rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_HDRINCL, 1); serr != nil {
			serr = fmt.Errorf("IP_HDRINCL: %w", serr)
			return
		}
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, routeMark); serr != nil {
			serr = fmt.Errorf("SO_MARK: %w (needs CAP_NET_ADMIN)", serr)
		}
	}); err != nil || serr != nil {
		return fmt.Errorf("external: route: %w", errors.Join(err, serr))
	}
	// In the namespace of the calling thread: cfg.Do's.
	l.filter, err = rstfilter.Install(rstfilter.Rule{Addr: cfg.BenchAddr, Peer: cfg.Addr, SpareMark: routeMark})
	if err != nil {
		return fmt.Errorf("external: route: the kernel's RSTs to the device cannot be dropped: %w", err)
	}
	if cfg.Log != nil {
		cfg.Log("external: route: %s", l.filter.Describe())
	}
	return nil
}

// do runs f in cfg's namespace.
func do(cfg ExternalConfig, f func()) {
	if cfg.Do != nil {
		cfg.Do(f)
		return
	}
	f()
}

// ReadPacket returns the next TCP segment from the device to the bench's
// address, IP header included.
func (l *routeLink) ReadPacket(ctx context.Context, b []byte) (int, error) {
	deadline, _ := ctx.Deadline()
	if err := l.conn.SetReadDeadline(deadline); err != nil {
		return 0, l.closedErr(err)
	}
	// Cancelling ctx ends the read; the next read must not inherit the
	// deadline that did it, so a started cancellation is waited for.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		l.conn.SetReadDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()
	for {
		var n int
		var rerr error
		err := l.rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), b, unix.MSG_TRUNC)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return 0, ctx.Err()
			case errors.Is(err, os.ErrDeadlineExceeded):
				// Only ctx sets the deadline; its timer may not have
				// fired yet.
				return 0, context.DeadlineExceeded
			}
			return 0, l.closedErr(err)
		}
		if n < 20 || netip.AddrFrom4([4]byte(b[12:16])) != l.dev {
			continue // another host's segment to the same address
		}
		if n > len(b) {
			return len(b), wire.ErrTruncated
		}
		return n, nil
	}
}

func (l *routeLink) closedErr(err error) error {
	select {
	case <-l.closed:
		return fmt.Errorf("external route: %w", net.ErrClosed)
	default:
		return fmt.Errorf("external route: %w", err)
	}
}

// WritePacket hands p, a whole IPv4 packet, to the kernel's routing.
func (l *routeLink) WritePacket(ctx context.Context, p []byte) error {
	if len(p) < 20 || netip.AddrFrom4([4]byte(p[16:20])) != l.dev {
		return errors.New("external route: refusing a packet that is not for the device")
	}
	var werr error
	err := l.rc.Write(func(fd uintptr) bool {
		werr = unix.Sendto(int(fd), p, 0, &l.dst)
		return werr != unix.EAGAIN
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return l.closedErr(err)
	}
	return nil
}

func (l *routeLink) MTU() int { return l.mtu }

// Close closes the socket and removes the RST filter.
func (l *routeLink) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.closeErr = errors.Join(l.conn.Close(), l.filter.Remove())
	})
	return l.closeErr
}

// kernelRSTsDropped is how many RSTs of the kernel's the filter dropped.
func (l *routeLink) kernelRSTsDropped() (uint64, error) { return l.filter.Dropped() }
