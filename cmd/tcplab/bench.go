package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"tcplab/handmade"
	"tcplab/netstackref"
	"tcplab/throughput"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "bulk-transfer goodput of every pairing of handmade and netstack, under named wire profiles (and against Linux over TUN as root)",
		Description: `Each pairing (netstack->netstack, the baseline, then handmade->handmade,
handmade->netstack, netstack->handmade) sends a bulk transfer over the
in-memory wire, under each profile:

   clean   no impairment, MTU 1500
   lossy   1% loss, 20 ms RTT
   harsh   5% loss, 5% reordering, 10 ms RTT

and, only when named in --profiles (it takes long):

   lfn     a long fat network: clean, 100 ms RTT, 8192 packets in flight
           per direction, both stacks with their default buffers (each
           sizes its own); a 1 MiB window or send buffer fills a tenth
           of it. Run it with --duration 10s --size 1GiB: slow start
           takes about a second to open the window.

A transfer sends --size octets or runs --duration, whichever ends first.
The runs of all pairings are interleaved and repeated --runs times; each
row is the median goodput with its spread (min..max), the ratio to
netstack->netstack in the same run and profile, the median retransmissions
and the CPU time per GB (the whole process: both stacks and the wire).
netstack runs with its own options at the same buffer sizes; both are
printed. Congestion control is like for like, one family per row (the cc
column): handmade's newreno against netstack's reno, handmade's cubic
(with HyStart++) against netstack's cubic, and the ratio is to
netstack->netstack with the same family. --cc picks the families: both
by default, newreno or cubic for one (half the time).

As root the in-process stacks also meet the Linux kernel over a TUN device
(a namespace made per transfer, the kernel's sysctls pinned as in tcplab
compare), on a clean link: netstack->linux, handmade->linux,
linux->netstack, linux->handmade; each is compared with netstack in the
same role on the same device (the baseline column). --no-tun leaves them
out.

Examples:
   tcplab bench
   tcplab bench --profiles clean --runs 9
   tcplab bench --no-tun --profiles lossy,clean --cc cubic
   sudo tcplab bench --profiles clean --pairings handmade-linux,netstack-linux
   tcplab bench --pairings handmade-netstack,netstack-netstack --duration 5s
   tcplab bench --json | jq '.results[] | {pairing, profile, ratio_vs_netstack}'
   tcplab bench --html bench.html        # each row opens a sample conversation's graphs`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "profiles", Value: "clean,lossy,harsh", Usage: "profiles to run: clean, lossy, harsh, lfn"},
			&cli.StringFlag{Name: "pairings", Usage: "pairings as CLIENT-SERVER, comma separated", DefaultText: "all four"},
			&cli.StringFlag{Name: "cc", Value: throughput.NewReno + "," + throughput.CUBIC, Usage: "congestion control families, comma separated, each compared like for like: newreno (against netstack's reno), cubic (against netstack's cubic)"},
			&cli.IntFlag{Name: "runs", Value: 5, Usage: "repetitions of each pairing and profile (the median is reported)"},
			&cli.StringFlag{Name: "size", Value: "64MiB", Usage: "most octets per transfer"},
			&cli.DurationFlag{Name: "duration", Value: 2 * time.Second, Usage: "longest time per transfer"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed of the wire's impairments (run r uses seed+1000r)"},
			&cli.BoolFlag{Name: "no-tun", Usage: "skip the pairings against the Linux kernel over a TUN device (run by default as root)"},
			&cli.BoolFlag{Name: "json", Usage: "stdout is one JSON document with results, one object per pairing, link and profile"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress"},
			&cli.StringFlag{Name: "html", Usage: "also write the results as an HTML page to `FILE`, each row opening the flow graph of a sample transfer (captures beside it, in FILE-captures/)"},
		},
		Action: benchAction,
	}
}

