// Package rawlink is a wire.Link on a raw Ethernet interface (for example
// ens224), the way the article's Scapy script put its hand-built TCP on the
// wire between two hosts.
//
// Open binds an AF_PACKET socket to the interface. The socket is created
// with protocol 0, a classic BPF filter is attached, and only then is it
// bound to ETH_P_ALL on the interface, so no unfiltered frame is ever
// queued. The filter keeps ARP frames and IPv4 frames addressed to
// Config.Addr; everything else stays in the kernel. Frames the host sends
// (PACKET_OUTGOING) and frames for other stations are skipped.
//
// The Link carries bare IPv4 packets. On the way out it adds the Ethernet
// header: the next hop is the destination itself when it is on-link, else
// Config.Gateway, and its hardware address comes from a small ARP cache
// (RFC 826) that the link fills itself. On the way in it strips the header,
// trims Ethernet padding, completes checksums the kernel left partial and
// answers ARP requests for Config.Addr when the host does not own it.
//
// # Which address to use
//
// Give the userspace stack an address of its own on the interface's subnet
// (one the kernel does not own): the link then answers ARP for it, and the
// host's kernel, which also sees every frame, drops the packets silently
// because they are not addressed to it. If the stack uses the host's own
// address instead, the kernel answers ARP itself but also answers every TCP
// segment it did not expect with a RST: HostOwnsAddr reports that case, and
// the caller must drop those RSTs (package rstfilter does it with
// nftables).
//
// # On-link destinations
//
// A destination is on-link when it lies in one of the IPv4 prefixes
// configured on the interface. An interface without IPv4 addresses (the
// kernel kept out of the experiment) gets the /24 around Config.Addr as its
// only on-link prefix. Everything else goes to Config.Gateway, which must
// itself be on-link; without a gateway WritePacket returns an error that
// says so. 255.255.255.255 and the directed broadcast of an on-link prefix
// go to ff:ff:ff:ff:ff:ff, multicast groups to their RFC 1112 hardware
// address; packets to Config.Addr, to loopback or to the host's own
// addresses on the interface are refused with an error (a frame sent out of
// the interface never comes back to this host's kernel).
//
// # ARP
//
// Requests are retried once a second (RFC 1122 §2.3.2.1 caps the rate at
// one per second per destination), three times at most. While the next hop
// is unresolved, WritePacket does not block: it queues up to 16 packets,
// which are sent the moment the reply arrives; packets still queued when
// the next request goes out, packets beyond the queue and packets whose
// resolution failed are dropped and counted (TCP retransmits them). Entries
// learnt are trusted for a minute and then refreshed with a unicast request
// while still in use. ARP frames are processed while ReadPacket runs: the
// stacks on a link always have a reader.
//
// # Offloads
//
// GRO and LRO hand AF_PACKET merged frames larger than the MTU, with
// partial checksums. Unless Config.KeepOffloads is set, Open switches both
// off on the interface (SIOCETHTOOL) and Close switches back on what it
// switched off. If that fails the link warns through Config.Log and copes:
// a frame larger than the MTU is delivered when it holds a valid IPv4
// packet (Stats.Oversize), and a checksum the kernel marks as not yet
// computed (TP_STATUS_CSUMNOTREADY, also what a veth peer with TX checksum
// offload sends) is completed in software (Stats.ChecksumsCompleted).
//
// # Namespaces
//
// Open works in the network namespace of the calling OS thread: the
// interface is looked up there and the socket stays there for its life.
// Frames tagged for a VLAN sub-interface are skipped.
package rawlink
