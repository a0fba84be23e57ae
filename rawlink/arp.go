package rawlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// ARP on Ethernet for IPv4, RFC 826 ("An Ethernet Address Resolution
// Protocol"). The packet, after the Ethernet header with EtherType 0x0806:
//
//	ar$hrd 16 bits  hardware address space: 1 (Ethernet)
//	ar$pro 16 bits  protocol address space: 0x0800 (IPv4)
//	ar$hln  8 bits  hardware address length: 6
//	ar$pln  8 bits  protocol address length: 4
//	ar$op  16 bits  ares_op$REQUEST (1) or ares_op$REPLY (2)
//	ar$sha  6 bytes sender hardware address
//	ar$spa  4 bytes sender protocol address
//	ar$tha  6 bytes target hardware address (unknown, zero, in a request)
//	ar$tpa  4 bytes target protocol address
const (
	arpLen       = 28
	arpHrdEther  = 1
	arpOpRequest = 1
	arpOpReply   = 2
	// minFrame is the shortest Ethernet frame without its FCS; ARP
	// frames are padded to it (RFC 826 leaves padding to the link,
	// IEEE 802.3 requires it).
	minFrame = 60
)

// ARP timing and limits.
const (
	// arpRetry is the interval between requests for one address: RFC
	// 1122 §2.3.2.1 requires a host to limit them and recommends at most
	// one per second per destination.
	arpRetry = time.Second
	// arpTries is how many requests one resolution sends before its
	// packets are dropped.
	arpTries = 3
	// arpReachable is how long a learnt entry is used without question;
	// after that, use refreshes it (RFC 1122 §2.3.2.1 requires entries to
	// time out; a unicast poll, as suggested there, checks the entry
	// while traffic keeps flowing).
	arpReachable = time.Minute
	// arpQueueLen bounds the packets held per unresolved next hop (RFC
	// 1122 §2.3.2.2: SHOULD keep at least one, the latest).
	arpQueueLen = 16
)

var (
	errARPShort = errors.New("ARP packet shorter than 28 octets")
	errARPType  = errors.New("ARP packet not for Ethernet and IPv4")
)

type hwAddr [6]byte

var broadcastHW = hwAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func (h hwAddr) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", h[0], h[1], h[2], h[3], h[4], h[5])
}

// unicast reports whether h can name one station: not zero, not
// broadcast, not a multicast group (the I/G bit of the first octet).
func (h hwAddr) unicast() bool { return h != hwAddr{} && h[0]&1 == 0 }

// arpPacket is a decoded ARP packet for Ethernet and IPv4.
type arpPacket struct {
	op       uint16
	sha, tha hwAddr
	spa, tpa [4]byte
}

// parseARP decodes b, which may carry Ethernet padding after the packet.
// It rejects what RFC 826's reception rules would make a host ignore: a
// hardware space other than Ethernet, a protocol other than IPv4, or
// address lengths that do not match them. The opcode is left to the caller.
func parseARP(b []byte) (arpPacket, error) {
	var p arpPacket
	if len(b) < arpLen {
		return p, errARPShort
	}
	if binary.BigEndian.Uint16(b[0:2]) != arpHrdEther || binary.BigEndian.Uint16(b[2:4]) != etherTypeIPv4 ||
		b[4] != 6 || b[5] != 4 {
		return p, errARPType
	}
	p.op = binary.BigEndian.Uint16(b[6:8])
	copy(p.sha[:], b[8:14])
	copy(p.spa[:], b[14:18])
	copy(p.tha[:], b[18:24])
	copy(p.tpa[:], b[24:28])
	return p, nil
}

// appendARP appends the 28-octet packet p to b.
func appendARP(b []byte, p arpPacket) []byte {
	b = binary.BigEndian.AppendUint16(b, arpHrdEther)
	b = binary.BigEndian.AppendUint16(b, etherTypeIPv4)
	b = append(b, 6, 4)
	b = binary.BigEndian.AppendUint16(b, p.op)
	b = append(b, p.sha[:]...)
	b = append(b, p.spa[:]...)
	b = append(b, p.tha[:]...)
	return append(b, p.tpa[:]...)
}

// appendEth appends an Ethernet header.
func appendEth(b []byte, dst, src hwAddr, etherType uint16) []byte {
	b = append(b, dst[:]...)
	b = append(b, src[:]...)
	return binary.BigEndian.AppendUint16(b, etherType)
}

