package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"tcplab/tun"
	"tcplab/wire"
)

// linkSpec is a parsed --link: mem, tun[:NAME] or iface:NAME.
type linkSpec struct {
	Kind string // "mem", "tun" or "iface"
	Name string // device name; "" for mem and for a tun the kernel names
}

func (s linkSpec) String() string {
	if s.Name == "" {
		return s.Kind
	}
	return s.Kind + ":" + s.Name
}

func parseLink(v string) (linkSpec, error) {
	kind, name, hasName := strings.Cut(v, ":")
	switch {
	case kind == "mem" && !hasName:
		return linkSpec{Kind: "mem"}, nil
	case kind == "tun" && (!hasName || name != ""):
		if len(name) > 15 {
			return linkSpec{}, fmt.Errorf("--link %s: interface names are at most 15 bytes", v)
		}
		return linkSpec{Kind: "tun", Name: name}, nil
	case kind == "iface" && name != "":
		return linkSpec{Kind: "iface", Name: name}, nil
	}
	return linkSpec{}, fmt.Errorf("--link %q: want mem, tun, tun:NAME or iface:NAME (for example iface:ens224)", v)
}

// Address plan of client and server on TUN devices, in RFC 2544's
// benchmarking range 198.18.0.0/15: each side's TUN has a /24 of its own,
// the kernel at .1 and the userspace stack at .2, so the two never meet
// on one subnet and the kernel routes between them.
var (
	serverTUNKernel = netip.MustParsePrefix("198.18.0.1/24")
	clientTUNKernel = netip.MustParsePrefix("198.18.1.1/24")
)

// openedLink is a link a command opened, with what closes it.
type openedLink struct {
	link    wire.Link
	desc    string // for narration: "TUN tcplab0 (kernel 198.18.0.1/24)"
	closers []io.Closer
}

func (o *openedLink) Close() error {
	var errs []error
	for i := len(o.closers) - 1; i >= 0; i-- {
		errs = append(errs, o.closers[i].Close())
	}
	o.closers = nil
	return errors.Join(errs...)
}

// openTUN creates (or attaches to) a TUN device whose kernel side owns
// kernel, for a userspace stack at addr. It refuses a subnet another
// device routes already: two tcplab runs on one subnet would steal each
// other's packets.
func openTUN(spec linkSpec, kernel netip.Prefix, addr netip.Addr, mtu int) (*openedLink, error) {
	if !kernel.Contains(addr) {
		return nil, fmt.Errorf("--addr %s is not on the TUN's subnet %s (--kernel-addr): the kernel would not route it into the device", addr, kernel.Masked())
	}
	if kernel.Addr() == addr {
		return nil, fmt.Errorf("--addr %s is the kernel's own address on the TUN (--kernel-addr %s): the userspace stack needs another one, or the kernel answers its segments with RSTs", addr, kernel)
	}
	if other, ok := subnetInUse(kernel, spec.Name); ok {
		return nil, fmt.Errorf("%s is already on %s (another tcplab run?): pick another subnet with --kernel-addr and --addr, or stop that run", kernel.Masked(), other)
	}
	d, err := tun.Open(tun.Config{Name: spec.Name, KernelAddr: kernel, MTU: mtu})
	if err != nil {
		return nil, err
	}
	return &openedLink{link: d, desc: fmt.Sprintf("TUN %s (kernel %s, stack %s, MTU %d)", d.Name(), kernel, addr, d.MTU()), closers: []io.Closer{d}}, nil
}

// subnetInUse reports the interface, other than skip, that has an address
// overlapping p.
func subnetInUse(p netip.Prefix, skip string) (string, bool) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", false
	}
	for _, ifc := range ifs {
		if ifc.Name == skip {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			q, err := netip.ParsePrefix(ipn.String())
			if err != nil || !q.Addr().Is4() {
				continue
			}
			if q.Overlaps(p) {
				return ifc.Name, true
			}
		}
	}
	return "", false
}

// tapLink wraps l in a pcap tap writing dir/name.pcap, and records the
// file in o.
func (o *openedLink) tap(dir, name string, captures *[]string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--pcap-dir: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, name+".pcap"))
	if err != nil {
		return fmt.Errorf("--pcap-dir: %w", err)
	}
	t, err := wire.NewTap(o.link, f)
	if err != nil {
		f.Close()
		return fmt.Errorf("capture %s: %w", f.Name(), err)
	}
	o.link = t
	o.closers = append(o.closers, f)
	*captures = append(*captures, f.Name())
	return nil
}

// ipForwarding reports whether the kernel forwards IPv4 between devices
// in this network namespace.
func ipForwarding() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}
