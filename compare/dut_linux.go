//go:build linux

package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"tcplab/netns"
	"tcplab/tun"
	"tcplab/wire"
)

// Linux is the backend of the Linux kernel as a device under test. Each
// run gets a fresh, unnamed network namespace (netns.New) with the
// settings of LinuxSysctls pinned in it, and a TUN device opened there
// whose kernel side is DUTAddr/24; the device's userspace side is the
// bench's link. The bench owns TBAddr, which no kernel answers for.
// Nothing outlives the run, even a SIGKILL: the TUN is not persistent
// (it goes with its file descriptor) and the namespace goes with its
// thread and its sockets.
//
// Sockets are made on the namespace's thread with golang.org/x/sys/unix,
// non-blocking; every later call works on the file descriptor, which
// belongs to the namespace whichever thread uses it, and waits through
// the Go runtime's poller (so a blocked accept or recv holds no thread,
// and closing the socket wakes it).
//
// Without root (netns.CanBuild) the backend still exists, and its Start
// says what is missing.
func Linux() Backend {
	return Backend{
		Name:     "linux",
		Version:  linuxVersion(),
		Link:     linuxLink,
		Settings: linuxSettings(),
		Timing:   LinuxTiming,
		Start:    startLinux,
	}
}

// LinuxAvailable returns nil when this process can run the linux
// backend, and otherwise the reason it cannot: the capabilities it lacks
// (CAP_SYS_ADMIN for a network namespace per run, CAP_NET_ADMIN for its
// TUN device and sysctls) or the missing /dev/net/tun.
func LinuxAvailable() error {
	var missing []string
	if !netns.HasCaps(netns.CapSysAdmin) {
		missing = append(missing, "CAP_SYS_ADMIN (a network namespace per scenario)")
	}
	if !netns.HasCaps(netns.CapNetAdmin) {
		missing = append(missing, "CAP_NET_ADMIN (its TUN device and sysctls)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("the linux stack needs %s: run as root", strings.Join(missing, " and "))
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("the linux stack needs /dev/net/tun (modprobe tun, or --device /dev/net/tun in a container): %w", err)
	}
	return nil
}

func linuxVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "Linux (uname: " + err.Error() + ")"
	}
	return "Linux " + unix.ByteSliceToString(u.Release[:])
}

func linuxSettings() []string {
	out := make([]string, 0, len(LinuxSysctls)+1)
	for _, s := range LinuxSysctls {
		out = append(out, s.String())
	}
	return append(out, "TCP_CONGESTION="+LinuxCongestionControl+" on every socket", "qdisc pfifo on the TUN")
}

func startLinux(ctx context.Context, s Setup) (DUT, wire.Link, error) {
	if err := LinuxAvailable(); err != nil {
		return nil, nil, err
	}
	ns, err := netns.New()
	if err != nil {
		return nil, nil, fmt.Errorf("linux: %w", err)
	}
	var dev *tun.Device
	ns.Do(func() {
		if err = pinSysctls(); err != nil {
			return
		}
		if err = setupSysctls(s); err != nil {
			return
		}
		dev, err = tun.Open(tun.Config{KernelAddr: netip.PrefixFrom(DUTAddr, 24)})
		if err != nil {
			return
		}
		if err = plainQdisc(dev.Name()); err != nil {
			dev.Close()
		}
	})
	if err != nil {
		ns.Close()
		return nil, nil, fmt.Errorf("linux: %w", err)
	}
	return &linuxDUT{ns: ns, dev: dev, setup: s, files: map[*os.File]bool{}}, dev, nil
}

// pinSysctls writes LinuxSysctls in the calling thread's network
// namespace and reads each back.
func pinSysctls() error { return writeSysctls(LinuxSysctls) }

// setupSysctls applies what the Setup asks of the namespace, over the
// pinned defaults: Setup.MaxRetries as net.ipv4.tcp_retries2, and
// Setup.FinWait2 as net.ipv4.tcp_fin_timeout, in whole seconds (the
// kernel's unit), rounded up.
func setupSysctls(s Setup) error {
	if s.MaxRetries > 0 {
		v := fmt.Sprint(s.MaxRetries)
		if err := os.WriteFile("/proc/sys/net/ipv4/tcp_retries2", []byte(v), 0); err != nil {
			return fmt.Errorf("setting net.ipv4.tcp_retries2=%s for Setup.MaxRetries: %w", v, err)
		}
	}
	if s.FinWait2 <= 0 {
		return nil
	}
	v := fmt.Sprint(seconds(s.FinWait2))
	if err := os.WriteFile("/proc/sys/net/ipv4/tcp_fin_timeout", []byte(v), 0); err != nil {
		return fmt.Errorf("setting net.ipv4.tcp_fin_timeout=%s for Setup.FinWait2: %w", v, err)
	}
	return nil
}

