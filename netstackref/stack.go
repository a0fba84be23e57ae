package netstackref

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"tcplab/wire"
)

const (
	nicID = 1

	// QueueLen is the outbound queue of the channel endpoint between gVisor
	// and the pump writing to the link. channel.Endpoint drops (silently,
	// as far as gVisor's stats go) when it is full; 4096 holds more than a
	// maximal 4 MiB send buffer of 1460-byte segments plus their ACKs, so a
	// slow link should not cause drops. Any that do happen are counted in
	// Counters.LinkDrops.
	QueueLen = 4096

	// readBufLen is the inbound read buffer: the largest IPv4 packet.
	readBufLen = 1 << 16
)

// Stack is a gVisor netstack (IPv4 + TCP) attached to a wire.Link.
type Stack struct {
	st   *stack.Stack
	ep   *channel.Endpoint
	link wire.Link
	addr tcpip.Address

	cancel      context.CancelFunc // stops reading: the inbound pump and the outbound pump's wait
	cancelWrite context.CancelFunc // stops a write to the link in progress
	pumps       sync.WaitGroup

	closeOnce sync.Once

	queueDrops       atomic.Uint64 // outbound packets channel.Endpoint refused (queue full)
	writeFailures    atomic.Uint64 // outbound packets the link's WritePacket failed
	inboundNonIPv4   atomic.Uint64
	inboundTruncated atomic.Uint64

	errMu   sync.Mutex
	pumpErr error

	stateMu sync.Mutex
	states  map[tcp.TCPEndpointID]*endpointState // Options.RecordState
}

// countingEndpoint is channel.Endpoint with its silent drops counted:
// channel.Endpoint.WritePackets returns (n < len, nil) when its queue is
// full, so the NIC's TxPacketsDroppedNoBufferSpace never sees them.
type countingEndpoint struct {
	*channel.Endpoint
	drops *atomic.Uint64
}

func (e *countingEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n, err := e.Endpoint.WritePackets(pkts)
	if err == nil && n < pkts.Len() {
		e.drops.Add(uint64(pkts.Len() - n))
	}
	return n, err
}

// New puts a gVisor stack with IPv4 and TCP on l, owning addr, with a
// default route out of its one NIC, so any destination goes to the link.
// The NIC has no checksum offload: gVisor verifies every checksum it
// receives and computes every one it sends. New starts two goroutines: one
// reads packets from l and injects them, one writes what the stack sends
// to l (blocking while l applies backpressure). The caller keeps ownership
// of l; Close does not close it.
func New(l wire.Link, addr netip.Addr, opt Options) (*Stack, error) {
	if !addr.Is4() {
		return nil, fmt.Errorf("netstackref: address %v is not IPv4", addr)
	}
	linkMTU := l.MTU()
	mtu := opt.MTU
	if mtu == 0 {
		mtu = linkMTU
	}
	if mtu < header.IPv4MinimumMTU || mtu > linkMTU || mtu > readBufLen-1 {
		return nil, fmt.Errorf("netstackref: MTU %d invalid (link MTU %d, IPv4 minimum %d)", mtu, linkMTU, header.IPv4MinimumMTU)
	}

	s := &Stack{link: l, addr: tcpip.AddrFrom4(addr.As4())}
	tcpProto := tcp.NewProtocol
	if opt.RecordState {
		tcpProto = tcp.NewProtocolProbe(s.record)
	}
	st := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcpProto},
		Clock:              opt.Clock,
	})
	s.st = st
	fail := func(err error) (*Stack, error) {
		st.Destroy()
		return nil, err
	}
	if err := opt.apply(
		func(o tcpip.SettableTransportProtocolOption) tcpip.Error {
			return st.SetTransportProtocolOption(tcp.ProtocolNumber, o)
		},
		func(o tcpip.GettableTransportProtocolOption) tcpip.Error {
			return st.TransportProtocolOption(tcp.ProtocolNumber, o)
		}); err != nil {
		return fail(err)
	}

	// LinkEPCapabilities stays 0: no RX/TX checksum offload, no link
	// address resolution.
	s.ep = channel.New(QueueLen, uint32(mtu), "")
	if err := st.CreateNIC(nicID, &countingEndpoint{Endpoint: s.ep, drops: &s.queueDrops}); err != nil {
		return fail(fmt.Errorf("netstackref: CreateNIC: %s", err))
	}
	if err := st.AddProtocolAddress(nicID, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: s.addr.WithPrefix(),
	}, stack.AddressProperties{}); err != nil {
		return fail(fmt.Errorf("netstackref: AddProtocolAddress %v: %s", addr, err))
	}
	st.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: nicID}})

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	var wctx context.Context
	wctx, s.cancelWrite = context.WithCancel(context.Background())
	s.pumps.Add(2)
	go s.inbound(ctx)
	go s.outbound(ctx, wctx)
	return s, nil
}

