//go:build linux

package compare

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"

	"tcplab/netns"
	"tcplab/tun"
	"tcplab/wire"
)

// Addresses of the kernel's sides of the two TUN devices of an OverTUN
// run. The bench keeps TBAddr and the DUT DUTAddr, the addresses every
// scenario assumes: each device carries a /32 route to its one peer, so
// the two need no subnets of their own.
var (
	tunBenchSide = netip.MustParseAddr("198.18.0.254")
	tunDUTSide   = netip.MustParseAddr("198.18.0.253")
)

// TUNSysctls are what an OverTUN namespace sets before its devices exist:
// the kernel forwards between the bench's TUN and the DUT's, and does
// nothing else a scenario would see.
var TUNSysctls = []LinuxSysctl{
	{"net.ipv4.ip_forward", "1", "the kernel routes between the bench's TUN and the DUT's, in this namespace only"},
	{"net.ipv4.conf.all.rp_filter", "0", "no reverse-path filter: the bench and the DUT each sit behind their own device"},
	{"net.ipv4.conf.default.rp_filter", "0", "and none on the devices made after"},
	{"net.ipv4.conf.all.send_redirects", "0", "no ICMP redirects into either device"},
	{"net.ipv4.conf.default.send_redirects", "0", "and none from the devices made after"},
	{"net.ipv6.conf.all.disable_ipv6", "1", "IPv6 off: the wire carries IPv4 only"},
	{"net.ipv6.conf.default.disable_ipv6", "1", "IPv6 off on the TUNs from their creation: no router solicitations"},
	{"net.ipv4.conf.all.accept_source_route", "1", "source-routed datagrams forwarded, not dropped (SR-01..03): a loose route whose next hop is not this kernel passes unchanged (ip_options_rcv_srr)"},
	{"net.ipv4.conf.default.accept_source_route", "1", "and on the devices made after: the kernel asks for both"},
}