// benchReport is the JSON document of bench --json.
type benchReport struct {
	GVisorVersion   string              `json:"gvisor_version"`
	NetstackOptions string              `json:"netstack_options"`
	HandmadeConfig  string              `json:"handmade_config"`
	CC              []string            `json:"cc"`
	Runs            int                 `json:"runs"`
	SizeBytes       int64               `json:"size_bytes"`
	DurationS       float64             `json:"duration_s"`
	Results         []throughput.Result `json:"results"`
	OK              bool                `json:"ok"`
}

func benchAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return cli.Exit(fmt.Sprintf("bench takes no arguments (got %q)", c.Args().Slice()), 2)
	}
	opt := throughput.Options{Runs: c.Int("runs"), Duration: c.Duration("duration"), Seed: c.Int64("seed"), Netstack: netstackref.DefaultOptions()}
	size, err := parseSize(c.String("size"))
	if err != nil || size <= 0 {
		return cli.Exit(fmt.Sprintf("--size %q: want a positive size such as 64MiB", c.String("size")), 2)
	}
	opt.Size = size
	if opt.Runs < 1 || opt.Duration <= 0 {
		return cli.Exit("--runs and --duration must be positive", 2)
	}
	for _, n := range strings.Split(c.String("cc"), ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(throughput.Families, n) {
			return cli.Exit(fmt.Sprintf("--cc: unknown congestion control %q: want newreno or cubic, or both comma separated", n), 2)
		}
		if !slices.Contains(opt.CC, n) {
			opt.CC = append(opt.CC, n)
		}
	}
	for _, n := range strings.Split(c.String("profiles"), ",") {
		p, ok := throughput.LookupProfile(strings.TrimSpace(n))
		if !ok {
			return cli.Exit(fmt.Sprintf("--profiles: unknown profile %q: want clean, lossy, harsh or lfn", n), 2)
		}
		opt.Profiles = append(opt.Profiles, p)
	}
	inProcess := func(n string) bool { return n == throughput.Handmade || n == throughput.Netstack }
	opt.TUN = !c.Bool("no-tun") && throughput.TUNAvailable() == nil
	if s := c.String("pairings"); s != "" {
		opt.Pairings, opt.TUNOnly = []throughput.Pairing{}, []throughput.Pairing{}
		for _, n := range strings.Split(s, ",") {
			cl, sv, ok := strings.Cut(strings.TrimSpace(n), "-")
			p := throughput.Pairing{Client: cl, Server: sv}
			switch {
			case ok && inProcess(cl) && inProcess(sv):
				opt.Pairings = append(opt.Pairings, p)
			case ok && (inProcess(cl) && sv == throughput.Linux || cl == throughput.Linux && inProcess(sv)):
				if err := throughput.TUNAvailable(); err != nil {
					return cli.Exit(fmt.Sprintf("--pairings %s: the kernel is reached over a TUN device, which needs root: %v", n, err), 2)
				}
				if c.Bool("no-tun") {
					return cli.Exit(fmt.Sprintf("--pairings %s and --no-tun: the kernel is only reached over a TUN device", n), 2)
				}
				opt.TUN = true
				opt.TUNOnly = append(opt.TUNOnly, p)
			default:
				return cli.Exit(fmt.Sprintf("--pairings: %q: want CLIENT-SERVER of handmade and netstack (e.g. handmade-netstack), or one of them with linux (e.g. handmade-linux, as root)", n), 2)
			}
		}
		if len(opt.TUNOnly) == 0 {
			opt.TUN = false
		}
	} else if err := throughput.TUNAvailable(); err != nil && !c.Bool("no-tun") {
		fmt.Fprintf(c.App.ErrWriter, "bench: the pairings against Linux over TUN left out: %v\n", err)
	}
	rep := benchReport{GVisorVersion: netstackref.Version(), NetstackOptions: netstackOptions(opt.Netstack, opt.CC),
		HandmadeConfig: describeHandmade(opt.Handmade, opt.CC), CC: opt.CC, Runs: opt.Runs, SizeBytes: opt.Size, DurationS: opt.Duration.Seconds()}
	narr := c.App.Writer
	if c.Bool("json") {
		narr = c.App.ErrWriter
	}
	fmt.Fprintf(narr, "tcplab bench: %d runs each, %s or %v per transfer\n  netstack %s: %s\n  handmade: %s\n",
		opt.Runs, formatSize(opt.Size), opt.Duration, rep.GVisorVersion, rep.NetstackOptions, rep.HandmadeConfig)
	if !c.Bool("quiet") {
		opt.Progress = func(done, total int, r throughput.Result, run throughput.Run) {
			state := fmt.Sprintf("%.0f Mbit/s", run.Mbps)
			if run.Error != "" {
				state = "FAILED: " + run.Error
			}
			fmt.Fprintf(c.App.ErrWriter, "  [%d/%d] %-20s %-6s %-7s %s\n", done, total, r.Pairing, r.Profile, r.CC, state)
		}
	}
	rep.Results = throughput.Measure(c.Context, opt)
	rep.OK = c.Context.Err() == nil
	for _, r := range rep.Results {
		rep.OK = rep.OK && r.OK
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "pairing\tlink\tprofile\tcc\tgoodput Mbit/s\tspread\tratio_vs_netstack\tbaseline\tretrans\tCPU s/GB\t")
		for _, r := range rep.Results {
			if !r.OK {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\tFAILED\t\t\t\t\t\t\n", r.Pairing, r.Link, r.Profile, r.CC)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f\t%.0f..%.0f\t%.2f\t%s\t%d\t%.2f\t\n", r.Pairing, r.Link, r.Profile, r.CC, r.MedianMbps, r.MinMbps, r.MaxMbps, r.RatioVsNetstack, r.Baseline, r.Retransmissions, r.CPUSecondsPerGB)
		}
		tw.Flush()
	}
	if f := c.String("html"); f != "" && c.Context.Err() == nil {
		if err := writeBenchHTML(c.Context, f, rep, opt); err != nil {
			return cli.Exit(fmt.Sprintf("--html: %v", err), 1)
		}
		fmt.Fprintf(narr, "wrote %s\n", f)
	}
	if c.Context.Err() != nil {
		return c.Context.Err()
	}
	if !rep.OK {
		return cli.Exit("some transfers failed; see above", 1)
	}
	return nil
}

