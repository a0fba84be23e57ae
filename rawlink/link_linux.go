package rawlink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// rcvBuf is the receive buffer Open asks for: the default (about 200 KiB)
// overflows within a millisecond at gigabit rates while a reader is
// descheduled.
const rcvBuf = 4 << 20

// sysLink is the AF_PACKET socket behind a Link.
type sysLink struct {
	f  *os.File // non-blocking, registered with the runtime poller
	rc syscall.RawConn

	// Destinations for sendto: the socket is bound to ETH_P_ALL, so each
	// frame names its own protocol.
	saIPv4, saARP unix.RawSockaddrLinklayer

	rx struct { // guarded by Link.readMu
		hdr [ethHdrLen]byte
		sa  unix.RawSockaddrLinklayer
		oob [64]byte
		iov [2]unix.Iovec
		msg unix.Msghdr
	}

	wsem chan struct{} // one blocked writer waits in the poller at a time

	restore []func(fd int) error // switches back on the offloads Open switched off
}

// Open binds a Link to cfg.Interface in the calling thread's network
// namespace; see the package documentation. It needs CAP_NET_RAW, and
// CAP_NET_ADMIN to switch offloads off (without it, it warns and goes on).
func Open(cfg Config) (_ *Link, err error) {
	if cfg.Interface == "" {
		return nil, errors.New("rawlink: Config.Interface is empty: name an Ethernet interface, for example ens224")
	}
	if !cfg.Addr.IsValid() {
		return nil, errors.New("rawlink: Config.Addr is not set: give the IPv4 address the userspace stack uses")
	}
	if !cfg.Addr.Is4() || !unicastIPv4(cfg.Addr) {
		return nil, fmt.Errorf("rawlink: address %v is not a unicast IPv4 address", cfg.Addr)
	}
	if cfg.Gateway.IsValid() && (!cfg.Gateway.Is4() || !unicastIPv4(cfg.Gateway)) {
		return nil, fmt.Errorf("rawlink: gateway %v is not a unicast IPv4 address", cfg.Gateway)
	}
	if cfg.MTU < 0 || cfg.MTU > 0 && cfg.MTU < minMTU {
		return nil, fmt.Errorf("rawlink: MTU %d too small: IPv4 needs at least %d (RFC 791)", cfg.MTU, minMTU)
	}

	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		var names []string
		if all, lerr := net.Interfaces(); lerr == nil {
			for _, i := range all {
				names = append(names, i.Name)
			}
		}
		return nil, fmt.Errorf("rawlink: no interface %q in this network namespace (it has: %s): %w", cfg.Interface, strings.Join(names, ", "), err)
	}
	name := ifi.Name
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("rawlink: %s is not an Ethernet interface (hardware address %q)", name, ifi.HardwareAddr)
	}
	if ifi.Flags&net.FlagUp == 0 {
		return nil, fmt.Errorf("rawlink: %s is down: bring it up first (ip link set %s up)", name, name)
	}
	mtu := ifi.MTU
	switch {
	case mtu < minMTU:
		return nil, fmt.Errorf("rawlink: %s's MTU %d is too small: IPv4 needs at least %d (RFC 791)", name, mtu, minMTU)
	case cfg.MTU > mtu:
		return nil, fmt.Errorf("rawlink: MTU %d exceeds %s's MTU %d", cfg.MTU, name, mtu)
	case cfg.MTU != 0:
		mtu = cfg.MTU
	}

	r := router{iface: name, addr: cfg.Addr, gateway: cfg.Gateway}
	ifAddrs, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("rawlink: listing %s's addresses: %w", name, err)
	}
	for _, a := range ifAddrs {
		p, ok := ipv4Prefix(a)
		if !ok {
			continue
		}
		r.own = append(r.own, p.Addr())
		if m := p.Masked(); !slices.Contains(r.onLink, m) {
			r.onLink = append(r.onLink, m)
		}
	}
	if len(r.onLink) == 0 {
		r.onLink = []netip.Prefix{netip.PrefixFrom(cfg.Addr, 24).Masked()}
	}
	if cfg.Gateway.IsValid() {
		if cfg.Gateway == cfg.Addr || !slices.ContainsFunc(r.onLink, func(p netip.Prefix) bool { return p.Contains(cfg.Gateway) }) {
			return nil, fmt.Errorf("rawlink: gateway %v is not on %s's subnets %v", cfg.Gateway, name, r.onLink)
		}
	}
	hostOwns := false
	if all, err := net.InterfaceAddrs(); err == nil {
		for _, a := range all {
			if p, ok := ipv4Prefix(a); ok && p.Addr() == cfg.Addr {
				hostOwns = true
			}
		}
	}

	l := newLink(name, hwAddr(ifi.HardwareAddr), cfg.Addr, mtu, r, hostOwns, cfg.Log)
	s := &l.sys

	// Socket with protocol 0: it receives nothing until bound.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("rawlink: AF_PACKET needs CAP_NET_RAW: run as root or setcap cap_net_raw,cap_net_admin+ep BINARY: %w", err)
		}
		return nil, fmt.Errorf("rawlink: creating an AF_PACKET socket: %w", err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	// The filter first, then bind: no unfiltered frame is ever queued.
	raw, err := bpf.Assemble(filterProgram(cfg.Addr))
	if err != nil {
		return nil, fmt.Errorf("rawlink: assembling the BPF filter: %w", err)
	}
	prog := make([]unix.SockFilter, len(raw))
	for i, ins := range raw {
		prog[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}); err != nil {
		return nil, fmt.Errorf("rawlink: attaching the BPF filter (SO_ATTACH_FILTER): %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return nil, fmt.Errorf("rawlink: PACKET_AUXDATA: %w", err)
	}
	// Linux 4.20+: leave out the host's own frames. Older kernels deliver
	// them as PACKET_OUTGOING, which input skips.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf) // capped by net.core.rmem_max
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return nil, fmt.Errorf("rawlink: binding to %s: %w", name, err)
	}

	for _, sa := range []struct {
		sa *unix.RawSockaddrLinklayer
		et uint16
	}{{&s.saIPv4, etherTypeIPv4}, {&s.saARP, etherTypeARP}} {
		*sa.sa = unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: htons(sa.et), Ifindex: int32(ifi.Index), Halen: 6}
	}
	if !cfg.KeepOffloads {
		s.restore = switchOffloads(fd, name, l.logf)
	} else if on, err := getOffload(fd, name, unix.ETHTOOL_GGRO); err == nil && on != 0 {
		l.logf("rawlink: %s: GRO is on (KeepOffloads): merged frames beyond the MTU are delivered as they come", name)
	}

	s.f = os.NewFile(uintptr(fd), "rawlink:"+name) // pollable: fd is non-blocking
	if s.rc, err = s.f.SyscallConn(); err != nil {
		s.runRestore(fd, l)
		s.f.Close()
		fd = -1
		return nil, fmt.Errorf("rawlink: %w", err)
	}
	s.wsem = make(chan struct{}, 1)
	l.tx = s.tx(l)

	if hostOwns {
		l.logf("rawlink: %s: the host owns %v: the kernel answers ARP for it, and answers TCP segments it does not expect with RST unless they are dropped", name, cfg.Addr)
	} else if b, err := os.ReadFile("/proc/sys/net/ipv4/conf/" + name + "/forwarding"); err == nil && strings.TrimSpace(string(b)) == "1" {
		l.logf("rawlink: %s: IPv4 forwarding is on: the kernel may forward (and send ICMP redirects for) packets to %v, which it does not own", name, cfg.Addr)
	}
	if !slices.ContainsFunc(r.onLink, func(p netip.Prefix) bool { return p.Contains(cfg.Addr) }) {
		l.logf("rawlink: %s: %v is outside the interface's subnets %v: peers reach it only if they route it here", name, cfg.Addr, r.onLink)
	}
	if ifi.Flags&net.FlagRunning == 0 {
		l.logf("rawlink: %s has no carrier (cable or peer down?): nothing will arrive until it has", name)
	}
	l.wg.Add(1)
	go l.arpLoop()
	return l, nil
}

