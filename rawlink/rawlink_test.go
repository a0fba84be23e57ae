package rawlink

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/bpf"
)

// TestARPCodec checks the RFC 826 packet layout against octets written out
// by hand, and what parseARP rejects.
func TestARPCodec(t *testing.T) {
	req := arpPacket{op: arpOpRequest, sha: testMAC, spa: testAddr.As4(), tpa: testPeer.As4()}
	want := []byte{
		0x00, 0x01, // ar$hrd: Ethernet
		0x08, 0x00, // ar$pro: IPv4
		6, 4, // ar$hln, ar$pln
		0x00, 0x01, // ar$op: REQUEST
		0x02, 0, 0, 0, 0, 0x11, // ar$sha
		198, 18, 7, 11, // ar$spa
		0, 0, 0, 0, 0, 0, // ar$tha
		198, 18, 7, 12, // ar$tpa
	}
	got := appendARP(nil, req)
	if !bytes.Equal(got, want) {
		t.Fatalf("request encodes as\n%x; want\n%x", got, want)
	}
	back, err := parseARP(append(got, make([]byte, 18)...)) // with Ethernet padding
	if err != nil || back != req {
		t.Fatalf("parseARP(encoded) = %+v, %v; want %+v", back, err, req)
	}
	rep := arpPacket{op: arpOpReply, sha: peerMAC, spa: testPeer.As4(), tha: testMAC, tpa: testAddr.As4()}
	if back, err := parseARP(appendARP(nil, rep)); err != nil || back != rep {
		t.Fatalf("reply round trip: %+v, %v; want %+v", back, err, rep)
	}

	f := arpFrame(broadcastHW, testMAC, req)
	if len(f) != minFrame || !bytes.Equal(f[:6], broadcastHW[:]) || !bytes.Equal(f[6:12], testMAC[:]) ||
		binary.BigEndian.Uint16(f[12:14]) != etherTypeARP || !bytes.Equal(f[14:42], want) ||
		!bytes.Equal(f[42:], make([]byte, minFrame-42)) {
		t.Fatalf("arpFrame = %x", f)
	}

	for _, tc := range []struct {
		name string
		mod  func(b []byte) []byte
	}{
		{"short", func(b []byte) []byte { return b[:27] }},
		{"hardware IEEE 802", func(b []byte) []byte { b[1] = 6; return b }},
		{"protocol IPv6", func(b []byte) []byte { b[2], b[3] = 0x86, 0xdd; return b }},
		{"hln 8", func(b []byte) []byte { b[4] = 8; return b }},
		{"pln 16", func(b []byte) []byte { b[5] = 16; return b }},
	} {
		if _, err := parseARP(tc.mod(bytes.Clone(want))); err == nil {
			t.Errorf("parseARP(%s) accepted it", tc.name)
		}
	}
}

// TestFilter runs the socket's BPF program in x/net/bpf's VM.
func TestFilter(t *testing.T) {
	prog := filterProgram(testAddr)
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	arp := arpFrame(broadcastHW, peerMAC, arpPacket{op: arpOpRequest, sha: peerMAC, spa: testPeer.As4(), tpa: testAddr.As4()})
	toUs := ethFrame(testMAC, peerMAC, etherTypeIPv4, tcpPacket(testPeer, testAddr, 100))
	toKernel := ethFrame(testMAC, peerMAC, etherTypeIPv4, tcpPacket(testPeer, testKernel, 100))
	ipv6 := ethFrame(testMAC, peerMAC, 0x86dd, make([]byte, 60))
	v6InV4 := bytes.Clone(toUs)
	v6InV4[ethHdrLen] = 0x65
	for _, tc := range []struct {
		name  string
		frame []byte
		pass  bool
	}{
		{"ARP request", arp, true},
		{"ARP reply, 42 octets", arpFrame(testMAC, peerMAC, arpPacket{op: arpOpReply})[:42], true},
		{"IPv4 to Addr", toUs, true},
		{"IPv4 to Addr, header only", toUs[:ethHdrLen+20], true},
		{"IPv4 to another address", toKernel, false},
		{"IPv4 broadcast", ethFrame(broadcastHW, peerMAC, etherTypeIPv4, udpPacket(testPeer, limitedBroadcast, 8)), false},
		{"IPv6", ipv6, false},
		{"version 6 under EtherType IPv4", v6InV4, false},
		{"VLAN tag in the frame", ethFrame(testMAC, peerMAC, 0x8100, append([]byte{0, 5, 8, 0}, tcpPacket(testPeer, testAddr, 0)...)), false},
		{"empty", nil, false},
		{"13 octets", toUs[:13], false},
		{"Ethernet header only", toUs[:ethHdrLen], false},
		{"IPv4 cut before the destination", toUs[:ethHdrLen+19], false},
	} {
		n, err := vm.Run(tc.frame)
		if err != nil {
			t.Errorf("%s: Run: %v", tc.name, err)
			continue
		}
		if pass := n > 0; pass != tc.pass {
			t.Errorf("%s: filter returned %d; want pass=%v", tc.name, n, tc.pass)
		}
		if n > 0 && n < 65535+ethHdrLen {
			t.Errorf("%s: filter keeps %d octets; a merged frame needs 65549", tc.name, n)
		}
	}
}

