package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runCLI runs tcplab with args and returns stdout, stderr and the error.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errb
	err := app.Run(append([]string{"tcplab"}, args...))
	return out.String(), errb.String(), err
}

// demoJSON runs the demo with --json and decodes stdout, which must be one
// JSON document and nothing else.
func demoJSON(t *testing.T, args ...string) (demoReport, string, error) {
	t.Helper()
	stdout, stderr, err := runCLI(t, append([]string{"demo", "--json"}, args...)...)
	var rep demoReport
	dec := json.NewDecoder(strings.NewReader(stdout))
	if jerr := dec.Decode(&rep); jerr != nil {
		t.Fatalf("stdout is not a JSON document: %v\nstdout:\n%s\nstderr:\n%s", jerr, stdout, stderr)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", stdout)
	}
	return rep, stderr, err
}

func TestDemoBothDirections(t *testing.T) {
	rep, stderr, err := demoJSON(t, "--size", "300KiB", "--seed", "11")
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, stderr)
	}
	if !rep.OK || len(rep.Runs) != 2 || rep.Seed != 11 || rep.GVisorVersion == "" || rep.NetstackOptions == "" {
		t.Fatalf("report %+v", rep)
	}
	for i, want := range [][2]string{{"handmade", "netstack"}, {"netstack", "handmade"}} {
		r := rep.Runs[i]
		if r.Client != want[0] || r.Server != want[1] {
			t.Errorf("run %d is %s -> %s, want %s -> %s", i, r.Client, r.Server, want[0], want[1])
		}
		if !r.OK || r.Bytes != 300<<10 || r.BytesReceived != r.Bytes || r.SHA256Sent != r.SHA256Received || len(r.SHA256Sent) != 64 {
			t.Errorf("%s: ok=%v bytes %d/%d sha %s/%s err %q", r.Name, r.OK, r.BytesReceived, r.Bytes, r.SHA256Sent, r.SHA256Received, r.Error)
		}
		if r.SegmentsSent < 200 || r.SegmentsReceived == 0 || r.DurationS <= 0 || r.GoodputMbps <= 0 {
			t.Errorf("%s: segments %d/%d duration %v goodput %v", r.Name, r.SegmentsSent, r.SegmentsReceived, r.DurationS, r.GoodputMbps)
		}
		// gVisor verified every checksum the hand-built side sent.
		if c := r.Netstack.Counters; c.ChecksumErrors != 0 || c.L4Malformed != 0 || c.SegmentsReceived == 0 {
			t.Errorf("%s: netstack counters %+v", r.Name, c)
		}
		if r.Wire.ClientToServer.Lost+r.Wire.ServerToClient.Lost != 0 {
			t.Errorf("%s: a clean wire lost packets: %+v", r.Name, r.Wire)
		}
	}
	// The narration went to stderr, in the article's words.
	for _, want := range []string{"SENDING        SYN ", "RECEIVED       SYN-ACK", "THREE-WAY HANDSHAKE COMPLETE", "FIN-ACK", "LAST-ACK -> CLOSED", "seed 11"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("narration lacks %q", want)
		}
	}
}

func TestDemoSurvivesLoss(t *testing.T) {
	rep, stderr, err := demoJSON(t, "--size", "200KiB", "--loss", "0.05", "--seed", "7", "-q")
	if err != nil || !rep.OK {
		t.Fatalf("demo with 5%% loss, seed 7: %v\n%s", err, stderr)
	}
	for _, r := range rep.Runs {
		if r.SHA256Sent != r.SHA256Received {
			t.Errorf("%s: digests differ (seed 7)", r.Name)
		}
		if r.Retransmissions == 0 {
			t.Errorf("%s: 5%% loss and no retransmission reported (seed 7)", r.Name)
		}
		if r.Wire.ClientToServer.Lost+r.Wire.ServerToClient.Lost == 0 {
			t.Errorf("%s: the wire's counters show no loss (seed 7)", r.Name)
		}
	}
}