// arpFrame builds a whole Ethernet frame carrying p, padded to minFrame.
func arpFrame(dst, src hwAddr, p arpPacket) []byte {
	b := make([]byte, 0, minFrame)
	b = appendARP(appendEth(b, dst, src, etherTypeARP), p)
	return b[:minFrame] // the padding is zero: make zeroed the capacity
}

// neighbor is one ARP cache entry: an IPv4 next hop, its hardware address
// once known, and the resolution in progress if any.
type neighbor struct {
	mac     hwAddr
	known   bool      // mac is valid
	learnt  time.Time // when mac was last learnt or confirmed
	lastReq time.Time // when the last request for it went out

	resolving bool      // a resolution (or, when known, a refresh) runs
	tries     int       // requests it sent
	nextTry   time.Time // when it sends the next one or gives up
	queue     [][]byte  // whole frames waiting for mac (while !known)
}

// resolveLocked returns the hardware address of next hop nh for a frame
// about to be sent, or, while it is unknown, keeps a copy of the frame and
// starts or continues the resolution; it may send an ARP request itself.
// l.mu is held.
func (l *Link) resolveLocked(nh netip.Addr, frame []byte, now time.Time) (hwAddr, bool) {
	n := l.neigh[nh]
	if n != nil && n.known {
		if now.Sub(n.learnt) >= arpReachable && !n.resolving {
			// Still used after arpReachable: poll the station we know
			// (RFC 1122 §2.3.2.1) while traffic keeps going to it.
			n.resolving, n.tries = true, 0
			l.requestLocked(nh, n, now)
		}
		return n.mac, true
	}
	if n == nil {
		n = &neighbor{}
		l.neigh[nh] = n
	}
	if len(n.queue) == arpQueueLen {
		// Keep the latest packets (RFC 1122 §2.3.2.2).
		copy(n.queue, n.queue[1:])
		n.queue = n.queue[:len(n.queue)-1]
		l.cnt.unresolvedDrops.Add(1)
	}
	n.queue = append(n.queue, bytes.Clone(frame))
	if !n.resolving {
		n.resolving, n.tries = true, 0
		if now.Sub(n.lastReq) >= arpRetry {
			l.requestLocked(nh, n, now)
		} else {
			n.nextTry = n.lastReq.Add(arpRetry) // rate limit across resolutions
			l.kickARP()
		}
	}
	return hwAddr{}, false
}

// requestLocked sends an ARP request for nh: broadcast while its hardware
// address is unknown, unicast to the known one when refreshing. l.mu is
// held.
func (l *Link) requestLocked(nh netip.Addr, n *neighbor, now time.Time) {
	dst := broadcastHW
	if n.known {
		dst = n.mac
	}
	// RFC 826: a request carries our addresses as sender, the address
	// sought as target protocol address, and a target hardware address
	// that does not matter (zero).
	req := arpPacket{op: arpOpRequest, sha: l.mac, spa: l.addr.As4(), tpa: nh.As4()}
	if l.txNow(arpFrame(dst, l.mac, req)) {
		l.cnt.arpRequestsSent.Add(1)
	}
	n.tries++
	n.lastReq = now
	n.nextTry = now.Add(arpRetry)
	l.kickARP()
}

// arpTickLocked sends the requests that are due, gives up resolutions that
// sent arpTries requests, forgets failed entries once the rate limit no
// longer needs them, and returns when it next has work (zero: none). l.mu
// is held.
func (l *Link) arpTickLocked(now time.Time) time.Time {
	var next time.Time
	soonest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for nh, n := range l.neigh {
		switch {
		case n.resolving && !now.Before(n.nextTry):
			// Packets wait one retry interval at most; TCP sends
			// them again.
			l.dropQueueLocked(n)
			if n.tries >= arpTries {
				// Unresolved; or, refreshing, the station we knew
				// stopped answering: forget it either way.
				n.resolving, n.known = false, false
				l.cnt.arpFailures.Add(1)
				soonest(n.lastReq.Add(arpRetry))
				continue
			}
			l.requestLocked(nh, n, now)
			soonest(n.nextTry)
		case n.resolving:
			soonest(n.nextTry)
		case !n.known:
			if now.Sub(n.lastReq) >= arpRetry {
				delete(l.neigh, nh)
			} else {
				soonest(n.lastReq.Add(arpRetry))
			}
		}
	}
	return next
}