func ipv4Prefix(a net.Addr) (netip.Prefix, bool) {
	n, ok := a.(*net.IPNet)
	if !ok {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	ones, bits := n.Mask.Size()
	if !ip.Is4() || bits == 128 && ones < 96 {
		return netip.Prefix{}, false
	}
	if bits == 128 {
		ones -= 96
	}
	return netip.PrefixFrom(ip, ones), true
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// recv receives one frame: its Ethernet header into an internal buffer,
// the rest into buf. It returns the header, the frame's full length (more
// than was stored when buf was too short) and what the kernel says about
// it.
func (s *sysLink) recv(l *Link, ctx context.Context, buf []byte) ([]byte, int, rxMeta, error) {
	rx := &s.rx
	var (
		n    int
		serr error
	)
	rerr := s.rc.Read(func(fd uintptr) bool {
		for {
			rx.iov[0].Base = &rx.hdr[0]
			rx.iov[0].SetLen(ethHdrLen)
			niov := 1
			if len(buf) > 0 {
				rx.iov[1].Base = &buf[0]
				rx.iov[1].SetLen(len(buf))
				niov = 2
			}
			rx.msg = unix.Msghdr{
				Name:    (*byte)(unsafe.Pointer(&rx.sa)),
				Namelen: unix.SizeofSockaddrLinklayer,
				Iov:     &rx.iov[0],
				Control: &rx.oob[0],
			}
			rx.msg.SetIovlen(niov)
			rx.msg.SetControllen(len(rx.oob))
			// MSG_TRUNC: return the frame's real length.
			r, _, e := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&rx.msg)), unix.MSG_TRUNC)
			switch e {
			case 0:
				n, serr = int(r), nil
				return true
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // wait in the poller
			}
			n, serr = 0, e
			return true
		}
	})
	rx.iov[1].Base = nil // do not keep the caller's buffer
	switch {
	case rerr != nil && errors.Is(rerr, os.ErrDeadlineExceeded) && ctx.Err() != nil:
		return nil, 0, rxMeta{}, ctx.Err()
	case rerr != nil && (errors.Is(rerr, os.ErrClosed) || l.closed.Load()):
		return nil, 0, rxMeta{}, l.errClosed()
	case rerr != nil:
		return nil, 0, rxMeta{}, fmt.Errorf("rawlink: reading from %s: %w", l.name, rerr)
	case serr != nil:
		return nil, 0, rxMeta{}, fmt.Errorf("rawlink: reading from %s: %w", l.name, os.NewSyscallError("recvmsg", serr))
	}
	m := rxMeta{pkttype: rx.sa.Pkttype, status: auxStatus(rx.oob[:min(int(rx.msg.Controllen), len(rx.oob))])}
	return rx.hdr[:min(n, ethHdrLen)], n, m, nil
}