func TestDemoSurvivesCorruption(t *testing.T) {
	rep, stderr, err := demoJSON(t, "--size", "200KiB", "--corrupt", "0.03", "--dup", "0.02", "--reorder", "0.02", "--seed", "5", "-q")
	if err != nil || !rep.OK {
		t.Fatalf("demo with corruption, seed 5: %v\n%s", err, stderr)
	}
	for _, r := range rep.Runs {
		w := r.Wire
		if w.ClientToServer.Corrupted+w.ServerToClient.Corrupted == 0 || w.ClientToServer.Duplicated+w.ServerToClient.Duplicated == 0 {
			t.Errorf("%s: the wire shows no corruption or duplication: %+v", r.Name, w)
		}
		// Every corrupted packet was caught by a checksum on the side that
		// received it: handmade's own check or gVisor's.
		caught := r.Handmade.DroppedChecksum + r.Netstack.Counters.ChecksumErrors + r.Netstack.Counters.L4Malformed + r.Netstack.Counters.IPMalformed
		if corrupted := w.ClientToServer.Corrupted + w.ServerToClient.Corrupted; caught != corrupted {
			t.Errorf("%s: %d packets corrupted, %d caught by checksums (handmade %+v, netstack %+v)", r.Name, corrupted, caught, r.Handmade.Counters, r.Netstack.Counters)
		}
	}
}

func TestDemoDelayAndRateShowInWireCounters(t *testing.T) {
	rep, stderr, err := demoJSON(t, "--size", "64KiB", "--delay", "1ms", "--rate", "50Mbit", "--seed", "2", "-q")
	if err != nil || !rep.OK {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, r := range rep.Runs {
		for _, d := range []wireStats{r.Wire.ClientToServer, r.Wire.ServerToClient} {
			if d.Delayed != d.Written || d.MeanDelayMs < 1 {
				t.Errorf("%s: %d of %d packets delayed, mean %.3fms: want all, at least 1ms", r.Name, d.Delayed, d.Written, d.MeanDelayMs)
			}
		}
		if r.Handmade.SRTTms < 2 {
			t.Errorf("%s: handmade SRTT %.3fms under a 1ms delay each way", r.Name, r.Handmade.SRTTms)
		}
	}
	// netstack's client sends back to back: at 50 Mbit/s some wait their turn.
	if q := rep.Runs[1].Wire.ClientToServer.RateQueued; q == 0 {
		t.Errorf("netstack-to-handmade: no packet queued behind the rate limit")
	}
}

func TestDemoRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--loss", "2"}, "loss=2"},
		{[]string{"--loss", "1"}, "drops every packet"},
		{[]string{"--rate", "fast"}, "--rate"},
		{[]string{"--size", "lots"}, "--size"},
		{[]string{"--client-addr", "::1"}, "IPv4"},
		{[]string{"--server-addr", "198.18.0.1"}, "different addresses"},
		{[]string{"--run", "sideways"}, "--run"},
		{[]string{"--profile", "fast"}, "want full, seed, or full,seed"},
		{[]string{"--profile", "seed,seed"}, "twice"},
		{[]string{"extra"}, "no arguments"},
		{[]string{"--cc", "bbr"}, `--cc "bbr": want newreno or cubic`},
	} {
		_, _, err := runCLI(t, append([]string{"demo"}, tc.args...)...)
		var ec cli.ExitCoder
		if !errors.As(err, &ec) || ec.ExitCode() != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("demo %v: err %v, want exit 2 mentioning %q", tc.args, err, tc.want)
		}
	}
}

