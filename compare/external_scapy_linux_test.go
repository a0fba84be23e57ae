//go:build linux

package compare

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"tcplab/netns"
	"tcplab/netstackref"
)

// The Scapy responder (testdata/scapy/responder.py) and what it was
// written to get wrong (testdata/scapy/DEVIATIONS).
const (
	scapyResponder  = "testdata/scapy/responder.py"
	scapyDeviations = "testdata/scapy/DEVIATIONS"
)

// scapyPython returns a Python 3 that imports Scapy: $TCPLAB_PYTHON, then
// python3 on the PATH, then Debian's /usr/bin/python3 (python3-scapy
// installs there, and a python3 earlier on the PATH, pyenv's say, may
// lack it).
func scapyPython() (string, error) {
	var tried []string
	cands := []string{os.Getenv("TCPLAB_PYTHON"), "python3", "/usr/bin/python3"}
	for _, c := range cands {
		if c == "" {
			continue
		}
		p, err := exec.LookPath(c)
		if err != nil || slices.Contains(tried, p) {
			continue
		}
		tried = append(tried, p)
		if exec.Command(p, "-c", "import scapy.all").Run() == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("needs Python 3 with Scapy (tried %s; Debian: apt-get install python3-scapy, or set TCPLAB_PYTHON to an interpreter that has it)", strings.Join(tried, ", "))
}

// skipOrFail skips t for a missing prerequisite, except in CI, where the
// test must run.
func skipOrFail(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%v (CI must run this test)", err)
	}
	t.Skip(err)
}

// scapyPrereqs skips t (fails it in CI) unless it can build namespaces
// and run the responder, whose interpreter and script it returns.
func scapyPrereqs(t *testing.T) (python, script string) {
	t.Helper()
	if err := netns.CanBuild(); err != nil {
		skipOrFail(t, err)
	}
	python, err := scapyPython()
	if err != nil {
		skipOrFail(t, err)
	}
	if script, err = filepath.Abs(scapyResponder); err != nil {
		t.Fatal(err)
	}
	return python, script
}