// kernelTCP lists the namespace's TCP sockets, TIME-WAIT ones included,
// as inet_diag reports them (what ss -tano shows): state, timer and the
// time left on it.
func (d *linuxDUT) kernelTCP() ([]KernelSocket, error) {
	var socks []*netlink.Socket
	var err error
	d.ns.Do(func() { socks, err = netlink.SocketDiagTCP(unix.AF_INET) })
	if err != nil {
		return nil, fmt.Errorf("inet_diag: %w", err)
	}
	out := make([]KernelSocket, 0, len(socks))
	for _, k := range socks {
		local, _ := netip.AddrFromSlice(k.ID.Source.To4())
		remote, _ := netip.AddrFromSlice(k.ID.Destination.To4())
		out = append(out, KernelSocket{
			Local:   netip.AddrPortFrom(local, k.ID.SourcePort),
			Remote:  netip.AddrPortFrom(remote, k.ID.DestinationPort),
			State:   k.State,
			Timer:   k.Timer,
			Expires: time.Duration(k.Expires) * time.Millisecond,
		})
	}
	return out, nil
}

// sysctlInt reads an integer sysctl of the DUT's namespace (/proc/sys/net
// shows the reading thread's namespace).
func (d *linuxDUT) sysctlInt(key string) (int, error) {
	var b []byte
	var err error
	d.ns.Do(func() { b, err = os.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/")) })
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", key, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", key, err)
	}
	return n, nil
}

// plainQdisc gives the device a pfifo queue, as packetdrill does on its
// TUN: with fq as the host's default_qdisc, the kernel would pace the
// DUT's segments and shift their timing.
func plainQdisc(dev string) error {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("qdisc: %w", err)
	}
	q := &netlink.GenericQdisc{QdiscType: "pfifo", QdiscAttrs: netlink.QdiscAttrs{
		LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}}
	if err := netlink.QdiscReplace(q); err != nil {
		return fmt.Errorf("qdisc pfifo on %s: %w", dev, err)
	}
	return nil
}

// linuxDUT is the kernel of one namespace; every socket it opened is
// closed with it.
type linuxDUT struct {
	ns    *netns.Namespace
	dev   *tun.Device
	setup Setup

	mu     sync.Mutex
	files  map[*os.File]bool
	closed bool
}

func (d *linuxDUT) Name() string     { return "linux" }
func (d *linuxDUT) Addr() netip.Addr { return DUTAddr }

// Close closes every socket, then the TUN, then ends the namespace's
// thread: the namespace goes with its last socket.
func (d *linuxDUT) Close() error {
	d.mu.Lock()
	d.closed = true
	files := d.files
	d.files = map[*os.File]bool{}
	d.mu.Unlock()
	for f := range files {
		f.Close()
	}
	err := d.dev.Close()
	d.ns.Close()
	return err
}

// track registers f to be closed with the DUT.
func (d *linuxDUT) track(f *os.File) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		f.Close()
		return errors.New("linux: the DUT is closed")
	}
	d.files[f] = true
	return nil
}

func (d *linuxDUT) untrack(f *os.File) {
	d.mu.Lock()
	delete(d.files, f)
	d.mu.Unlock()
}

// socket makes a non-blocking TCP socket on the namespace's thread, with
// LinuxCongestionControl and SO_RCVBUF from the Setup (before listen or connect, so the window
// scale and the SYN's window follow it), and runs then (also on that
// thread) on it. The file it returns is tracked.
func (d *linuxDUT) socket(name string, then func(fd int) error) (*os.File, error) {
	var fd int
	var err error
	d.ns.Do(func() {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
		if err != nil {
			err = os.NewSyscallError("socket", err)
			return
		}
		if err = unix.SetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION, LinuxCongestionControl); err != nil {
			err = os.NewSyscallError("setsockopt TCP_CONGESTION", err)
		} else if n := d.setup.RecvBuffer; n > 0 {
			if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n); err != nil {
				err = os.NewSyscallError("setsockopt SO_RCVBUF", err)
			}
		}
		if err == nil {
			err = then(fd)
		}
		if err != nil {
			unix.Close(fd)
		}
	})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	if err := d.track(f); err != nil {
		return nil, err
	}
	return f, nil
}

func sockaddr(a netip.AddrPort) *unix.SockaddrInet4 {
	return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
}

func (d *linuxDUT) Listen(port uint16) (Listener, error) {
	f, err := d.socket(fmt.Sprintf("listen:%d", port), func(fd int) error {
		if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(DUTAddr, port))); err != nil {
			return os.NewSyscallError("bind", err)
		}
		return os.NewSyscallError("listen", unix.Listen(fd, 128))
	})
	if err != nil {
		return nil, err
	}
	return &linuxListener{d: d, f: f}, nil
}

