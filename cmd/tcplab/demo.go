package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"tcplab/flow"
	"tcplab/netstackref"
	"tcplab/throughput"
	"tcplab/wire"
)

// Defaults from the article (port 12345, 1400-octet chunks) and RFC 2544's
// benchmarking range.
const (
	defaultClientAddr = "198.18.0.1"
	defaultServerAddr = "198.18.0.2"
	defaultPort       = 12345
	// lanDelay is the demo wire's one-way delay: the article ran between
	// two VMs on one LAN, where a round trip takes a few hundred
	// microseconds. It is what makes stop-and-wait (the seed profile) cost
	// what it cost the article; on a wire without delay it costs only CPU.
	lanDelay = 100 * time.Microsecond
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "the article's upload, both ways: handmade client -> netstack server, netstack client -> handmade server",
		Description: `Runs the article's flow on an in-memory wire, no root needed: a three-way
handshake, the payload, a FIN from each side. First the hand-built client
uploads to gVisor's netstack server, then netstack's client uploads to the
hand-built server. The hand-built side is the full RFC 9293 TCP by default;
--profile seed replays the article itself, 1400-octet chunks stop and wait,
each answered by an ACK before the next; --profile full,seed runs both, one
after the other on the same wire, and prints how long each took.

The wire models the article's setting, two VMs on one LAN: 100µs each way
by default. --delay 0 makes it an ideal wire, where stop-and-wait costs
nothing but CPU and the profiles differ far less.

Each run prints the narrated handshake and teardown and a summary (bytes,
segments each way, retransmissions, duration, goodput, SHA-256 on both ends,
the wire's, netstack's and the hand-built stack's counters). The exit status
is non-zero if a run fails or any byte differs.

Impairments apply to both directions and are drawn from --seed; every result
prints the seed, so a failing run reproduces with the same flags.

Examples:
   tcplab demo
   tcplab demo --size 8MiB --loss 0.05 --seed 7
   tcplab demo --size 64MiB --loss 0.01 --delay 10ms --cc cubic   # both stacks CUBIC, the bench's lossy wire
   tcplab demo --size 8MiB --profile full,seed -q   # what a window buys over stop-and-wait
   tcplab demo --dup 0.01 --reorder 0.02 --delay 2ms --jitter 1ms --rate 100Mbit
   tcplab demo --corrupt 0.01 --pcap-dir /tmp/caps   # then: tshark -r /tmp/caps/handmade-to-netstack.server.pcap
   tcplab demo --json > demo.json                    # narration goes to stderr
   tcplab demo --profile seed --loss 0.05 --flow-dir flows   # flows/*.mmd, *.svg, *.tsg.svg`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "size", Value: "1MiB", Usage: "payload size: bytes, or with KiB/MiB/GiB/KB/MB/GB"},
			&cli.StringFlag{Name: "profile", Value: "full", Usage: "hand-built stack: full (RFC 9293 TCP with windows, options, recovery), seed (the article's stop-and-wait flow), or full,seed (both, timed side by side)"},
			&cli.IntFlag{Name: "chunk", Value: 1400, Usage: "seed profile: data octets per segment sent by the handmade client (the article's 1400)"},
			&cli.Float64Flag{Name: "loss", Usage: "fraction of packets the wire drops, each direction (0.05 = 5%)"},
			&cli.Float64Flag{Name: "dup", Usage: "fraction of packets the wire duplicates"},
			&cli.Float64Flag{Name: "reorder", Usage: "fraction of packets the wire holds back behind the next one"},
			&cli.Float64Flag{Name: "corrupt", Usage: "fraction of packets with one bit flipped past the IPv4 header"},
			&cli.DurationFlag{Name: "delay", Value: lanDelay, Usage: "fixed one-way delay, e.g. 5ms; the default is a LAN between two VMs, 0 an ideal wire"},
			&cli.DurationFlag{Name: "jitter", Usage: "extra one-way delay drawn uniformly from [0, jitter)"},
			&cli.StringFlag{Name: "rate", Usage: "rate limit per direction, e.g. 100Mbit, 1Gbit, 500kbit"},
			&cli.Int64Flag{Name: "seed", Usage: "seed for every random decision of the wire", DefaultText: "random, printed"},
			&cli.StringFlag{Name: "pcap-dir", Usage: "write a pcap at each end of each run, plus the wire's events, into `DIR`"},
			&cli.StringFlag{Name: "flow-dir", Usage: "draw each run's captures into `DIR`: Mermaid (.mmd), SVG ladder (.svg), time-sequence graph (.tsg.svg); captures go there too unless --pcap-dir is set"},
			&cli.BoolFlag{Name: "json", Usage: "stdout is one JSON document and nothing else; narration goes to stderr"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "narrate every data segment and ACK, not just the first"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no narration, only the results"},
			&cli.StringFlag{Name: "client-addr", Value: defaultClientAddr, Usage: "client IPv4 address"},
			&cli.StringFlag{Name: "server-addr", Value: defaultServerAddr, Usage: "server IPv4 address"},
			&cli.UintFlag{Name: "port", Value: defaultPort, Usage: "server port (the article's 12345)"},
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Minute, Usage: "give up on a run after this long"},
			&cli.StringSliceFlag{Name: "run", Usage: "run only these directions: " + runHandmadeToNetstack + ", " + runNetstackToHandmade},
			ccFlag(),
		},
		Action: demoAction,
	}
}

