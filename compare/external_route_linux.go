//go:build linux

package compare

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"tcplab/rstfilter"
	"tcplab/wire"
)

// routeLink reaches a device through the kernel's routing (ExternalConfig
// Route). A raw IPv4 socket (IPPROTO_RAW, so IP_HDRINCL) bound to the
// bench's address, which the host owns, writes the bench's packets whole:
// the kernel routes them and resolves the next hop, so the device may be
// hops away, behind a TUN, a veth or a router. An AF_PACKET socket on
// every interface reads the device's TCP segments to that address, with a
// BPF filter for them, before the kernel takes them: its PACKET_AUXDATA
// says when a checksum was left to offload (a kernel peer across a veth
// sends CHECKSUM_PARTIAL segments, whose bytes, on a raw IP socket, would
// carry a checksum no one finished), and then it is completed here. The
// kernel has no socket for the bench's connections and would answer every
// segment of the device with a RST: an rstfilter table, owned by this
// process, drops the RSTs from the bench's address to the device that do
// not carry RouteMark, for the link's life.
type routeLink struct {
	conn     *net.IPConn     // IPPROTO_RAW, writes
	rc       syscall.RawConn // conn's
	rx       *os.File        // AF_PACKET, reads
	rxc      syscall.RawConn // rx's
	oob      []byte
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
		if l.rx != nil {
			l.rx.Close()
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

	// IPPROTO_RAW: IP_HDRINCL, and nothing to receive.
	c, err := net.ListenPacket("ip4:255", cfg.BenchAddr.String())
	if err != nil {
		return fmt.Errorf("external: route: a raw socket on %v: %w (needs CAP_NET_RAW)", cfg.BenchAddr, err)
	}
	l.conn = c.(*net.IPConn)
	if l.rc, err = l.conn.SyscallConn(); err != nil {
		return err
	}
	var serr error
	if err := l.rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, RouteMark); serr != nil {
			serr = fmt.Errorf("SO_MARK: %w (needs CAP_NET_ADMIN)", serr)
		}
	}); err != nil || serr != nil {
		return fmt.Errorf("external: route: %w", errors.Join(err, serr))
	}
	if err := l.openRx(cfg); err != nil {
		return fmt.Errorf("external: route: %w (needs CAP_NET_RAW)", err)
	}
	// In the namespace of the calling thread: cfg.Do's.
	l.filter, err = rstfilter.Install(rstfilter.Rule{Addr: cfg.BenchAddr, Peer: cfg.Addr, SpareMark: RouteMark})
	if err != nil {
		return fmt.Errorf("external: route: the kernel's RSTs to the device cannot be dropped: %w", err)
	}
	if cfg.Log != nil {
		cfg.Log("external: route: %s", l.filter.Describe())
	}
	return nil
}

// openRx opens the AF_PACKET socket that reads the device's segments:
// protocol 0 (nothing queued) until the filter is attached, then bound to
// IPv4 on every interface, with PACKET_AUXDATA.
func (l *routeLink) openRx(cfg ExternalConfig) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("AF_PACKET socket: %w", err)
	}
	dev, bench := cfg.Addr.As4(), cfg.BenchAddr.As4()
	// On SOCK_DGRAM the filter sees the packet from its IP header:
	// protocol TCP, from the device, to the bench.
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 9, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.IPPROTO_TCP, SkipTrue: 5},
		bpf.LoadAbsolute{Off: 12, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: binary.BigEndian.Uint32(dev[:]), SkipTrue: 3},
		bpf.LoadAbsolute{Off: 16, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: binary.BigEndian.Uint32(bench[:]), SkipTrue: 1},
		bpf.RetConstant{Val: 1 << 18},
		bpf.RetConstant{Val: 0},
	})
	if err == nil {
		f := make([]unix.SockFilter, len(prog))
		for i, in := range prog {
			f[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
		}
		err = unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]})
	}
	if err == nil {
		err = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1)
	}
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP)})
	}
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("AF_PACKET socket: %w", err)
	}
	l.rx = os.NewFile(uintptr(fd), "external-route-rx")
	l.oob = make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))
	l.rxc, err = l.rx.SyscallConn()
	return err
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// do runs f in cfg's namespace.
func do(cfg ExternalConfig, f func()) {
	if cfg.Do != nil {
		cfg.Do(f)
		return
	}
	f()
}

// ReadPacket returns the next TCP segment from the device to the bench's
// address, IP header included, its checksum completed if the kernel left
// it to offload.
func (l *routeLink) ReadPacket(ctx context.Context, b []byte) (int, error) {
	deadline, _ := ctx.Deadline()
	if err := l.rx.SetReadDeadline(deadline); err != nil {
		return 0, l.closedErr(err)
	}
	// Cancelling ctx ends the read; the next read must not inherit the
	// deadline that did it, so a started cancellation is waited for.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		l.rx.SetReadDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()
	var n, oobn, flags int
	var rerr error
	err := l.rxc.Read(func(fd uintptr) bool {
		n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), b, l.oob, unix.MSG_TRUNC)
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
	if n > len(b) || flags&unix.MSG_TRUNC != 0 {
		return len(b), wire.ErrTruncated
	}
	if csumNotReady(l.oob[:oobn]) {
		completeTCPChecksum(b[:n])
	}
	return n, nil
}

// csumNotReady reports TP_STATUS_CSUMNOTREADY in a PACKET_AUXDATA
// control message: the sender left the checksum to offload.
func csumNotReady(oob []byte) bool {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA && len(m.Data) >= 4 {
			return binary.NativeEndian.Uint32(m.Data)&unix.TP_STATUS_CSUMNOTREADY != 0
		}
	}
	return false
}

// completeTCPChecksum computes the TCP checksum of p, an IPv4 packet.
func completeTCPChecksum(p []byte) {
	if len(p) < 20 || p[9] != unix.IPPROTO_TCP {
		return
	}
	ihl, total := int(p[0]&0xf)*4, int(p[2])<<8|int(p[3])
	if total > len(p) || total < ihl+20 {
		return
	}
	t := p[ihl:total]
	t[16], t[17] = 0, 0
	c := checksum(t, pseudoHeader(p[12:16], p[16:20], len(t)))
	t[16], t[17] = byte(c>>8), byte(c)
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
		l.closeErr = errors.Join(l.conn.Close(), l.rx.Close(), l.filter.Remove())
	})
	return l.closeErr
}

// kernelRSTsDropped is how many RSTs of the kernel's the filter dropped.
func (l *routeLink) kernelRSTsDropped() (uint64, error) { return l.filter.Dropped() }
