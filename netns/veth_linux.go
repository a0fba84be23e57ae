package netns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Veth joins a and b with a veth pair and names each end name inside its
// namespace (ens224, as on the article's hosts), with the kernel address
// given (an invalid Prefix: none), IPv6 off, and up. The pair is created
// inside a with its peer placed directly in b, under names unique to the
// call, so nothing ever appears in the host's namespace; it goes with the
// namespaces. Veth returns once both ends have carrier, which the kernel
// raises asynchronously after up: it waits for that link event, not a
// guessed delay.
func Veth(a, b *Namespace, name string, addrA, addrB netip.Prefix) error {
	tmpA, tmpB := DevName("va"), DevName("vb")
	fdB, err := b.Fd()
	if err != nil {
		return fmt.Errorf("veth: opening the peer namespace: %w", err)
	}
	a.Do(func() {
		err = netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: tmpA}, PeerName: tmpB, PeerNamespace: netlink.NsFd(fdB)})
	})
	syscall.Close(fdB)
	if err != nil {
		return fmt.Errorf("veth: creating %s/%s: %w", tmpA, tmpB, err)
	}
	type end struct {
		ns   *Namespace
		tmp  string
		addr netip.Prefix
		up   chan netlink.LinkUpdate
		done chan struct{}
	}
	ends := []*end{{ns: a, tmp: tmpA, addr: addrA}, {ns: b, tmp: tmpB, addr: addrB}}
	defer func() {
		for _, e := range ends {
			if e.done != nil {
				close(e.done)
			}
		}
	}()
	for _, e := range ends {
		e.up, e.done = make(chan netlink.LinkUpdate, 64), make(chan struct{})
		e.ns.Do(func() {
			// Subscribed on the namespace's thread, the socket listens
			// to that namespace's links.
			if err = netlink.LinkSubscribeWithOptions(e.up, e.done, netlink.LinkSubscribeOptions{ListExisting: true}); err != nil {
				err = fmt.Errorf("veth: subscribing to link events: %w", err)
				return
			}
			err = configureEnd(e.tmp, name, e.addr)
		})
		if err != nil {
			e.done = nil // the subscription, if any, ends with the namespace
			return err
		}
	}
	timeout := time.After(10 * time.Second)
	for _, e := range ends {
		for running := false; !running; {
			select {
			case u := <-e.up:
				running = u.Attrs().Name == name && u.Attrs().RawFlags&unix.IFF_RUNNING != 0
			case <-timeout:
				return errors.New("veth: no carrier on both ends within 10 s")
			}
		}
	}
	return nil
}

// configureEnd renames dev to name, adds the address, switches IPv6 off
// and brings the device up; on a namespace thread.
func configureEnd(dev, name string, addr netip.Prefix) error {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetName(l, name); err != nil {
		return fmt.Errorf("veth: renaming %s to %s: %w", dev, name, err)
	}
	if l, err = netlink.LinkByName(name); err != nil {
		return err
	}
	if addr.IsValid() {
		a := addr.Addr().As4()
		if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(a[:]), Mask: net.CIDRMask(addr.Bits(), 32)}}); err != nil {
			return fmt.Errorf("veth: adding %v to %s: %w", addr, name, err)
		}
	}
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0)
	return netlink.LinkSetUp(l)
}
