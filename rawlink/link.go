package rawlink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"tcplab/wire"
)

// Config describes the interface Open binds to and the address the
// userspace stack uses on it.
type Config struct {
	// Interface is the name of an Ethernet interface in the calling
	// thread's network namespace, for example "ens224". It must be up.
	Interface string
	// Addr is the IPv4 address the userspace stack uses: one of its own
	// (the link answers ARP for it) or the host's own address on the
	// interface (then see Link.HostOwnsAddr).
	Addr netip.Addr
	// Gateway is the next hop for destinations not on the interface's
	// subnets; it must be on one of them. The zero Addr means none.
	Gateway netip.Addr
	// MTU is the largest IPv4 packet the link sends: 0 means the
	// interface's MTU, which is also the most it may be.
	MTU int
	// KeepOffloads leaves GRO and LRO as they are. By default Open
	// switches them off on the interface for the run and Close switches
	// them back on.
	KeepOffloads bool
	// Log, if set, narrates what Open and the link do to the interface
	// and what they warn about (offloads, the host owning Addr, ARP
	// conflicts). It may be called from any goroutine.
	Log func(format string, args ...any)
}

// minMTU is the smallest MTU IPv4 allows (RFC 791: every internet module
// must forward a datagram of 68 octets without fragmentation).
const minMTU = 68

// Stats counts what the link did. Frames are Ethernet frames; packets are
// the IPv4 packets inside them.
type Stats struct {
	FramesIn   uint64 // frames the socket received (passed the filter), of any kind
	FramesOut  uint64 // frames sent: IPv4 packets and ARP
	PacketsIn  uint64 // IPv4 packets ReadPacket returned whole
	PacketsOut uint64 // IPv4 packets sent, those that waited for ARP included

	ARPRequestsSent     uint64 // requests this link sent to resolve next hops
	ARPRepliesReceived  uint64 // replies addressed to Addr
	ARPRequestsReceived uint64 // requests for Addr
	ARPRequestsAnswered uint64 // replies sent for Addr (not when the host owns it: the kernel answers)
	ARPFailures         uint64 // resolutions given up after 3 unanswered requests
	ARPConflicts        uint64 // ARP packets from another station claiming Addr

	QueuedSent      uint64 // packets that waited for ARP and were then sent
	UnresolvedDrops uint64 // packets dropped while their next hop was unresolved

	Oversize           uint64 // IPv4 packets longer than the MTU delivered (GRO/LRO-merged, or a peer with a larger MTU)
	ChecksumsCompleted uint64 // partial TCP/UDP checksums (TP_STATUS_CSUMNOTREADY) completed in software
	Truncated          uint64 // packets longer than the reader's buffer (wire.ErrTruncated)
	NonIPv4Skipped     uint64 // frames neither IPv4 nor ARP
	NotForUs           uint64 // frames skipped: sent by the host, for another station, VLAN-tagged
	Malformed          uint64 // IPv4 or ARP frames with a broken header, skipped
	TxDrops            uint64 // frames the kernel refused for lack of buffer space (ENOBUFS), or that would have had to wait while answering ARP
	KernelDrops        uint64 // frames the kernel dropped because the socket's receive queue was full (PACKET_STATISTICS)
}

type counters struct {
	framesIn, framesOut, packetsIn, packetsOut                 atomic.Uint64
	arpRequestsSent, arpRepliesReceived, arpRequestsReceived   atomic.Uint64
	arpRepliesSent, arpFailures, arpConflicts                  atomic.Uint64
	queuedSent, unresolvedDrops                                atomic.Uint64
	oversize, checksumsCompleted, truncated, nonIPv4, notForUs atomic.Uint64
	malformed, txDrops, kernelDrops                            atomic.Uint64
}

// errWouldBlock is what tx returns for a frame it did not send because the
// socket's buffer was full and the caller asked it not to wait, or because
// the kernel had no room (ENOBUFS).
var errWouldBlock = errors.New("rawlink: no buffer space: frame dropped")

// Link is a wire.Link on a raw Ethernet interface, carrying IPv4 packets
// without an Ethernet header: safe for one reader and any number of
// concurrent writers.
type Link struct {
	name     string
	mac      hwAddr
	addr     netip.Addr
	mtu      int
	routes   router
	hostOwns bool
	log      func(string, ...any)

	// tx sends one frame. With wait it blocks while the socket's buffer
	// is full, until ctx is done; without, a full buffer drops the frame
	// (errWouldBlock). ENOBUFS drops it either way (errWouldBlock).
	tx func(ctx context.Context, frame []byte, wait bool) error

	sys sysLink // the socket; see the OS-specific files

	readMu sync.Mutex // one reader at a time; guards rbuf
	rbuf   []byte     // for readers whose buffer is too short

	frames sync.Pool // *[]byte, MTU + Ethernet header

	mu    sync.Mutex // guards neigh
	neigh map[netip.Addr]*neighbor
	kick  chan struct{} // wakes arpLoop: a new deadline
	done  chan struct{} // closed by Close
	wg    sync.WaitGroup

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error

	cnt counters
}