func TestNextHop(t *testing.T) {
	r := router{
		iface:  "ens224",
		addr:   testAddr,
		onLink: []netip.Prefix{netip.MustParsePrefix("198.18.7.0/24"), netip.MustParsePrefix("198.19.0.0/30")},
		own:    []netip.Addr{testKernel},
	}
	gw := r
	gw.gateway = netip.MustParseAddr("198.18.7.254")
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name   string
		r      *router
		dst    string
		nh     string // "" with mac set: broadcast/multicast
		mac    hwAddr
		errSub string
	}{
		{"on-link", &r, "198.18.7.12", "198.18.7.12", hwAddr{}, ""},
		{"second prefix", &r, "198.19.0.2", "198.19.0.2", hwAddr{}, ""},
		{"off-link, no gateway", &r, "203.0.113.5", "", hwAddr{}, "no gateway configured"},
		{"off-link via gateway", &gw, "203.0.113.5", "198.18.7.254", hwAddr{}, ""},
		{"on-link with a gateway", &gw, "198.18.7.99", "198.18.7.99", hwAddr{}, ""},
		{"limited broadcast", &r, "255.255.255.255", "", broadcastHW, ""},
		{"directed broadcast", &r, "198.18.7.255", "", broadcastHW, ""},
		{"directed broadcast /30", &r, "198.19.0.3", "", broadcastHW, ""},
		{"multicast", &r, "239.129.2.3", "", hwAddr{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}, ""},
		{"all-hosts", &r, "224.0.0.1", "", hwAddr{0x01, 0x00, 0x5e, 0, 0, 1}, ""},
		{"own address", &r, "198.18.7.11", "", hwAddr{}, "own address"},
		{"the host's kernel", &r, "198.18.7.1", "", hwAddr{}, "never reach this host's kernel"},
		{"unspecified", &r, "0.0.0.0", "", hwAddr{}, "not a destination"},
		{"loopback", &r, "127.0.0.1", "", hwAddr{}, "not a destination"},
	} {
		nh, mac, err := tc.r.nextHop(a(tc.dst))
		if tc.errSub != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errSub) {
				t.Errorf("%s: nextHop(%s) = %v, %v, %v; want an error containing %q", tc.name, tc.dst, nh, mac, err, tc.errSub)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: nextHop(%s): %v", tc.name, tc.dst, err)
			continue
		}
		wantNH := netip.Addr{}
		if tc.nh != "" {
			wantNH = a(tc.nh)
		}
		if nh != wantNH || mac != tc.mac {
			t.Errorf("%s: nextHop(%s) = %v, %v; want %v, %v", tc.name, tc.dst, nh, mac, wantNH, tc.mac)
		}
	}
	if got := lastAddr(netip.MustParsePrefix("10.1.2.3/20")); got != a("10.1.15.255") {
		t.Errorf("lastAddr(10.1.2.3/20) = %v", got)
	}
}

// arpIn builds an ARP frame from a station.
func arpIn(op uint16, sha hwAddr, spa, tpa netip.Addr, dst hwAddr) []byte {
	return arpFrame(dst, sha, arpPacket{op: op, sha: sha, spa: spa.As4(), tpa: tpa.As4()})
}

func mustARP(t *testing.T, f []byte) arpPacket {
	t.Helper()
	if len(f) < ethHdrLen || binary.BigEndian.Uint16(f[12:14]) != etherTypeARP {
		t.Fatalf("frame %x is not ARP", f)
	}
	p, err := parseARP(f[ethHdrLen:])
	if err != nil {
		t.Fatalf("ARP frame %x: %v", f, err)
	}
	return p
}