// demoReport is the JSON document of --json.
type demoReport struct {
	Seed            int64  `json:"seed"`
	GVisorVersion   string `json:"gvisor_version"`
	NetstackOptions string `json:"netstack_options"`
	HandmadeProfile string `json:"handmade_profile"` // "full", "seed" or "full,seed"
	// HandmadeCC is the full profile's congestion control (--cc);
	// netstack's counterpart is in NetstackOptions.
	HandmadeCC   string      `json:"handmade_cc"`
	Wire         string      `json:"wire"`
	PayloadBytes int         `json:"payload_bytes"`
	OK           bool        `json:"ok"`
	Runs         []runResult `json:"runs"`
	// Profiles compares the profiles' times when more than one ran
	// (--profile full,seed) and every run succeeded.
	Profiles *profileComparison `json:"profile_comparison,omitempty"`
}

// profileComparison is the time each profile needed for all its runs, in
// the same invocation on the same wire.
type profileComparison struct {
	FullS float64 `json:"full_s"`
	SeedS float64 `json:"seed_s"`
	// SeedOverFull is SeedS / FullS: how many times longer stop-and-wait
	// took than the full profile.
	SeedOverFull float64 `json:"seed_over_full"`
}

// compareProfiles sums the duration of each profile's runs; nil unless
// both profiles ran and every run succeeded.
func compareProfiles(runs []runResult) *profileComparison {
	var pc profileComparison
	var nFull, nSeed int
	for _, r := range runs {
		if !r.OK {
			return nil
		}
		switch r.Profile {
		case "full":
			pc.FullS += r.DurationS
			nFull++
		case "seed":
			pc.SeedS += r.DurationS
			nSeed++
		}
	}
	if nFull == 0 || nSeed == 0 || nFull != nSeed || pc.FullS <= 0 {
		return nil
	}
	pc.SeedOverFull = pc.SeedS / pc.FullS
	return &pc
}

func demoAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return cli.Exit(fmt.Sprintf("demo takes no arguments (got %q); see tcplab demo --help", c.Args().Slice()), 2)
	}
	cfg, profiles, runs, err := demoConfigFromFlags(c)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	out := c.App.Writer
	jsonOut := c.Bool("json")
	narration := out
	if jsonOut {
		narration = c.App.ErrWriter
	}
	cfg.Progress = c.App.ErrWriter
	cfg.Narration = narration
	if c.Bool("quiet") {
		cfg.Narration = io.Discard
	}

	rep := demoReport{
		Seed: cfg.Seed, GVisorVersion: netstackref.Version(), NetstackOptions: cfg.Netstack.String(),
		HandmadeProfile: strings.Join(profiles, ","), HandmadeCC: cfg.HandmadeFull.CongestionControl, Wire: describeWire(cfg.Impairment), PayloadBytes: len(cfg.Payload), OK: true,
	}
	total := len(profiles) * len(runs)
	for _, profile := range profiles {
		cfg.Profile = profile
		if len(profiles) > 1 {
			cfg.CapturePrefix = profile + "."
		}
		fmt.Fprintf(narration, "tcplab demo: the article's upload, hand-built TCP (%s profile) against gVisor netstack\n", cfg.Profile)
		if cfg.Profile == "seed" {
			fmt.Fprintf(narration, "  seed %d · wire: %s · payload %s in %d-octet chunks, stop and wait\n", cfg.Seed, rep.Wire, formatSize(int64(len(cfg.Payload))), cfg.ChunkSize)
		} else {
			fmt.Fprintf(narration, "  seed %d · wire: %s · payload %s\n", cfg.Seed, rep.Wire, formatSize(int64(len(cfg.Payload))))
		}
		fmt.Fprintf(narration, "  gVisor %s · netstack options: %s\n", rep.GVisorVersion, rep.NetstackOptions)
		if cfg.Profile == "full" {
			fmt.Fprintf(narration, "  handmade congestion control: %s\n", rep.HandmadeCC)
		}
		for _, name := range runs {
			if err := c.Context.Err(); err != nil {
				break
			}
			fmt.Fprintf(narration, "\n== run %d/%d: %s\n", len(rep.Runs)+1, total, describeRun(name, cfg))
			r := runDirection(c.Context, cfg, name)
			if fd := c.String("flow-dir"); fd != "" && cfg.PcapDir != "" {
				files, err := drawRun(fd, cfg.PcapDir, r)
				r.FlowGraphs = files
				if err != nil {
					r.OK, r.Error = false, fmt.Sprintf("--flow-dir: %v", err)
				}
			}
			rep.Runs = append(rep.Runs, r)
			rep.OK = rep.OK && r.OK
			if !jsonOut {
				printRun(out, r, cfg.Seed)
			} else {
				fmt.Fprintf(narration, "-- %s: %s\n", name, verdict(r))
			}
		}
		if len(profiles) > 1 {
			fmt.Fprintln(narration)
		}
	}
	if c.Context.Err() != nil {
		rep.OK = false
	}
	if len(profiles) > 1 {
		rep.Profiles = compareProfiles(rep.Runs)
	}
	if jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printSummary(out, rep)
	}
	if !rep.OK {
		return cli.Exit(fmt.Sprintf("demo failed (seed %d): see the runs above; rerun with --seed %d to reproduce", cfg.Seed, cfg.Seed), 1)
	}
	return nil
}

