package rawlink

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"tcplab/netns"
	"tcplab/wire/linktest"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// reader reads packets from l until ctx ends (which it cancels in Cleanup)
// and hands them to the returned channel. Reading also runs the link's ARP.
func reader(t *testing.T, l *Link) <-chan []byte {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan []byte, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			b := make([]byte, 1<<16)
			n, err := l.ReadPacket(ctx, b)
			if err != nil {
				return
			}
			select {
			case ch <- b[:n]:
			default:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

func expectPacket(t *testing.T, ch <-chan []byte, want []byte) {
	t.Helper()
	select {
	case got := <-ch:
		if string(got) != string(want) {
			t.Fatalf("received %x; want %x", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no packet within 5 s")
	}
}

// TestARPResolution: link a resolves link b's own address (not the
// kernel's) and b answers; b learnt a from the request and sends back
// without asking. Then a link on b's kernel address: the kernel answers
// for it, and the link does not.
func TestARPResolution(t *testing.T) {
	a, b := twoHosts(t)
	la := a.open(t, Config{Addr: a.user})
	lb := b.open(t, Config{Addr: b.user})
	if la.HostOwnsAddr() || lb.HostOwnsAddr() {
		t.Fatalf("HostOwnsAddr = %v, %v for addresses no kernel owns", la.HostOwnsAddr(), lb.HostOwnsAddr())
	}
	if la.MTU() != 1500 || la.Name() != ifName {
		t.Errorf("MTU %d, Name %q; want 1500, %s", la.MTU(), la.Name(), ifName)
	}
	ra, rb := reader(t, la), reader(t, lb)

	ab := udpPacket(a.user, b.user, 100)
	start := time.Now()
	if err := la.WritePacket(t.Context(), ab); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Errorf("WritePacket to an unresolved next hop took %v", el)
	}
	expectPacket(t, rb, ab)
	t.Logf("resolved and delivered in %v", time.Since(start))
	ba := udpPacket(b.user, a.user, 200)
	if err := lb.WritePacket(t.Context(), ba); err != nil {
		t.Fatal(err)
	}
	expectPacket(t, ra, ba)

	sa, sb := la.Stats(), lb.Stats()
	t.Logf("a: %+v", sa)
	t.Logf("b: %+v", sb)
	if sa.ARPRequestsSent != 1 || sa.ARPRepliesReceived != 1 || sa.QueuedSent != 1 || sa.PacketsIn != 1 {
		t.Errorf("a: %d requests sent, %d replies received, %d queued sent, %d packets in; want 1, 1, 1, 1",
			sa.ARPRequestsSent, sa.ARPRepliesReceived, sa.QueuedSent, sa.PacketsIn)
	}
	if sb.ARPRequestsReceived != 1 || sb.ARPRequestsAnswered != 1 || sb.ARPRequestsSent != 0 || sb.PacketsIn != 1 {
		t.Errorf("b: %d requests received, %d answered, %d sent, %d packets in; want 1, 1, 0 (learnt from the request), 1",
			sb.ARPRequestsReceived, sb.ARPRequestsAnswered, sb.ARPRequestsSent, sb.PacketsIn)
	}
	if sa.NotForUs != 0 || sb.NotForUs != 0 {
		t.Errorf("NotForUs = %d, %d: the host's own frames reached the socket", sa.NotForUs, sb.NotForUs)
	}

	// b's kernel address: the kernel owns it and answers ARP.
	lk := b.open(t, Config{Addr: b.kernel})
	if !lk.HostOwnsAddr() {
		t.Fatal("HostOwnsAddr false for the kernel's own address")
	}
	rk := reader(t, lk)
	ak := udpPacket(a.user, b.kernel, 50)
	if err := la.WritePacket(t.Context(), ak); err != nil {
		t.Fatal(err)
	}
	expectPacket(t, rk, ak)
	if st := lk.Stats(); st.ARPRequestsReceived != 1 || st.ARPRequestsAnswered != 0 {
		t.Errorf("host-owned link: %d requests received, %d answered; want 1, 0 (the kernel answers)", st.ARPRequestsReceived, st.ARPRequestsAnswered)
	}
	if st := la.Stats(); st.ARPRequestsSent != 2 || st.ARPRepliesReceived != 2 {
		t.Errorf("a: %d requests, %d replies; want 2, 2", st.ARPRequestsSent, st.ARPRepliesReceived)
	}
}

// TestReadWriteUnblock: ReadPacket returns on ctx cancel and deadline and
// on Close; WritePacket and ReadPacket after Close fail with net.ErrClosed;
// Close leaves no goroutine behind and is idempotent.
func TestReadWriteUnblock(t *testing.T) {
	a, b := twoHosts(t)
	base := runtime.NumGoroutine()
	var (
		l   *Link
		err error
	)
	a.do(func() { l, err = Open(Config{Interface: ifName, Addr: a.user}) })
	if err != nil {
		t.Fatal(err)
	}
	// A packet from b's kernel (UDP to our address, once the kernel
	// resolved it with the link's ARP reply): 33 octets.
	inject := func() error {
		var err error
		b.do(func() {
			var c net.Conn
			if c, err = net.Dial("udp", netip.AddrPortFrom(a.user, 9).String()); err == nil {
				_, err = c.Write([]byte("hello"))
				c.Close()
			}
		})
		return err
	}
	linktest.ReadEnds(t, l, inject, udpPacket(a.user, a.kernel, 1))
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before Open\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOffloads: Open switches GRO off on the interface and Close back on;
// with KeepOffloads it stays on.
func TestOffloads(t *testing.T) {
	a, _ := twoHosts(t)
	if v, err := a.offload(unix.ETHTOOL_GGRO, unix.ETHTOOL_SGRO, 1); err != nil || v != 1 {
		t.Skipf("cannot switch GRO on on a veth here: %d, %v", v, err)
	}
	l := a.open(t, Config{Addr: a.user})
	if v, err := a.offload(unix.ETHTOOL_GGRO, 0, -1); err != nil || v != 0 {
		t.Errorf("GRO after Open: %d, %v; want 0", v, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if v, err := a.offload(unix.ETHTOOL_GGRO, 0, -1); err != nil || v != 1 {
		t.Errorf("GRO after Close: %d, %v; want 1 (restored)", v, err)
	}
	k := a.open(t, Config{Addr: a.user, KeepOffloads: true})
	if v, err := a.offload(unix.ETHTOOL_GGRO, 0, -1); err != nil || v != 1 {
		t.Errorf("GRO with KeepOffloads: %d, %v; want 1", v, err)
	}
	k.Close()
	// Off before Open: Close leaves it off.
	a.offload(unix.ETHTOOL_GGRO, unix.ETHTOOL_SGRO, 0)
	a.open(t, Config{Addr: a.user}).Close()
	if v, err := a.offload(unix.ETHTOOL_GGRO, 0, -1); err != nil || v != 0 {
		t.Errorf("GRO off before Open, after Close: %d, %v; want 0", v, err)
	}
}

func TestOpenErrors(t *testing.T) {
	a, _ := twoHosts(t)
	// A second Ethernet interface, left down, inside a's namespace.
	down, peer := netns.DevName("rld"), netns.DevName("rlp")
	var err error
	a.do(func() {
		err = netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: down}, PeerName: peer})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"unknown interface", Config{Interface: "ens225", Addr: a.user}, []string{`no interface "ens225"`, ifName, "lo", down}},
		{"no interface", Config{Addr: a.user}, []string{"Interface is empty"}},
		{"loopback", Config{Interface: "lo", Addr: a.user}, []string{"not an Ethernet interface"}},
		{"down", Config{Interface: down, Addr: a.user}, []string{"is down", "ip link set " + down + " up"}},
		{"no address", Config{Interface: ifName}, []string{"Addr is not set"}},
		{"IPv6 address", Config{Interface: ifName, Addr: netip.MustParseAddr("fd00::11")}, []string{"not a unicast IPv4"}},
		{"broadcast address", Config{Interface: ifName, Addr: netip.MustParseAddr("255.255.255.255")}, []string{"not a unicast IPv4"}},
		{"MTU too small", Config{Interface: ifName, Addr: a.user, MTU: 60}, []string{"MTU 60 too small", "68"}},
		{"MTU above the interface's", Config{Interface: ifName, Addr: a.user, MTU: 9000}, []string{"exceeds", "1500"}},
		{"gateway off-link", Config{Interface: ifName, Addr: a.user, Gateway: netip.MustParseAddr("203.0.113.1")}, []string{"gateway 203.0.113.1 is not on"}},
		{"gateway IPv6", Config{Interface: ifName, Addr: a.user, Gateway: netip.MustParseAddr("fd00::1")}, []string{"gateway fd00::1 is not a unicast IPv4"}},
	} {
		var l *Link
		a.do(func() { l, err = Open(tc.cfg) })
		if err == nil {
			l.Close()
			t.Errorf("%s: Open succeeded", tc.name)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want it to mention %q", tc.name, err, w)
			}
		}
	}
}

// TestOpenWithoutCapNetRaw drops CAP_NET_RAW from the effective set of a
// namespace's thread (capabilities are per thread; the thread dies with
// the namespace) and checks the advice Open gives.
func TestOpenWithoutCapNetRaw(t *testing.T) {
	a, _ := twoHosts(t)
	var (
		l   *Link
		err error
	)
	a.do(func() {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err = unix.Capget(&hdr, &data[0]); err != nil {
			return
		}
		data[0].Effective &^= 1 << netns.CapNetRaw
		if err = unix.Capset(&hdr, &data[0]); err != nil {
			return
		}
		l, err = Open(Config{Interface: ifName, Addr: a.user})
	})
	if err == nil {
		l.Close()
		t.Fatal("Open succeeded without CAP_NET_RAW")
	}
	t.Log(err)
	want := "AF_PACKET needs CAP_NET_RAW: run as root or setcap cap_net_raw,cap_net_admin+ep"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Open without CAP_NET_RAW: %v; want it to contain %q", err, want)
	}
}

// TestWriteBackpressure: with a slow qdisc (tbf, 80 kbit/s) and the
// smallest send buffer, WritePacket blocks until there is room instead of
// dropping; a write blocked past its ctx returns the ctx's error at once;
// Close unblocks a blocked write.
func TestWriteBackpressure(t *testing.T) {
	a, _ := twoHosts(t)
	l := a.open(t, Config{Addr: a.user})
	var err error
	a.do(func() {
		var link netlink.Link
		if link, err = netlink.LinkByName(ifName); err != nil {
			return
		}
		const rate, burst = 10000, 3000 // octets/s, octets
		err = netlink.QdiscAdd(&netlink.Tbf{
			QdiscAttrs: netlink.QdiscAttrs{LinkIndex: link.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
			Rate:       rate,
			Limit:      1 << 20,
			Buffer:     uint32(1e6 * burst / rate * 15.625), // psched ticks: 64 ns each
		})
	})
	if err != nil {
		t.Skipf("no tbf qdisc here: %v", err)
	}
	l.sys.rc.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 1) })
	if err != nil {
		t.Fatal(err)
	}
	// To the directed broadcast address: no ARP involved.
	bcast := a.kernel.As4()
	bcast[3] = 255
	p := udpPacket(a.user, netip.AddrFrom4(bcast), 1372) // 1400 octets: 1414 on the wire, 141 ms at 10000 octets/s

	start := time.Now()
	errc := make(chan error, 2)
	for range 2 {
		go func() {
			for range 4 {
				if err := l.WritePacket(t.Context(), p); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatalf("WritePacket: %v", err)
		}
	}
	el := time.Since(start)
	st := l.Stats()
	t.Logf("8 writes in %v; %+v", el, st)
	if st.FramesOut != 8 || st.TxDrops != 0 {
		t.Errorf("%d frames out, %d dropped; want 8, 0: writes must wait, not drop", st.FramesOut, st.TxDrops)
	}
	// A burst of 3000 octets and the send buffer take a few at once;
	// the rest go at 141 ms each.
	if el < 250*time.Millisecond {
		t.Errorf("8 writes of 1414 octets at 10000 octets/s took %v: they did not wait", el)
	}

	// The buffer stays full: a write with a short deadline times out.
	timedOut := false
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		start := time.Now()
		err := l.WritePacket(ctx, p)
		cancel()
		if el := time.Since(start); el > 120*time.Millisecond {
			t.Errorf("WritePacket with a 30 ms ctx returned after %v (%v)", el, err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			timedOut = true
			break
		}
		if err != nil {
			t.Fatalf("WritePacket: %v", err)
		}
	}
	if !timedOut {
		t.Error("no write waited past its 30 ms deadline, with 141 ms per frame")
	}

	// A write blocked on the full buffer returns when the link closes.
	go func() {
		var err error
		for err == nil {
			err = l.WritePacket(context.Background(), p)
		}
		errc <- err
	}()
	closed := time.Now()
	l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked write after Close: %v; want net.ErrClosed", err)
		}
		if el := time.Since(closed); el > 100*time.Millisecond {
			t.Errorf("blocked write returned %v after Close", el)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked write still blocked 5 s after Close")
	}
}