// TestARPAnswer: RFC 826 reception. A request for Addr is answered (unless
// the host owns Addr) and teaches us the requester; packets not for us
// teach only what we already know.
func TestARPAnswer(t *testing.T) {
	l, rec := testLink(t, false)
	if _, ok, _ := feed(l, arpIn(arpOpRequest, peerMAC, testPeer, testAddr, broadcastHW), rxMeta{pkttype: packetBroadcast}, 1500); ok {
		t.Fatal("an ARP frame was delivered as a packet")
	}
	out := rec.take()
	if len(out) != 1 {
		t.Fatalf("%d frames sent for one request; want 1 reply", len(out))
	}
	f := out[0]
	if !bytes.Equal(f[:6], peerMAC[:]) || !bytes.Equal(f[6:12], testMAC[:]) {
		t.Errorf("reply goes %x -> %x; want %v -> %v", f[6:12], f[:6], testMAC, peerMAC)
	}
	want := arpPacket{op: arpOpReply, sha: testMAC, spa: testAddr.As4(), tha: peerMAC, tpa: testPeer.As4()}
	if p := mustARP(t, f); p != want {
		t.Errorf("reply %+v; want %+v", p, want)
	}
	// The requester was learnt: a packet to it goes out at once.
	l.WritePacket(t.Context(), udpPacket(testAddr, testPeer, 10))
	if out := rec.take(); len(out) != 1 || !bytes.Equal(out[0][:6], peerMAC[:]) || binary.BigEndian.Uint16(out[0][12:14]) != etherTypeIPv4 {
		t.Fatalf("after learning from the request, a write sent %x; want one IPv4 frame to %v", out, peerMAC)
	}

	// A request for another address: no answer, and an unknown sender is
	// not added (RFC 826: only when we are the target).
	other := hwAddr{2, 0, 0, 0, 0, 0x33}
	otherIP := netip.MustParseAddr("198.18.7.33")
	feed(l, arpIn(arpOpRequest, other, otherIP, testPeer, broadcastHW), rxMeta{pkttype: packetBroadcast}, 1500)
	if out := rec.take(); len(out) != 0 {
		t.Fatalf("answered a request for another address: %x", out)
	}
	l.mu.Lock()
	_, known := l.neigh[otherIP]
	l.mu.Unlock()
	if known {
		t.Error("learnt a station from a request not addressed to us")
	}
	// ... but a known sender's new hardware address is merged.
	moved := hwAddr{2, 0, 0, 0, 0, 0x44}
	feed(l, arpIn(arpOpRequest, moved, testPeer, testKernel, broadcastHW), rxMeta{pkttype: packetBroadcast}, 1500)
	l.WritePacket(t.Context(), udpPacket(testAddr, testPeer, 10))
	if out := rec.take(); len(out) != 1 || !bytes.Equal(out[0][:6], moved[:]) {
		t.Errorf("after the peer moved to %v, a write went to %x", moved, out)
	}

	// A probe (sender 0.0.0.0, RFC 5227) is answered, not learnt.
	feed(l, arpIn(arpOpRequest, other, netip.IPv4Unspecified(), testAddr, broadcastHW), rxMeta{pkttype: packetBroadcast}, 1500)
	if out := rec.take(); len(out) != 1 || mustARP(t, out[0]).tpa != [4]byte{} {
		t.Errorf("probe answered with %x; want one reply to 0.0.0.0", out)
	}

	// Another station claiming our address is a conflict, not an entry.
	feed(l, arpIn(arpOpReply, other, testAddr, testAddr, broadcastHW), rxMeta{pkttype: packetBroadcast}, 1500)
	if st := l.Stats(); st.ARPConflicts != 1 || st.ARPRequestsReceived != 2 || st.ARPRequestsAnswered != 2 {
		t.Errorf("stats %+v; want 1 conflict, 2 requests received and answered", st)
	}

	// When the host owns Addr, the kernel answers; the link learns only.
	h, hrec := testLink(t, true)
	feed(h, arpIn(arpOpRequest, peerMAC, testPeer, testAddr, broadcastHW), rxMeta{pkttype: packetBroadcast}, 1500)
	if out := hrec.take(); len(out) != 0 {
		t.Errorf("answered ARP for an address the host owns: %x", out)
	}
	h.WritePacket(t.Context(), udpPacket(testAddr, testPeer, 10))
	if out := hrec.take(); len(out) != 1 || !bytes.Equal(out[0][:6], peerMAC[:]) {
		t.Errorf("host-owned: after the request, a write sent %x", out)
	}
}