func (s *Stack) setErr(err error) {
	s.errMu.Lock()
	if s.pumpErr == nil {
		s.pumpErr = err
	}
	s.errMu.Unlock()
}

// Err returns the error that stopped the inbound pump (the link failed or
// was closed), or nil while it runs or after a clean Close.
func (s *Stack) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.pumpErr
}

// inbound reads packets from the link and injects the IPv4 ones. Packets
// that are empty, not IPv4 (version nibble) or truncated by the link are
// counted and skipped; anything else, however malformed, is handed to
// gVisor, which judges it (Counters.IPMalformed).
func (s *Stack) inbound(ctx context.Context) {
	defer s.pumps.Done()
	b := make([]byte, readBufLen)
	for {
		n, err := s.link.ReadPacket(ctx, b)
		if err != nil {
			if errors.Is(err, wire.ErrTruncated) {
				s.inboundTruncated.Add(1)
				continue
			}
			if ctx.Err() == nil {
				s.setErr(fmt.Errorf("netstackref: link read: %w", err))
			}
			return
		}
		if n == 0 || b[0]>>4 != header.IPv4Version {
			s.inboundNonIPv4.Add(1)
			continue
		}
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
			Payload: buffer.MakeWithData(b[:n]), // copies
		})
		s.ep.InjectInbound(ipv4.ProtocolNumber, pkt)
		pkt.DecRef()
	}
}

// outbound writes the stack's packets to the link, one at a time, blocking
// in WritePacket while the link applies backpressure.
func (s *Stack) outbound(ctx, wctx context.Context) {
	defer s.pumps.Done()
	b := make([]byte, 0, readBufLen)
	for {
		pkt := s.ep.ReadContext(ctx)
		if pkt == nil {
			return // cancelled or endpoint closed
		}
		b = b[:0]
		for _, v := range pkt.AsSlices() {
			b = append(b, v...)
		}
		pkt.DecRef()
		if err := s.link.WritePacket(wctx, b); err != nil {
			if wctx.Err() != nil {
				return
			}
			s.writeFailures.Add(1)
		}
	}
}

// listenBacklog is gonet.ListenTCP's backlog (Linux's usual somaxconn).
const listenBacklog = 4096

// Listen listens for TCP connections on port of the stack's address. The
// listener is a *Listener: its connections are *Conn.
func (s *Stack) Listen(port uint16) (net.Listener, error) {
	addr := tcpip.FullAddress{NIC: nicID, Addr: s.addr, Port: port}
	fail := func(op string, err tcpip.Error) (net.Listener, error) {
		return nil, fmt.Errorf("netstackref: listen on port %d: %w", port,
			&net.OpError{Op: op, Net: "tcp", Addr: &net.TCPAddr{IP: net.IP(s.addr.AsSlice()), Port: int(port)}, Err: errors.New(err.String())})
	}
	var wq waiter.Queue
	ep, terr := s.st.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return fail("socket", terr)
	}
	if terr := ep.Bind(addr); terr != nil {
		ep.Close()
		return fail("bind", terr)
	}
	if terr := ep.Listen(listenBacklog); terr != nil {
		ep.Close()
		return fail("listen", terr)
	}
	return &Listener{ep: ep, wq: &wq, closed: make(chan struct{})}, nil
}

// Dial opens a TCP connection to remote; the connection is a *Conn. A
// refusal (RST), a connect timeout (SYN retries exhausted) and an
// unreachable network are returned as *net.OpError wrapping syscall.ECONNREFUSED, ETIMEDOUT and
// ENETUNREACH/EHOSTUNREACH, like the Go net package; a cancelled or expired
// ctx is returned wrapping ctx.Err().
func (s *Stack) Dial(ctx context.Context, remote netip.AddrPort) (net.Conn, error) {
	return s.DialFrom(ctx, 0, remote)
}

