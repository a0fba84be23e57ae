package netstackref

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

const (
	testMTU   = 1500
	testQueue = 256
)

var (
	addrA = netip.MustParseAddr("198.18.0.1")
	addrB = netip.MustParseAddr("198.18.0.2")
)

// newStackPair puts stack A on one end of a fake link and stack B on the
// other. Cleanup closes stacks, then links.
func newStackPair(t testing.TB) (a, b *Stack) {
	t.Helper()
	la, lb := newFakePair(testMTU, testQueue)
	a, err := New(la, addrA, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, err = New(lb, addrB, DefaultOptions())
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		b.Close()
		la.Close()
	})
	return a, b
}

// newRawPair puts one stack (addrA) on a fake link and returns the other
// end for the test to speak raw packets on.
func newRawPair(t testing.TB) (*Stack, *fakeLink) {
	t.Helper()
	la, raw := newFakePair(testMTU, testQueue)
	s, err := New(la, addrA, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		la.Close()
	})
	return s, raw
}

type result struct {
	n   int64
	sum [32]byte
	err error
}

// upload runs one Listen+ReceiveAll / Dial+SendAll exchange from a to b.
func upload(ctx context.Context, a, b *Stack, ln net.Listener, payload []byte) (result, error) {
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		n, sum, err := ReceiveAll(c)
		got <- result{n, sum, err}
	}()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	conn, err := a.Dial(ctx, netip.AddrPortFrom(addrB, port))
	if err != nil {
		ln.Close() // unblocks Accept
		<-got
		return result{}, err
	}
	sendErr := SendAll(conn, payload)
	r := <-got
	if sendErr != nil {
		return r, sendErr
	}
	return r, r.err
}

func TestUpload1MiB(t *testing.T) {
	a, b := newStackPair(t)
	ln, err := b.Listen(5001)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	payload := make([]byte, 1<<20)
	rand.Read(payload)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := upload(ctx, a, b, ln, payload)
	if err != nil {
		t.Fatal(err)
	}
	if r.n != int64(len(payload)) || r.sum != sha256.Sum256(payload) {
		t.Fatalf("received %d bytes sha256 %x, sent %d bytes sha256 %x", r.n, r.sum, len(payload), sha256.Sum256(payload))
	}
	ca, cb := a.Counters(), b.Counters()
	t.Logf("gvisor %s", Version())
	t.Logf("A: %s", ca)
	t.Logf("B: %s", cb)
	for name, c := range map[string]Counters{"A": ca, "B": cb} {
		if c.SegmentsSent == 0 || c.SegmentsReceived == 0 {
			t.Errorf("%s: no segments counted: %s", name, c)
		}
		if c.ChecksumErrors != 0 || c.InvalidSegments != 0 || c.LinkDrops != 0 || c.ResetsSent != 0 {
			t.Errorf("%s: errors on a clean link: %s", name, c)
		}
	}
	if ca.SegmentsSent < uint64(len(payload)/1460) {
		t.Errorf("A sent %d segments for %d bytes", ca.SegmentsSent, len(payload))
	}
	if a.Err() != nil || b.Err() != nil {
		t.Errorf("pump errors: %v, %v", a.Err(), b.Err())
	}
}

func TestDialRefused(t *testing.T) {
	a, b := newStackPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := a.Dial(ctx, netip.AddrPortFrom(addrB, 9))
	if err == nil {
		c.Close()
		t.Fatal("dial to a closed port succeeded")
	}
	if !strings.Contains(err.Error(), "refused") || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial error %q (%T): want connection refused", err, err)
	}
	// gVisor counts a RST after it has gone out, so A can see it first:
	// close B, which waits for its goroutines, before reading its count.
	b.Close()
	if got := b.Counters().ResetsSent; got != 1 {
		t.Errorf("B ResetsSent = %d, want 1", got)
	}
	if got := a.Counters().ResetsReceived; got != 1 {
		t.Errorf("A ResetsReceived = %d, want 1", got)
	}
}

func TestDialCancelled(t *testing.T) {
	// Nobody on the other end: the SYN goes unanswered until ctx expires.
	s, _ := newRawPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Dial(ctx, netip.AddrPortFrom(addrB, 80))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with cancelled ctx: %v, want context.Canceled", err)
	}
}