// Connect is connect(2) on a non-blocking socket: EINPROGRESS at once,
// and the Pending result comes when the socket turns writable (SO_ERROR
// says how the handshake ended). Cancel closes the socket: the
// application closing it in SYN-SENT.
func (d *linuxDUT) Connect(to netip.AddrPort) *Pending[Socket] {
	return d.connect(to, nil)
}

// ConnectVia sets IP_OPTIONS to a loose source route before connect(2):
// a NOP for alignment, then the option with the pointer at 4 and the
// gateways. The kernel takes the first gateway out for the header's
// destination, moves the others up a slot (ip_options_compile) and puts
// the destination in the slot left at the end (ip_options_build); listed
// after the gateways, the destination would be sent twice.
func (d *linuxDUT) ConnectVia(to netip.AddrPort, gateways []netip.Addr) *Pending[Socket] {
	opt := []byte{1, 131, byte(3 + 4*len(gateways)), 4}
	for _, a := range gateways {
		a4 := a.As4()
		opt = append(opt, a4[:]...)
	}
	return d.connect(to, func(fd int) error {
		return os.NewSyscallError("setsockopt IP_OPTIONS", unix.SetsockoptString(fd, unix.IPPROTO_IP, unix.IP_OPTIONS, string(opt)))
	})
}

// connect is Connect, with before (if not nil) run on the socket first.
func (d *linuxDUT) connect(to netip.AddrPort, before func(fd int) error) *Pending[Socket] {
	f, err := d.socket("connect:"+to.String(), func(fd int) error {
		if before != nil {
			if err := before(fd); err != nil {
				return err
			}
		}
		if err := unix.Connect(fd, sockaddr(to)); err != nil && err != unix.EINPROGRESS {
			return os.NewSyscallError("connect", err)
		}
		return nil
	})
	if err != nil {
		return Go(func() (Socket, error) { return nil, err }, nil)
	}
	var mu sync.Mutex
	cancelled := false
	return Go(func() (Socket, error) {
		rc, err := f.SyscallConn()
		if err != nil {
			return nil, err
		}
		var soErr error
		werr := rc.Write(func(fd uintptr) bool {
			v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
			switch {
			case err != nil:
				soErr = os.NewSyscallError("getsockopt SO_ERROR", err)
			case v != 0:
				soErr = os.NewSyscallError("connect", syscall.Errno(v))
			default:
				if _, err := unix.Getpeername(int(fd)); err == unix.ENOTCONN {
					return false // still in SYN-SENT: wait for writability
				}
			}
			return true
		})
		mu.Lock()
		defer mu.Unlock()
		if cancelled {
			return nil, fmt.Errorf("connect: the socket was closed in SYN-SENT: %w", os.ErrClosed)
		}
		if err := errors.Join(werr, soErr); err != nil {
			d.untrack(f)
			f.Close()
			return nil, err
		}
		return &linuxSocket{d: d, f: f, rc: rc}, nil
	}, func() {
		mu.Lock()
		defer mu.Unlock()
		cancelled = true
		d.untrack(f)
		f.Close()
	})
}

type linuxListener struct {
	d *linuxDUT
	f *os.File
}

// Accept is accept4(2), waiting on the poller; Close wakes it.
func (l *linuxListener) Accept() *Pending[Socket] {
	return Go(func() (Socket, error) {
		rc, err := l.f.SyscallConn()
		if err != nil {
			return nil, err
		}
		var nfd int
		var aerr error
		if err := rc.Read(func(fd uintptr) bool {
			nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			return aerr != unix.EAGAIN
		}); err != nil {
			return nil, err
		}
		if aerr != nil {
			return nil, os.NewSyscallError("accept", aerr)
		}
		f := os.NewFile(uintptr(nfd), "accepted")
		if err := l.d.track(f); err != nil {
			return nil, err
		}
		rc, err = f.SyscallConn()
		if err != nil {
			return nil, err
		}
		return &linuxSocket{d: l.d, f: f, rc: rc}, nil
	}, nil)
}

func (l *linuxListener) Close() error {
	l.d.untrack(l.f)
	return l.f.Close()
}

// linuxSocket is a connected kernel socket. Errors wrap the errno
// (*os.SyscallError), so errors.Is finds ECONNRESET, EPIPE and the
// others; a timeout is os.ErrDeadlineExceeded, the end of the peer's
// stream io.EOF.
type linuxSocket struct {
	d  *linuxDUT
	f  *os.File
	rc syscall.RawConn
}