// TestARPResolve: a write to an unknown next hop sends a request and
// queues; the reply sends the queue, in order; later writes go at once.
func TestARPResolve(t *testing.T) {
	l, rec := testLink(t, false)
	ctx := t.Context()
	p1, p2, p3 := udpPacket(testAddr, testPeer, 1), udpPacket(testAddr, testPeer, 2), udpPacket(testAddr, testPeer, 3)
	if err := l.WritePacket(ctx, p1); err != nil {
		t.Fatal(err)
	}
	if err := l.WritePacket(ctx, p2); err != nil {
		t.Fatal(err)
	}
	out := rec.take()
	if len(out) != 1 {
		t.Fatalf("sent %d frames before resolution; want 1 ARP request", len(out))
	}
	if !bytes.Equal(out[0][:6], broadcastHW[:]) {
		t.Errorf("request sent to %x; want broadcast", out[0][:6])
	}
	want := arpPacket{op: arpOpRequest, sha: testMAC, spa: testAddr.As4(), tpa: testPeer.As4()}
	if p := mustARP(t, out[0]); p != want {
		t.Errorf("request %+v; want %+v", p, want)
	}
	feed(l, arpIn(arpOpReply, peerMAC, testPeer, testAddr, testMAC), rxMeta{pkttype: packetHost}, 1500)
	if err := l.WritePacket(ctx, p3); err != nil {
		t.Fatal(err)
	}
	out = rec.take()
	if len(out) != 3 {
		t.Fatalf("sent %d frames after the reply; want the 2 queued and 1 new", len(out))
	}
	for i, p := range [][]byte{p1, p2, p3} {
		f := out[i]
		if !bytes.Equal(f[:6], peerMAC[:]) || !bytes.Equal(f[6:12], testMAC[:]) || binary.BigEndian.Uint16(f[12:14]) != etherTypeIPv4 || !bytes.Equal(f[ethHdrLen:], p) {
			t.Errorf("frame %d: %x; want packet %d to %v", i, f, i+1, peerMAC)
		}
	}
	st := l.Stats()
	if st.ARPRequestsSent != 1 || st.ARPRepliesReceived != 1 || st.QueuedSent != 2 || st.PacketsOut != 3 || st.FramesOut != 4 || st.UnresolvedDrops != 0 {
		t.Errorf("stats %+v", st)
	}

	// A minute later the entry is refreshed with a unicast request while
	// packets keep going to the known address.
	l.mu.Lock()
	l.neigh[testPeer].learnt = time.Now().Add(-arpReachable - time.Second)
	l.mu.Unlock()
	l.WritePacket(ctx, p1)
	out = rec.take()
	if len(out) != 2 {
		t.Fatalf("stale entry: sent %d frames; want a unicast request and the packet", len(out))
	}
	if !bytes.Equal(out[0][:6], peerMAC[:]) || mustARP(t, out[0]).op != arpOpRequest {
		t.Errorf("refresh: %x; want a request unicast to %v", out[0], peerMAC)
	}
	if !bytes.Equal(out[1][:6], peerMAC[:]) || !bytes.Equal(out[1][ethHdrLen:], p1) {
		t.Errorf("refresh: packet %x not sent to the known address", out[1])
	}
}