// tcpPacket builds an IPv4+TCP packet with gopacket (fresh structs every
// time); corrupt flips bits of the TCP checksum after computing it.
func tcpPacket(t testing.TB, src, dst netip.Addr, sport, dport uint16, seq uint32, syn bool, corrupt bool) []byte {
	t.Helper()
	ip := &layers.IPv4{
		Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice(),
	}
	tc := &layers.TCP{
		SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport),
		Seq: seq, SYN: syn, Window: 65535,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}},
	}
	if err := tc.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tc); err != nil {
		t.Fatal(err)
	}
	b := append([]byte(nil), buf.Bytes()...)
	if !checksumsValid(b) {
		t.Fatalf("gopacket built a packet with bad checksums: %x", b)
	}
	if corrupt {
		ihl := int(b[0]&0x0f) * 4
		// XOR with 0x5555 cannot turn a checksum into its ones'-complement
		// twin (0x0000 <-> 0xffff), so the result is always invalid.
		b[ihl+16] ^= 0x55
		b[ihl+17] ^= 0x55
		if checksumsValid(b) {
			t.Fatal("corrupted packet still valid")
		}
	}
	return b
}

// onesSum is the RFC 1071 sum, written here independently of gVisor.
func onesSum(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// checksumsValid checks the IPv4 header checksum and the TCP checksum of
// an IPv4+TCP packet.
func checksumsValid(b []byte) bool {
	if len(b) < 20 {
		return false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || total < ihl+20 || total > len(b) || b[9] != 6 {
		return false
	}
	if fold(onesSum(0, b[:ihl])) != 0xffff {
		return false
	}
	seg := b[ihl:total]
	var pseudo [12]byte
	copy(pseudo[0:8], b[12:20])
	pseudo[9] = 6
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(seg)))
	return fold(onesSum(onesSum(0, pseudo[:]), seg)) == 0xffff
}

type seenTCP struct {
	src, dst         netip.Addr
	sport, dport     uint16
	syn, ack, rst    bool
	checksumsCorrect bool
}

func parseTCP(b []byte) (seenTCP, bool) {
	p := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.DecodeOptions{NoCopy: true, Lazy: true})
	ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	tc, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if ip == nil || tc == nil {
		return seenTCP{}, false
	}
	src, _ := netip.AddrFromSlice(ip.SrcIP)
	dst, _ := netip.AddrFromSlice(ip.DstIP)
	return seenTCP{src.Unmap(), dst.Unmap(), uint16(tc.SrcPort), uint16(tc.DstPort), tc.SYN, tc.ACK, tc.RST, checksumsValid(b)}, true
}

// waitSynAck reads raw until the SYN-ACK to dport arrives, returning every
// TCP packet seen up to and including it.
func waitSynAck(t *testing.T, raw *fakeLink, dport uint16) []seenTCP {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var seen []seenTCP
	b := make([]byte, 1<<16)
	for {
		n, err := raw.ReadPacket(ctx, b)
		if err != nil {
			t.Fatalf("waiting for SYN-ACK to port %d: %v (seen %+v)", dport, err, seen)
		}
		s, ok := parseTCP(b[:n])
		if !ok {
			continue
		}
		seen = append(seen, s)
		if s.dport == dport && s.syn && s.ack {
			return seen
		}
	}
}

// drain returns the TCP packets already queued on raw, without blocking.
func drain(raw *fakeLink) []seenTCP {
	var seen []seenTCP
	for {
		select {
		case p := <-raw.in:
			if s, ok := parseTCP(p); ok {
				seen = append(seen, s)
			}
		default:
			return seen
		}
	}
}

