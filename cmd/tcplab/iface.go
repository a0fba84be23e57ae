package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"syscall"

	"github.com/urfave/cli/v2"

	"tcplab/rawlink"
	"tcplab/rstfilter"
)

// ifaceFlags are the flags of --link iface:NAME.
func ifaceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "gateway", Usage: "iface: next hop for addresses off the interface's subnets"},
		&cli.BoolFlag{Name: "keep-offloads", Usage: "iface: leave GRO/LRO on (by default they are off for the run and restored after)"},
		&cli.BoolFlag{Name: "no-rst-filter", Usage: "iface, sharing the host's address: do not install the nftables rule that drops the kernel's RSTs (to watch them happen)"},
	}
}

// openIface opens a raw Ethernet interface (AF_PACKET) for a userspace
// stack at --addr. When the host owns that address its kernel answers
// every segment for the stack with a RST (it has no socket for it); an
// nftables rule (package rstfilter) then drops the kernel's RSTs from the
// run's port: port for a server, a local port reserved here for a client
// (0 in, the reserved one out). The rule goes with the process, however
// it ends.
func openIface(c *cli.Context, spec linkSpec, port uint16, o outputs) (_ *openedLink, _ netip.Addr, localPort uint16, err error) {
	s := c.String("addr")
	if s == "" {
		return nil, netip.Addr{}, 0, usagef("--link %s needs --addr: the stack's IPv4 address on that network; an unused one (the link answers ARP for it), or the host's own (tcplab then drops the kernel's RSTs for the run's port with nftables)", spec)
	}
	addr, err := parseIPv4("--addr", s)
	if err != nil {
		return nil, netip.Addr{}, 0, usageError{err}
	}
	cfg := rawlink.Config{Interface: spec.Name, Addr: addr, MTU: c.Int("mtu"), KeepOffloads: c.Bool("keep-offloads"),
		Log: func(format string, args ...any) { o.say("rawlink: "+format, args...) }}
	if g := c.String("gateway"); g != "" {
		if cfg.Gateway, err = parseIPv4("--gateway", g); err != nil {
			return nil, netip.Addr{}, 0, usageError{err}
		}
	}
	l, err := rawlink.Open(cfg)
	if err != nil {
		return nil, netip.Addr{}, 0, err
	}
	ol := &openedLink{link: l, closers: []io.Closer{l}}
	defer func() {
		if err != nil {
			ol.Close()
		}
	}()
	ol.desc = fmt.Sprintf("%s (AF_PACKET, %s, stack %s, MTU %d)", spec.Name, l.HardwareAddr(), addr, l.MTU())
	if !l.HostOwnsAddr() {
		ol.desc += ", answering ARP for it"
		return ol, addr, port, nil
	}
	// The host owns addr: keep its kernel off the run's port. A kernel
	// socket bound to it reserves the port (no kernel connection takes it)
	// and, for a client, picks a free one.
	res, err := reservePort(addr, port)
	if err != nil {
		return nil, netip.Addr{}, 0, err
	}
	ol.closers = append(ol.closers, res)
	port = res.port
	if c.Bool("no-rst-filter") {
		o.say("warning: %s is the host's own address and --no-rst-filter is set: the kernel will answer the stack's peer with RSTs on port %d", addr, port)
		ol.desc += ", sharing the host's address, kernel RSTs NOT filtered"
		return ol, addr, port, nil
	}
	f, err := rstfilter.Install(rstfilter.Rule{Addr: addr, Ports: []uint16{port}})
	if err != nil {
		return nil, netip.Addr{}, 0, fmt.Errorf("%s is the host's own address, so its kernel would reset the stack's connections, and the rule that stops it failed: %w (or use an address the host does not own: the link answers ARP for it)", addr, err)
	}
	ol.closers = append(ol.closers, closeFunc(f.Remove))
	o.say("%s is the host's own address: the kernel's RSTs from port %d are dropped for the run:\n  %s", addr, port, f.Describe())
	ol.desc += fmt.Sprintf(", sharing the host's address, kernel RSTs from port %d dropped (nftables table %s)", port, f.Table())
	return ol, addr, port, nil
}

// portReservation is a kernel TCP socket bound to a port, never listening:
// the kernel will not hand the port to one of its own connections.
type portReservation struct {
	fd   int
	port uint16
}

func (r *portReservation) Close() error { return syscall.Close(r.fd) }

// reservePort binds a kernel socket to addr:port (port 0: a free one).
func reservePort(addr netip.Addr, port uint16) (*portReservation, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reserving port %d: %w", port, err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: addr.As4(), Port: int(port)}); err != nil {
		syscall.Close(fd)
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("port %d on %s is in use by a kernel socket (see: ss -tanp 'sport = :%d'): the userspace stack cannot share it with the host", port, addr, port)
		}
		return nil, fmt.Errorf("reserving port %d on %s: %w", port, addr, err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return &portReservation{fd: fd, port: uint16(sa.(*syscall.SockaddrInet4).Port)}, nil
}