func (l *Link) dropQueueLocked(n *neighbor) {
	l.cnt.unresolvedDrops.Add(uint64(len(n.queue)))
	clear(n.queue)
	n.queue = n.queue[:0]
}

// learnLocked records that ip is at mac (RFC 826's translation table) and
// sends what waited for it. It creates an entry only when create is set.
// It reports whether an entry existed. l.mu is held.
func (l *Link) learnLocked(ip netip.Addr, mac hwAddr, create bool, now time.Time) bool {
	n := l.neigh[ip]
	if n == nil {
		if !create {
			return false
		}
		n = &neighbor{}
		l.neigh[ip] = n
	}
	existed := n.known || n.resolving || len(n.queue) > 0
	if !existed && !create {
		return false // a failed entry kept for the rate limit only
	}
	n.mac, n.known, n.learnt = mac, true, now
	n.resolving, n.tries = false, 0
	for i, f := range n.queue {
		copy(f[0:6], mac[:])
		if l.txNow(f) {
			l.cnt.packetsOut.Add(1)
			l.cnt.queuedSent.Add(1)
		}
		n.queue[i] = nil
	}
	n.queue = n.queue[:0]
	return existed
}

// inputARP handles a received ARP packet (b may carry Ethernet padding),
// following RFC 826's "Packet Reception" algorithm.
func (l *Link) inputARP(b []byte, now time.Time) {
	p, err := parseARP(b)
	if err != nil {
		// ?Do I have the hardware type in ar$hrd? ?Do I speak the
		// protocol in ar$pro? No: discard.
		l.cnt.malformed.Add(1)
		return
	}
	if p.op != arpOpRequest && p.op != arpOpReply {
		l.cnt.malformed.Add(1)
		return
	}
	spa, tpa := netip.AddrFrom4(p.spa), netip.AddrFrom4(p.tpa)
	if p.sha == l.mac {
		return // ours, or the host's (same interface): nothing to learn
	}
	if spa == l.addr {
		// Another station claims our address (RFC 5227 §2.4 calls it
		// a conflict): never learn it, say so once.
		if l.cnt.arpConflicts.Add(1) == 1 {
			l.logf("rawlink: %s: station %s claims %v, the address this link uses", l.name, p.sha, l.addr)
		}
		return
	}
	// Only sender addresses that can be a next hop are learnt: not
	// 0.0.0.0 (an RFC 5227 probe), not a group hardware address.
	learnable := p.sha.unicast() && unicastIPv4(spa)
	if tpa == l.addr {
		// Counted before what they cause (a reply sends the queue).
		if p.op == arpOpReply {
			l.cnt.arpRepliesReceived.Add(1)
		} else {
			l.cnt.arpRequestsReceived.Add(1)
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return
	}
	// Merge_flag := false. If the pair <protocol type, sender protocol
	// address> is already in my translation table, update the sender
	// hardware address field of the entry with the new information in
	// the packet and set Merge_flag to true.
	merged := learnable && l.learnLocked(spa, p.sha, false, now)
	// ?Am I the target protocol address?
	if tpa != l.addr {
		return
	}
	// If Merge_flag is false, add the triplet <protocol type, sender
	// protocol address, sender hardware address> to the translation
	// table.
	if learnable && !merged {
		l.learnLocked(spa, p.sha, true, now)
	}
	// ?Is the opcode ares_op$REQUEST? (NOW look at the opcode!!)
	if p.op != arpOpRequest {
		return
	}
	if l.hostOwns || !p.sha.unicast() {
		// The kernel owns the address and answers itself; or the
		// request names no station to answer to.
		return
	}
	// Swap hardware and protocol fields, putting the local hardware and
	// protocol addresses in the sender fields. Set the ar$op field to
	// ares_op$REPLY. Send the packet to the (new) target hardware
	// address on the same hardware on which the request was received.
	reply := arpPacket{op: arpOpReply, sha: l.mac, spa: p.tpa, tha: p.sha, tpa: p.spa}
	if l.txNow(arpFrame(p.sha, l.mac, reply)) {
		l.cnt.arpRepliesSent.Add(1)
	}
}
