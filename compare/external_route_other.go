//go:build !linux

package compare

import (
	"errors"

	"tcplab/wire"
)

// openRoute fails: reaching a device through the kernel's routing needs
// Linux (raw sockets with IP_HDRINCL and SO_MARK, nftables).
func openRoute(ExternalConfig) (wire.Link, error) {
	return nil, errors.New("external: link route needs Linux (raw sockets and nftables); use link iface:NAME")
}
