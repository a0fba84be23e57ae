package tun

import (
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"tcplab/handmade"
	"tcplab/netstackref"
	"tcplab/upload"
)

const uploadSize = 4 << 20

// userStack is a userspace TCP on the device: handmade or netstackref.
type userStack struct {
	dial   func(ctx context.Context, to netip.AddrPort) (net.Conn, error)
	listen func(port uint16) (net.Listener, error)
	close  func() error
}

var stacks = []struct {
	name string
	new  func(*Device, netip.Addr) (userStack, error)
}{
	{"handmade", func(d *Device, a netip.Addr) (userStack, error) {
		s, err := handmade.NewStack(d, a, handmade.Config{})
		if err != nil {
			return userStack{}, err
		}
		return userStack{
			dial: func(ctx context.Context, to netip.AddrPort) (net.Conn, error) {
				c, err := s.Dial(ctx, to)
				if err != nil {
					return nil, err
				}
				return c, nil
			},
			listen: func(p uint16) (net.Listener, error) {
				l, err := s.Listen(p)
				if err != nil {
					return nil, err
				}
				return l, nil
			},
			close: s.Close,
		}, nil
	}},
	{"netstackref", func(d *Device, a netip.Addr) (userStack, error) {
		s, err := netstackref.New(d, a, netstackref.DefaultOptions())
		if err != nil {
			return userStack{}, err
		}
		return userStack{dial: s.Dial, listen: s.Listen, close: s.Close}, nil
	}},
}

// TestKernelPeer moves 4 MiB through a TUN device between the Linux
// kernel (198.18.N.1, in a namespace the test made) and a userspace stack
// on the device (198.18.N.2), in both directions, and compares SHA-256.
func TestKernelPeer(t *testing.T) {
	requireDevices(t)
	n := 244 // 244-247
	for _, st := range stacks {
		for _, kernelClient := range []bool{false, true} {
			name := st.name + "/user_client"
			if kernelClient {
				name = st.name + "/kernel_client"
			}
			subnet := n
			n++
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				kernelPeer(t, st.new, subnet, kernelClient)
			})
		}
	}
}

func kernelPeer(t *testing.T, newStack func(*Device, netip.Addr) (userStack, error), subnet int, kernelClient bool) {
	ns := newNetns(t)
	kernelAddr := netip.AddrFrom4([4]byte{198, 18, byte(subnet), 1})
	userAddr := netip.AddrFrom4([4]byte{198, 18, byte(subnet), 2})
	d := ns.open(t, Config{Name: devName(), KernelAddr: netip.PrefixFrom(kernelAddr, 24)})
	us, err := newStack(d, userAddr)
	if err != nil {
		t.Fatalf("starting the stack: %v", err)
	}
	t.Cleanup(func() { us.close() })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := make([]byte, uploadSize)
	rand.NewChaCha8([32]byte{byte(subnet)}).Read(data)
	want := sha256.Sum256(data)

	var ln net.Listener
	const port = 5001
	if kernelClient {
		ln, err = us.listen(port)
	} else {
		ns.do(func() { ln, err = net.Listen("tcp", netip.AddrPortFrom(kernelAddr, port).String()) })
	}
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	resc := upload.Receive(ctx, ln, true)

	start := time.Now()
	var c net.Conn
	if kernelClient {
		ns.do(func() {
			var dl net.Dialer
			c, err = dl.DialContext(ctx, "tcp", netip.AddrPortFrom(userAddr, port).String())
		})
	} else {
		c, err = us.dial(ctx, netip.AddrPortFrom(kernelAddr, port))
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetWriteDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write(data); err != nil {
		c.Close()
		t.Fatalf("write: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	r := <-resc // ctx's end closes the connection
	el := time.Since(start)
	if r.Err != nil {
		t.Fatalf("receiver after %d bytes, %v: %v", r.N, el, r.Err)
	}
	if r.N != uploadSize || r.Sum != want {
		t.Fatalf("received %d bytes, sha256 %x; want %d, %x", r.N, r.Sum, uploadSize, want)
	}
	t.Logf("4 MiB in %v (%.0f Mbit/s), %d non-IPv4 packets skipped", el.Round(time.Millisecond),
		float64(uploadSize*8)/el.Seconds()/1e6, d.Skipped())
}
