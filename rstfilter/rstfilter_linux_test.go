package rstfilter

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/mdlayher/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"tcplab/netns"
)

// The kernel in B answers a SYN to a closed port with a RST (the control:
// a rule that did nothing would be noticed); with the filter installed for
// that address and port the RST never reaches A and the counter shows the
// drop, while RSTs from another port, or from the same port on another
// address, still do; after Remove the RST is back and the table is gone.
func TestDropsOnlyTheRuleSAddressAndPort(t *testing.T) {
	p := newPair(t)
	ports := distinctPorts(t, 2)
	filtered, other := p.at(ports[0]), p.at(ports[1])
	otherAddr := netip.AddrPortFrom(p.bOther, ports[0])

	p.syn(t, filtered)
	if n := p.resets(t, filtered, 0)[filtered]; n != 1 {
		t.Fatalf("control: %d RSTs from %s, want 1", n, filtered)
	}

	f, err := Install(Rule{Addr: p.bAddr, Ports: []uint16{filtered.Port()}}, WithNetNSFd(p.bFd))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Remove() })
	if !f.Owned() {
		t.Error("the table does not carry the owner flag on this kernel")
	}
	t.Log(f.Describe())
	if got := tables(t, p.bFd); !slices.Contains(got, f.Table()) {
		t.Fatalf("tables in B: %v, want %s among them", got, f.Table())
	}
	if n, err := f.Dropped(); err != nil || n != 0 {
		t.Fatalf("Dropped before any probe = %d, %v; want 0", n, err)
	}

	p.syn(t, filtered)
	p.syn(t, otherAddr)
	p.syn(t, other)
	seen := p.resets(t, other, rstLinger)
	if seen[filtered] != 0 {
		t.Errorf("with the filter: %d RSTs from %s, want none", seen[filtered], filtered)
	}
	if seen[otherAddr] != 1 || seen[other] != 1 {
		t.Errorf("with the filter: RSTs %v, want one from %s and one from %s", seen, otherAddr, other)
	}
	if n, err := f.Dropped(); err != nil || n != 1 {
		t.Errorf("Dropped = %d, %v; want 1", n, err)
	}

	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
	if got := tables(t, p.bFd); slices.Contains(got, f.Table()) {
		t.Fatalf("after Remove the tables in B are %v", got)
	}
	if n, err := f.Dropped(); err != nil || n != 1 {
		t.Errorf("Dropped after Remove = %d, %v; want the last reading, 1", n, err)
	}
	p.syn(t, filtered)
	if n := p.resets(t, filtered, 0)[filtered]; n != 1 {
		t.Fatalf("after Remove: %d RSTs from %s, want 1", n, filtered)
	}
}

// Two filters in one namespace are two tables: each drops its own port,
// and removing one (twice: Remove is idempotent) leaves the other working.
func TestTwoFiltersRemoveIndependently(t *testing.T) {
	p := newPair(t)
	ports := distinctPorts(t, 3)
	p1, p2, open := p.at(ports[0]), p.at(ports[1]), p.at(ports[2])

	f1, err := Install(Rule{Addr: p.bAddr, Ports: []uint16{p1.Port()}}, WithNetNSFd(p.bFd))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f1.Remove() })
	f2, err := Install(Rule{Addr: p.bAddr, Ports: []uint16{p2.Port()}}, WithNetNSFd(p.bFd))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f2.Remove() })
	if f1.Table() == f2.Table() {
		t.Fatalf("both filters named their table %s", f1.Table())
	}
	got := tables(t, p.bFd)
	if !slices.Contains(got, f1.Table()) || !slices.Contains(got, f2.Table()) {
		t.Fatalf("tables in B: %v, want %s and %s", got, f1.Table(), f2.Table())
	}

	p.syn(t, p1)
	p.syn(t, p2)
	p.syn(t, open)
	seen := p.resets(t, open, rstLinger)
	if seen[p1] != 0 || seen[p2] != 0 {
		t.Errorf("with both filters: RSTs %v, want only from %s", seen, open)
	}

	for i := range 2 {
		if err := f1.Remove(); err != nil {
			t.Fatalf("Remove #%d: %v", i+1, err)
		}
	}
	if got := tables(t, p.bFd); slices.Contains(got, f1.Table()) || !slices.Contains(got, f2.Table()) {
		t.Fatalf("after removing %s the tables in B are %v", f1.Table(), got)
	}
	p.syn(t, p2)
	p.syn(t, p1)
	seen = p.resets(t, p1, rstLinger)
	if seen[p1] != 1 || seen[p2] != 0 {
		t.Errorf("after removing the first filter: RSTs %v, want one from %s only", seen, p1)
	}
	if n, err := f2.Dropped(); err != nil || n != 2 {
		t.Errorf("second filter: Dropped = %d, %v; want 2", n, err)
	}
	for i := range 2 {
		if err := f2.Remove(); err != nil {
			t.Fatalf("second filter, Remove #%d: %v", i+1, err)
		}
	}
	if got := tables(t, p.bFd); len(got) != 0 {
		t.Fatalf("after removing both the tables in B are %v", got)
	}
}