// startResponder runs responder.py in dev on iface, answering for addr and
// listening on port, and returns once it says ready. It is killed when t
// ends; if the test binary dies first (a -timeout), Pdeathsig kills it,
// and the namespace goes with its last process.
func startResponder(t *testing.T, python, script string, dev *netns.Namespace, iface string, addr netip.Addr, port uint16) {
	t.Helper()
	cmd := exec.Command(python, "-u", script, "--iface", iface, "--addr", addr.String(), "--port", fmt.Sprint(port))
	// Pdeathsig follows the thread that forked: the namespace's, which
	// lives until the namespace's cleanup, after this one.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	dev.Do(func() { err = cmd.Start() })
	if err != nil {
		t.Fatalf("starting the responder: %v", err)
	}
	exited := make(chan struct{})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		said := false
		for sc.Scan() {
			if !said && strings.TrimSpace(sc.Text()) == "ready" {
				said = true
				ready <- true
			}
		}
		if !said {
			ready <- false
		}
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("responder's stderr:\n%s", stderr.String())
		}
	})
	select {
	case ok := <-ready:
		if !ok {
			<-exited
			t.Fatalf("the responder exited before saying ready (%v); stderr:\n%s", cmd.ProcessState, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the responder did not say ready within 30 s; stderr:\n%s", stderr.String())
	}
}

// scapyContract is what the responder declares, and the time Python needs:
// twice the kernel's to answer, and to show it will not.
func scapyContract(addr netip.Addr, port uint16) ExternalConfig {
	return ExternalConfig{
		Addr: addr, Port: port,
		Capabilities: []Capability{NeedListener, NeedSink, NeedClosedPort},
		Timing:       Timing{Reply: 2 * LinuxTiming.Reply, Quiet: 2 * LinuxTiming.Quiet},
	}
}

// scapyDevice runs the responder in a namespace of its own on one end of
// a veth pair (ens224, no kernel address: the responder answers ARP for
// its own), listening on port; the bench reaches it with AF_PACKET from
// the other end, in another namespace, also without a kernel address (the
// bench's is rawlink's own).
func scapyDevice(t *testing.T, port uint16) ExternalConfig {
	t.Helper()
	python, script := scapyPrereqs(t)
	bench, dev := netns.ForTest(t), netns.ForTest(t)
	if err := netns.Veth(bench, dev, "ens224", netip.Prefix{}, netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	devAddr := netip.MustParseAddr("198.19.78.2")
	startResponder(t, python, script, dev, "ens224", devAddr, port)
	cfg := scapyContract(devAddr, port)
	cfg.Interface, cfg.BenchAddr, cfg.Do = "ens224", netip.MustParseAddr("198.19.78.1"), bench.Do
	return cfg
}

// lockedBuffer is a bytes.Buffer safe for the process's writer and the
// test's reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}

// declared is the verdict DEVIATIONS says a scenario gets, and why.
type declared struct {
	verdict Verdict
	why     string
}

// readDeviations parses DEVIATIONS: "fail IDs: sentence" and "n/a IDs:
// sentence" lines.
func readDeviations(file string) (map[string]declared, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := map[string]declared{}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		head, why, ok := strings.Cut(line, ":")
		f := strings.Fields(head)
		if !ok || len(f) < 2 || (f[0] != string(Fail) && f[0] != string(NA)) || strings.TrimSpace(why) == "" {
			return nil, fmt.Errorf("%s:%d: want \"fail IDs: sentence\" or \"n/a IDs: sentence\", got %q", file, n+1, line)
		}
		for _, id := range f[1:] {
			if _, dup := out[id]; dup {
				return nil, fmt.Errorf("%s:%d: %s declared twice", file, n+1, id)
			}
			out[id] = declared{Verdict(f[0]), strings.TrimSpace(why)}
		}
	}
	return out, nil
}

// scapyEcho are the scenarios that become n/a on the responder while they
// run, for a capability no external device can declare: the bench sends
// two different texts for one sequence number (the first one dropped),
// or urgent text, and what the application read could only be learnt
// from an echo.
var scapyEcho = []string{"DT-03a", "UR-02"}

// TestExternalScapy runs the whole catalogue against the Scapy responder
// as an external device (listen, sink, closed-port declared), beside the
// two references (netstack in process, Linux in a namespace), and holds
// the external column to exactly what the responder was written to do:
// fail where DEVIATIONS says so, n/a where DEVIATIONS or an undeclared
// capability says so, pass or allowed (an answer a reference gave in the
// same run) everywhere else. Any other verdict is a bug in the bench or in
// the responder.
func TestExternalScapy(t *testing.T) {
	want, err := readDeviations(scapyDeviations)
	if err != nil {
		t.Fatal(err)
	}
	all := Scenarios()
	for id := range want {
		if !slices.ContainsFunc(all, func(s Scenario) bool { return s.ID == id }) {
			t.Errorf("%s declares %s, which is not in the catalogue", scapyDeviations, id)
		}
	}
	cfg := scapyDevice(t, 8080)
	ext := External(cfg)
	bs := []Backend{Netstack(netstackref.DefaultOptions()), Linux(), ext}
	start := time.Now()
	m, err := Run(context.Background(), all, bs, RunOptions{Parallel: 8, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d scenarios in %v", len(m.Scenarios), time.Since(start).Round(time.Millisecond))
	checkScapyColumn(t, m, ext, want)
}

// checkScapyColumn holds the external column of m to want (DEVIATIONS),
// the responder's capabilities and scapyEcho.
func checkScapyColumn(t *testing.T, m *Matrix, ext Backend, want map[string]declared) {
	t.Helper()
	var b strings.Builder
	m.WriteText(&b)
	t.Log("\n" + b.String())
	byID := map[string]Scenario{}
	for _, s := range Scenarios() {
		byID[s.ID] = s
	}
	for _, r := range m.Scenarios {
		got := r.Results["external"]
		missing := missingNeeds(byID[r.ID], ext)
		d, isDeclared := want[r.ID]
		switch {
		case len(missing) > 0:
			if got.Verdict != NA || got.Detail != naReason(missing) {
				t.Errorf("%s: %s (%s), want n/a: %s", r.ID, got.Verdict, got.Detail, naReason(missing))
			}
			if isDeclared {
				t.Errorf("%s: declared %s in %s, but it needs %s, which the responder does not declare", r.ID, d.verdict, scapyDeviations, joinCaps(missing))
			}
		case slices.Contains(scapyEcho, r.ID):
			if got.Verdict != NA || got.Detail != naReason([]Capability{NeedEcho}) {
				t.Errorf("%s: %s (%s), want n/a: %s", r.ID, got.Verdict, got.Detail, naReason([]Capability{NeedEcho}))
			}
		case isDeclared:
			if got.Verdict != d.verdict {
				t.Errorf("%s: %s (%s), want %s: %s", r.ID, got.Verdict, got.Detail, d.verdict, d.why)
			}
		case got.Verdict == Allowed:
			// holdToReferences made it a fail unless netstack or Linux
			// gave the same answer in this run.
		case got.Verdict != Pass:
			t.Errorf("%s: %s, want pass or allowed (no deviation declared): %s", r.ID, got.Verdict, got.Detail)
		}
	}
	s := m.Summary["external"]
	t.Logf("external: %d pass, %d allowed, %d fail, %d n/a, %d error", s.Pass, s.Allowed, s.Fail, s.NA, s.Error)
}

// routedHosts builds bench — router — dev: the bench's namespace has
// 198.19.79.1/24 on ens224 and a route to 198.19.80.0/24 through the
// router (198.19.79.254 there, 198.19.80.254 on its ens256, forwarding
// on in its namespace only); the device's end of ens256 has no kernel
// address.
func routedHosts(t *testing.T) (bench, dev *netns.Namespace) {
	t.Helper()
	bench, router, dev := netns.ForTest(t), netns.ForTest(t), netns.ForTest(t)
	if err := netns.Veth(bench, router, "ens224", netip.MustParsePrefix("198.19.79.1/24"), netip.MustParsePrefix("198.19.79.254/24")); err != nil {
		t.Fatal(err)
	}
	if err := netns.Veth(router, dev, "ens256", netip.MustParsePrefix("198.19.80.254/24"), netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	var err error
	router.Do(func() { err = os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0) })
	if err != nil {
		t.Fatal(err)
	}
	bench.Do(func() {
		var l netlink.Link
		if l, err = netlink.LinkByName("ens224"); err == nil {
			err = netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index,
				Dst: &net.IPNet{IP: net.IPv4(198, 19, 80, 0).To4(), Mask: net.CIDRMask(24, 32)}, Gw: net.IPv4(198, 19, 79, 254)})
		}
	})
	if err != nil {
		t.Fatalf("route to 198.19.80.0/24: %v", err)
	}
	return bench, dev
}

// scapyRoutedScenarios cover every deviation the responder declares but
// the slow RT-01b, and scenarios it passes, through the kernel's routing.
const scapyRoutedScenarios = `^(HS-0[1-5]|HS-08b|OP-1[01]|DT-0[1-3]|OW-0|RS-0[1-3]|FC-04|CK-02|IS-01)`

// TestExternalScapyRouted reaches the responder, one router away, through
// the bench namespace's kernel routing (link route) from an address that
// kernel owns: the same verdicts as over AF_PACKET on the responder's
// link, and the kernel's RSTs for the bench's connections, which would
// reset them on the responder, dropped by the run's filter (there are
// some: every SYN-ACK and ACK of the responder reaches a kernel with no
// socket for it).
func TestExternalScapyRouted(t *testing.T) {
	want, err := readDeviations(scapyDeviations)
	if err != nil {
		t.Fatal(err)
	}
	python, script := scapyPrereqs(t)
	bench, dev := routedHosts(t)
	devAddr := netip.MustParseAddr("198.19.80.2")
	startResponder(t, python, script, dev, "ens256", devAddr, 8080)
	cfg := scapyContract(devAddr, 8080)
	cfg.Route, cfg.BenchAddr, cfg.Do = true, netip.MustParseAddr("198.19.79.1"), bench.Do
	var logMu sync.Mutex
	cfg.Log = func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		t.Logf(format, args...)
	}
	if err := ExternalReachable(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	e, ext := newExternal(cfg)
	if ext.Link != "route" {
		t.Errorf("link %q, want route", ext.Link)
	}
	bs := []Backend{Netstack(netstackref.DefaultOptions()), Linux(), ext}
	start := time.Now()
	m, err := Run(context.Background(), Scenarios(), bs, RunOptions{Parallel: 8, Seed: 5, Pattern: scapyRoutedScenarios})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d scenarios in %v", len(m.Scenarios), time.Since(start).Round(time.Millisecond))
	checkScapyColumn(t, m, ext, want)
	e.mu.Lock()
	dropped := e.kernelRSTs
	e.mu.Unlock()
	if dropped == 0 {
		t.Error("the filter dropped no RST of the kernel's: either it never saw the responder's segments or the filter did nothing")
	}
	t.Logf("the kernel's RSTs to the responder dropped: %d", dropped)
}

// TestExternalRouteErrors: through the kernel's routing, a bench address
// the host does not own, and a device that does not answer, are errors
// that say so, the second within seconds.
func TestExternalRouteErrors(t *testing.T) {
	if err := netns.CanBuild(); err != nil {
		t.Skip(err)
	}
	bench, _ := routedHosts(t)
	cfg := ExternalConfig{Addr: netip.MustParseAddr("198.19.80.9"), Port: 8080, Route: true,
		BenchAddr: netip.MustParseAddr("198.19.79.7"), Capabilities: []Capability{NeedListener}, Do: bench.Do}
	if err := ExternalReachable(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "is not this host's") {
		t.Errorf("a bench address the host does not own: %v", err)
	}
	cfg.BenchAddr = netip.MustParseAddr("198.19.79.1")
	start := time.Now()
	err := ExternalReachable(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "does not answer through the kernel's routing") {
		t.Errorf("a device that is not there: %v", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("took %v", d)
	}
	t.Log(err)
}
