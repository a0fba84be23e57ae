package rstfilter

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"tcplab/netns"
)

// The test binary doubles as a helper process that installs a filter and
// waits to be killed (see runHelper).
const (
	helperEnv     = "RSTFILTER_TEST_HELPER" // owner, noowner or nocap
	helperAddrEnv = "RSTFILTER_TEST_ADDR"
	helperPortEnv = "RSTFILTER_TEST_PORT"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

// helperMain runs in a child process. owner and noowner install a filter in
// the namespace of fd 3, print "table NAME", and wait until stdin closes or
// the parent kills them. nocap installs in the namespace it was started in
// and prints the error.
func helperMain(mode string) int {
	addr, err := netip.ParseAddr(os.Getenv(helperAddrEnv))
	if err != nil {
		fmt.Println("error", err)
		return 2
	}
	port, err := strconv.ParseUint(os.Getenv(helperPortEnv), 10, 16)
	if err != nil {
		fmt.Println("error", err)
		return 2
	}
	r := Rule{Addr: addr, Ports: []uint16{uint16(port)}}
	switch mode {
	case "owner", "noowner":
		opts := []Option{WithNetNSFd(3)}
		if mode == "noowner" {
			opts = append(opts, withoutOwner())
		}
		f, err := Install(r, opts...)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Printf("table %s owned=%v\n", f.Table(), f.Owned())
		io.Copy(io.Discard, os.Stdin) // the parent kills us first
		f.Remove()
		return 0
	case "nocap":
		f, err := Install(r)
		if err == nil {
			f.Remove()
			fmt.Println("installed without CAP_NET_ADMIN")
			return 1
		}
		fmt.Println("error", err)
		return 0
	}
	fmt.Println("error unknown helper mode", mode)
	return 2
}

// helper is a running helper process.
type helper struct {
	cmd   *exec.Cmd
	line  string // its first line of output
	stdin io.Closer
}

// runHelper starts the test binary as a helper in mode, with nsFd as its
// fd 3 (if >= 0), and reads its first line. Cleanup kills it.
func runHelper(t *testing.T, mode string, nsFd int, addr netip.Addr, port uint16, setup func(*exec.Cmd)) *helper {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(),
		helperEnv+"="+mode,
		helperAddrEnv+"="+addr.String(),
		helperPortEnv+"="+strconv.Itoa(int(port)))
	if nsFd >= 0 {
		dup, err := unix.FcntlInt(uintptr(nsFd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(dup), "netns")
		defer f.Close() // the child has its copy once Start returns
		cmd.ExtraFiles = []*os.File{f}
	}
	if setup != nil {
		setup(cmd)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd.Stdout = pw
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		pw.Close()
		t.Fatal(err)
	}
	pw.Close()
	h := &helper{cmd: cmd, stdin: stdin}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	pr.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("helper %s said nothing: %v", mode, err)
	}
	h.line = strings.TrimSpace(line)
	return h
}

// kill sends SIGKILL and waits for the helper to be gone.
func (h *helper) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := h.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper did not die of SIGKILL: %v", err)
	}
}

// subnet returns a random /24 in 198.19.0.0/16 (inside 198.18.0.0/15, the
// benchmarking range tests use) as its third octet.
func subnet(t *testing.T) byte {
	n, err := rand.Int(rand.Reader, big.NewInt(256))
	if err != nil {
		t.Fatal(err)
	}
	return byte(n.Int64())
}

// randPort returns a port in [20000, 60000).
func randPort(t *testing.T) uint16 {
	n, err := rand.Int(rand.Reader, big.NewInt(40000))
	if err != nil {
		t.Fatal(err)
	}
	return uint16(20000 + n.Int64())
}

