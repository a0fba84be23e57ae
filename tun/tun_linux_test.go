package tun

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"tcplab/netns"
	"tcplab/wire/linktest"

	"github.com/songgao/water"
	"github.com/vishvananda/netlink"
)

// Subnets: each test uses 198.18.<N>.0/24 with its own N (240-249), and
// all of it inside a network namespace the test made.

func TestOpenClose(t *testing.T) {
	ns := newNetns(t)
	name := devName()
	prefix := netip.MustParsePrefix("198.18.240.1/24")
	d := ns.open(t, Config{Name: name, KernelAddr: prefix, MTU: 1400})
	if d.Name() != name || d.MTU() != 1400 {
		t.Fatalf("Name, MTU = %q, %d; want %q, 1400", d.Name(), d.MTU(), name)
	}
	var (
		link    netlink.Link
		addrs   []netlink.Addr
		v6      []byte
		err     error
		errAddr error
	)
	ns.do(func() {
		if link, err = netlink.LinkByName(name); err != nil {
			return
		}
		addrs, errAddr = netlink.AddrList(link, netlink.FAMILY_V4)
		v6, _ = os.ReadFile("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6")
	})
	if err != nil {
		t.Fatalf("LinkByName(%s) after Open: %v", name, err)
	}
	if errAddr != nil {
		t.Fatalf("AddrList: %v", errAddr)
	}
	a := link.Attrs()
	if tt, ok := link.(*netlink.Tuntap); !ok || tt.Mode != netlink.TUNTAP_MODE_TUN || !tt.NonPersist {
		t.Errorf("device is %#v; want a non-persistent TUN", link)
	}
	if a.MTU != 1400 || a.Flags&net.FlagUp == 0 {
		t.Errorf("device: MTU %d, flags %v; want 1400, up", a.MTU, a.Flags)
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != prefix.String() {
		t.Errorf("addresses %v; want [%v]", addrs, prefix)
	}
	if strings.TrimSpace(string(v6)) != "1" {
		t.Errorf("disable_ipv6 = %q; want 1", v6)
	}

	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ns.do(func() { _, err = netlink.LinkByName(name) })
	var nf netlink.LinkNotFoundError
	if !errors.As(err, &nf) {
		t.Errorf("LinkByName(%s) after Close: %v; want LinkNotFoundError", name, err)
	}
	if _, err := d.ReadPacket(context.Background(), make([]byte, 1500)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadPacket after Close: %v; want net.ErrClosed", err)
	}
	if err := d.WritePacket(context.Background(), make([]byte, 20)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WritePacket after Close: %v; want net.ErrClosed", err)
	}
}

func TestOpenKernelName(t *testing.T) {
	ns := newNetns(t)
	d := ns.open(t, Config{KernelAddr: netip.MustParsePrefix("198.18.241.1/24")})
	if !strings.HasPrefix(d.Name(), "tcplab") || d.MTU() != DefaultMTU {
		t.Errorf("Name, MTU = %q, %d; want tcplabN, %d", d.Name(), d.MTU(), DefaultMTU)
	}
}

func TestOpenErrors(t *testing.T) {
	ns := newNetns(t)
	var err error
	ns.do(func() { _, err = Open(Config{Name: "lo"}) })
	if err == nil || !strings.Contains(err.Error(), "not a TUN") {
		t.Errorf("Open(lo): %v; want a not-a-TUN error", err)
	}
	_, err = Open(Config{MTU: 20})
	if err == nil {
		t.Error("Open(MTU 20) succeeded")
	}
	_, err = Open(Config{KernelAddr: netip.MustParsePrefix("fd00::1/64")})
	if err == nil {
		t.Error("Open(IPv6 address) succeeded")
	}
	if _, err = Open(Config{Name: strings.Repeat("x", 16)}); err == nil {
		t.Error("Open(16-byte name) succeeded")
	}
}

// TestAttachExisting attaches to a persistent TUN device that Open did not
// create: Close must leave it in place, without what Open added.
func TestAttachExisting(t *testing.T) {
	ns := newNetns(t)
	name := devName()
	var err error
	ns.do(func() {
		var ifce *water.Interface
		ifce, err = water.New(water.Config{DeviceType: water.TUN,
			PlatformSpecificParams: water.PlatformSpecificParams{Name: name, Persist: true}})
		if err == nil {
			err = ifce.Close()
		}
	})
	if err != nil {
		t.Fatalf("creating persistent %s: %v", name, err)
	}
	t.Cleanup(func() {
		ns.do(func() {
			if l, err := netlink.LinkByName(name); err == nil {
				netlink.LinkDel(l)
			}
		})
	})

	d := ns.open(t, Config{Name: name, KernelAddr: netip.MustParsePrefix("198.18.242.1/24")})
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var (
		link  netlink.Link
		addrs []netlink.Addr
	)
	ns.do(func() {
		if link, err = netlink.LinkByName(name); err == nil {
			addrs, err = netlink.AddrList(link, netlink.FAMILY_V4)
		}
	})
	if err != nil {
		t.Fatalf("%s after Close: %v (the device we did not create is gone)", name, err)
	}
	if tt, ok := link.(*netlink.Tuntap); !ok || tt.NonPersist {
		t.Errorf("%s after Close is %#v; want a persistent TUN", name, link)
	}
	if len(addrs) != 0 || link.Attrs().Flags&net.FlagUp != 0 {
		t.Errorf("%s after Close: addresses %v, flags %v; want none, down", name, addrs, link.Attrs().Flags)
	}
}

func TestReadPacketUnblocks(t *testing.T) {
	ns := newNetns(t)
	d := ns.open(t, Config{Name: devName(), KernelAddr: netip.MustParsePrefix("198.18.243.1/24")})

	inject := func() error { // a UDP packet of 33 octets into the device
		var err error
		ns.do(func() {
			var c net.Conn
			if c, err = net.Dial("udp", "198.18.243.2:9"); err == nil {
				_, err = c.Write([]byte("hello"))
				c.Close()
			}
		})
		return err
	}
	linktest.ReadEnds(t, d, inject, append([]byte{0x45}, make([]byte, 27)...))
	if d.Skipped() != 0 {
		t.Errorf("Skipped() = %d with IPv6 disabled; want 0", d.Skipped())
	}
}

// TestOpenUnprivileged checks the advice Open gives without CAP_NET_ADMIN.
// It runs only without that capability (for example: go test -c, then
// setpriv --reuid=65534 --regid=65534 --clear-groups ./tun.test).
func TestOpenUnprivileged(t *testing.T) {
	if netns.HasCaps(netns.CapNetAdmin) {
		t.Skip("needs a process without CAP_NET_ADMIN (a non-root user, or setpriv --bounding-set=-net_admin)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("needs /dev/net/tun: %v", err)
	}
	d, err := Open(Config{Name: devName()})
	if err == nil {
		d.Close()
		t.Skip("Open succeeded: this process has CAP_NET_ADMIN")
	}
	if !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
		t.Errorf("Open without privilege: %v; want advice naming CAP_NET_ADMIN", err)
	}
	t.Log(err)
}

// TestOpenUndo makes Open fail once the device is configured and checks
// that it undid everything: a device it created is gone; an existing
// persistent device stays, without the address Open added, and down.
func TestOpenUndo(t *testing.T) {
	ns := newNetns(t)
	injected := errors.New("injected failure")
	testHookConfigured = func() error { return injected }
	t.Cleanup(func() { testHookConfigured = nil })

	created := devName()
	var err error
	ns.do(func() { _, err = Open(Config{Name: created, KernelAddr: netip.MustParsePrefix("198.18.248.1/24")}) })
	if !errors.Is(err, injected) {
		t.Fatalf("Open: %v; want the injected failure", err)
	}
	ns.do(func() { _, err = netlink.LinkByName(created) })
	if err == nil {
		t.Errorf("%s still exists after a failed Open", created)
	}

	existing := devName()
	ns.do(func() {
		var ifce *water.Interface
		ifce, err = water.New(water.Config{DeviceType: water.TUN,
			PlatformSpecificParams: water.PlatformSpecificParams{Name: existing, Persist: true}})
		if err == nil {
			err = ifce.Close()
		}
	})
	if err != nil {
		t.Fatalf("creating persistent %s: %v", existing, err)
	}
	t.Cleanup(func() {
		ns.do(func() {
			if l, err := netlink.LinkByName(existing); err == nil {
				netlink.LinkDel(l)
			}
		})
	})
	ns.do(func() {
		_, err = Open(Config{Name: existing, KernelAddr: netip.MustParsePrefix("198.18.249.1/24"), MTU: 1300})
	})
	if !errors.Is(err, injected) {
		t.Fatalf("Open: %v; want the injected failure", err)
	}
	var (
		link  netlink.Link
		addrs []netlink.Addr
	)
	ns.do(func() {
		if link, err = netlink.LinkByName(existing); err == nil {
			addrs, err = netlink.AddrList(link, netlink.FAMILY_V4)
		}
	})
	if err != nil {
		t.Fatalf("%s after a failed Open: %v", existing, err)
	}
	if tt, ok := link.(*netlink.Tuntap); !ok || tt.NonPersist {
		t.Errorf("%s is %#v; want a persistent TUN", existing, link)
	}
	if a := link.Attrs(); len(addrs) != 0 || a.Flags&net.FlagUp != 0 || a.MTU != DefaultMTU {
		t.Errorf("%s: addresses %v, flags %v, MTU %d; want none, down, %d", existing, addrs, a.Flags, a.MTU, DefaultMTU)
	}
}
