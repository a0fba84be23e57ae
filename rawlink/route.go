package rawlink

import (
	"fmt"
	"net/netip"
	"slices"
)

// router picks the next hop of an outgoing packet; see the package
// documentation, "On-link destinations".
type router struct {
	iface   string
	addr    netip.Addr     // Config.Addr
	onLink  []netip.Prefix // masked
	gateway netip.Addr     // invalid: none
	own     []netip.Addr   // the host's addresses on the interface
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// nextHop returns the IPv4 next hop for a packet to dst, to be resolved
// with ARP, or, for a broadcast or multicast destination, no next hop and
// the hardware address to send to.
func (r *router) nextHop(dst netip.Addr) (netip.Addr, hwAddr, error) {
	switch {
	case dst == limitedBroadcast:
		return netip.Addr{}, broadcastHW, nil
	case dst.IsMulticast():
		// RFC 1112 §6.4: 01-00-5E-00-00-00 plus the group's low-order
		// 23 bits.
		a := dst.As4()
		return netip.Addr{}, hwAddr{0x01, 0x00, 0x5e, a[1] & 0x7f, a[2], a[3]}, nil
	case !dst.Is4() || dst.IsUnspecified() || dst.IsLoopback():
		return netip.Addr{}, hwAddr{}, fmt.Errorf("no route to %v: not a destination on a network", dst)
	case dst == r.addr:
		return netip.Addr{}, hwAddr{}, fmt.Errorf("no route to %v: it is the link's own address", dst)
	}
	nh := netip.Addr{}
	for _, p := range r.onLink {
		if !p.Contains(dst) {
			continue
		}
		if p.Bits() < 31 && dst == lastAddr(p) {
			return netip.Addr{}, broadcastHW, nil // directed broadcast
		}
		nh = dst
		break
	}
	if !nh.IsValid() {
		if !r.gateway.IsValid() {
			return netip.Addr{}, hwAddr{}, fmt.Errorf("no route to %v: not on %s's subnets %v, and no gateway configured", dst, r.iface, r.onLink)
		}
		nh = r.gateway
	}
	if slices.Contains(r.own, nh) {
		return netip.Addr{}, hwAddr{}, fmt.Errorf("no route to %v: %v is this host's own address on %s, and frames sent out of %s never reach this host's kernel", dst, nh, r.iface, r.iface)
	}
	return nh, hwAddr{}, nil
}

// lastAddr is the highest address of p: its directed broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
