package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"tcplab/netns"
)

// TestMain lets a test run this binary as tcplab itself (a subprocess a
// test can interrupt with SIGINT, as a user would).
func TestMain(m *testing.M) {
	if os.Getenv("TCPLAB_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// These tests put devices in the host's network namespace, as a user's
// run does: names are unique per test (netns.DevName) and subnets are
// random /24s inside 198.19.128.0/17, so parallel packages never meet.
func requireRoot(t *testing.T) {
	t.Helper()
	if err := netns.CanBuild(); err != nil {
		t.Skip(err)
	}
}

// testSubnet returns a random 198.19.R.0/24 (R >= 128) no interface uses.
func testSubnet(t *testing.T) (kernel netip.Prefix, stack netip.Addr) {
	t.Helper()
	for range 50 {
		var b [1]byte
		rand.Read(b[:])
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, b[0] | 0x80, 1}), 24)
		if _, used := subnetInUse(p, ""); !used {
			return p, netip.AddrFrom4([4]byte{198, 19, b[0] | 0x80, 2})
		}
	}
	t.Fatal("no free /24 in 198.19.128.0/17")
	return
}

// proc is tcplab running as a subprocess.
type proc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	lines  chan string // stderr, line by line
	stderr strings.Builder
	done   chan error
}

// startTCPLab starts tcplab with args; Cleanup kills it if still running.
func startTCPLab(t *testing.T, args ...string) *proc {
	t.Helper()
	return startTCPLabIn(t, nil, args...)
}

// startTCPLabIn starts tcplab inside ns (nil: this process's namespace):
// forked from the namespace's thread, the child is born there.
func startTCPLabIn(t *testing.T, ns *netns.Namespace, args ...string) *proc {
	t.Helper()
	p := &proc{lines: make(chan string, 1000), done: make(chan error, 1)}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), "TCPLAB_TEST_RUN_MAIN=1")
	p.cmd.Stdout = &p.stdout
	// If this test binary dies, so does tcplab (and with it its devices).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := func() { err = p.cmd.Start() }
	if ns != nil {
		ns.Do(start)
	} else {
		start()
	}
	if err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		defer close(p.lines)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			p.stderr.WriteString(sc.Text() + "\n")
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { <-scanned; p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitLine waits for a line of stderr containing s.
func (p *proc) waitLine(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("tcplab exited before saying %q; stderr:\n%s", s, p.stderr.String())
			}
			if strings.Contains(l, s) {
				return
			}
		case <-timeout:
			t.Fatalf("tcplab did not say %q within 20 s; stderr so far:\n%s", s, p.stderr.String())
		}
	}
}

// wait waits for the exit and returns the exit status.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for Cleanup
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(2 * time.Minute):
		t.Fatalf("tcplab did not exit; stderr:\n%s", p.stderr.String())
		return -1
	}
}

func decodeOne[T any](t *testing.T, b []byte, v *T) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not a JSON document: %v\n%s", err, b)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", b)
	}
}

func assertNoDevice(t *testing.T, name string) {
	t.Helper()
	if _, err := netlink.LinkByName(name); err == nil {
		t.Errorf("device %s is still there after tcplab exited", name)
	}
}

// A kernel client uploads to the handmade and the netstack server, each on
// a TUN device of its own, through the kernel's routing.
func TestKernelClientUploadsToServerOnTUN(t *testing.T) {
	requireRoot(t)
	for _, stack := range []string{stackHandmade, stackNetstack} {
		t.Run(stack, func(t *testing.T) {
			kernel, addr := testSubnet(t)
			dev := netns.DevName("tls")
			srv := startTCPLab(t, "server", "--json", "--stack", stack, "--link", "tun:"+dev, "--kernel-addr", kernel.String(), "--addr", addr.String())
			srv.waitLine(t, "listening on")
			rep, stderr, err := clientJSON(t, "--stack", "linux", "--server", addr.String(), "--size", "8MiB", "--seed", "3")
			if err != nil || !rep.OK {
				t.Fatalf("client: %v %+v\n%s", err, rep.Upload, stderr)
			}
			if code := srv.wait(t); code != 0 {
				t.Fatalf("server exit %d\n%s", code, srv.stderr.String())
			}
			var srep serverReport
			decodeOne(t, srv.stdout.Bytes(), &srep)
			if !srep.OK || len(srep.Uploads) != 1 || srep.Uploads[0].SHA256 != rep.Upload.SHA256 || srep.Uploads[0].Bytes != 8<<20 {
				t.Fatalf("server report %+v, client sent sha %s", srep, rep.Upload.SHA256)
			}
			if from, err := netip.ParseAddrPort(srep.Uploads[0].Peer); err != nil || srep.Uploads[0].Peer != rep.Upload.Local || from.Addr() != kernel.Addr() {
				t.Errorf("the upload came from %s (client says %s); want the TUN's kernel address %s", srep.Uploads[0].Peer, rep.Upload.Local, kernel.Addr())
			}
			assertNoDevice(t, dev)
		})
	}
}

