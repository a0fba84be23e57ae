package tun

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"tcplab/upload"
)

// setSysctl writes a sysctl of the namespace ns (on its thread: /proc/sys/net
// is the calling thread's namespace), never the host's.
func setSysctl(t *testing.T, ns testNS, key, value string) {
	t.Helper()
	var err error
	ns.do(func() {
		err = os.WriteFile("/proc/sys/"+strings.ReplaceAll(key, ".", "/"), []byte(value), 0)
	})
	if err != nil {
		t.Fatalf("sysctl %s=%s in the test namespace: %v", key, value, err)
	}
}

// TestStacksThroughKernel puts the handmade stack on one TUN device and
// netstack on another, in a namespace whose kernel routes between them
// (ip_forward set in that namespace only), and uploads 64 MiB each way.
func TestStacksThroughKernel(t *testing.T) {
	requireDevices(t)
	const size = 64 << 20
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{64}).Read(data)
	want := sha256.Sum256(data)
	for _, dir := range [][2]int{{0, 1}, {1, 0}} { // stacks[0] is handmade, stacks[1] netstackref
		client, server := stacks[dir[0]], stacks[dir[1]]
		t.Run(client.name+"-to-"+server.name, func(t *testing.T) {
			ns := newNetns(t)
			setSysctl(t, ns, "net.ipv4.ip_forward", "1")
			ca, sa := netip.MustParseAddr("198.18.240.2"), netip.MustParseAddr("198.18.241.2")
			cd := ns.open(t, Config{Name: devName(), KernelAddr: netip.MustParsePrefix("198.18.240.1/24")})
			sd := ns.open(t, Config{Name: devName(), KernelAddr: netip.MustParsePrefix("198.18.241.1/24")})
			cs, err := client.new(cd, ca)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cs.close() })
			ss, err := server.new(sd, sa)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ss.close() })
			ln, err := ss.listen(12345)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			resc := upload.Receive(ctx, ln, true)
			start := time.Now()
			c, err := cs.dial(ctx, netip.AddrPortFrom(sa, 12345))
			if err != nil {
				t.Fatalf("dial through the kernel: %v", err)
			}
			c.SetDeadline(time.Now().Add(2 * time.Minute))
			if _, err := c.Write(data); err != nil {
				t.Fatalf("write: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			r := <-resc
			if r.Err != nil || r.N != size || r.Sum != want {
				t.Fatalf("server got %d of %d bytes, digest equal %v, err %v", r.N, size, r.Sum == want, r.Err)
			}
			el := time.Since(start)
			t.Logf("64 MiB through the kernel in %v (%.0f Mbit/s)", el.Round(time.Millisecond), float64(size*8)/el.Seconds()/1e6)
		})
	}
}

// TestCurlFromHandmadeHTTPServer serves Go's net/http on the handmade
// listener over a TUN device; curl, run by the kernel's TCP in the test's
// namespace, fetches a page and a 2 MiB body.
func TestCurlFromHandmadeHTTPServer(t *testing.T) {
	requireDevices(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("needs curl (apt-get install curl; .ci/run installs it)")
	}
	ns := newNetns(t)
	d := ns.open(t, Config{Name: devName(), KernelAddr: netip.MustParsePrefix("198.18.242.1/24")})
	us, err := stacks[0].new(d, netip.MustParseAddr("198.18.242.2"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { us.close() })
	ln, err := us.listen(8080)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 2<<20)
	rand.NewChaCha8([32]byte{2}).Read(big)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the hand-built TCP, %s\n", r.RemoteAddr)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(big) })
	srv := &http.Server{Handler: mux}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	}()

	fetch := func(path string) []byte {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := exec.Command(curl, "-sS", "--fail", "--max-time", "30", "http://198.18.242.2:8080"+path)
		cmd.Stdout, cmd.Stderr = &out, &errb
		// Started on the namespace's thread, curl is born in the namespace.
		ns.do(func() { err = cmd.Start() })
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("curl %s: %v\n%s", path, err, errb.String())
		}
		return out.Bytes()
	}
	if got := string(fetch("/")); !strings.HasPrefix(got, "hello from the hand-built TCP, 198.18.242.1:") {
		t.Errorf("curl / got %q", got)
	}
	if got := fetch("/big"); !bytes.Equal(got, big) {
		t.Errorf("curl /big: %d bytes, want the %d served", len(got), len(big))
	}
}