// TestDemoBothProfiles: --profile full,seed runs each direction under
// each profile on the same wire, labels every run with its profile, keeps
// their captures apart, and compares the profiles' times.
func TestDemoBothProfiles(t *testing.T) {
	dir := t.TempDir()
	rep, stderr, err := demoJSON(t, "--size", "64KiB", "--seed", "5", "--profile", "full,seed", "--pcap-dir", dir, "-q")
	if err != nil || !rep.OK {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if rep.HandmadeProfile != "full,seed" || len(rep.Runs) != 4 {
		t.Fatalf("profile %q, %d runs: want full,seed and 4", rep.HandmadeProfile, len(rep.Runs))
	}
	captures := map[string]bool{}
	var full, seed float64
	for i, r := range rep.Runs {
		want := []string{"full", "full", "seed", "seed"}[i]
		if r.Profile != want || r.Handmade.Profile != want {
			t.Errorf("run %d (%s): profile %q, handmade says %q, want %q", i, r.Name, r.Profile, r.Handmade.Profile, want)
		}
		if r.SHA256Received != r.SHA256Sent {
			t.Errorf("run %d (%s %s): payload differs", i, r.Profile, r.Name)
		}
		if want == "full" {
			full += r.DurationS
		} else {
			seed += r.DurationS
		}
		for _, c := range r.Captures {
			if captures[c] {
				t.Errorf("run %d (%s %s) writes %s, which an earlier run wrote too", i, r.Profile, r.Name, c)
			}
			captures[c] = true
			if !strings.HasPrefix(filepath.Base(c), r.Profile+".") {
				t.Errorf("capture %s of a %s run does not name its profile", c, r.Profile)
			}
		}
	}
	if len(captures) != 12 {
		t.Errorf("%d capture files, want 3 per run", len(captures))
	}
	pc := rep.Profiles
	if pc == nil || pc.FullS != full || pc.SeedS != seed || pc.SeedOverFull != seed/full {
		t.Fatalf("profile_comparison %+v: want full %v, seed %v, ratio %v", pc, full, seed, seed/full)
	}
	// The default wire is a LAN: every packet waited out its delay.
	if !strings.Contains(rep.Wire, "delay=100µs") {
		t.Errorf("wire %q: want the default 100µs delay", rep.Wire)
	}
	for _, r := range rep.Runs {
		if d := r.Wire.ClientToServer; d.Delayed != d.Written || d.MeanDelayMs < 0.1 {
			t.Errorf("%s %s: %d of %d packets delayed, mean %.3fms: want all, at least 0.1ms", r.Profile, r.Name, d.Delayed, d.Written, d.MeanDelayMs)
		}
	}
	// One profile: no comparison.
	if rep1, _, err := demoJSON(t, "--size", "16KiB", "--seed", "5", "--profile", "seed", "-q", "--run", runHandmadeToNetstack); err != nil || rep1.Profiles != nil {
		t.Errorf("--profile seed: err %v, comparison %+v: want none", err, rep1.Profiles)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1MiB": 1 << 20, "512KiB": 512 << 10, "10MB": 10e6, "4096": 4096, "1.5k": 1536, "0": 0} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "MiB", "5GiB", "1 furlong"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

// tsharkBad lists the packets tshark finds bad in a capture, with checksum
// validation on: "src dst" per line.
func tsharkBad(t *testing.T, file string) []string {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", file, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
		"-Y", "tcp.checksum.status == 0 || ip.checksum.status == 0 || _ws.malformed || _ws.expert.severity >= error",
		"-T", "fields", "-e", "ip.src", "-e", "ip.dst").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", file, err)
	}
	return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(out)), "\t", ">"))
}

func tsharkCount(t *testing.T, file string) int {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", file, "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", file, err)
	}
	return len(strings.Fields(string(out)))
}

func needTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tshark is not installed; .ci/run installs it (apt-get install tshark)")
		}
		t.Skip("needs tshark to validate captures: apt-get install tshark")
	}
}