// The handmade and the netstack client upload through a TUN device to a
// kernel listener (tcplab server --stack linux), which binds before the
// device exists (IP_FREEBIND).
func TestClientOnTUNUploadsToKernelServer(t *testing.T) {
	requireRoot(t)
	for _, stack := range []string{stackHandmade, stackNetstack} {
		t.Run(stack, func(t *testing.T) {
			kernel, addr := testSubnet(t)
			dev := netns.DevName("tlc")
			srv := startTCPLab(t, "server", "--json", "--stack", "linux", "--addr", kernel.Addr().String())
			srv.waitLine(t, "listening on")
			rep, stderr, err := clientJSON(t, "--stack", stack, "--link", "tun:"+dev, "--kernel-addr", kernel.String(), "--addr", addr.String(),
				"--server", kernel.Addr().String(), "--size", "8MiB")
			if err != nil || !rep.OK {
				t.Fatalf("client: %v %+v\n%s", err, rep.Upload, stderr)
			}
			if code := srv.wait(t); code != 0 {
				t.Fatalf("server exit %d\n%s", code, srv.stderr.String())
			}
			var srep serverReport
			decodeOne(t, srv.stdout.Bytes(), &srep)
			if !srep.OK || len(srep.Uploads) != 1 || srep.Uploads[0].SHA256 != rep.Upload.SHA256 || srep.Uploads[0].Peer != rep.Upload.Local {
				t.Fatalf("server report %+v; client %+v", srep, rep.Upload)
			}
			assertNoDevice(t, dev)
		})
	}
}