var _ wire.Link = (*Link)(nil)

// Name returns the interface name.
func (l *Link) Name() string { return l.name }

// Addr returns the IPv4 address the link carries packets for.
func (l *Link) Addr() netip.Addr { return l.addr }

// HardwareAddr returns the interface's Ethernet address, which the link
// sends from and answers ARP with.
func (l *Link) HardwareAddr() net.HardwareAddr { return net.HardwareAddr(l.mac[:]) }

// MTU returns the largest IPv4 packet the link sends.
func (l *Link) MTU() int { return l.mtu }

// HostOwnsAddr reports whether the kernel had Config.Addr on one of its
// interfaces when Open ran. The kernel then answers ARP for it (the link
// does not), and also sees every TCP segment for it and answers those of
// connections it does not know with a RST: the caller must drop the
// kernel's RSTs (package rstfilter) or the userspace stack's connections
// die.
func (l *Link) HostOwnsAddr() bool { return l.hostOwns }

// Stats returns a snapshot of the link's counters.
func (l *Link) Stats() Stats {
	l.sys.pollKernelDrops(l)
	c := &l.cnt
	return Stats{
		FramesIn: c.framesIn.Load(), FramesOut: c.framesOut.Load(),
		PacketsIn: c.packetsIn.Load(), PacketsOut: c.packetsOut.Load(),
		ARPRequestsSent: c.arpRequestsSent.Load(), ARPRepliesReceived: c.arpRepliesReceived.Load(),
		ARPRequestsReceived: c.arpRequestsReceived.Load(), ARPRequestsAnswered: c.arpRepliesSent.Load(),
		ARPFailures: c.arpFailures.Load(), ARPConflicts: c.arpConflicts.Load(),
		QueuedSent: c.queuedSent.Load(), UnresolvedDrops: c.unresolvedDrops.Load(),
		Oversize: c.oversize.Load(), ChecksumsCompleted: c.checksumsCompleted.Load(),
		Truncated: c.truncated.Load(), NonIPv4Skipped: c.nonIPv4.Load(), NotForUs: c.notForUs.Load(),
		Malformed: c.malformed.Load(), TxDrops: c.txDrops.Load(), KernelDrops: c.kernelDrops.Load(),
	}
}

func (l *Link) logf(format string, args ...any) {
	if l.log != nil {
		l.log(format, args...)
	}
}

func (l *Link) errClosed() error { return fmt.Errorf("rawlink: %s: %w", l.name, net.ErrClosed) }

// newLink sets up what every Link has; Open adds the socket.
func newLink(name string, mac hwAddr, addr netip.Addr, mtu int, r router, hostOwns bool, log func(string, ...any)) *Link {
	l := &Link{
		name: name, mac: mac, addr: addr, mtu: mtu, routes: r, hostOwns: hostOwns, log: log,
		neigh: map[netip.Addr]*neighbor{},
		kick:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	l.frames.New = func() any { b := make([]byte, 0, ethHdrLen+mtu); return &b }
	return l
}

// Close releases the socket, which unblocks a pending ReadPacket and
// WritePacket, drops the packets waiting for ARP and switches back on the
// offloads Open switched off. Close is idempotent: later calls return the
// first call's result.
func (l *Link) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed.Store(true)
		for _, n := range l.neigh {
			l.dropQueueLocked(n)
		}
		l.mu.Unlock()
		close(l.done)
		l.wg.Wait()
		if err := l.sys.close(l); err != nil {
			l.closeErr = fmt.Errorf("rawlink: closing %s: %w", l.name, err)
		}
	})
	return l.closeErr
}