// auxStatus returns tp_status from the PACKET_AUXDATA control message in
// oob, or 0.
func auxStatus(oob []byte) uint32 {
	const hl = unix.SizeofCmsghdr // len (size_t), level, type
	for len(oob) >= hl {
		var clen int
		if hl == 16 {
			clen = int(binary.NativeEndian.Uint64(oob))
		} else {
			clen = int(binary.NativeEndian.Uint32(oob))
		}
		level := int32(binary.NativeEndian.Uint32(oob[hl-8:]))
		typ := int32(binary.NativeEndian.Uint32(oob[hl-4:]))
		if clen < hl || clen > len(oob) {
			return 0
		}
		if level == unix.SOL_PACKET && typ == unix.PACKET_AUXDATA && clen >= hl+4 {
			return binary.NativeEndian.Uint32(oob[hl:])
		}
		next := unix.CmsgSpace(clen - hl)
		if next > len(oob) {
			return 0
		}
		oob = oob[next:]
	}
	return 0
}

func (s *sysLink) setReadDeadline(t time.Time) error { return s.f.SetReadDeadline(t) }

func sendto(fd uintptr, frame []byte, sa *unix.RawSockaddrLinklayer) error {
	_, _, e := unix.Syscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&frame[0])), uintptr(len(frame)), 0,
		uintptr(unsafe.Pointer(sa)), unix.SizeofSockaddrLinklayer)
	if e != 0 {
		return e
	}
	return nil
}

// tx returns Link.tx for the socket.
func (s *sysLink) tx(l *Link) func(ctx context.Context, frame []byte, wait bool) error {
	return func(ctx context.Context, frame []byte, wait bool) error {
		sa := &s.saIPv4
		if binary.BigEndian.Uint16(frame[12:14]) == etherTypeARP {
			sa = &s.saARP
		}
		var serr error
		werr := s.rc.Write(func(fd uintptr) bool {
			serr = sendto(fd, frame, sa)
			return true
		})
		// Busy: the send buffer is full, or a writer waiting below
		// has just expired the file's write deadline for its own
		// cancelled ctx (ours is not waiting yet).
		busy := serr == unix.EAGAIN || werr != nil && errors.Is(werr, os.ErrDeadlineExceeded)
		if busy && !wait {
			return errWouldBlock
		}
		if busy {
			// Wait in the poller for room, one writer at a time, so
			// that a cancelled ctx can expire the file's write
			// deadline without failing anyone else's write.
			select {
			case s.wsem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			case <-l.done:
				return l.errClosed()
			}
			stop := cancelDeadline(ctx, s.f.SetWriteDeadline)
			werr = s.rc.Write(func(fd uintptr) bool {
				serr = sendto(fd, frame, sa)
				return serr != unix.EAGAIN
			})
			stop()
			<-s.wsem
		}
		switch {
		case werr != nil && errors.Is(werr, os.ErrDeadlineExceeded) && ctx.Err() != nil:
			return ctx.Err()
		case werr != nil && (errors.Is(werr, os.ErrClosed) || l.closed.Load()):
			return l.errClosed()
		case werr != nil:
			return fmt.Errorf("rawlink: writing to %s: %w", l.name, werr)
		case serr == nil:
			return nil
		case serr == unix.EAGAIN || serr == unix.ENOBUFS:
			return errWouldBlock
		}
		return fmt.Errorf("rawlink: writing to %s: %w", l.name, os.NewSyscallError("sendto", serr))
	}
}