func TestChecksumOracle(t *testing.T) {
	s, raw := newRawPair(t)
	ln, err := s.Listen(5002)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := context.Background()

	const badPort, goodPort, closedBadPort = 40000, 40001, 40002
	if err := raw.WritePacket(ctx, tcpPacket(t, addrB, addrA, badPort, 5002, 1000, true, true)); err != nil {
		t.Fatal(err)
	}
	// A bad SYN to a closed port: gVisor drops it without a RST, counted
	// as L4Malformed, not ChecksumErrors.
	if err := raw.WritePacket(ctx, tcpPacket(t, addrB, addrA, closedBadPort, 5999, 1000, true, true)); err != nil {
		t.Fatal(err)
	}
	if err := raw.WritePacket(ctx, tcpPacket(t, addrB, addrA, goodPort, 5002, 2000, true, false)); err != nil {
		t.Fatal(err)
	}
	// Packets are injected in order, and gVisor checks the checksum while
	// injecting: the SYN-ACK to the good SYN orders the bad one before it.
	seen := waitSynAck(t, raw, goodPort)
	c := s.Counters()
	if c.ChecksumErrors != 1 {
		t.Errorf("ChecksumErrors = %d, want 1 (%s)", c.ChecksumErrors, c)
	}
	if c.L4Malformed != 1 || c.ResetsSent != 0 {
		t.Errorf("L4Malformed = %d, ResetsSent = %d, want 1, 0 (%s)", c.L4Malformed, c.ResetsSent, c)
	}
	if c.SegmentsReceived != 1 {
		t.Errorf("SegmentsReceived = %d, want 1 (%s)", c.SegmentsReceived, c)
	}
	// Stop the stack: whatever it ever sent is now queued on raw.
	s.Close()
	seen = append(seen, drain(raw)...)
	for _, p := range seen {
		if p.dport == badPort || p.dport == closedBadPort {
			t.Errorf("stack answered the SYN with a bad checksum: %+v", p)
		}
		if !p.checksumsCorrect {
			t.Errorf("stack sent a packet with a bad checksum: %+v", p)
		}
	}
}

func TestInboundGarbage(t *testing.T) {
	s, raw := newRawPair(t)
	ln, err := s.Listen(5003)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := context.Background()

	good := tcpPacket(t, addrB, addrA, 40010, 5003, 1, true, false)
	badLen := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(badLen[2:4], uint16(len(good)+100)) // total length beyond the packet
	badIHL := append([]byte(nil), good...)
	badIHL[0] = 0x4f // IHL 60 bytes, more than a 20-byte header holds options for
	otherDst := tcpPacket(t, addrB, netip.MustParseAddr("198.19.9.9"), 40011, 5003, 1, true, false)

	inputs := []struct {
		name string
		p    []byte
	}{
		{"empty", nil},
		{"ipv6", append([]byte{0x60}, make([]byte, 59)...)},
		{"version 0", make([]byte, 40)},
		{"truncated by link", append(append([]byte(nil), good...), make([]byte, 1<<16)...)},
		{"one byte", []byte{0x45}},
		{"ten bytes", good[:10]},
		{"header only, total length beyond", good[:20]},
		{"total length beyond packet", badLen},
		{"bad IHL", badIHL},
		{"not our address", otherDst},
	}
	for _, in := range inputs {
		if err := raw.WritePacket(ctx, in.p); err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
	}
	if err := raw.WritePacket(ctx, good); err != nil {
		t.Fatal(err)
	}
	waitSynAck(t, raw, 40010)
	c := s.Counters()
	t.Logf("%s", c)
	if c.InboundNonIPv4 != 3 {
		t.Errorf("InboundNonIPv4 = %d, want 3", c.InboundNonIPv4)
	}
	if c.InboundTruncated != 1 {
		t.Errorf("InboundTruncated = %d, want 1", c.InboundTruncated)
	}
	if c.IPMalformed != 5 {
		t.Errorf("IPMalformed = %d, want 5", c.IPMalformed)
	}
	if c.IPInvalidDestination != 1 {
		t.Errorf("IPInvalidDestination = %d, want 1", c.IPInvalidDestination)
	}
	if c.SegmentsReceived != 1 || c.ChecksumErrors != 0 {
		t.Errorf("want exactly the good SYN accepted: %s", c)
	}
	if s.Err() != nil {
		t.Errorf("pump stopped: %v", s.Err())
	}
}