// ReadPacket reads the next IPv4 packet addressed to Addr into b, without
// its Ethernet header. ARP frames that arrive meanwhile are handled, not
// returned. It returns ctx.Err() when ctx is done, an error wrapping
// net.ErrClosed once the link is closed, and wire.ErrTruncated (with
// len(b) octets in b) for a packet longer than b.
func (l *Link) ReadPacket(ctx context.Context, b []byte) (int, error) {
	l.readMu.Lock()
	defer l.readMu.Unlock()
	if l.closed.Load() {
		return 0, l.errClosed()
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// A buffer too short for an ARP packet or an IPv4 header reads into
	// one of ours; longer ones receive the packet directly.
	buf := b
	if len(b) < 64 {
		if l.rbuf == nil {
			l.rbuf = make([]byte, 1<<16)
		}
		buf = l.rbuf
	}
	defer cancelDeadline(ctx, l.sys.setReadDeadline)()
	for {
		hdr, n, m, err := l.sys.recv(l, ctx, buf)
		if err != nil {
			return 0, err
		}
		got, ok, trunc := l.input(hdr, buf, max(n-ethHdrLen, 0), m, time.Now())
		if !ok {
			continue
		}
		if len(b) < 64 {
			c := copy(b, buf[:got])
			if trunc || got > len(b) {
				return c, wire.ErrTruncated
			}
			return c, nil
		}
		if trunc {
			return got, wire.ErrTruncated
		}
		return got, nil
	}
}

// WritePacket sends one IPv4 packet in an Ethernet frame to its next hop.
// It does not wait for ARP: while the next hop's hardware address is
// unknown the packet is queued briefly, or dropped and counted (see the
// package documentation). It blocks while the socket's send buffer is
// full, until ctx is done. It fails for a packet that is not IPv4, is
// longer than the MTU, or has no route.
func (l *Link) WritePacket(ctx context.Context, p []byte) error {
	if l.closed.Load() {
		return l.errClosed()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(p) > l.mtu {
		return fmt.Errorf("rawlink: writing to %s: packet of %d octets exceeds the MTU %d", l.name, len(p), l.mtu)
	}
	if len(p) < 20 || p[0]>>4 != 4 {
		return fmt.Errorf("rawlink: writing to %s: not an IPv4 packet", l.name)
	}
	nh, dst, err := l.routes.nextHop(netip.AddrFrom4([4]byte(p[16:20])))
	if err != nil {
		return fmt.Errorf("rawlink: writing to %s: %w", l.name, err)
	}
	bp := l.frames.Get().(*[]byte)
	defer l.frames.Put(bp)
	frame := append(appendEth((*bp)[:0], dst, l.mac, etherTypeIPv4), p...)
	if nh.IsValid() {
		l.mu.Lock()
		if l.closed.Load() {
			l.mu.Unlock()
			return l.errClosed()
		}
		mac, ok := l.resolveLocked(nh, frame, time.Now())
		l.mu.Unlock()
		if !ok {
			return nil // queued until the ARP reply, or dropped
		}
		copy(frame[0:6], mac[:])
	}
	switch err := l.tx(ctx, frame, true); {
	case errors.Is(err, errWouldBlock):
		l.cnt.txDrops.Add(1)
		return nil // like a full NIC queue: TCP retransmits
	case err != nil:
		if l.closed.Load() {
			return l.errClosed()
		}
		return err
	}
	l.cnt.framesOut.Add(1)
	l.cnt.packetsOut.Add(1)
	return nil
}

// txNow sends a frame without waiting, for ARP and for packets that
// waited for it (l.mu may be held), and counts it.
func (l *Link) txNow(frame []byte) bool {
	if err := l.tx(context.Background(), frame, false); err != nil {
		l.cnt.txDrops.Add(1)
		return false
	}
	l.cnt.framesOut.Add(1)
	return true
}

// kickARP wakes arpLoop to recompute its deadline.
func (l *Link) kickARP() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// arpLoop retries ARP requests and expires resolutions; one goroutine per
// link, asleep unless a resolution is in progress, ended by Close.
func (l *Link) arpLoop() {
	defer l.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-l.kick:
		case <-t.C:
		}
		l.mu.Lock()
		next := time.Time{}
		if !l.closed.Load() {
			next = l.arpTickLocked(time.Now())
		}
		l.mu.Unlock()
		if next.IsZero() {
			t.Stop()
		} else {
			t.Reset(time.Until(next))
		}
	}
}

// cancelDeadline makes set(past) run when ctx is done, to wake a read or
// write waiting in the poller; the returned function stops that and, if it
// ran, clears the deadline again with set(zero).
func cancelDeadline(ctx context.Context, set func(time.Time) error) (stop func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	var (
		mu          sync.Mutex
		done, fired bool
	)
	unregister := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			fired = true
			set(time.Unix(1, 0))
		}
	})
	return func() {
		if unregister() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		done = true
		if fired {
			set(time.Time{})
		}
	}
}