// One rule per distinct port, all counted by Dropped.
func TestSeveralPorts(t *testing.T) {
	p := newPair(t)
	ports := distinctPorts(t, 3)
	f, err := Install(Rule{Addr: p.bAddr, Ports: []uint16{ports[0], ports[1], ports[0]}}, WithNetNSFd(p.bFd))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Remove() })
	if got := len(strings.Split(f.Describe(), "\n")); got != 2 {
		t.Errorf("Describe has %d lines for two distinct ports:\n%s", got, f.Describe())
	}
	for _, port := range ports {
		p.syn(t, p.at(port))
	}
	seen := p.resets(t, p.at(ports[2]), rstLinger)
	if seen[p.at(ports[0])] != 0 || seen[p.at(ports[1])] != 0 {
		t.Errorf("RSTs %v, want only from %s", seen, p.at(ports[2]))
	}
	if n, err := f.Dropped(); err != nil || n != 2 {
		t.Errorf("Dropped = %d, %v; want 2", n, err)
	}
}

// A rule for one peer and every port, sparing a mark: the kernel's RSTs
// from the address to the peer are dropped whatever the port, a RST the
// userspace stack sends itself with the mark (SO_MARK on its raw socket)
// goes through while the same without the mark does not (the drop in
// the output hook fails the sender's write with EPERM), and RSTs from
// another address are left alone.
func TestPeerAllPortsSpareMark(t *testing.T) {
	const mark = 0x74636c62
	p := newPair(t)
	ports := distinctPorts(t, 4)
	f, err := Install(Rule{Addr: p.bAddr, Peer: p.aAddr, SpareMark: mark}, WithNetNSFd(p.bFd))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Remove() })
	t.Log(f.Describe())
	kernel, own, unmarked := p.at(ports[0]), p.at(ports[1]), p.at(ports[2])
	other := netip.AddrPortFrom(p.bOther, ports[3])
	p.syn(t, kernel)
	if err := p.markedRST(own, mark); err != nil {
		t.Fatal(err)
	}
	if err := p.markedRST(unmarked, 0); !errors.Is(err, unix.EPERM) {
		t.Errorf("sending a RST without the mark: %v, want EPERM (dropped in the output hook)", err)
	}
	p.syn(t, other)
	seen := p.resets(t, other, rstLinger)
	if seen[kernel] != 0 || seen[unmarked] != 0 || seen[own] != 1 || seen[other] != 1 {
		t.Errorf("RSTs %v, want one from %s (marked) and one from %s, none from %s or %s", seen, own, other, kernel, unmarked)
	}
	if n, err := f.Dropped(); err != nil || n != 2 {
		t.Errorf("Dropped = %d, %v; want 2", n, err)
	}
}

// markedRST sends a RST from B's from to A's probe port on a raw socket in
// B with SO_MARK mark (0: none), as a userspace stack that shares B's
// address would.
func (p *pair) markedRST(from netip.AddrPort, mark int) error {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: from.Addr().AsSlice(), DstIP: p.aAddr.AsSlice()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(from.Port()), DstPort: layers.TCPPort(p.sport), Seq: 1, RST: true}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp); err != nil {
		return err
	}
	b := buf.Bytes()
	var err error
	p.b.Do(func() {
		var c net.PacketConn
		if c, err = net.ListenPacket("ip4:tcp", from.Addr().String()); err != nil {
			return
		}
		defer c.Close()
		var raw *ipv4.RawConn
		if raw, err = ipv4.NewRawConn(c); err != nil {
			return
		}
		var sc syscall.RawConn
		if sc, err = c.(*net.IPConn).SyscallConn(); err != nil {
			return
		}
		var serr error
		if err = sc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, mark) }); err == nil {
			err = serr
		}
		if err != nil {
			return
		}
		var h *ipv4.Header
		if h, err = ipv4.ParseHeader(b); err == nil {
			err = raw.WriteTo(h, b[h.Len:], nil)
		}
	})
	return err
}