// Send is send(2) with MSG_NOSIGNAL until p is queued or the deadline
// passes.
func (s *linuxSocket) Send(p []byte, timeout time.Duration) (int, error) {
	return s.send(p, timeout, unix.MSG_NOSIGNAL)
}

// SendUrgent is send(2) with MSG_OOB.
func (s *linuxSocket) SendUrgent(p []byte, timeout time.Duration) (int, error) {
	return s.send(p, timeout, unix.MSG_NOSIGNAL|unix.MSG_OOB)
}

func (s *linuxSocket) send(p []byte, timeout time.Duration, flags int) (int, error) {
	s.f.SetWriteDeadline(deadline(timeout))
	sent := 0
	for sent < len(p) {
		var n int
		var serr error
		err := s.rc.Write(func(fd uintptr) bool {
			n, serr = unix.SendmsgN(int(fd), p[sent:], nil, nil, flags)
			return serr != unix.EAGAIN
		})
		if err != nil {
			return sent, err
		}
		if serr != nil {
			return sent, os.NewSyscallError("send", serr)
		}
		sent += n
	}
	return sent, nil
}

// Recv is recv(2) of at most max octets, waiting until the deadline for
// some; 0 octets is the peer's FIN (io.EOF).
func (s *linuxSocket) Recv(max int, timeout time.Duration) ([]byte, error) {
	s.f.SetReadDeadline(deadline(timeout))
	b := make([]byte, max)
	var n int
	var rerr error
	err := s.rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), b, 0)
		return rerr != unix.EAGAIN
	})
	switch {
	case err != nil:
		return nil, err
	case rerr != nil:
		return nil, os.NewSyscallError("recv", rerr)
	case n == 0 && max > 0:
		return nil, io.EOF
	}
	return b[:n], nil
}

// control runs f on the socket's descriptor and names the call in the
// error.
func (s *linuxSocket) control(call string, f func(fd int) error) error {
	var ferr error
	if err := s.rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return os.NewSyscallError(call, ferr)
}

func (s *linuxSocket) ShutdownWrite() error {
	return s.control("shutdown", func(fd int) error { return unix.Shutdown(fd, unix.SHUT_WR) })
}

// Close is close(2). Closing twice (after Abort, say) is not an error.
func (s *linuxSocket) Close() error {
	s.d.untrack(s.f)
	if err := s.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}

// Abort is SO_LINGER {1, 0} and close(2): the kernel sends a RST.
func (s *linuxSocket) Abort() error {
	if err := s.control("setsockopt SO_LINGER", func(fd int) error {
		return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}); err != nil {
		return err
	}
	return s.Close()
}

func (s *linuxSocket) SetNoDelay(on bool) error {
	return s.control("setsockopt TCP_NODELAY", func(fd int) error {
		return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, boolInt(on))
	})
}

// SetKeepAlive sets TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT, then
// SO_KEEPALIVE. The kernel counts the times in whole seconds: a duration
// is rounded up, to 1 s at the least.
func (s *linuxSocket) SetKeepAlive(k KeepAlive) error {
	return s.control("setsockopt", func(fd int) error {
		for _, o := range []struct {
			name string
			opt  int
			v    int
		}{
			{"TCP_KEEPIDLE", unix.TCP_KEEPIDLE, seconds(k.Idle)},
			{"TCP_KEEPINTVL", unix.TCP_KEEPINTVL, seconds(k.Interval)},
			{"TCP_KEEPCNT", unix.TCP_KEEPCNT, k.Count},
		} {
			if o.v <= 0 {
				continue
			}
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, o.opt, o.v); err != nil {
				return fmt.Errorf("%s: %w", o.name, err)
			}
		}
		return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolInt(k.On))
	})
}

// SetTTL is IP_TTL.
func (s *linuxSocket) SetTTL(ttl uint8) error {
	return s.control("setsockopt IP_TTL", func(fd int) error {
		return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, int(ttl))
	})
}

// SetTOS is IP_TOS (Linux keeps the ECN bits its own).
func (s *linuxSocket) SetTOS(tos uint8) error {
	return s.control("setsockopt IP_TOS", func(fd int) error {
		return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, int(tos))
	})
}

// SetUserTimeout is TCP_USER_TIMEOUT, in milliseconds.
func (s *linuxSocket) SetUserTimeout(d time.Duration) error {
	return s.control("setsockopt TCP_USER_TIMEOUT", func(fd int) error {
		return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d.Milliseconds()))
	})
}

func (s *linuxSocket) LocalPort() uint16 {
	var port uint16
	s.control("getsockname", func(fd int) error {
		sa, err := unix.Getsockname(fd)
		if a, ok := sa.(*unix.SockaddrInet4); ok {
			port = uint16(a.Port)
		}
		return err
	})
	return port
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// seconds rounds d up to whole seconds; 0 stays 0 (the default).
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}
