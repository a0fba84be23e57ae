package compare

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"tcplab/handmade"
	"tcplab/netns"
	"tcplab/wire"
)

// want is the verdict each stack must get on each scenario. netstack and
// linux are the references: they may only pass or differ as the scenario
// allows (else the scenario is wrong). handmade's verdicts are findings:
// a fail here is a deviation of the hand-built stack the bench found,
// listed in the README's conformance table.
var want = map[string]struct{ handmade, netstack, linux Verdict }{
	"HS-01a": {Pass, Pass, Pass},
	"HS-01b": {Pass, Pass, Pass},
	"HS-01c": {Pass, Pass, Pass},
	"HS-02a": {Pass, Pass, Pass},
	"HS-02b": {Pass, Pass, Pass},
	"HS-03a": {Pass, Pass, Pass},
	"HS-03b": {Pass, Pass, Pass},
	"HS-04":  {Allowed, Pass, Allowed}, // handmade resends the SYN-ACK (Linux's choice), gVisor ACKs
	"HS-05":  {Pass, Pass, Pass},
	"HS-06a": {Pass, Pass, Pass},
	"HS-06b": {Pass, Pass, Pass},
	"HS-06c": {Pass, Pass, Pass},
	"HS-06d": {Pass, Pass, Allowed}, // Linux resends its SYN at once after an unacceptable ACK
	"HS-07":  {Pass, Pass, Pass},
	"HS-08b": {Pass, Pass, Pass},
	"DT-06a": {Pass, Pass, Pass},
	"OW-01":  {Pass, Allowed, Allowed}, // both accept a pure ACK at the right edge silently
	"OW-02a": {Pass, Pass, Pass},
	"OW-02b": {Pass, Pass, Pass},
	"OW-03":  {Pass, Pass, Pass},
	"OW-04":  {Pass, Allowed, Pass}, // gVisor takes the text; Linux 6.18 ACKs and drops, as the RFC says
	"OW-05":  {Pass, Allowed, Pass}, // gVisor has no RFC 5961 §5 check
	"RS-01a": {Pass, Pass, Pass},
	"RS-01b": {Pass, Pass, Pass},
	"RS-02":  {Pass, Pass, Pass},
	"RS-03":  {Pass, Pass, Pass},
	"RS-04a": {Pass, Pass, Pass},
	"RS-04b": {Pass, Pass, Pass},
	"RS-05a": {Pass, Pass, Pass},
	"RS-05b": {Pass, Pass, Pass},
	"FC-01":  {Pass, Pass, Pass},
	"FC-02":  {Pass, Pass, Pass},
	"FC-03b": {Pass, Pass, Pass},
	"FC-04a": {Pass, Pass, Pass},
	"FC-04b": {Pass, Pass, Pass},
	"FC-06a": {Pass, Pass, Pass},
	"FC-07":  {Pass, Allowed, Pass}, // gVisor ignores a RST in TIME-WAIT (RFC 1337); Linux closes (tcp_rfc1337=0)
	"FC-09":  {Pass, Pass, Pass},
	"FC-05":  {Pass, Pass, Pass},
	"FC-06b": {Pass, Pass, Pass},
	"RT-01a": {Pass, Pass, Allowed}, // Linux resends its first SYNs at the initial RTO (tcp_syn_linear_timeouts)
	"RT-01b": {Pass, Pass, Pass},
	"RT-02":  {Pass, Pass, Pass},
	"RT-03a": {Pass, Pass, Pass},
	"RT-03b": {Pass, Pass, Pass},
	"RT-04":  {Pass, Pass, Pass},
	"RT-05a": {Pass, Pass, Pass},
	"RT-05b": {Pass, Pass, Pass},
	"ZW-01":  {Pass, Pass, Pass},
	"ZW-02":  {Pass, Pass, Pass},
	"CK-02a": {Pass, Pass, Pass},
	"CK-02b": {Pass, Pass, Pass},
	"CK-02c": {Pass, Pass, Pass},
	"CK-03":  {Pass, Pass, Pass},
	"OP-01a": {Pass, Pass, Pass},
	"OP-01b": {Pass, Pass, Pass},
	"OP-02":  {Pass, Pass, Pass},
	"OP-03":  {Pass, Pass, Pass},
	"OP-05a": {Pass, Pass, Pass},
	"OP-05b": {Pass, Pass, Pass},
	"OP-05c": {Pass, Pass, Pass},
	"OP-06a": {Pass, Pass, Pass},
	"OP-06b": {Pass, Pass, Pass},
	"OP-06c": {Pass, Allowed, Pass}, // gVisor reports no duplicates (RFC 2883 is optional)
	"OP-07a": {Pass, Pass, Pass},
	"OP-07b": {Pass, Allowed, Allowed}, // gVisor takes text without TSopt (RFC 7323 §3.2 SHOULD drop)
	"OP-07c": {Pass, Pass, Pass},
	"OP-07d": {Pass, Pass, Allowed},
	"OP-07e": {Pass, Pass, Pass},
	"OP-08":  {Pass, Allowed, Pass},    // gVisor has no PAWS
	"OP-10":  {Allowed, Allowed, Pass}, // neither does ECN (SHLD-8): a plain SYN-ACK
	"OP-11":  {Pass, Pass, Pass},
	"OP-12":  {Pass, Pass, Pass},
	"OP-13":  {Pass, Pass, Pass},
	"OP-14":  {Pass, Pass, Pass},
	"DT-01":  {Pass, Pass, Pass},
	"DT-01b": {Pass, Pass, Pass},
	"DT-02a": {Pass, Pass, Pass},
	"DT-02b": {Pass, Pass, Pass},
	"DT-02c": {Pass, Pass, Pass},
	"DT-03a": {Pass, Pass, Pass},
	"DT-03b": {Pass, Pass, Pass},
	"DT-03c": {Pass, Allowed, Allowed}, // gVisor drops a no-ACK segment beyond the window silently
	"DT-04a": {Pass, Pass, Pass},
	"DT-04b": {Pass, Pass, Allowed},
	"DT-05":  {Pass, Pass, Pass},
	"DT-07":  {Pass, Allowed, Pass}, // gVisor rounds the scaled window down, moving the edge left by < 2^shift
	"ZW-03a": {Pass, Pass, Pass},
	"ZW-03b": {Pass, Pass, Pass},
	"ZW-03c": {Pass, Pass, Pass},
	"UR-01a": {Pass, Pass, Pass},
	"UR-01b": {Pass, Pass, Pass},
	"UR-02":  {Pass, Pass, Allowed},
	"UR-03":  {Pass, Allowed, Pass},    // gVisor cannot send urgent data
	"IS-01a": {Pass, Allowed, Allowed}, // gVisor's ISN clock ticks every 64 ns, the RFC's every 4 µs
	"IS-01b": {Pass, Pass, Pass},
	"FC-10":  {Pass, Pass, Pass},
	"RT-06":  {Pass, Allowed, Allowed}, // gVisor and Linux give up on a SYN after about 2 minutes
	"RT-07":  {Pass, Pass, Pass},
	"DT-05b": {Pass, Pass, Pass},
	"DT-05c": {Pass, Pass, Pass},
	"AV-01":  {Pass, Pass, Pass},
	"AV-02":  {Pass, Pass, Pass},
	"AV-03":  {Pass, Allowed, Pass}, // gVisor's connect() to a broadcast address goes on
	"IP-01":  {Pass, Pass, Pass},
	"IP-02":  {Pass, Pass, Pass},
	"IC-01":  {Pass, Pass, Pass},
	"IC-02":  {Pass, Allowed, Allowed}, // Linux and gVisor keep the connection
	"IC-03":  {Pass, Pass, Pass},
	"DT-08":  {Pass, Allowed, Pass}, // gVisor's segments are 1420 octets, the MSS 1448
	"NG-01":  {Pass, Pass, Allowed}, // Linux's tail loss probe sends what Nagle held
	"NG-02":  {Pass, Pass, Pass},
	"SR-01":  {Pass, Allowed, Pass},    // gVisor keeps no return route
	"SR-02":  {Pass, Allowed, Allowed}, // gVisor keeps no route; Linux keeps the SYN's
	"SR-03":  {Pass, Allowed, Pass},    // gVisor has no IP_OPTIONS
}