// TUNAvailable returns nil when this process can reach the in-process
// stacks over TUN devices (HandmadeOverTUN, NetstackOverTUN), and
// otherwise the reason it cannot: the capabilities it lacks or the
// missing /dev/net/tun.
func TUNAvailable() error {
	var missing []string
	if !netns.HasCaps(netns.CapSysAdmin) {
		missing = append(missing, "CAP_SYS_ADMIN (a network namespace per scenario run)")
	}
	if !netns.HasCaps(netns.CapNetAdmin) {
		missing = append(missing, "CAP_NET_ADMIN (its TUN devices, routes and sysctls)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("--link tun: handmade and netstack over TUN need %s: run as root, or use --link mem", strings.Join(missing, " and "))
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("--link tun needs /dev/net/tun (modprobe tun, or --device /dev/net/tun in a container): %w", err)
	}
	return nil
}

func tunSettings() []string {
	out := make([]string, 0, len(TUNSysctls)+2)
	for _, s := range TUNSysctls {
		out = append(out, s.String())
	}
	return append(out,
		fmt.Sprintf("bench %v and the gateways %v via TUN (kernel %v), DUT %v via TUN (kernel %v), /32 routes", TBAddr, srGateways, tunBenchSide, DUTAddr, tunDUTSide),
		"qdisc pfifo on both TUNs")
}

// overTUN makes a Backend that runs an in-process stack on a TUN device,
// reached from the bench through the kernel of a namespace made for the
// run, which forwards between the two devices. What forwarding changes
// on the wire, and why no scenario's answer depends on it:
//
//   - TTL: every segment arrives one hop lower (63 for the bench's 64);
//     no scenario matches a TTL.
//   - The IPv4 header checksum: the kernel verifies it and drops a bad
//     one before routing; no scenario sends one (the checksum scenarios
//     corrupt the TCP checksum, which forwarding does not verify, so the
//     DUT still sees them).
//   - Latency: microseconds per packet, in real time. On a virtual clock
//     the timers are still the stack's, and the bench reads and stamps
//     segments on its own end as before; T.Settle and the clock's
//     settle steps cover the extra hop.
//   - Nothing else: no rp_filter, no redirects, no IPv6, no conntrack (a
//     new namespace has no netfilter rules), a pfifo queue on each device
//     (no pacing), and a TUN without offloads (no GRO or GSO merging).
func overTUN(name, version string, start stackStart) Backend {
	return Backend{
		Name:        name,
		Version:     version,
		Link:        "tun",
		Settings:    tunSettings(),
		Timing:      InProcessTiming,
		VirtualTime: true,
		Start: func(ctx context.Context, s Setup) (DUT, wire.Link, error) {
			return startOverTUN(name, start, s)
		},
	}
}

// startOverTUN builds the run's namespace: ip_forward=1 (in it only) and
// the other TUNSysctls, then two TUN devices opened on its thread, each
// with a /32 route to its peer: the bench's (whose userspace side is the
// bench's link, TBAddr behind it) and the DUT's (whose userspace side
// carries the stack, owning DUTAddr). Neither device is persistent and
// the namespace has no name: both go with the DUT's Close, or with the
// process.
func startOverTUN(name string, start stackStart, s Setup) (DUT, wire.Link, error) {
	if err := TUNAvailable(); err != nil {
		return nil, nil, err
	}
	ns, err := netns.New()
	if err != nil {
		return nil, nil, fmt.Errorf("%s over tun: %w", name, err)
	}
	var benchDev, dutDev *tun.Device
	ns.Do(func() {
		if err = writeSysctls(TUNSysctls); err != nil {
			return
		}
		// The source-route scenarios' gateways are the bench too.
		if benchDev, err = tunWithRoute(tunBenchSide, append([]netip.Addr{TBAddr}, srGateways...)...); err != nil {
			return
		}
		if dutDev, err = tunWithRoute(tunDUTSide, DUTAddr); err != nil {
			benchDev.Close()
		}
	})
	if err != nil {
		ns.Close()
		return nil, nil, fmt.Errorf("%s over tun: %w", name, err)
	}
	d, err := start(dutDev, DUTAddr, s)
	if err != nil {
		dutDev.Close()
		benchDev.Close()
		ns.Close()
		return nil, nil, fmt.Errorf("starting %s over tun: %w", name, err)
	}
	return &tunDUT{DUT: d, ns: ns, devs: []*tun.Device{dutDev, benchDev}}, benchDev, nil
}

// tunWithRoute opens a TUN device whose kernel side is local/32, routes
// each peer/32 into it and gives it a pfifo queue (plainQdisc), in the
// calling thread's namespace.
func tunWithRoute(local netip.Addr, peers ...netip.Addr) (*tun.Device, error) {
	d, err := tun.Open(tun.Config{KernelAddr: netip.PrefixFrom(local, 32)})
	if err != nil {
		return nil, err
	}
	err = func() error {
		// The device's own values: a device made after the "default"
		// sysctls has them already, but the "all" ones decide only
		// together with its own.
		for _, k := range []string{"rp_filter", "send_redirects"} {
			if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+d.Name()+"/"+k, []byte("0"), 0); err != nil {
				return fmt.Errorf("%s on %s: %w", k, d.Name(), err)
			}
		}
		l, err := netlink.LinkByName(d.Name())
		if err != nil {
			return fmt.Errorf("route: %w", err)
		}
		for _, peer := range peers {
			p := peer.As4()
			r := &netlink.Route{LinkIndex: l.Attrs().Index, Scope: netlink.SCOPE_LINK,
				Dst: &net.IPNet{IP: net.IP(p[:]), Mask: net.CIDRMask(32, 32)}}
			if err := netlink.RouteAdd(r); err != nil {
				return fmt.Errorf("route %v/32 dev %s: %w", peer, d.Name(), err)
			}
		}
		return plainQdisc(d.Name())
	}()
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// writeSysctls writes settings in the calling thread's network namespace
// and reads each back.
func writeSysctls(settings []LinuxSysctl) error {
	for _, s := range settings {
		path := "/proc/sys/" + strings.ReplaceAll(s.Key, ".", "/")
		if err := os.WriteFile(path, []byte(s.Value), 0); err != nil {
			return fmt.Errorf("setting %s: %w", s, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading back %s: %w", s.Key, err)
		}
		if got := strings.Fields(string(b)); strings.Join(got, " ") != strings.Join(strings.Fields(s.Value), " ") {
			return fmt.Errorf("setting %s: the kernel kept %q", s, strings.TrimSpace(string(b)))
		}
	}
	return nil
}

// tunDUT is an in-process stack on a TUN device of its namespace: Close
// stops the stack, then closes the devices and ends the namespace's
// thread, so nothing is left.
type tunDUT struct {
	DUT
	ns   *netns.Namespace
	devs []*tun.Device
}

// unwrap is the DUT inside, for the optional interfaces a scenario asks
// for (timerSettings).
func (d *tunDUT) unwrap() DUT { return d.DUT }

func (d *tunDUT) Close() error {
	errs := []error{d.DUT.Close()}
	for _, dev := range d.devs {
		errs = append(errs, dev.Close())
	}
	d.ns.Close()
	return errors.Join(errs...)
}
