package tun

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/songgao/water"
	"github.com/vishvananda/netlink"
)

// Open creates a TUN device (or attaches to the existing one named
// cfg.Name), sets its MTU, gives the kernel side cfg.KernelAddr, disables
// IPv6 on it (best effort, so the kernel sends no router solicitations)
// and sets it up. Everything happens in the network namespace of the
// calling OS thread. On failure Open undoes what it did.
func Open(cfg Config) (_ *Device, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h, err := netlink.NewHandle(syscall.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("tun: opening a netlink socket: %w", err)
	}
	var undo []func() error
	runUndo := func() error {
		var errs []error
		for i := len(undo) - 1; i >= 0; i-- {
			errs = append(errs, undo[i]())
		}
		undo = nil
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			if uerr := runUndo(); uerr != nil {
				err = fmt.Errorf("%w (undoing: %v)", err, uerr)
			}
			h.Close()
		}
	}()

	existed := false
	if cfg.Name != "" {
		if l, lerr := h.LinkByName(cfg.Name); lerr == nil {
			tt, ok := l.(*netlink.Tuntap)
			switch {
			case !ok:
				return nil, fmt.Errorf("tun: %s exists and is a %s device, not a TUN device", cfg.Name, l.Type())
			case tt.Mode == netlink.TUNTAP_MODE_TAP:
				return nil, fmt.Errorf("tun: %s exists and is a TAP device, not a TUN device", cfg.Name)
			}
			existed = true
		}
	}
	reqName := cfg.Name
	if reqName == "" {
		reqName = "tcplab%d" // the kernel replaces %d with the first free number
	}
	ifce, err := water.New(water.Config{
		DeviceType:             water.TUN,
		PlatformSpecificParams: water.PlatformSpecificParams{Name: reqName},
	})
	if err != nil {
		return nil, createError(cfg.Name, existed, err)
	}
	f, ok := ifce.ReadWriteCloser.(*os.File)
	if !ok {
		ifce.Close()
		return nil, fmt.Errorf("tun: water returned a %T, not an *os.File", ifce.ReadWriteCloser)
	}
	d := &Device{name: ifce.Name(), mtu: cfg.MTU, f: f}
	undo = append(undo, f.Close)
	if existed {
		// water cleared the persist flag; without it the device would
		// vanish when we close it.
		if err := setPersist(f, true); err != nil {
			return nil, fmt.Errorf("tun: restoring the persist flag of %s (water cleared it; the device goes when this process closes it): %w", d.name, err)
		}
	}

	link, err := h.LinkByName(d.name)
	if err != nil {
		return nil, fmt.Errorf("tun: netlink: looking up %s: %w", d.name, err)
	}
	if old := link.Attrs().MTU; old != cfg.MTU {
		if err := h.LinkSetMTU(link, cfg.MTU); err != nil {
			return nil, fmt.Errorf("tun: netlink: setting the MTU of %s to %d: %w", d.name, cfg.MTU, err)
		}
		undo = append(undo, func() error { return h.LinkSetMTU(link, old) })
	}
	if cfg.KernelAddr.IsValid() {
		addr := &netlink.Addr{IPNet: prefixToIPNet(cfg.KernelAddr)}
		switch err := h.AddrAdd(link, addr); {
		case errors.Is(err, syscall.EEXIST):
			// Already there: not ours to remove.
		case err != nil:
			return nil, fmt.Errorf("tun: netlink: adding address %v to %s: %w", cfg.KernelAddr, d.name, err)
		default:
			undo = append(undo, func() error { return h.AddrDel(link, addr) })
		}
	}
	if !existed {
		// Best effort: without IPv6 the kernel sends no router
		// solicitations or MLD reports into the device.
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+d.name+"/disable_ipv6", []byte("1"), 0)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("tun: netlink: setting %s up: %w", d.name, err)
		}
		undo = append(undo, func() error { return h.LinkSetDown(link) })
	}

	if testHookConfigured != nil {
		if err := testHookConfigured(); err != nil {
			return nil, err
		}
	}

	if existed {
		rest := undo[1:] // everything but closing the file
		d.undo = func() error {
			defer h.Close()
			var errs []error
			for i := len(rest) - 1; i >= 0; i-- {
				errs = append(errs, rest[i]())
			}
			return errors.Join(errs...)
		}
	} else {
		h.Close()
	}
	return d, nil
}

// testHookConfigured, when set by a test, runs once the device is
// configured; an error makes Open fail there and undo its work.
var testHookConfigured func() error

// createError explains why water could not create or attach the device.
func createError(name string, existed bool, err error) error {
	switch {
	case errors.Is(err, syscall.EPERM):
		return fmt.Errorf("tun: creating a TUN device needs CAP_NET_ADMIN (run as root or grant it: setcap cap_net_admin+ep BINARY): %w", err)
	case errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO):
		return fmt.Errorf("tun: /dev/net/tun is missing (load the tun module with modprobe tun; in a container pass --device /dev/net/tun): %w", err)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("tun: no permission to open /dev/net/tun: run as root, or make it readable and writable for this user (0666 on most systems) and grant CAP_NET_ADMIN (setcap cap_net_admin+ep BINARY): %w", err)
	case existed && errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("tun: %s exists and another process holds it open: pick another name or leave Name empty: %w", name, err)
	case existed && errors.Is(err, syscall.EINVAL):
		return fmt.Errorf("tun: %s exists with incompatible flags (a TAP, multi-queue or with packet information?): %w", name, err)
	}
	return fmt.Errorf("tun: creating TUN device %q: %w", name, err)
}

// setPersist sets the device's persist flag through SyscallConn: Fd would
// switch the file to blocking mode, and Close would no longer unblock Read.
func setPersist(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	v := uintptr(0)
	if on {
		v = 1
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TUNSETPERSIST, v)
	}); err != nil {
		return err
	}
	if errno != 0 {
		return os.NewSyscallError("ioctl TUNSETPERSIST", errno)
	}
	return nil
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	a := p.Addr().As4()
	return &net.IPNet{IP: net.IP(a[:]), Mask: net.CIDRMask(p.Bits(), 32)}
}