// distinctPorts returns n different random ports.
func distinctPorts(t *testing.T, n int) []uint16 {
	var ps []uint16
	for len(ps) < n {
		p := randPort(t)
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// nsFd opens a fd of ns that t's cleanup closes.
func nsFd(t *testing.T, ns *netns.Namespace) int {
	t.Helper()
	fd, err := ns.Fd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// tables lists the names of the ip-family tables in the namespace of fd.
func tables(t *testing.T, fd int) []string {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range ts {
		names = append(names, tb.Name)
	}
	return names
}

// pair is two namespaces joined by a veth pair: A (198.19.R.1) sends TCP
// segments from a raw socket and sees what comes back; B (198.19.R.2 and
// 198.19.R.3) has no listener, so its kernel answers every SYN with a RST.
type pair struct {
	a, b   *netns.Namespace
	bFd    int
	aAddr  netip.Addr
	bAddr  netip.Addr    // the address filters are for
	bOther netip.Addr    // B's second address
	raw    *ipv4.RawConn // in A
	sport  uint16        // A's source port for every probe
}

func newPair(t *testing.T) *pair {
	t.Helper()
	p := &pair{a: netns.ForTest(t), b: netns.ForTest(t), sport: randPort(t)}
	p.bFd = nsFd(t, p.b)
	r := subnet(t)
	p.aAddr = netip.AddrFrom4([4]byte{198, 19, r, 1})
	p.bAddr = netip.AddrFrom4([4]byte{198, 19, r, 2})
	p.bOther = netip.AddrFrom4([4]byte{198, 19, r, 3})
	nameA, nameB := netns.DevName("rsta"), netns.DevName("rstb")

	var err error
	// Created inside A with its peer moved straight to B: nothing appears
	// in the host's namespace, even for a moment.
	p.a.Do(func() {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nameA}, PeerName: nameB, PeerNamespace: netlink.NsFd(p.bFd)}
		if err = netlink.LinkAdd(veth); err != nil {
			err = fmt.Errorf("veth: %w", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// B's end up first, A's last. Bringing up the second end turns the
	// carrier on, and only that end gets its queue at once; the other end
	// gets it from the kernel's linkwatch work, some time later, and drops
	// what it sends until then (an ARP reply lost that way costs a 1 s
	// retry, a RST the test). So A is brought up last, and newPair returns
	// when the kernel reports B's end operationally up, which it does after
	// giving it its queue.
	p.b.Do(func() { err = configure(nameB, p.bAddr, p.bOther) })
	if err != nil {
		t.Fatal(err)
	}
	var events *nl.NetlinkSocket
	p.b.Do(func() { events, err = nl.Subscribe(unix.NETLINK_ROUTE, unix.RTNLGRP_LINK) })
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	if err := events.SetReceiveTimeout(&unix.Timeval{Sec: 10}); err != nil {
		t.Fatal(err)
	}
	p.a.Do(func() {
		if err = configure(nameA, p.aAddr); err != nil {
			return
		}
		var c net.PacketConn
		if c, err = net.ListenPacket("ip4:tcp", p.aAddr.String()); err != nil {
			return
		}
		if p.raw, err = ipv4.NewRawConn(c); err != nil {
			c.Close()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.raw.Close() })
	waitOperUp(t, events, nameB)
	return p
}

// waitOperUp reads link events until one says the device is up.
func waitOperUp(t *testing.T, events *nl.NetlinkSocket, name string) {
	t.Helper()
	for {
		msgs, _, err := events.Receive()
		if err != nil {
			t.Fatalf("waiting for %s to be operationally up: %v", name, err)
		}
		for _, m := range msgs {
			if m.Header.Type != unix.RTM_NEWLINK {
				continue
			}
			h := unix.NlMsghdr(m.Header)
			l, err := netlink.LinkDeserialize(&h, m.Data)
			if err == nil && l.Attrs().Name == name && l.Attrs().OperState == netlink.OperUp {
				return
			}
		}
	}
}

// configure gives the device the addresses (/24) and brings it up. It
// runs on a namespace's thread.
func configure(name string, addrs ...netip.Addr) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(24, 32)}}
		if err := netlink.AddrAdd(l, a); err != nil {
			return fmt.Errorf("address %s on %s: %w", addr, name, err)
		}
	}
	return netlink.LinkSetUp(l)
}

// syn sends a SYN from A to dst (one of B's addresses), crafted with
// gopacket.
func (p *pair) syn(t *testing.T, dst netip.AddrPort) {
	t.Helper()
	ip := &layers.IPv4{
		Version:  4,
		IHL:      5,
		TTL:      64,
		Protocol: layers.IPProtocolTCP,
		SrcIP:    p.aAddr.AsSlice(),
		DstIP:    dst.Addr().AsSlice(),
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(p.sport),
		DstPort: layers.TCPPort(dst.Port()),
		Seq:     0x01020304,
		SYN:     true,
		Window:  64240,
	}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	h, err := ipv4.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.raw.WriteTo(h, b[h.Len:], nil); err != nil {
		t.Fatal(err)
	}
}

// rstDue bounds the wait for a RST that must come; it comes in well under
// a millisecond.
const rstDue = 10 * time.Second

// rstLinger is how long to go on listening, after the RST that must come,
// for RSTs that must not: the probes for them are sent first, and a RST
// from B is sent while B's kernel handles the probe, so one that got past
// the filter would arrive before, or at worst right after, the expected
// one (two probes can be handled on two CPUs at once).
const rstLinger = 200 * time.Millisecond

// resets reads what comes back to A until a RST from until has arrived
// (failing the test if none does within rstDue) and then for linger more,
// and returns how many RSTs each of B's addresses and ports sent to A's
// probe port.
func (p *pair) resets(t *testing.T, until netip.AddrPort, linger time.Duration) map[netip.AddrPort]int {
	t.Helper()
	seen := map[netip.AddrPort]int{}
	deadline := time.Now().Add(rstDue)
	got := false
	buf := make([]byte, 2048)
	for {
		if err := p.raw.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		h, payload, _, err := p.raw.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if !got {
					t.Fatalf("no RST from %s within %v (seen: %v)", until, rstDue, seen)
				}
				return seen
			}
			t.Fatal(err)
		}
		src, ok := netip.AddrFromSlice(h.Src.To4())
		if !ok || src != p.bAddr && src != p.bOther {
			continue
		}
		var tcp layers.TCP
		if err := tcp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			continue
		}
		if !tcp.RST || uint16(tcp.DstPort) != p.sport {
			continue
		}
		from := netip.AddrPortFrom(src, uint16(tcp.SrcPort))
		seen[from]++
		if from == until && !got {
			got = true
			deadline = time.Now().Add(linger)
		}
	}
}

// at is B's filtered address with port.
func (p *pair) at(port uint16) netip.AddrPort { return netip.AddrPortFrom(p.bAddr, port) }
