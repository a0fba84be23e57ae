package main

import (
	"net/netip"

	"github.com/urfave/cli/v2"
)

// openIface opens a raw interface (AF_PACKET) for a userspace stack.
func openIface(c *cli.Context, spec linkSpec, peer netip.Addr, o outputs) (*openedLink, netip.Addr, error) {
	return nil, netip.Addr{}, usagef("--link %s: raw interfaces are not built yet", spec)
}