// pollKernelDrops adds the socket's drop count (PACKET_STATISTICS, which
// reading resets) to the link's counter.
func (s *sysLink) pollKernelDrops(l *Link) {
	if s.rc == nil {
		return
	}
	s.rc.Control(func(fd uintptr) {
		if st, err := unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			l.cnt.kernelDrops.Add(uint64(st.Drops))
		}
	})
}

func (s *sysLink) close(l *Link) error {
	if s.f == nil {
		return nil
	}
	s.pollKernelDrops(l)
	var rerr error
	if len(s.restore) > 0 {
		if err := s.rc.Control(func(fd uintptr) { rerr = s.runRestore(int(fd), l) }); err != nil {
			rerr = errors.Join(rerr, err)
		}
	}
	return errors.Join(rerr, s.f.Close())
}

func (s *sysLink) runRestore(fd int, l *Link) error {
	var errs []error
	for _, f := range slices.Backward(s.restore) {
		errs = append(errs, f(fd))
	}
	s.restore = nil
	if err := errors.Join(errs...); err != nil {
		l.logf("rawlink: %s: switching offloads back on: %v", l.name, err)
		return fmt.Errorf("switching offloads back on: %w", err)
	}
	return nil
}

// SIOCETHTOOL with the legacy ethtool_value commands.

// ethFlagLRO is ETH_FLAG_LRO in ETHTOOL_GFLAGS/SFLAGS (linux/ethtool.h).
const ethFlagLRO = 1 << 15

type ethtoolValue struct{ cmd, data uint32 }

// ifreqData is struct ifreq with ifr_data set: the name, then a union the
// size of struct ifmap (two unsigned longs and five octets, padded).
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [unsafe.Sizeof(uintptr(0)) + 8]byte
}

func ethtool(fd int, ifname string, v *ethtoolValue) error {
	var ifr ifreqData
	copy(ifr.name[:unix.IFNAMSIZ-1], ifname)
	ifr.data = unsafe.Pointer(v)
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	if e != 0 {
		return e
	}
	return nil
}

// getOffload runs an ETHTOOL_G* command and returns its value.
func getOffload(fd int, ifname string, cmd uint32) (uint32, error) {
	v := ethtoolValue{cmd: cmd}
	err := ethtool(fd, ifname, &v)
	return v.data, err
}

// setOffload runs an ETHTOOL_S* command.
func setOffload(fd int, ifname string, cmd, val uint32) error {
	return ethtool(fd, ifname, &ethtoolValue{cmd: cmd, data: val})
}

// switchOffloads switches GRO and LRO off on ifname and returns what
// switches them back on. It warns through logf about what it cannot do.
func switchOffloads(fd int, ifname string, logf func(string, ...any)) []func(fd int) error {
	var restore []func(int) error
	warn := func(what string, err error) {
		hint := ""
		if errors.Is(err, unix.EPERM) {
			hint = " (needs CAP_NET_ADMIN)"
		}
		logf("rawlink: %s: could not switch %s off%s: %v; frames it merges beyond the MTU are delivered as they come", ifname, what, hint, err)
	}
	switch on, err := getOffload(fd, ifname, unix.ETHTOOL_GGRO); {
	case err != nil:
		warn("GRO", err)
	case on != 0:
		if err := setOffload(fd, ifname, unix.ETHTOOL_SGRO, 0); err != nil {
			warn("GRO", err)
			break
		}
		logf("rawlink: %s: GRO switched off for the run", ifname)
		restore = append(restore, func(fd int) error {
			if err := setOffload(fd, ifname, unix.ETHTOOL_SGRO, 1); err != nil {
				return fmt.Errorf("GRO: %w", err)
			}
			return nil
		})
	}
	// Drivers without LRO fail ETHTOOL_GFLAGS or report it off.
	if flags, err := getOffload(fd, ifname, unix.ETHTOOL_GFLAGS); err == nil && flags&ethFlagLRO != 0 {
		if err := setOffload(fd, ifname, unix.ETHTOOL_SFLAGS, flags&^ethFlagLRO); err != nil {
			warn("LRO", err)
		} else {
			logf("rawlink: %s: LRO switched off for the run", ifname)
			restore = append(restore, func(fd int) error {
				flags, err := getOffload(fd, ifname, unix.ETHTOOL_GFLAGS)
				if err == nil {
					err = setOffload(fd, ifname, unix.ETHTOOL_SFLAGS, flags|ethFlagLRO)
				}
				if err != nil {
					return fmt.Errorf("LRO: %w", err)
				}
				return nil
			})
		}
	}
	return restore
}
