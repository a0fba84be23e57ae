package rawlink

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"tcplab/handmade"
	"tcplab/netstackref"
	"tcplab/upload"
)

// uploadSize is what each transfer moves: 16 MiB.
const uploadSize = 16 << 20

// userStack is a userspace TCP on a Link: handmade or netstackref.
type userStack struct {
	name   string
	dial   func(ctx context.Context, to netip.AddrPort) (net.Conn, error)
	listen func(port uint16) (net.Listener, error)
	stats  func() string
	close  func() error
}

func newHandmade(t *testing.T, l *Link, addr netip.Addr) userStack {
	s, err := handmade.NewStack(l, addr, handmade.Config{})
	if err != nil {
		t.Fatalf("handmade.NewStack: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return userStack{
		name: "handmade",
		dial: func(ctx context.Context, to netip.AddrPort) (net.Conn, error) {
			c, err := s.Dial(ctx, to)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		listen: func(p uint16) (net.Listener, error) {
			ln, err := s.Listen(p)
			if err != nil {
				return nil, err
			}
			return ln, nil
		},
		stats: func() string { return fmt.Sprintf("%+v", s.Counters()) },
		close: s.Close,
	}
}

func newNetstack(t *testing.T, l *Link, addr netip.Addr) userStack {
	s, err := netstackref.New(l, addr, netstackref.DefaultOptions())
	if err != nil {
		t.Fatalf("netstackref.New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return userStack{name: "netstackref", dial: s.Dial, listen: s.Listen,
		stats: func() string { return s.Counters().String() }, close: s.Close}
}

// uploadOver moves uploadSize octets from dial to a connection accepted on
// ln, closes, and checks that the receiver read exactly what was sent
// (SHA-256) up to EOF.
func uploadOver(t *testing.T, ln net.Listener, dial func(ctx context.Context) (net.Conn, error), seed byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	data := make([]byte, uploadSize)
	rand.NewChaCha8([32]byte{seed}).Read(data)
	want := sha256.Sum256(data)

	resc := upload.Receive(ctx, ln, true)
	start := time.Now()
	c, err := dial(ctx)
	if err != nil {
		ln.Close()
		<-resc
		t.Fatalf("dial: %v", err)
	}
	c.SetWriteDeadline(time.Now().Add(90 * time.Second))
	if _, err := c.Write(data); err != nil {
		c.Close()
		ln.Close()
		t.Fatalf("write after %v: %v", time.Since(start), err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	r := <-resc // ctx's end closes the connection
	el := time.Since(start)
	if r.Err != nil {
		t.Fatalf("receiver after %d octets, %v: %v", r.N, el, r.Err)
	}
	if r.N != uploadSize || r.Sum != want {
		t.Fatalf("received %d octets, sha256 %x; want %d, %x", r.N, r.Sum, uploadSize, want)
	}
	t.Logf("%d MiB intact in %v (%.0f Mbit/s), sha256 %x", uploadSize>>20, el.Round(time.Millisecond),
		float64(uploadSize*8)/el.Seconds()/1e6, want[:8])
}

// TestUserspaceUpload: the article's upload between two hosts, a
// userspace stack on a rawlink on each, each with an address of its own
// (the kernels own others): handmade client to netstackref server, and
// netstackref client to handmade server.
func TestUserspaceUpload(t *testing.T) {
	for i, tc := range []struct {
		name           string
		client, server func(*testing.T, *Link, netip.Addr) userStack
	}{
		{"handmade_to_netstackref", newHandmade, newNetstack},
		{"netstackref_to_handmade", newNetstack, newHandmade},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := twoHosts(t)
			la := a.open(t, Config{Addr: a.user})
			lb := b.open(t, Config{Addr: b.user})
			cs := tc.client(t, la, a.user)
			ss := tc.server(t, lb, b.user)
			ln, err := ss.listen(5001)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			uploadOver(t, ln, func(ctx context.Context) (net.Conn, error) {
				return cs.dial(ctx, netip.AddrPortFrom(b.user, 5001))
			}, byte(i+1))
			sa, sb := la.Stats(), lb.Stats()
			t.Logf("link a: %+v", sa)
			t.Logf("link b: %+v", sb)
			t.Logf("%s client: %s", cs.name, cs.stats())
			t.Logf("%s server: %s", ss.name, ss.stats())
			for _, s := range []Stats{sa, sb} {
				if s.Malformed != 0 || s.Truncated != 0 || s.NotForUs != 0 || s.ARPFailures != 0 {
					t.Errorf("link counters %+v: want no malformed, truncated, foreign frames or ARP failures", s)
				}
			}
		})
	}
}

// TestKernelUpload: a Linux socket in a's namespace uploads to a
// userspace server on a rawlink in b's, at b's own userspace address: the
// kernel resolves it with ARP, and the rawlink answers. With the kernel's
// offloads off it sends MTU-sized segments with full checksums; with TSO,
// GSO and TX checksumming on, veth hands b 64 KiB frames whose checksums
// are partial, which the link completes and delivers (to handmade, as
// asked, and to netstackref, which must cope with them too).
func TestKernelUpload(t *testing.T) {
	for i, tc := range []struct {
		stack    string
		server   func(*testing.T, *Link, netip.Addr) userStack
		offloads bool
	}{
		{"handmade", newHandmade, false},
		{"handmade", newHandmade, true},
		{"netstackref", newNetstack, true},
	} {
		name := "offloads_off"
		if tc.offloads {
			name = "offloads_on"
		}
		t.Run(tc.stack+"/"+name, func(t *testing.T) {
			a, b := twoHosts(t)
			a.kernelOffloads(t, tc.offloads)
			lb := b.open(t, Config{Addr: b.user})
			srv := tc.server(t, lb, b.user)
			ln, err := srv.listen(5001)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			uploadOver(t, ln, func(ctx context.Context) (net.Conn, error) {
				var (
					c   net.Conn
					err error
				)
				a.do(func() {
					var d net.Dialer
					c, err = d.DialContext(ctx, "tcp", netip.AddrPortFrom(b.user, 5001).String())
				})
				return c, err
			}, byte(10+i))
			st := lb.Stats()
			t.Logf("link b: %+v", st)
			t.Logf("%s server: %s", srv.name, srv.stats())
			if st.ARPRequestsAnswered == 0 {
				t.Error("the kernel reached b's address without the link answering ARP")
			}
			if st.Malformed != 0 || st.Truncated != 0 {
				t.Errorf("%d malformed, %d truncated frames", st.Malformed, st.Truncated)
			}
			if tc.offloads && (st.Oversize == 0 || st.ChecksumsCompleted == 0) {
				t.Errorf("with the kernel's offloads on: %d oversize frames, %d checksums completed; want some of each", st.Oversize, st.ChecksumsCompleted)
			}
			if !tc.offloads && (st.Oversize != 0 || st.ChecksumsCompleted != 0) {
				t.Errorf("with the kernel's offloads off: %d oversize frames, %d checksums completed; want none", st.Oversize, st.ChecksumsCompleted)
			}
		})
	}
}