// demoProfiles parses --profile: full, seed, or both separated by a comma,
// in the order given.
func demoProfiles(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p != "full" && p != "seed" {
			return nil, fmt.Errorf("--profile %q: want full, seed, or full,seed", s)
		}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("--profile %q names %s twice", s, p)
		}
		out = append(out, p)
	}
	return out, nil
}

func demoConfigFromFlags(c *cli.Context) (demoConfig, []string, []string, error) {
	cfg := demoConfig{Timeout: c.Duration("timeout"), Verbose: c.Bool("verbose"), ChunkSize: c.Int("chunk"), Netstack: netstackref.DefaultOptions()}
	profiles, err := demoProfiles(c.String("profile"))
	if err != nil {
		return cfg, nil, nil, err
	}
	cfg.Profile = profiles[0]
	cc, err := parseCC(c)
	if err != nil {
		return cfg, nil, nil, err
	}
	cfg.HandmadeFull.CongestionControl, cfg.Netstack.CongestionControl = cc, throughput.NetstackCC(cc)
	size, err := parseSize(c.String("size"))
	if err != nil {
		return cfg, nil, nil, fmt.Errorf("--size: %w", err)
	}
	if cfg.ChunkSize < 1 || cfg.ChunkSize > 65495 {
		return cfg, nil, nil, fmt.Errorf("--chunk %d: want 1 to 65495 octets", cfg.ChunkSize)
	}
	if cfg.Timeout <= 0 {
		return cfg, nil, nil, fmt.Errorf("--timeout %v: want a positive duration", cfg.Timeout)
	}
	im := wire.Impairment{Loss: c.Float64("loss"), Dup: c.Float64("dup"), Reorder: c.Float64("reorder"), Corrupt: c.Float64("corrupt"),
		Delay: c.Duration("delay"), Jitter: c.Duration("jitter")}
	if s := c.String("rate"); s != "" {
		if im.Rate, err = wire.ParseRate(s); err != nil {
			return cfg, nil, nil, fmt.Errorf("--rate: %w", err)
		}
	}
	if err := im.Validate(); err != nil {
		return cfg, nil, nil, fmt.Errorf("%w (flags --loss, --dup, --reorder, --corrupt take fractions such as 0.05)", err)
	}
	if im.Loss >= 1 {
		return cfg, nil, nil, fmt.Errorf("--loss %v drops every packet: nothing could ever arrive", im.Loss)
	}
	cfg.Impairment = im
	if c.IsSet("seed") {
		cfg.Seed = c.Int64("seed")
	} else {
		var b [8]byte
		rand.Read(b[:])
		cfg.Seed = int64(binary.BigEndian.Uint64(b[:]) >> 1 % 1_000_000)
	}
	if cfg.Client, err = parseIPv4("--client-addr", c.String("client-addr")); err != nil {
		return cfg, nil, nil, err
	}
	sa, err := parseIPv4("--server-addr", c.String("server-addr"))
	if err != nil {
		return cfg, nil, nil, err
	}
	if sa == cfg.Client {
		return cfg, nil, nil, fmt.Errorf("--client-addr and --server-addr are both %s: the two ends need different addresses", sa)
	}
	port := c.Uint("port")
	if port < 1 || port > 65535 {
		return cfg, nil, nil, fmt.Errorf("--port %d: want 1 to 65535", port)
	}
	cfg.Server = netip.AddrPortFrom(sa, uint16(port))
	if d := c.String("pcap-dir"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return cfg, nil, nil, fmt.Errorf("--pcap-dir: %w", err)
		}
		cfg.PcapDir = d
	}
	if d := c.String("flow-dir"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return cfg, nil, nil, fmt.Errorf("--flow-dir: %w", err)
		}
		if cfg.PcapDir == "" {
			cfg.PcapDir = d // the graphs are drawn from the captures
		}
	}
	cfg.Payload = makePayload(size, cfg.Seed)
	runs := []string{runHandmadeToNetstack, runNetstackToHandmade}
	if sel := c.StringSlice("run"); len(sel) > 0 {
		runs = nil
		for _, r := range sel {
			if r != runHandmadeToNetstack && r != runNetstackToHandmade {
				return cfg, nil, nil, fmt.Errorf("--run %q: want %s or %s", r, runHandmadeToNetstack, runNetstackToHandmade)
			}
			runs = append(runs, r)
		}
	}
	return cfg, profiles, runs, nil
}

