package rstfilter

import (
	"errors"
	"net/netip"
)

// Rule says whose RSTs to drop: those the kernel sends from Addr and one
// of Ports, the address and local ports the userspace stack uses.
type Rule struct {
	Addr  netip.Addr // the host address the userspace stack shares (IPv4)
	Ports []uint16   // the stack's local TCP ports; at least one, unless Peer is set
	// Peer, if set, narrows the rule to RSTs sent to this one address (a
	// device a userspace bench reaches through the kernel's routing);
	// Ports may then be empty, for every port: the bench picks its ports
	// as it goes.
	Peer netip.Addr
	// SpareMark, if not zero, spares the RSTs whose packet mark is
	// SpareMark: those the userspace stack sends itself through the kernel
	// (a raw socket with SO_MARK SpareMark). The kernel's own RSTs for
	// segments no socket of its takes carry mark 0 (unless
	// net.ipv4.fwmark_reflect reflects a mark the segment came with).
	SpareMark uint32
}

// Option changes how Install works.
type Option func(*config)

type config struct {
	netnsFd int  // 0: the namespace of the calling thread
	noOwner bool // tests: create the table without the owner flag
}

// WithNetNSFd installs the table in the network namespace fd refers to
// (an open /proc/PID/ns/net or /run/netns/NAME) instead of the caller's:
// how tests keep off the host's ruleset. The fd is used only while Install
// (or Sweep) runs; the caller keeps and closes it.
func WithNetNSFd(fd int) Option { return func(c *config) { c.netnsFd = fd } }

// Errors Install wraps, for errors.Is.
var (
	ErrNoCapNetAdmin = errors.New("installing an nftables rule needs CAP_NET_ADMIN: run as root")
	ErrNoNFTables    = errors.New("nf_tables is not available in this kernel (CONFIG_NF_TABLES, or modprobe nf_tables)")
	ErrNotIPv4       = errors.New("the address must be IPv4")
	ErrNoPorts       = errors.New("at least one port is needed (or a peer address)")
)