// The owner flag: closing the socket that created the table deletes it,
// with no DELTABLE sent, as a process's death closes it.
func TestOwnerSocketCloseDeletesTable(t *testing.T) {
	ns := netns.ForTest(t)
	fd := nsFd(t, ns)
	f, err := Install(Rule{Addr: netip.MustParseAddr("198.18.0.1"), Ports: []uint16{randPort(t)}}, WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	if got := tables(t, fd); !slices.Contains(got, f.Table()) {
		t.Fatalf("tables %v, want %s among them", got, f.Table())
	}
	f.abandon()
	if got := tables(t, fd); len(got) != 0 {
		t.Fatalf("after closing the owner socket the tables are %v", got)
	}
	if err := f.Remove(); err != nil {
		t.Fatalf("Remove after the socket closed: %v", err)
	}
}

// A process that installed a filter and is killed with SIGKILL (no
// deferred Remove, no signal handler runs) leaves no table behind.
func TestSIGKILLLeavesNoTable(t *testing.T) {
	ns := netns.ForTest(t)
	fd := nsFd(t, ns)
	h := runHelper(t, "owner", fd, netip.MustParseAddr("198.18.0.1"), randPort(t), nil)
	name, ok := strings.CutPrefix(h.line, "table ")
	if !ok || !strings.HasSuffix(name, " owned=true") {
		t.Fatalf("helper: %q", h.line)
	}
	name = strings.TrimSuffix(name, " owned=true")
	if got := tables(t, fd); !slices.Contains(got, name) {
		t.Fatalf("tables %v, want the helper's %s among them", got, name)
	}
	h.kill(t)
	if got := tables(t, fd); len(got) != 0 {
		t.Fatalf("after SIGKILL the tables are %v", got)
	}
}

// The control for the owner flag, and the fallback for kernels without
// it: a table without the flag outlives the SIGKILLed process that made
// it, and Sweep deletes it because its pid is dead. The test's own live
// table is left alone.
func TestWithoutOwnerSweepRemovesDeadProcessTables(t *testing.T) {
	ns := netns.ForTest(t)
	fd := nsFd(t, ns)
	addr := netip.MustParseAddr("198.18.0.1")
	live, err := Install(Rule{Addr: addr, Ports: []uint16{randPort(t)}}, WithNetNSFd(fd), withoutOwner())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Remove() })
	if live.Owned() {
		t.Fatal("withoutOwner: the table is owned")
	}

	h := runHelper(t, "noowner", fd, addr, randPort(t), nil)
	name, ok := strings.CutPrefix(h.line, "table ")
	if !ok || !strings.HasSuffix(name, " owned=false") {
		t.Fatalf("helper: %q", h.line)
	}
	name = strings.TrimSuffix(name, " owned=false")
	h.kill(t)
	if got := tables(t, fd); !slices.Contains(got, name) {
		t.Fatalf("without the owner flag the table should outlive SIGKILL; tables %v", got)
	}

	swept, err := Sweep(WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(swept, []string{name}) {
		t.Errorf("Sweep deleted %v, want [%s]", swept, name)
	}
	if got := tables(t, fd); !slices.Equal(got, []string{live.Table()}) {
		t.Errorf("after Sweep the tables are %v, want only the live %s", got, live.Table())
	}
	if err := live.Remove(); err != nil {
		t.Fatal(err)
	}
}