func parseIPv4(flag, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%s %q: want an IPv4 address such as %s", flag, s, defaultClientAddr)
	}
	return a, nil
}

// makePayload generates size bytes from seed: the same flags give the same
// payload, so digests compare across runs.
func makePayload(size int64, seed int64) []byte {
	b := make([]byte, size)
	var x uint64 = uint64(seed)*0x9e3779b97f4a7c15 + 1
	for i := 0; i < len(b); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], x)
		copy(b[i:], w[:])
	}
	return b
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}}

// parseSize reads "1MiB", "512KiB", "10MB", "4096".
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q: want a size such as 1MiB, 512KiB, 10MB or 4096", s)
	}
	v := int64(n * float64(mult))
	if v > 4<<30 {
		return 0, fmt.Errorf("%q: the demo holds the payload in memory; keep it at 4GiB or less", s)
	}
	return v, nil
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func describeWire(im wire.Impairment) string {
	if im.IsZero() {
		return "in-memory, clean"
	}
	return "in-memory, " + im.String() + " each direction"
}

func describeRun(name string, cfg demoConfig) string {
	if name == runHandmadeToNetstack {
		return fmt.Sprintf("handmade client (%s) -> netstack server (%s)", cfg.Client, cfg.Server)
	}
	return fmt.Sprintf("netstack client (%s) -> handmade server (%s)", cfg.Client, cfg.Server)
}

func verdict(r runResult) string {
	if r.OK {
		return fmt.Sprintf("OK, %s intact in %.3fs (%.1f Mbit/s)", formatSize(r.BytesReceived), r.DurationS, r.GoodputMbps)
	}
	return "FAILED: " + r.Error
}

