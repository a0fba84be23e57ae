//go:build !linux

package compare

import (
	"context"
	"errors"
	"runtime"

	"tcplab/wire"
)

// Linux is the backend of the Linux kernel as a device under test; off
// Linux it only says why it cannot start.
func Linux() Backend {
	return Backend{Name: "linux", Version: "Linux (not on " + runtime.GOOS + ")", Link: linuxLink, Timing: LinuxTiming,
		Start: func(context.Context, Setup) (DUT, wire.Link, error) { return nil, nil, LinuxAvailable() }}
}

// LinuxAvailable says why the linux backend cannot run here.
func LinuxAvailable() error {
	return errors.New("the linux stack is the Linux kernel in a network namespace: it needs Linux, as root")
}

// TUNAvailable says why the in-process stacks cannot run over TUN here.
func TUNAvailable() error {
	return errors.New("--link tun: TUN devices in a network namespace need Linux, as root")
}

// overTUN is a backend that only says why it cannot start, off Linux.
func overTUN(name, version string, _ stackStart) Backend {
	return Backend{Name: name, Version: version, Link: "tun", Timing: InProcessTiming, VirtualTime: true,
		Start: func(context.Context, Setup) (DUT, wire.Link, error) { return nil, nil, TUNAvailable() }}
}