// TestARPGiveUp: an unanswered next hop gets one request a second, three
// in all; queued packets wait one interval at most, and the queue keeps
// the latest arpQueueLen.
func TestARPGiveUp(t *testing.T) {
	l, rec := testLink(t, false)
	ctx := t.Context()
	for i := range arpQueueLen + 4 {
		l.WritePacket(ctx, udpPacket(testAddr, testPeer, i))
	}
	if out := rec.take(); len(out) != 1 {
		t.Fatalf("%d frames; want one request for %d writes", len(out), arpQueueLen+4)
	}
	if st := l.Stats(); st.UnresolvedDrops != 4 {
		t.Errorf("UnresolvedDrops = %d; want 4 (the queue keeps %d)", st.UnresolvedDrops, arpQueueLen)
	}
	l.mu.Lock()
	q := l.neigh[testPeer].queue
	start := l.neigh[testPeer].lastReq
	if len(q) != arpQueueLen || binary.BigEndian.Uint16(q[0][ethHdrLen+2:]) != uint16(28+4) {
		t.Errorf("queue holds %d, first of length %d; want the latest %d", len(q), binary.BigEndian.Uint16(q[0][ethHdrLen+2:]), arpQueueLen)
	}
	tick := func(d time.Duration) time.Time { return l.arpTickLocked(start.Add(d)) }
	if next := tick(500 * time.Millisecond); !next.Equal(start.Add(arpRetry)) {
		t.Errorf("next deadline %v; want %v", next, start.Add(arpRetry))
	}
	tick(arpRetry)
	tick(2 * arpRetry)
	next := tick(3 * arpRetry)
	l.mu.Unlock()
	out := rec.take()
	if len(out) != 2 {
		t.Fatalf("%d frames after 3 s; want 2 more requests", len(out))
	}
	st := l.Stats()
	if st.ARPRequestsSent != 3 || st.ARPFailures != 1 || st.UnresolvedDrops != arpQueueLen+4 {
		t.Errorf("stats %+v; want 3 requests, 1 failure, %d drops", st, arpQueueLen+4)
	}
	// The failed entry stays one interval for the rate limit, then goes.
	if !next.Equal(start.Add(3 * arpRetry)) {
		t.Errorf("next deadline after giving up %v; want %v", next, start.Add(3*arpRetry))
	}
	l.mu.Lock()
	l.arpTickLocked(start.Add(3*arpRetry + time.Millisecond))
	_, kept := l.neigh[testPeer]
	l.mu.Unlock()
	if kept {
		t.Error("failed entry kept after the rate-limit interval")
	}
}

// TestARPRateLimit: a new resolution right after a failed one waits for
// the interval (RFC 1122 §2.3.2.1: one request per second per address).
func TestARPRateLimit(t *testing.T) {
	l, rec := testLink(t, false)
	l.mu.Lock()
	now := time.Now()
	l.neigh[testPeer] = &neighbor{lastReq: now.Add(-300 * time.Millisecond)}
	l.mu.Unlock()
	l.WritePacket(t.Context(), udpPacket(testAddr, testPeer, 1))
	if out := rec.take(); len(out) != 0 {
		t.Fatalf("request sent 300 ms after the last one: %x", out)
	}
	l.mu.Lock()
	n := l.neigh[testPeer]
	if !n.resolving || n.nextTry.Sub(now) != 700*time.Millisecond {
		t.Errorf("resolving %v, next request in %v; want true, 700ms", n.resolving, n.nextTry.Sub(now))
	}
	l.arpTickLocked(n.nextTry)
	l.mu.Unlock()
	if out := rec.take(); len(out) != 1 || mustARP(t, out[0]).op != arpOpRequest {
		t.Fatalf("at the interval: %x; want a request", out)
	}
	if st := l.Stats(); st.UnresolvedDrops != 1 {
		t.Errorf("UnresolvedDrops = %d; the packet waited past a request interval", st.UnresolvedDrops)
	}
}

func TestWriteErrors(t *testing.T) {
	l, rec := testLink(t, false)
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		p      []byte
		errSub string
	}{
		{"too long", udpPacket(testAddr, testPeer, 1500), "exceeds the MTU"},
		{"IPv6", append([]byte{0x60}, make([]byte, 39)...), "not an IPv4"},
		{"short", []byte{0x45, 0, 0}, "not an IPv4"},
		{"off-link", udpPacket(testAddr, netip.MustParseAddr("203.0.113.1"), 1), "no gateway"},
	} {
		if err := l.WritePacket(ctx, tc.p); err == nil || !strings.Contains(err.Error(), tc.errSub) {
			t.Errorf("%s: %v; want an error containing %q", tc.name, err, tc.errSub)
		}
	}
	// Broadcast and multicast need no ARP.
	l.WritePacket(ctx, udpPacket(testAddr, netip.MustParseAddr("198.18.7.255"), 1))
	l.WritePacket(ctx, udpPacket(testAddr, netip.MustParseAddr("224.0.0.251"), 1))
	out := rec.take()
	if len(out) != 2 || !bytes.Equal(out[0][:6], broadcastHW[:]) || !bytes.Equal(out[1][:6], []byte{1, 0, 0x5e, 0, 0, 0xfb}) {
		t.Errorf("broadcast and multicast sent %x", out)
	}
	l.Close()
	if err := l.WritePacket(ctx, udpPacket(testAddr, testPeer, 1)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("WritePacket after Close: %v", err)
	}
}