// netstackOptions prints netstack's options with the families' gVisor
// names in place of its one congestion control: each row runs one.
func netstackOptions(o netstackref.Options, families []string) string {
	names := make([]string, len(families))
	for i, f := range families {
		names[i] = throughput.NetstackCC(f)
	}
	o.CongestionControl = strings.Join(names, ",")
	return o.String()
}

// describeHandmade prints the hand-built stack's settings that matter
// for throughput, defaults resolved, with the families run.
func describeHandmade(c handmade.Config, families []string) string {
	buf := func(n, def int) string {
		if n == 0 {
			return formatSize(int64(def)) + " (default)"
		}
		return formatSize(int64(n))
	}
	rcv := buf(c.RecvBuffer, 128<<10)
	if !c.DisableRecvAutotune {
		rcv += ", autotuned up to " + buf(c.MaxRecvBuffer, 6<<20)
	}
	orDefault := func(n, def int) int {
		if n <= 0 {
			return def
		}
		return n
	}
	snd := buf(c.SendBuffer, 1<<20)
	if !c.DisableSendAutotune && orDefault(c.MaxSendBuffer, 4<<20) > orDefault(c.SendBuffer, 1<<20) {
		snd += ", autotuned up to " + buf(c.MaxSendBuffer, 4<<20)
	}
	return fmt.Sprintf("cc=%s sndbuf=%s rcvbuf=%s sack=%t ts=%t wscale=%t delayed_ack=%t nagle=%t",
		strings.Join(families, ","), snd, rcv, !c.DisableSACK, !c.DisableTimestamps, !c.DisableWindowScale, !c.DisableDelayedACK, !c.NoDelay)
}