// withLinux returns the in-process backends and, when this process can
// build namespaces and TUN devices, the linux one; otherwise the reason
// it cannot. Under CI (CI set), where the kernel column is the point,
// not being able to run it fails the test instead.
func withLinux(t *testing.T) ([]Backend, error) {
	t.Helper()
	bs := Backends()
	err := LinuxAvailable()
	if err == nil {
		return append(bs, Linux()), nil
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must run the linux column: %v", err)
	}
	return bs, err
}

// TestMatrix runs the whole catalogue on handmade, netstack and (as root)
// linux, and checks every verdict against want: one subtest per stack.
func TestMatrix(t *testing.T) {
	t.Parallel()
	backends, linuxSkip := withLinux(t)
	checkMatrix(t, backends, linuxSkip, nil)
}

// tunDiffers are the verdicts that change when handmade and netstack are
// reached over TUN devices through a forwarding kernel instead of the
// in-memory wire, each with the reason; every other scenario must get
// want's verdict on either link.
var tunDiffers = map[string]struct {
	handmade, netstack Verdict
	why                string
}{}

// TestMatrixTUN runs the whole catalogue on handmade and netstack over
// TUN devices (HandmadeOverTUN, NetstackOverTUN: what `tcplab compare
// --link tun` runs), with linux beside them as the reference
// holdToReferences needs, and checks the verdicts against want, but for
// tunDiffers. It needs root (netns.CanBuild); under CI it must run.
func TestMatrixTUN(t *testing.T) {
	t.Parallel()
	if err := errors.Join(netns.CanBuild(), TUNAvailable()); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the TUN link: %v", err)
		}
		t.Skip(err)
	}
	backends, err := BackendsOver("tun")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range backends {
		if b.Link != "tun" {
			t.Fatalf("%s over %q, want tun", b.Name, b.Link)
		}
	}
	linuxSkip := LinuxAvailable()
	if linuxSkip == nil {
		backends = append(backends, Linux())
	}
	checkMatrix(t, backends, linuxSkip, tunDiffers)
}

