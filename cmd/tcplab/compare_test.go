package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"tcplab/compare"
	"tcplab/throughput"
)

// wantStacks is what the default --stacks runs here: linux too when this
// process can run it (always under CI, which runs as root).
func wantStacks(t *testing.T) []string {
	t.Helper()
	err := compare.LinuxAvailable()
	switch {
	case err == nil:
		return []string{"handmade", "netstack", "linux"}
	case os.Getenv("CI") != "":
		t.Fatalf("CI must run the linux stack: %v", err)
	}
	t.Logf("linux left out: %v", err)
	return []string{"handmade", "netstack"}
}

func TestCompareJSONAndMarkdown(t *testing.T) {
	stacks := wantStacks(t)
	md := filepath.Join(t.TempDir(), "m.md")
	stdout, stderr, err := runCLI(t, "compare", "--run", "^RS-0", "--json", "--markdown", md)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var m compare.Matrix
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&m); err != nil || dec.More() {
		t.Fatalf("stdout is not one JSON document (%v):\n%s", err, stdout)
	}
	if len(m.Scenarios) < 3 || !slices.Equal(m.Stacks, stacks) {
		t.Fatalf("%d scenarios on %v, want %v", len(m.Scenarios), m.Stacks, stacks)
	}
	for _, r := range m.Scenarios {
		if !strings.HasPrefix(r.ID, "RS-0") || r.RFC == "" || len(r.Results) != len(stacks) {
			t.Errorf("row %+v", r)
		}
	}
	wantLink := "mem" // handmade's and netstack's: tun as root
	if compare.TUNAvailable() == nil {
		wantLink = "tun"
	}
	for _, s := range stacks {
		want := wantLink
		if s == "linux" {
			want = "tun"
			if len(m.Settings["linux"]) == 0 || !strings.HasPrefix(m.Versions["linux"], "Linux ") {
				t.Errorf("linux without its pinned settings or kernel release: %q, %q", m.Settings["linux"], m.Versions["linux"])
			}
		}
		if m.Links[s] != want {
			t.Errorf("%s over %q, want %q", s, m.Links[s], want)
		}
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "| ID | scenario | RFC | "+strings.Join(stacks, " | ")+" |") || !strings.Contains(string(b), "| RS-01") {
		t.Errorf("markdown:\n%s", b)
	}
}

func TestCompareRejectsWhatItCannotRun(t *testing.T) {
	for _, args := range [][]string{
		{"compare", "--stacks", "nosuchstack"},
		{"compare", "--link", "wire"},
		{"compare", "--run", "NO-SUCH-SCENARIO"},
		{"compare", "--run", "("},
	} {
		_, _, err := runCLI(t, args...)
		var ec cli.ExitCoder
		if !errors.As(err, &ec) || ec.ExitCode() != 2 {
			t.Errorf("%v: err %v, want exit status 2", args, err)
		}
	}
}

// TestCompareLinuxWithoutRoot: playing a process that cannot build
// namespaces, the default --stacks runs the in-process stacks and says on
// stderr why linux is left out; naming linux is an error that names the
// missing capability.
func TestCompareLinuxWithoutRoot(t *testing.T) {
	old := linuxAvailable
	oldTUN := tunAvailable
	linuxAvailable = func() error { return errors.New("needs root with CAP_NET_ADMIN (test)") }
	tunAvailable = func() error { return errors.New("--link tun: needs root with CAP_NET_ADMIN (test)") }
	t.Cleanup(func() { linuxAvailable, tunAvailable = old, oldTUN })

	stdout, stderr, err := runCLI(t, "compare", "--run", "^HS-01a$", "--json")
	if err != nil {
		t.Fatalf("default stacks without root: %v\n%s", err, stderr)
	}
	var m compare.Matrix
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("stdout: %v\n%s", err, stdout)
	}
	if !slices.Equal(m.Stacks, []string{"handmade", "netstack"}) {
		t.Errorf("stacks %v without root", m.Stacks)
	}
	if !strings.Contains(stderr, "linux left out") || !strings.Contains(stderr, "CAP_NET_ADMIN") {
		t.Errorf("stderr does not say why linux was left out: %q", stderr)
	}

	if m.Links["handmade"] != "mem" || m.Links["netstack"] != "mem" {
		t.Errorf("without root, --link defaults to %v, want mem", m.Links)
	}

	for _, args := range [][]string{
		{"compare", "--stacks", "linux"},
		{"compare", "--stacks", "handmade,linux"},
		{"compare", "--stacks", "handmade", "--link", "tun"},
	} {
		_, _, err := runCLI(t, args...)
		var ec cli.ExitCoder
		if !errors.As(err, &ec) || ec.ExitCode() != 2 || !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
			t.Errorf("%v without root: %v, want exit status 2 naming the capability", args, err)
		}
	}
}