func TestDemoCapturesOpenCleanInTshark(t *testing.T) {
	needTshark(t)
	dir := t.TempDir()
	rep, stderr, err := demoJSON(t, "--size", "100KiB", "--seed", "3", "-q", "--pcap-dir", dir)
	if err != nil || !rep.OK {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, r := range rep.Runs {
		for _, side := range []string{"client", "server"} {
			f := filepath.Join(dir, r.Name+"."+side+".pcap")
			if bad := tsharkBad(t, f); len(bad) != 0 {
				t.Errorf("%s: tshark finds bad packets on a clean wire: %v", f, bad)
			}
			// A tap records what its end wrote and what its end read: a
			// last ACK may still be on the wire, unread, when the run ends,
			// and a packet written as the wire closes is captured though
			// the wire refused it (at most one per stack's closing).
			c2s, s2c := r.Wire.ClientToServer, r.Wire.ServerToClient
			want := c2s.Written + s2c.Delivered
			if side == "server" {
				want = s2c.Written + c2s.Delivered
			}
			if n := uint64(tsharkCount(t, f)); n < want || n > want+2 {
				t.Errorf("%s holds %d packets; its end wrote and read %d (and at most 2 refused as the wire closed)", f, n, want)
			}
		}
	}
}

func TestDemoCorruptionShowsOnReceivingSideOnly(t *testing.T) {
	needTshark(t)
	dir := t.TempDir()
	rep, stderr, err := demoJSON(t, "--size", "100KiB", "--seed", "4", "--corrupt", "0.05", "-q", "--pcap-dir", dir)
	if err != nil || !rep.OK {
		t.Fatalf("seed 4: %v\n%s", err, stderr)
	}
	for _, r := range rep.Runs {
		c2s, s2c := r.Wire.ClientToServer.Corrupted, r.Wire.ServerToClient.Corrupted
		if c2s+s2c == 0 {
			t.Fatalf("%s: nothing corrupted at 5%% (seed 4)", r.Name)
		}
		// The client's capture sees bad packets only from the server, and
		// exactly as many as the wire corrupted that way; and vice versa.
		for _, side := range []struct {
			name, from string
			want       uint64
		}{{"client", "198.18.0.2>198.18.0.1", s2c}, {"server", "198.18.0.1>198.18.0.2", c2s}} {
			f := filepath.Join(dir, r.Name+"."+side.name+".pcap")
			bad := tsharkBad(t, f)
			if uint64(len(bad)) != side.want {
				t.Errorf("%s: %d bad packets, the wire corrupted %d toward the %s (seed 4)", f, len(bad), side.want, side.name)
			}
			for _, b := range bad {
				if b != side.from {
					t.Errorf("%s: bad packet %s was sent by this side, so was captured before the wire corrupted it", f, b)
				}
			}
		}
		// The sidecar lists each corruption.
		ev, err := os.ReadFile(filepath.Join(dir, r.Name+".events.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(ev), `"kind":"corrupt"`); uint64(n) != c2s+s2c {
			t.Errorf("%s: sidecar lists %d corruptions, wire counted %d", r.Name, n, c2s+s2c)
		}
	}
}

// TestDemoCC: --cc runs both stacks with one family, netstack's
// counterpart of handmade's, and the report says which.
func TestDemoCC(t *testing.T) {
	stdout, stderr, err := runCLI(t, "demo", "--json", "--size", "256KiB", "--seed", "3", "--cc", "cubic")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rep demoReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.HandmadeCC != "cubic" || !strings.Contains(rep.NetstackOptions, "cc=cubic ") {
		t.Errorf("ok %v, handmade_cc %q, netstack options %q", rep.OK, rep.HandmadeCC, rep.NetstackOptions)
	}
}

func TestDemoHumanOutput(t *testing.T) {
	stdout, _, err := runCLI(t, "demo", "--size", "64KiB", "--seed", "9")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"handmade-to-netstack", "netstack-to-handmade", "sha256", "seed 9", "RECEIVED       SYN-ACK", strconv.Itoa(64 << 10)} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}