// TestCloseNoGoroutines checks Close stops every goroutine of ours and of
// gVisor's, and leaves the link open.
func TestCloseNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	la, lb := newFakePair(testMTU, testQueue)
	a, err := New(la, addrA, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(lb, addrB, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := b.Listen(5004)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 256<<10)
	rand.Read(payload)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := upload(ctx, a, b, ln, payload)
	if err != nil || r.sum != sha256.Sum256(payload) {
		t.Fatalf("upload: %v, sum match %v", err, r.sum == sha256.Sum256(payload))
	}
	// A connection left open and a listener left open: Close must abort them.
	open := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			open <- c
		}
		close(open)
	}()
	c, err := a.Dial(ctx, netip.AddrPortFrom(addrB, 5004))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if sc, ok := <-open; ok {
		defer sc.Close()
	}
	during := runtime.NumGoroutine()

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	// The link still works: Close did not close it.
	if err := lb.WritePacket(ctx, []byte{0x45}); err != nil {
		t.Fatalf("link closed by Stack.Close: %v", err)
	}
	buf := make([]byte, 64)
	if n, err := la.ReadPacket(ctx, buf); err != nil || n != 1 {
		t.Fatalf("link read after Close: %d, %v", n, err)
	}
	la.Close()

	// Bounded wait: timers that already fired may still be finishing.
	deadline := time.Now().Add(5 * time.Second)
	now := runtime.NumGoroutine()
	for now > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		now = runtime.NumGoroutine()
	}
	if now > before {
		st := make([]byte, 1<<20)
		st = st[:runtime.Stack(st, true)]
		t.Fatalf("goroutines: %d before, %d with stacks running, %d after Close\n%s", before, during, now, st)
	}
	if during <= before {
		t.Fatalf("test is vacuous: %d goroutines before, %d during", before, during)
	}
	t.Logf("goroutines: %d before, %d running, %d after Close", before, during, now)
}