// TestCompareLink: --link mem reaches handmade and netstack over the
// in-memory wire, root or not; as root --link tun (the default there)
// reaches them over TUN devices, and the report says so.
func TestCompareLink(t *testing.T) {
	stdout, stderr, err := runCLI(t, "compare", "--stacks", "handmade,netstack", "--link", "mem", "--run", "^HS-01a$", "--json")
	if err != nil {
		t.Fatalf("--link mem: %v\n%s", err, stderr)
	}
	var m compare.Matrix
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("stdout: %v\n%s", err, stdout)
	}
	if m.Links["handmade"] != "mem" || m.Links["netstack"] != "mem" {
		t.Errorf("--link mem: links %v", m.Links)
	}
	if err := compare.TUNAvailable(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	for _, args := range [][]string{
		{"compare", "--stacks", "handmade,netstack", "--link", "tun", "--run", "^(HS-01a|CK-02b)$"},
		{"compare", "--stacks", "handmade,netstack", "--run", "^(HS-01a|CK-02b)$"},
	} {
		stdout, stderr, err := runCLI(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s\n%s", args, err, stdout, stderr)
		}
		for _, w := range []string{"handmade: tcplab handmade, over tun", "netstack: gvisor.dev/gvisor ", "over tun\n", "net.ipv4.ip_forward=1",
			"handmade (tcplab handmade): 2 pass", "2 pass, 0 allowed, 0 fail"} {
			if !strings.Contains(stdout, w) {
				t.Errorf("%v: report lacks %q:\n%s", args, w, stdout)
			}
		}
	}
}

// TestCompareLinux: as root, --stacks linux runs the kernel alone, over
// TUN, and the text report says so and lists what it pinned.
func TestCompareLinux(t *testing.T) {
	if err := compare.LinuxAvailable(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	stdout, stderr, err := runCLI(t, "compare", "--stacks", "linux", "--run", "^(HS-01a|FC-07)$")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, stdout, stderr)
	}
	for _, w := range []string{"linux: Linux ", "over tun", "pinned: net.ipv4.tcp_timestamps=1", "net.ipv4.tcp_rfc1337=0", "FC-07", "linux (Linux "} {
		if !strings.Contains(stdout, w) {
			t.Errorf("report lacks %q:\n%s", w, stdout)
		}
	}
	if strings.Contains(stdout, "handmade") || stderr != "" {
		t.Errorf("more than linux ran, or stderr %q:\n%s", stderr, stdout)
	}
}

// TestBenchTUNAgainstLinux: as root, the pairings against the Linux
// kernel run over a TUN device, each with netstack in the same role as
// its baseline.
func TestBenchTUNAgainstLinux(t *testing.T) {
	if err := throughput.TUNAvailable(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip("needs root and /dev/net/tun: ", err)
	}
	stdout, stderr, err := runCLI(t, "bench", "--json", "-q", "--runs", "1", "--size", "1MiB", "--cc", "newreno",
		"--pairings", "netstack-linux,handmade-linux,linux-netstack,linux-handmade")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON document (%v):\n%s", err, stdout)
	}
	want := map[string]string{"netstack->linux": "netstack->linux", "handmade->linux": "netstack->linux",
		"linux->netstack": "linux->netstack", "linux->handmade": "linux->netstack"}
	if !rep.OK || len(rep.Results) != len(want) {
		t.Fatalf("report %+v", rep)
	}
	for _, r := range rep.Results {
		if r.Link != "tun" || want[r.Pairing] != r.Baseline || r.MedianMbps <= 0 || r.RatioVsNetstack <= 0 || r.Runs[0].Bytes != 1<<20 {
			t.Errorf("result %+v", r)
		}
	}
}