func printRun(w io.Writer, r runResult, seed int64) {
	fmt.Fprintf(w, "-- %s: %s\n", r.Name, verdict(r))
	fmt.Fprintf(w, "   sha256  sent %s\n           recv %s\n", r.SHA256Sent, r.SHA256Received)
	c2s, s2c := r.Wire.ClientToServer, r.Wire.ServerToClient
	fmt.Fprintf(w, "   segments  client->server %d written, %d delivered · server->client %d written, %d delivered\n",
		c2s.Written, c2s.Delivered, s2c.Written, s2c.Delivered)
	if n := int64(c2s.Written+c2s.Duplicated+s2c.Written+s2c.Duplicated) - int64(c2s.Delivered+c2s.Lost+s2c.Delivered+s2c.Lost); n > 0 {
		fmt.Fprintf(w, "             (%d still on the wire when the run ended: final ACKs nobody needed to read)\n", n)
	}
	hc, nc := r.Handmade, r.Netstack.Counters
	fmt.Fprintf(w, "   retransmissions %d (handmade %d, netstack %d) · handmade srtt %.2fms rto %.1fms, peer mss %d, final state %s\n",
		r.Retransmissions, hc.Retransmissions, nc.Retransmits, hc.SRTTms, hc.RTOms, hc.PeerMSS, hc.State)
	for _, d := range []struct {
		name string
		s    wireStats
	}{{"client->server", c2s}, {"server->client", s2c}} {
		if d.s.Lost+d.s.Duplicated+d.s.Reordered+d.s.Corrupted > 0 {
			fmt.Fprintf(w, "   wire %s: lost %d, duplicated %d, reordered %d, corrupted %d (seed %d)\n",
				d.name, d.s.Lost, d.s.Duplicated, d.s.Reordered, d.s.Corrupted, seed)
		}
		if d.s.Delayed > 0 {
			fmt.Fprintf(w, "   wire %s: %d packets delayed, %.2fms on average (delivered %.3fms late on average), %d queued behind the rate limit\n",
				d.name, d.s.Delayed, d.s.MeanDelayMs, d.s.MeanLateMs, d.s.RateQueued)
		}
	}
	fmt.Fprintf(w, "   handmade (%s profile) dropped: checksum %d, malformed %d, unacceptable %d; held out of order %d\n",
		hc.Profile, hc.DroppedChecksum, hc.DroppedMalformed, hc.DroppedUnacceptable, hc.OutOfOrder)
	if nz := nonZeroCounters(hc.Counters); nz != "" {
		fmt.Fprintf(w, "   handmade counters: %s\n", nz)
	}
	fmt.Fprintf(w, "   netstack: checksum errors %d, invalid segments %d, malformed %d, resets sent %d received %d, timeouts %d, fast retransmits %d\n",
		nc.ChecksumErrors, nc.InvalidSegments, nc.L4Malformed+nc.IPMalformed, nc.ResetsSent, nc.ResetsReceived, nc.Timeouts, nc.FastRetransmits)
	for _, f := range r.Captures {
		fmt.Fprintf(w, "   wrote %s\n", f)
	}
	for _, f := range r.FlowGraphs {
		fmt.Fprintf(w, "   drew  %s\n", f)
	}
}

func printSummary(w io.Writer, rep demoReport) {
	fmt.Fprintf(w, "\n%-27s %-9s %10s %9s %12s %8s  %s\n", "run", "result", "bytes", "time", "goodput", "retrans", "sha256 (sent = received)")
	for _, r := range rep.Runs {
		name := r.Name
		if strings.Contains(rep.HandmadeProfile, ",") {
			name = r.Profile + " " + r.Name
		}
		res := "ok"
		if !r.OK {
			res = "FAILED"
		}
		eq := "≠"
		if r.SHA256Sent == r.SHA256Received {
			eq = "="
		}
		fmt.Fprintf(w, "%-27s %-9s %10d %8.3fs %7.1f Mb/s %8d  %s %s %s\n", name, res, r.BytesReceived, r.DurationS, r.GoodputMbps, r.Retransmissions, short(r.SHA256Sent), eq, short(r.SHA256Received))
	}
	if pc := rep.Profiles; pc != nil {
		fmt.Fprintf(w, "profiles on %s: full %.3fs, seed %.3fs for the same payload; stop-and-wait took %.1f× as long\n", rep.Wire, pc.FullS, pc.SeedS, pc.SeedOverFull)
	}
	fmt.Fprintf(w, "seed %d · gVisor %s\n", rep.Seed, rep.GVisorVersion)
}

// nonZeroCounters lists the counters of v (a struct of uint64 fields, or
// of such structs) that are not zero, as "Name=N" in field order.
func nonZeroCounters(v any) string {
	var parts []string
	var walk func(reflect.Value)
	walk = func(rv reflect.Value) {
		for i := range rv.NumField() {
			f := rv.Field(i)
			switch f.Kind() {
			case reflect.Struct:
				walk(f)
			case reflect.Uint64:
				if f.Uint() != 0 {
					parts = append(parts, fmt.Sprintf("%s=%d", rv.Type().Field(i).Name, f.Uint()))
				}
			}
		}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Struct {
		walk(rv)
	}
	return strings.Join(parts, " ")
}

// drawRun draws the captures of a demo run (both ends) into dir, with the
// wire's events.
func drawRun(dir, pcapDir string, r runResult) ([]string, error) {
	events := filepath.Join(pcapDir, r.captureBase+".events.jsonl")
	if _, err := os.Stat(events); err != nil {
		events = ""
	}
	var files []string
	for _, role := range []string{"client", "server"} {
		pcap := filepath.Join(pcapDir, r.captureBase+"."+role+".pcap")
		if _, err := os.Stat(pcap); err != nil {
			continue // the run failed before capturing
		}
		f, err := writeFlowGraphs(dir, r.captureBase+"."+role, pcap, events, flow.RenderOptions{ClientName: r.Client, ServerName: r.Server})
		files = append(files, f...)
		if err != nil {
			return files, fmt.Errorf("%s: %w", pcap, err)
		}
	}
	return files, nil
}