// checkMatrix runs the catalogue on backends and checks every verdict
// against want, with differs overriding handmade's and netstack's: one
// subtest per stack.
func checkMatrix(t *testing.T, backends []Backend, linuxSkip error, differs map[string]struct {
	handmade, netstack Verdict
	why                string
}) {
	t.Helper()
	m, err := Run(context.Background(), Scenarios(), backends, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	m.WriteText(&text)
	t.Logf("in %v:\n%s", time.Duration(m.ElapsedMS)*time.Millisecond, text.String())
	if len(m.Scenarios) != len(want) {
		t.Errorf("%d scenarios ran, want has %d", len(m.Scenarios), len(want))
	}
	for id := range differs {
		if _, ok := want[id]; !ok {
			t.Errorf("a difference for %s, which is not a scenario", id)
		}
	}
	for _, stack := range []string{"handmade", "netstack", "linux"} {
		t.Run(stack, func(t *testing.T) {
			if stack == "linux" && linuxSkip != nil {
				t.Skip(linuxSkip)
			}
			for _, row := range m.Scenarios {
				w, ok := want[row.ID]
				if !ok {
					t.Errorf("%s: no expected verdicts in want", row.ID)
					continue
				}
				if d, ok := differs[row.ID]; ok {
					w.handmade, w.netstack = d.handmade, d.netstack
				}
				v := map[string]Verdict{"handmade": w.handmade, "netstack": w.netstack, "linux": w.linux}[stack]
				r := row.Results[stack]
				if r.Verdict != v {
					t.Errorf("%s over %s: %s, want %s\n  %s\n  log:\n    %s", row.ID, m.Links[stack], r.Verdict, v,
						r.Detail, strings.Join(r.Log, "\n    "))
				}
				if stack != "handmade" && r.Verdict != Pass && r.Verdict != Allowed {
					t.Errorf("%s: the reference stack got %s: the scenario is wrong or the difference belongs in Allowed", row.ID, r.Verdict)
				}
			}
		})
	}
}

// TestScenarioCatalogue: IDs are unique and name a CONFORMANCE.md entry,
// or, in a family of their own (AV addresses, IP options, IC ICMP, NG
// Nagle, SR source routes), the Appendix B requirements they check;
// every scenario cites its RFC section and Appendix B IDs well formed.
func TestScenarioCatalogue(t *testing.T) {
	id := regexp.MustCompile(`^(HS|OP|DT|OW|RS|FC|RT|ZW|UR|CK|IS|AV|IP|IC|NG|SR)-\d\d[a-z]?$`)
	beyond := regexp.MustCompile(`^(AV|IP|IC|NG|SR)-`)
	req := regexp.MustCompile(`^(MUST|SHLD|MAY|REC)-\d+$`)
	seen := map[string]bool{}
	all := Scenarios()
	if len(all) < 60 {
		t.Errorf("%d scenarios; issue 5 asks for at least 60", len(all))
	}
	for _, s := range all {
		if seen[s.ID] {
			t.Errorf("duplicate ID %s", s.ID)
		}
		seen[s.ID] = true
		if !id.MatchString(s.ID) {
			t.Errorf("ID %q is not a CONFORMANCE.md ID", s.ID)
		}
		if beyond.MatchString(s.ID) && len(s.Requirements) == 0 {
			t.Errorf("%s is in no CONFORMANCE.md family and names no Appendix B requirement", s.ID)
		}
		if s.Title == "" || !strings.Contains(s.RFC, "RFC ") || s.Run == nil {
			t.Errorf("%s: title %q, RFC %q, run set %v", s.ID, s.Title, s.RFC, s.Run != nil)
		}
		for _, r := range s.Requirements {
			if !req.MatchString(r) {
				t.Errorf("%s: requirement %q is not an RFC 9293 Appendix B ID", s.ID, r)
			}
		}
	}
	if got, err := Select(all, `^RS-0[12]`); err != nil || len(got) != 3 {
		t.Errorf("Select RS-01/02: %d scenarios, %v", len(got), err)
	}
	if got, _ := Select(all, `^HS-04$`); len(got) != 1 {
		t.Errorf("Select ^HS-04$: %d scenarios", len(got))
	}
	if got, _ := Select(all, `challenge ACK`); len(got) < 2 {
		t.Errorf("Select by title: %d scenarios", len(got))
	}
	if _, err := Select(all, "("); err == nil {
		t.Error("Select accepted a bad pattern")
	}
}

// rstExactifier is a deliberately broken DUT: between the stack and its
// wire it moves the sequence number of every incoming RST that falls in
// the window the stack last advertised to the acknowledgement number it
// last sent, so an in-window RST looks exact and resets the connection:
// what gVisor did before RFC 5961 §3.2 checks landed (CONFORMANCE.md
// RS-02). Windows are taken unscaled, as the bench's default SYN offers
// no window scale.
type rstExactifier struct {
	wire.Link
	mu      sync.Mutex
	lastAck uint32
	lastWnd uint32
	have    bool
}

func (r *rstExactifier) WritePacket(ctx context.Context, p []byte) error {
	if s, err := parse(p); err == nil && s.Flags&ACK != 0 {
		r.mu.Lock()
		r.lastAck, r.lastWnd, r.have = s.Ack, uint32(s.Window), true
		r.mu.Unlock()
	}
	return r.Link.WritePacket(ctx, p)
}

func (r *rstExactifier) ReadPacket(ctx context.Context, b []byte) (int, error) {
	n, err := r.Link.ReadPacket(ctx, b)
	if err != nil {
		return n, err
	}
	p := b[:n]
	s, perr := parse(p)
	r.mu.Lock()
	ack, wnd, have := r.lastAck, r.lastWnd, r.have
	r.mu.Unlock()
	if perr != nil || s.Flags&RST == 0 || !have || !s.ChecksumOK || s.Seq-ack >= wnd {
		return n, nil
	}
	ihl := int(p[0]&0x0f) * 4
	tcp := p[ihl:]
	binary.BigEndian.PutUint32(tcp[4:], ack)
	tcp[16], tcp[17] = 0, 0
	binary.BigEndian.PutUint16(tcp[16:], checksum(tcp, pseudoHeader(p[12:16], p[16:20], len(tcp))))
	return n, nil
}

// TestBrokenDUTCaught: the bench fails a stack that resets on an
// in-window RST that is not exact, and only on that scenario among the
// RST ones.
func TestBrokenDUTCaught(t *testing.T) {
	broken := HandmadeOn("handmade-broken", handmade.Config{}, func(l wire.Link) wire.Link { return &rstExactifier{Link: l} })
	sel, err := Select(Scenarios(), `^RS-0[123]`)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Run(context.Background(), sel, []Backend{broken}, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range m.Scenarios {
		r := row.Results["handmade-broken"]
		switch row.ID {
		case "RS-02":
			if r.Verdict != Fail || !strings.Contains(r.Detail, "expected [.]") {
				t.Errorf("RS-02 on the broken DUT: %s %q, want a fail for the missing challenge ACK", r.Verdict, r.Detail)
			}
		default:
			if r.Verdict != Pass {
				t.Errorf("%s on the broken DUT: %s %q; the breakage touches only non-exact RSTs", row.ID, r.Verdict, r.Detail)
			}
		}
	}
}

// TestPcapDir: with a capture directory every run leaves a pcap that
// reads back with the segments the bench logged.
func TestPcapDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pcaps")
	sel, _ := Select(Scenarios(), `^(HS-01a|RS-02)$`)
	m, err := Run(context.Background(), sel, Backends(), RunOptions{PcapDir: dir, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Scenarios) != 2 {
		t.Fatalf("%d scenarios ran, want 2", len(m.Scenarios))
	}
	for _, row := range m.Scenarios {
		for stack, r := range row.Results {
			want := filepath.Join(dir, row.ID+"_"+stack+".pcap")
			if r.Pcap != want {
				t.Errorf("%s/%s: pcap %q, want %q", row.ID, stack, r.Pcap, want)
				continue
			}
			f, err := os.Open(want)
			if err != nil {
				t.Fatal(err)
			}
			rd, err := pcapgo.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				if _, _, err := rd.ReadPacketData(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				n++
			}
			f.Close()
			if n == 0 || n < len(r.Log)-1 {
				t.Errorf("%s/%s: %d packets in the capture, %d log lines", row.ID, stack, n, len(r.Log))
			}
		}
	}
}

// TestMatrixRendering: the text has one row per scenario and a summary per
// stack; the JSON has the fields the CLI promises.
func TestMatrixRendering(t *testing.T) {
	m := &Matrix{
		Stacks:   []string{"a", "b"},
		Versions: map[string]string{"a": "v1", "b": "v2"},
		Links:    map[string]string{"a": "mem", "b": "tun"},
		Settings: map[string][]string{"b": {"net.ipv4.tcp_sack=1"}},
		Scenarios: []Row{{ID: "HS-01a", Title: "t", RFC: "RFC 9293 §3.10.7.1", Requirements: []string{"MUST-1"},
			Results: map[string]Result{"a": {Verdict: Pass}, "b": {Verdict: Fail, Detail: "expected x; got y"}}}},
		Summary: map[string]Summary{"a": {Pass: 1}, "b": {Fail: 1}},
	}
	var b bytes.Buffer
	if err := m.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"HS-01a", "pass", "fail", "expected x; got y", "a (v1): 1 pass", "b (v2): 0 pass, 0 allowed, 1 fail",
		"a: v1, over mem", "b: v2, over tun", "pinned: net.ipv4.tcp_sack=1"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, b.String())
		}
	}
	if !m.Failed() {
		t.Error("Failed() false with a fail")
	}
	j, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	json.Unmarshal(j, &back)
	for _, k := range []string{"stacks", "versions", "links", "settings", "scenarios", "summary"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, j)
		}
	}
	row := back["scenarios"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "title", "rfc", "requirements", "results"} {
		if _, ok := row[k]; !ok {
			t.Errorf("scenario JSON lacks %q", k)
		}
	}
	if v := row["results"].(map[string]any)["b"].(map[string]any)["verdict"]; v != "fail" {
		t.Errorf("verdict in JSON = %v", v)
	}
}