// bench --cc runs each family, labels each row with it and compares it
// with netstack->netstack of the same family.
func TestBenchCCFamilies(t *testing.T) {
	stdout, stderr, err := runCLI(t, "bench", "--json", "-q", "--profiles", "clean", "--runs", "1", "--size", "1MiB", "--no-tun",
		"--pairings", "netstack-netstack,handmade-netstack", "--cc", "cubic,newreno")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON document (%v):\n%s", err, stdout)
	}
	if !strings.Contains(rep.NetstackOptions, "cc=cubic,reno ") || !strings.HasPrefix(rep.HandmadeConfig, "cc=cubic,newreno ") {
		t.Errorf("options: netstack %q, handmade %q", rep.NetstackOptions, rep.HandmadeConfig)
	}
	var got []string
	for _, r := range rep.Results {
		got = append(got, r.CC+" "+r.Pairing+" vs "+r.Baseline)
		if !r.OK || r.RatioVsNetstack <= 0 {
			t.Errorf("result %+v", r)
		}
	}
	want := []string{"cubic netstack->netstack vs netstack->netstack", "cubic handmade->netstack vs netstack->netstack",
		"newreno netstack->netstack vs netstack->netstack", "newreno handmade->netstack vs netstack->netstack"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("rows %q, want %q", got, want)
	}
}

func TestBenchJSON(t *testing.T) {
	stdout, stderr, err := runCLI(t, "bench", "--json", "-q", "--profiles", "clean", "--runs", "1", "--size", "1MiB", "--no-tun")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rep benchReport
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&rep); err != nil || dec.More() {
		t.Fatalf("stdout is not one JSON document (%v):\n%s", err, stdout)
	}
	// By default both families run, each like for like.
	if !rep.OK || len(rep.Results) != 8 || rep.NetstackOptions == "" || rep.HandmadeConfig == "" {
		t.Fatalf("report %+v", rep)
	}
	families := map[string]int{}
	for _, r := range rep.Results {
		families[r.CC]++
		if r.Link != "mem" || r.Profile != "clean" || r.MedianMbps <= 0 || r.RatioVsNetstack <= 0 || len(r.Runs) != 1 || r.Runs[0].Bytes != 1<<20 {
			t.Errorf("result %+v", r)
		}
	}
	if families["newreno"] != 4 || families["cubic"] != 4 {
		t.Errorf("families %v, want 4 rows each of newreno and cubic", families)
	}
	if !strings.Contains(rep.NetstackOptions, "cc=reno,cubic ") || !strings.HasPrefix(rep.HandmadeConfig, "cc=newreno,cubic ") {
		t.Errorf("options: netstack %q, handmade %q", rep.NetstackOptions, rep.HandmadeConfig)
	}
	// Every key is snake_case, the goodput spread included.
	var raw struct{ Results []map[string]any }
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"median_goodput_mbps", "min_goodput_mbps", "max_goodput_mbps", "ratio_vs_netstack", "cc"} {
		if _, ok := raw.Results[0][k]; !ok {
			t.Errorf("result has no %q: %v", k, raw.Results[0])
		}
	}
	for _, args := range [][]string{{"bench", "--cc", "bbr"}, {"bench", "--cc", "newreno,"}, {"bench", "--profiles", "wan"}, {"bench", "--pairings", "linux-linux"}, {"bench", "--pairings", "handmade-kernel"},
		{"bench", "--runs", "0"}, {"bench", "--pairings", "handmade-linux", "--no-tun"}} {
		_, _, err := runCLI(t, args...)
		var ec cli.ExitCoder
		if !errors.As(err, &ec) || ec.ExitCode() != 2 {
			t.Errorf("%v: err %v, want exit status 2", args, err)
		}
	}
}
