package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"tcplab/handmade"
	"tcplab/netstackref"
	"tcplab/stacks"
	"tcplab/throughput"
	"tcplab/wire"
)

// Stack names of the CLI.
const (
	stackHandmade = stacks.Handmade
	stackNetstack = stacks.Netstack
	stackLinux    = "linux"
)

// endpoint is one TCP stack the client and server commands drive:
// handmade or netstack on a link, or the Linux kernel's sockets.
type endpoint struct {
	name   string
	addr   netip.Addr                                                                       // the stack's own address; invalid for linux: the kernel picks
	dial   func(ctx context.Context, localPort uint16, to netip.AddrPort) (net.Conn, error) // localPort 0: any
	listen func(port uint16) (net.Listener, error)
	close  func() error
	// retransmissions reports c's retransmitted segments; stackWide is
	// true when the stack only counts for all its connections together.
	retransmissions func(c net.Conn) (n uint64, stackWide bool)
	// state names c's TCP state for error messages; "" when unknown.
	state func(c net.Conn) string
}

// ccFlag is --cc of the commands that run the in-process stacks.
func ccFlag() cli.Flag {
	return &cli.StringFlag{Name: "cc", Value: handmade.NewReno, Usage: "congestion control of the in-process stacks: newreno (netstack's reno) or cubic (handmade's with HyStart++)"}
}

// parseCC checks --cc: one of the families both stacks run.
func parseCC(c *cli.Context) (string, error) {
	cc := c.String("cc")
	if !slices.Contains(throughput.Families, cc) {
		return "", fmt.Errorf("--cc %q: want newreno or cubic", cc)
	}
	return cc, nil
}

// newEndpoint starts stack name at addr on l (nil for linux), with
// congestion control family cc (handmade's name; netstack runs its
// counterpart, throughput.NetstackCC). The kernel keeps its own.
func newEndpoint(name string, l wire.Link, addr netip.Addr, trace *handmade.Trace, cc string) (*endpoint, error) {
	if name == stackLinux {
		return linuxEndpoint(addr), nil
	}
	ns := netstackref.DefaultOptions()
	ns.CongestionControl = throughput.NetstackCC(cc)
	s, err := stacks.Start(name, l, addr, stacks.Options{Handmade: handmade.Config{Trace: trace, CongestionControl: cc}, Netstack: ns})
	if errors.As(err, new(*stacks.UnknownError)) {
		return nil, fmt.Errorf("--stack %q: want %s, %s or %s", name, stackHandmade, stackNetstack, stackLinux)
	}
	if err != nil {
		return nil, err
	}
	return &endpoint{
		name: name, addr: addr, dial: s.DialFrom, listen: s.Listen,
		close: func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return s.Shutdown(ctx)
		},
		retransmissions: s.Retransmissions,
		state:           s.State,
	}, nil
}

// linuxEndpoint is the kernel's TCP through ordinary sockets. A listener
// binds with IP_FREEBIND, so it can wait on an address that appears only
// when the client's TUN device comes up.
func linuxEndpoint(addr netip.Addr) *endpoint {
	return &endpoint{
		name: stackLinux, addr: addr,
		dial: func(ctx context.Context, port uint16, to netip.AddrPort) (net.Conn, error) {
			var d net.Dialer
			if addr.IsValid() || port != 0 {
				d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, port))
			}
			return d.DialContext(ctx, "tcp4", to.String())
		},
		listen: func(p uint16) (net.Listener, error) {
			lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				if err := rc.Control(func(fd uintptr) {
					serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1)
				}); err != nil {
					return err
				}
				return serr
			}}
			host := "0.0.0.0"
			if addr.IsValid() {
				host = addr.String()
			}
			ln, err := lc.Listen(context.Background(), "tcp4", net.JoinHostPort(host, fmt.Sprint(p)))
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("%w: port %d on %s already has a listener (another tcplab server? see: ss -ltnp 'sport = :%d')", err, p, host, p)
			}
			return ln, err
		},
		close: func() error { return nil },
		retransmissions: func(c net.Conn) (uint64, bool) {
			info := linuxTCPInfo(c)
			if info == nil {
				return 0, false
			}
			return uint64(info.Total_retrans), false
		},
		state: func(c net.Conn) string {
			if info := linuxTCPInfo(c); info != nil {
				return linuxStateName(info.State)
			}
			return ""
		},
	}
}

func linuxTCPInfo(c net.Conn) *unix.TCPInfo {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	var info *unix.TCPInfo
	rc.Control(func(fd uintptr) {
		info, _ = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	return info
}

// linuxStateName names the kernel's TCP states (include/net/tcp_states.h)
// the way RFC 9293 does.
func linuxStateName(s uint8) string {
	names := [...]string{1: "ESTABLISHED", "SYN-SENT", "SYN-RECEIVED", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSED", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING"}
	if int(s) < len(names) && names[s] != "" {
		return names[s]
	}
	return fmt.Sprintf("state %d", s)
}