// TestLookupBackends resolves the names a command line passes.
func TestLookupBackends(t *testing.T) {
	bs, err := LookupBackends([]string{"netstack"})
	if err != nil || len(bs) != 1 || bs[0].Name != "netstack" {
		t.Fatalf("LookupBackends(netstack) = %v, %v", bs, err)
	}
	if _, err := LookupBackends([]string{"linux"}); err == nil {
		t.Fatal("linux resolved in process")
	}
	if bs, _ := LookupBackends(nil); len(bs) != 2 {
		t.Fatalf("all backends: %d", len(bs))
	}
	sel, _ := Select(Scenarios(), `^HS-01a$`)
	m, err := Run(context.Background(), sel, Backends(), RunOptions{Stacks: []string{"netstack"}})
	if err != nil || len(m.Stacks) != 1 || m.Stacks[0] != "netstack" || m.Scenarios[0].Results["netstack"].Verdict != Pass {
		t.Fatalf("Run with Stacks [netstack]: %v, %+v", err, m)
	}
	if _, err := Run(context.Background(), sel, Backends(), RunOptions{Stacks: []string{"linux"}}); err == nil {
		t.Fatal("Run with an unknown stack did not fail")
	}
}

// A stack that is not a reference keeps an Allowed answer only if a
// reference gave the same answer in the same run; an RFC alternative
// (AllowedRFC) stands alone.
func TestHoldToReferences(t *testing.T) {
	m := &Matrix{Scenarios: []Row{
		{ID: "A", Results: map[string]Result{
			"handmade": {Verdict: Allowed, Answers: []string{"resends the SYN-ACK"}},
			"netstack": {Verdict: Pass},
			"linux":    {Verdict: Allowed, Answers: []string{"resends the SYN-ACK"}},
		}},
		{ID: "B", Results: map[string]Result{
			"handmade": {Verdict: Allowed, Answers: []string{"something no reference does"}},
			"netstack": {Verdict: Pass},
			"linux":    {Verdict: Pass},
		}},
		{ID: "C", Results: map[string]Result{
			"handmade": {Verdict: Allowed, Detail: "an RFC alternative"}, // AllowedRFC: no answers to match
			"netstack": {Verdict: Pass},
		}},
	}}
	holdToReferences(m)
	for id, want := range map[string]Verdict{"A": Allowed, "B": Fail, "C": Allowed} {
		for _, row := range m.Scenarios {
			if row.ID == id && row.Results["handmade"].Verdict != want {
				t.Errorf("%s: handmade %s, want %s (%s)", id, row.Results["handmade"].Verdict, want, row.Results["handmade"].Detail)
			}
		}
	}
	if m.Scenarios[1].Results["linux"].Verdict != Pass {
		t.Error("a reference's verdict changed")
	}
}