// TestInput: what the read path delivers, skips and repairs.
func TestInput(t *testing.T) {
	l, _ := testLink(t, false)
	host := rxMeta{pkttype: packetHost}
	small := tcpPacket(testPeer, testAddr, 0) // 40 octets: padded to 46
	padded := append(ethFrame(testMAC, peerMAC, etherTypeIPv4, small), 0xee, 0xee, 0xee, 0xee, 0xee, 0xee)
	if p, ok, trunc := feed(l, padded, host, 1500); !ok || trunc || !bytes.Equal(p, small) {
		t.Errorf("padded frame: %x, %v, %v; want the 40-octet packet", p, ok, trunc)
	}

	big := tcpPacket(testPeer, testAddr, 9000) // GRO-merged
	if p, ok, trunc := feed(l, ethFrame(testMAC, peerMAC, etherTypeIPv4, big), host, 1<<16); !ok || trunc || !bytes.Equal(p, big) {
		t.Errorf("oversize frame not delivered whole (%d octets, %v, %v)", len(p), ok, trunc)
	}
	if p, ok, trunc := feed(l, ethFrame(testMAC, peerMAC, etherTypeIPv4, big), host, 2000); !ok || !trunc || len(p) != 2000 {
		t.Errorf("oversize frame into 2000 octets: %d, %v, %v; want 2000, truncated", len(p), ok, trunc)
	}

	// A partial checksum (pseudo-header sum only) is completed.
	partial := tcpPacket(testPeer, testAddr, 3000)
	ph := checksumAdd(0, partial[12:20]) + 6 + uint64(len(partial)-20)
	binary.BigEndian.PutUint16(partial[36:38], ^checksumFold(ph))
	if l4Valid(partial) {
		t.Fatal("test bug: the partial checksum verifies")
	}
	p, ok, _ := feed(l, ethFrame(testMAC, peerMAC, etherTypeIPv4, partial), rxMeta{pkttype: packetHost, status: tpStatusCsumNotReady}, 1<<16)
	if !ok || !l4Valid(p) {
		t.Errorf("CSUMNOTREADY packet delivered %v with checksum valid %v", ok, ok && l4Valid(p))
	}
	udp := udpPacket(testPeer, testAddr, 33)
	binary.BigEndian.PutUint16(udp[26:28], 0x1234)
	if p, ok, _ := feed(l, ethFrame(testMAC, peerMAC, etherTypeIPv4, udp), rxMeta{pkttype: packetHost, status: tpStatusCsumNotReady}, 1500); !ok || !l4Valid(p) {
		t.Error("CSUMNOTREADY UDP checksum not completed")
	}

	badLen := bytes.Clone(small)
	binary.BigEndian.PutUint16(badLen[2:4], 200)
	for _, tc := range []struct {
		name  string
		frame []byte
		m     rxMeta
	}{
		{"outgoing", ethFrame(peerMAC, testMAC, etherTypeIPv4, small), rxMeta{pkttype: packetOutgoing}},
		{"other host", ethFrame(peerMAC, testMAC, etherTypeIPv4, small), rxMeta{pkttype: packetOtherHost}},
		{"VLAN", ethFrame(testMAC, peerMAC, etherTypeIPv4, small), rxMeta{status: tpStatusVLANValid}},
		{"to the kernel", ethFrame(testMAC, peerMAC, etherTypeIPv4, tcpPacket(testPeer, testKernel, 0)), host},
		{"IPv6", ethFrame(testMAC, peerMAC, 0x86dd, make([]byte, 40)), host},
		{"total length beyond the frame", ethFrame(testMAC, peerMAC, etherTypeIPv4, badLen), host},
		{"header only", ethFrame(testMAC, peerMAC, etherTypeIPv4, nil), host},
		{"short", []byte{1, 2, 3}, host},
	} {
		if p, ok, _ := feed(l, tc.frame, tc.m, 1500); ok {
			t.Errorf("%s: delivered %x", tc.name, p)
		}
	}
	st := l.Stats()
	want := Stats{FramesIn: 13, PacketsIn: 4, Oversize: 3, Truncated: 1, ChecksumsCompleted: 2, NotForUs: 4, NonIPv4Skipped: 1, Malformed: 3}
	if st != want {
		t.Errorf("stats\n%+v; want\n%+v", st, want)
	}
}