func TestDefaultOptionsAreLibraryDefaults(t *testing.T) {
	st := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	defer st.Destroy()
	lib, err := readOptions(func(o tcpip.GettableTransportProtocolOption) tcpip.Error {
		return st.TransportProtocolOption(tcp.ProtocolNumber, o)
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := DefaultOptions(); lib != d {
		t.Fatalf("gVisor %s library defaults differ from DefaultOptions:\n lib %s\n ours %s", Version(), lib, d)
	}
	if tcp.InitialRTO != time.Second {
		t.Errorf("tcp.InitialRTO = %s, documented as 1s", tcp.InitialRTO)
	}
	want := "sack=true cc=reno recovery=rack moderate_rcvbuf=true nagle=false sndbuf=4096/1048576/4194304 rcvbuf=4096/1048576/4194304 time_wait=1m0s fin_wait2=1m0s min_rto=200ms max_rto=2m0s syn_retries=6 max_retries=15 mtu=link"
	if got := DefaultOptions().String(); got != want {
		t.Errorf("String:\n got %s\nwant %s", got, want)
	}
}

func TestOptionsApplied(t *testing.T) {
	la, lb := newFakePair(testMTU, testQueue)
	defer la.Close()
	o := DefaultOptions()
	o.CongestionControl = "cubic"
	o.SACK = false
	o.Nagle = true
	o.SynRetries = 3
	o.MinRTO = 50 * time.Millisecond
	o.MaxRTO = 10 * time.Second
	o.MTU = 1280
	s, err := New(la, addrA, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := readOptions(func(opt tcpip.GettableTransportProtocolOption) tcpip.Error {
		return s.st.TransportProtocolOption(tcp.ProtocolNumber, opt)
	})
	if err != nil {
		t.Fatal(err)
	}
	got.MTU = int(s.ep.MTU())
	if got != o {
		t.Fatalf("stack holds %s\nwant %s", got, o)
	}

	bad := DefaultOptions()
	bad.CongestionControl = "bbr"
	if s2, err := New(lb, addrB, bad); err == nil {
		s2.Close()
		t.Error("New accepted congestion control bbr")
	}
	bad = DefaultOptions()
	bad.MTU = testMTU + 1
	if s2, err := New(lb, addrB, bad); err == nil {
		s2.Close()
		t.Error("New accepted an MTU above the link's")
	}
}

func TestVersion(t *testing.T) {
	// go test binaries carry no dependency list, so Version() falls back
	// to the pin; check the lookup on build info a real binary has.
	if v := Version(); v != PinnedVersion && v != PinnedVersion+" (go.mod)" {
		t.Errorf("Version() = %q", v)
	}
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "gvisor.dev/gvisor "+PinnedVersion+"\n") {
		t.Errorf("go.mod does not pin gvisor.dev/gvisor %s: update PinnedVersion with the pin", PinnedVersion)
	}
	bi := &debug.BuildInfo{Deps: []*debug.Module{
		{Path: "github.com/google/gopacket", Version: "v1.1.19"},
		{Path: "gvisor.dev/gvisor", Version: "v0.0.0-20260905035102-160fafc42237"},
	}}
	if v := versionFrom(bi, true); v != "v0.0.0-20260905035102-160fafc42237" {
		t.Errorf("versionFrom = %q", v)
	}
	bi.Deps[1].Replace = &debug.Module{Path: "../gvisor"}
	if v := versionFrom(bi, true); v != "v0.0.0-20260905035102-160fafc42237 => ../gvisor" {
		t.Errorf("versionFrom with replace = %q", v)
	}
	if v := versionFrom(&debug.BuildInfo{}, true); v != "unknown" {
		t.Errorf("versionFrom without gvisor = %q", v)
	}
	if v := versionFrom(nil, false); v != "unknown" {
		t.Errorf("versionFrom without build info = %q", v)
	}
}

func TestCountersString(t *testing.T) {
	c := Counters{ChecksumErrors: 1, IPInvalidDestination: 2, InboundNonIPv4: 3}
	s := c.String()
	for _, w := range []string{"checksum_errors=1 ", "ip_invalid_destination=2 ", "inbound_non_ipv4=3 ", "link_drops=0"} {
		if !strings.Contains(s, w) {
			t.Errorf("%q lacks %q", s, w)
		}
	}
}

// halfConn is a net.Conn without CloseWrite, to exercise SendAll's Close path.
type halfConn struct{ net.Conn }

func TestSendAllWithoutCloseWrite(t *testing.T) {
	c1, c2 := net.Pipe()
	payload := bytes.Repeat([]byte("tcplab"), 1000)
	done := make(chan result, 1)
	go func() {
		n, sum, err := ReceiveAll(c2)
		done <- result{n, sum, err}
	}()
	if err := SendAll(halfConn{c1}, payload); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.n != int64(len(payload)) || r.sum != sha256.Sum256(payload) {
		t.Fatalf("ReceiveAll: %d bytes, %v, sum ok %v", r.n, r.err, r.sum == sha256.Sum256(payload))
	}
}

func BenchmarkUpload1MiB(b *testing.B) {
	a, s := newStackPair(b)
	ln, err := s.Listen(5005)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	want := sha256.Sum256(payload)
	ctx := context.Background()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := upload(ctx, a, s, ln, payload)
		if err != nil {
			b.Fatal(err)
		}
		if r.sum != want {
			b.Fatal("sha256 mismatch")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(payload))*8*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gbit/s")
	if c := a.Counters(); c.LinkDrops != 0 || c.ChecksumErrors != 0 {
		b.Errorf("A: %s", c)
	}
}

// TestLinkDropsCounted stalls the link (nobody reads it) while the stack
// answers more SYNs with RSTs than the channel endpoint's queue holds:
// every packet gVisor could not queue must show up in LinkDrops, and the
// ones it did queue must all arrive once the link drains.
func TestLinkDropsCounted(t *testing.T) {
	const linkQueue = 16
	la, raw := newFakePair(testMTU, linkQueue)
	defer la.Close()
	s, err := New(la, addrA, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const n = QueueLen + linkQueue + 1 + 500
	syn := tcpPacket(t, addrB, addrA, 40100, 7, 1, true, false)
	for i := 0; i < n; i++ {
		if err := raw.WritePacket(ctx, syn); err != nil {
			t.Fatal(err)
		}
	}
	// Bounded wait for the inbound pump to work through the SYNs.
	deadline := time.Now().Add(20 * time.Second)
	c := s.Counters()
	for c.ResetsSent < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		c = s.Counters()
	}
	// linkQueue packets in the fake link, one held by the blocked pump,
	// QueueLen in the channel endpoint: the rest dropped.
	wantDrops := uint64(n - linkQueue - 1 - QueueLen)
	if c.ResetsSent != n || c.LinkDrops != wantDrops {
		t.Fatalf("ResetsSent = %d (want %d), LinkDrops = %d (want %d): %s", c.ResetsSent, n, c.LinkDrops, wantDrops, c)
	}
	b := make([]byte, 1<<16)
	for got := uint64(0); got < n-wantDrops; got++ {
		k, err := raw.ReadPacket(ctx, b)
		if err != nil {
			t.Fatalf("after %d of %d RSTs: %v", got, n-wantDrops, err)
		}
		if p, ok := parseTCP(b[:k]); !ok || !p.rst || !p.checksumsCorrect {
			t.Fatalf("packet %d not a valid RST: %+v", got, p)
		}
	}
	if extra := drain(raw); len(extra) != 0 {
		t.Errorf("%d packets beyond the undropped ones", len(extra))
	}
}