// DialFrom is Dial from local port port (bound before the SYN); 0 lets
// gVisor pick one.
func (s *Stack) DialFrom(ctx context.Context, port uint16, remote netip.AddrPort) (net.Conn, error) {
	raddr := net.TCPAddrFromAddrPort(remote)
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err}
	}
	if !remote.Addr().Is4() {
		return nil, opErr(fmt.Errorf("netstackref: %v is not IPv4", remote.Addr()))
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr(err)
	}
	var wq waiter.Queue
	ep, terr := s.st.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return nil, opErr(errors.New(terr.String()))
	}
	we, notify := waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&we)
	defer wq.EventUnregister(&we)

	if port != 0 {
		if terr := ep.Bind(tcpip.FullAddress{NIC: nicID, Addr: s.addr, Port: port}); terr != nil {
			ep.Close()
			return nil, opErr(fmt.Errorf("netstackref: binding local port %d: %s", port, terr))
		}
	}
	terr = ep.Connect(tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(remote.Addr().As4()), Port: remote.Port()})
	if _, ok := terr.(*tcpip.ErrConnectStarted); ok {
		select {
		case <-ctx.Done():
			ep.Close()
			return nil, opErr(ctx.Err())
		case <-notify:
		}
		terr = ep.LastError()
	}
	if terr != nil {
		ep.Close()
		return nil, opErr(connectError(terr))
	}
	return newConn(&wq, ep), nil
}

// connectError maps gVisor's connect errors to the errno the Go net package
// would report.
func connectError(err tcpip.Error) error {
	var errno syscall.Errno
	switch err.(type) {
	case *tcpip.ErrConnectionRefused:
		errno = syscall.ECONNREFUSED
	case *tcpip.ErrTimeout:
		errno = syscall.ETIMEDOUT
	case *tcpip.ErrNetworkUnreachable:
		errno = syscall.ENETUNREACH
	case *tcpip.ErrHostUnreachable:
		errno = syscall.EHOSTUNREACH
	case *tcpip.ErrConnectionReset:
		errno = syscall.ECONNRESET
	case *tcpip.ErrConnectionAborted:
		errno = syscall.ECONNABORTED
	default:
		return fmt.Errorf("connect: %s", err)
	}
	return os.NewSyscallError("connect", errno)
}

// Close stops the stack. What gVisor has queued for the link goes out
// first (a last ACK to a peer's FIN included: without it the peer
// retransmits its FIN into a stack that is gone, and a host kernel sharing
// the address answers with a RST), unless the link pushes back for more
// than a second. Then the pumps stop and every endpoint is aborted without
// reaching the link: no RST goes out (gVisor would send one even from
// TIME-WAIT), so close connections first to end them on the wire. All of
// gVisor's goroutines have exited when it returns. It does not close the
// link. It is safe to call more than once.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		deadline := time.Now().Add(time.Second)
		for s.ep.NumQueued() > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		s.cancel() // the outbound pump finishes the write in progress
		done := make(chan struct{})
		go func() { s.pumps.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Until(deadline)):
		}
		s.cancelWrite()
		s.pumps.Wait()
		s.st.Destroy() // Close + Wait: aborts endpoints, stops workers, removes the NIC
	})
	return nil
}

// WaitFINsAcked waits until no connection of the stack has a FIN
// unacknowledged (FIN-WAIT-1, CLOSING, LAST-ACK): a FIN from a closed
// net.Conn is sent by gVisor's own goroutines after Close returns, and
// closing the stack before it is acknowledged would leave the peer
// waiting for it. It polls every few milliseconds (gVisor has no event
// for it) and returns ctx.Err() if ctx ends first.
func (s *Stack) WaitFINsAcked(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		pending := false
		for _, ep := range s.st.RegisteredEndpoints() {
			te, ok := ep.(interface{ State() uint32 })
			if !ok {
				continue
			}
			switch tcp.EndpointState(te.State()) {
			case tcp.StateFinWait1, tcp.StateClosing, tcp.StateLastAck:
				pending = true
			}
		}
		if !pending {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