// Without CAP_NET_ADMIN Install says so. The helper runs as nobody inside
// a namespace the test made (so it could not touch the host's ruleset even
// if it were allowed to); it needs a copy of the test binary that nobody
// may execute.
func TestNoCapNetAdmin(t *testing.T) {
	ns := netns.ForTest(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "rstfilter-nocap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyExe := filepath.Join(dir, "rstfilter.test")
	if err := os.Link(exe, copyExe); err != nil { // another file system: copy
		b, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copyExe, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(copyExe, 0o755); err != nil {
		t.Fatal(err)
	}

	var out []byte
	ns.Do(func() { // the child starts in this thread's namespace
		cmd := exec.Command(copyExe)
		cmd.Env = append(os.Environ(), helperEnv+"=nocap", helperAddrEnv+"=198.18.0.1", helperPortEnv+"=4242",
			// Under -race a process that exits sleeps 1 s first, by default.
			"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err = cmd.CombinedOutput()
	})
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), ErrNoCapNetAdmin.Error()) {
		t.Fatalf("helper said %q, want it to contain %q", out, ErrNoCapNetAdmin)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}

func TestRuleChecks(t *testing.T) {
	for _, tc := range []struct {
		r    Rule
		want error
	}{
		{Rule{Ports: []uint16{1}}, ErrNotIPv4},
		{Rule{Addr: netip.MustParseAddr("2001:db8::1"), Ports: []uint16{1}}, ErrNotIPv4},
		{Rule{Addr: netip.MustParseAddr("198.18.0.1")}, ErrNoPorts},
		{Rule{Addr: netip.MustParseAddr("198.18.0.1"), Ports: []uint16{}}, ErrNoPorts},
		{Rule{Addr: netip.MustParseAddr("198.18.0.1"), Ports: []uint16{80, 0}}, nil},
	} {
		// Install's first step; called directly so that no bug here can
		// reach the host's ruleset.
		_, err := tc.r.normalize()
		if err == nil {
			t.Errorf("normalize(%+v) succeeded", tc.r)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("normalize(%+v) = %v, want %v", tc.r, err, tc.want)
		}
	}

	r, err := Rule{Addr: netip.MustParseAddr("::ffff:198.18.0.1"), Ports: []uint16{9, 7, 9}}.normalize()
	if err != nil || r.Addr != netip.MustParseAddr("198.18.0.1") || !slices.Equal(r.Ports, []uint16{7, 9}) {
		t.Errorf("normalize = %+v, %v", r, err)
	}
}

func TestExplain(t *testing.T) {
	eperm := &netlink.OpError{Op: "receive", Err: unix.EPERM}
	if err := explain(eperm, false); !errors.Is(err, ErrNoCapNetAdmin) || !strings.Contains(err.Error(), "operation not permitted") {
		t.Errorf("EPERM: %v", err)
	}
	if err := explain(unix.EPROTONOSUPPORT, false); !errors.Is(err, ErrNoNFTables) {
		t.Errorf("EPROTONOSUPPORT: %v", err)
	}
	if err := explain(unix.ENOENT, false); err != unix.ENOENT {
		t.Errorf("ENOENT: %v", err)
	}
}

// What nft itself lists for the table is what Describe says, when the nft
// command is installed (Debian package nftables).
func TestDescribeMatchesNft(t *testing.T) {
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Skip("nft not installed (Debian package nftables)")
	}
	ns := netns.ForTest(t)
	for _, r := range []Rule{
		{Addr: netip.MustParseAddr("198.18.0.1"), Ports: []uint16{randPort(t)}},
		{Addr: netip.MustParseAddr("198.18.0.1"), Peer: netip.MustParseAddr("198.18.0.2"), SpareMark: 0x74636c62},
	} {
		describeMatchesNft(t, nft, ns, r)
	}
}

func describeMatchesNft(t *testing.T, nft string, ns *netns.Namespace, r Rule) {
	t.Helper()
	f, err := Install(r, WithNetNSFd(nsFd(t, ns)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Remove() })
	var out []byte
	ns.Do(func() { out, err = exec.Command(nft, "list", "table", "ip", f.Table()).CombinedOutput() })
	if err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	t.Logf("nft list table ip %s:\n%s", f.Table(), out)
	_, rule, _ := strings.Cut(f.Describe(), " "+chainName+" ")
	rule = strings.Replace(rule, "counter drop", "counter packets 0 bytes 0 drop", 1)
	if !strings.Contains(string(out), rule) {
		t.Errorf("nft lists\n%s\nwithout the rule Describe gives:\n%s", out, rule)
	}
	for _, want := range []string{"flags owner", "type filter hook output priority filter; policy accept;"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("nft lists\n%s\nwithout %q", out, want)
		}
	}
}