// Ctrl-C in the middle of an upload: the server stops, reports the
// upload as interrupted, exits 130 and its TUN device is gone.
func TestServerInterruptedMidTransferLeavesNothing(t *testing.T) {
	requireRoot(t)
	kernel, addr := testSubnet(t)
	dev := netns.DevName("tli")
	srv := startTCPLab(t, "server", "--json", "--link", "tun:"+dev, "--kernel-addr", kernel.String(), "--addr", addr.String())
	srv.waitLine(t, "listening on")
	if _, err := netlink.LinkByName(dev); err != nil {
		t.Fatalf("the server's device %s is missing while it runs: %v", dev, err)
	}
	c, err := net.Dial("tcp4", netip.AddrPortFrom(addr, defaultPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	for written := 0; written < 4<<20; written += len(buf) {
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	srv.waitLine(t, "connected from")
	srv.cmd.Process.Signal(os.Interrupt)
	// Keep sending until the server's end goes: a transfer in progress.
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	var werr error
	for werr == nil {
		_, werr = c.Write(buf)
	}
	if code := srv.wait(t); code != 130 {
		t.Fatalf("exit status %d after SIGINT, want 130\n%s", code, srv.stderr.String())
	}
	var srep serverReport
	decodeOne(t, srv.stdout.Bytes(), &srep)
	if !srep.Interrupted || srep.OK || len(srep.Uploads) != 1 || srep.Uploads[0].OK || srep.Uploads[0].Bytes == 0 || !strings.Contains(srep.Uploads[0].Error, "interrupted") {
		t.Errorf("report after SIGINT: %+v", srep)
	}
	if errors.Is(werr, os.ErrDeadlineExceeded) {
		t.Errorf("the kernel client kept writing for 30 s after the server was interrupted")
	}
	assertNoDevice(t, dev)
}

// Ctrl-C in the middle of an upload from the handmade client on a TUN:
// exit 130, device gone, and the kernel server sees the connection end.
func TestClientInterruptedMidTransferLeavesNothing(t *testing.T) {
	requireRoot(t)
	kernel, addr := testSubnet(t)
	dev := netns.DevName("tlj")
	ln := freebindListener(t, netip.AddrPortFrom(kernel.Addr(), defaultPort))
	cli := startTCPLab(t, "client", "--json", "--link", "tun:"+dev, "--kernel-addr", kernel.String(), "--addr", addr.String(),
		"--server", kernel.Addr().String(), "--size", "4GiB")
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.CopyN(io.Discard, c, 4<<20); err != nil {
		t.Fatalf("reading the first 4 MiB: %v\n%s", err, cli.stderr.String())
	}
	cli.cmd.Process.Signal(os.Interrupt)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, rerr := io.Copy(io.Discard, c)
	if code := cli.wait(t); code != 130 {
		t.Fatalf("exit status %d after SIGINT, want 130\n%s", code, cli.stderr.String())
	}
	if errors.Is(rerr, os.ErrDeadlineExceeded) {
		t.Errorf("the server's read did not end within 30 s of the client's SIGINT")
	}
	var rep clientReport
	decodeOne(t, cli.stdout.Bytes(), &rep)
	if rep.OK || !strings.Contains(rep.Upload.Error, "interrupted") {
		t.Errorf("report after SIGINT: %+v", rep.Upload)
	}
	assertNoDevice(t, dev)
}

// freebindListener listens on a, which may not exist yet (IP_FREEBIND).
func freebindListener(t *testing.T, a netip.AddrPort) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1) })
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp4", a.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// The server takes three uploads at once, saves each, and reports each
// with the digest of what its client sent.
func TestServerTakesUploadsAtOnce(t *testing.T) {
	requireRoot(t)
	for _, stack := range []string{stackHandmade, stackNetstack} {
		t.Run(stack, func(t *testing.T) {
			kernel, addr := testSubnet(t)
			dev := netns.DevName("tlm")
			dir := t.TempDir()
			srv := startTCPLab(t, "server", "--json", "--stack", stack, "--link", "tun:"+dev, "--kernel-addr", kernel.String(),
				"--addr", addr.String(), "--count", "3", "--save-dir", dir)
			srv.waitLine(t, "listening on")
			sums := map[string]string{} // client address -> digest sent
			var conns []*net.TCPConn
			var payloads [][]byte
			for i := range 3 {
				c, err := net.Dial("tcp4", netip.AddrPortFrom(addr, defaultPort).String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Minute))
				data := makePayload(int64(1<<20+i*1000), int64(i))
				sum := sha256.Sum256(data)
				sums[c.LocalAddr().String()] = hex.EncodeToString(sum[:])
				conns = append(conns, c.(*net.TCPConn))
				payloads = append(payloads, data)
			}
			upload := func(i int) {
				t.Helper()
				c := conns[i]
				if _, err := c.Write(payloads[i]); err != nil {
					t.Fatal(err)
				}
				c.CloseWrite()
				if _, err := io.Copy(io.Discard, c); err != nil {
					t.Fatalf("upload %d: waiting for the server's FIN: %v", i, err)
				}
			}
			// The first connection stays open, unfinished, while the other
			// two complete: the server does not take uploads one by one.
			upload(1)
			upload(2)
			upload(0)
			if code := srv.wait(t); code != 0 {
				t.Fatalf("server exit %d\n%s", code, srv.stderr.String())
			}
			var srep serverReport
			decodeOne(t, srv.stdout.Bytes(), &srep)
			if !srep.OK || len(srep.Uploads) != 3 {
				t.Fatalf("report %+v", srep)
			}
			for _, u := range srep.Uploads {
				saved, err := os.ReadFile(u.Saved)
				if err != nil {
					t.Fatalf("upload from %s: %v", u.Peer, err)
				}
				got := sha256.Sum256(saved)
				if want := sums[u.Peer]; want == "" || u.SHA256 != want || hex.EncodeToString(got[:]) != want {
					t.Errorf("upload from %s: reported %s, saved file %x, client sent %s", u.Peer, u.SHA256, got, want)
				}
			}
			assertNoDevice(t, dev)
		})
	}
}

// server --check judges an external client's conversation (here the
// kernel's) from the server's capture, on either server stack.
func TestServerCheckJudgesAKernelClient(t *testing.T) {
	requireRoot(t)
	for _, stack := range []string{"netstack", "handmade"} {
		t.Run(stack, func(t *testing.T) {
			kernel, addr := testSubnet(t)
			srv := startTCPLab(t, "server", "--json", "--check", "--stack", stack, "--link", "tun:"+netns.DevName("tlk"),
				"--kernel-addr", kernel.String(), "--addr", addr.String())
			srv.waitLine(t, "listening on")
			rep, stderr, err := clientJSON(t, "--stack", "linux", "--server", addr.String(), "--size", "2MiB")
			if err != nil || !rep.OK {
				t.Fatalf("client: %v %+v\n%s", err, rep.Upload, stderr)
			}
			if code := srv.wait(t); code != 0 {
				t.Fatalf("server exit %d\n%s", code, srv.stderr.String())
			}
			var srep serverReport
			decodeOne(t, srv.stdout.Bytes(), &srep)
			if len(srep.Uploads) != 1 || srep.Uploads[0].Conversation == nil {
				t.Fatalf("report %+v", srep)
			}
			cv := srep.Uploads[0].Conversation
			if !srep.OK || !cv.Clean() || cv.BytesC2S != 2<<20 || cv.Client.String() != rep.Upload.Local {
				t.Errorf("conversation %v, problems %q; client %s", cv, cv.Problems, rep.Upload.Local)
			}
			if !strings.Contains(srv.stderr.String(), "clean") {
				t.Errorf("the narration does not give the verdict:\n%s", srv.stderr.String())
			}
		})
	}
}
