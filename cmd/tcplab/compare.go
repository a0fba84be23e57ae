package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"tcplab/compare"
)

func compareCommand() *cli.Command {
	return &cli.Command{
		Name:  "compare",
		Usage: "the conformance bench: the same scripted segments against each stack, verdicts side by side",
		Description: `A test bench in the style of gVisor's packetimpact crafts segments, sends
them to each device under test in a given TCP state, and checks the exact
reply: one row per scenario (named by its CONFORMANCE.md ID and RFC 9293
section), one column per stack. A verdict is pass, allowed (a difference
the scenario records with its reason, such as RFC 1337 in TIME-WAIT), fail
(with what was expected and what came), n/a, or error (the bench itself
failed). The exit status is non-zero on any fail or error.

Then the paired runs: each client stack uploads 1 MiB to each server stack,
and the capture is checked: the handshake, sequence and acknowledgement
arithmetic each way, no RST, both FINs acknowledged (skipped with --run or
--no-paired). Over --link mem: handmade and netstack each way, on a clean
wire and at 2% loss. Over TUN devices (--link tun, and linux on any link):
each stack of the run behind its device serves an upload from the
in-process handmade and netstack clients, and its client uploads to their
servers.

handmade and netstack run in process. --link says how the bench reaches
them: tun (the default as root) gives each scenario run a network
namespace of its own with two TUN devices in it, the bench's and the
stack's, and the namespace's kernel forwarding between them (ip_forward=1
there only; the segments arrive one hop lower in TTL, nothing else a
scenario sees changes); mem (the default without root) is an in-memory
wire. --link tun without root is an error.
linux is the kernel itself as a device under test: each scenario gets a
network namespace of its own, with the sysctls that change TCP's answers
pinned (listed in the report), and the bench reaches it over a TUN device
in that namespace, whatever --link says. The devices and the namespaces
go with the run. Both need root (CAP_NET_ADMIN, CAP_SYS_ADMIN,
/dev/net/tun): without it, the default --stacks leaves linux out and says
why on stderr, and naming linux in --stacks is an error.

external is a stack tcplab does not run — yours: in Scapy, on a
microcontroller, in another userspace stack. The bench reaches it at
--external-addr on an Ethernet interface (--external-link iface:NAME,
AF_PACKET), from an address of its own on that link
(--external-bench-addr: one the host does not own; the bench answers ARP
for it, so no kernel on this side sees the connections or resets them).
It sends only to the device's address, on that interface, and stops in
seconds if the device does not answer ARP. Or, with --external-link
route, through the kernel's routing (the device may be hops away), from
an address the host owns (--external-bench-addr: the src of ip route get
ADDRESS): a table of nftables rules, gone with the run, drops the RSTs
the kernel would send the device for the bench's connections; the bench
stops in seconds if three SYNs to the device get no answer. tcplab
cannot call listen or connect in a foreign stack: declare what your
application does with --external-can (listen: accepts on --external-port
and keeps connections open; sink: reads everything to EOF; closed-port:
nothing listens on port+1). A scenario that needs anything else (the application sending,
closing, setting options) is n/a on external, naming what it needs. Or
put the same keys in a file (--external-config; one "key value" a line:
addr, port, link, bench-addr, can); flags override it.

Examples:
   tcplab compare
   tcplab compare --run 'RS-|OW-'            # RST handling and RFC 5961
   tcplab compare --stacks handmade --run HS-04 --pcap-dir caps
   sudo tcplab compare --stacks linux --run 'FC-'   # the kernel alone
   tcplab compare --link mem                 # handmade and netstack over the in-memory wire
   tcplab compare --json | jq '.summary'
   tcplab compare --markdown conformance.md
   tcplab compare --html report.html         # open in a browser: each cell opens its flow graph
   tcplab compare --list
   # your stack at 10.9.0.2:8080 behind ens224, the bench on 10.9.0.1:
   sudo tcplab compare --stacks netstack,linux,external --external-link iface:ens224 \
        --external-addr 10.9.0.2 --external-port 8080 --external-bench-addr 10.9.0.1 \
        --external-can listen,sink --no-paired
   # the same stack one router away, through the kernel's routing from 10.8.0.5:
   sudo tcplab compare --stacks netstack,linux,external --external-link route \
        --external-addr 10.9.0.2 --external-port 8080 --external-bench-addr 10.8.0.5 \
        --external-can listen,sink --no-paired`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "stacks", Value: cli.NewStringSlice(stackHandmade, stackNetstack, stackLinux), Usage: "devices under test: handmade, netstack, linux (linux needs root; left out of the default without it), external (a stack tcplab does not run: see --external-*)"},
			&cli.StringFlag{Name: "external-addr", Usage: "external: the device's IPv4 `ADDRESS`"},
			&cli.UintFlag{Name: "external-port", Usage: "external: the `PORT` the device listens on"},
			&cli.StringFlag{Name: "external-link", Usage: "external: how the bench reaches the device: iface:`NAME` (an Ethernet interface, AF_PACKET) or route (the kernel's routing, its RSTs to the device dropped)"},
			&cli.StringFlag{Name: "external-bench-addr", Usage: "external: the bench's own IPv4 `ADDRESS`: on iface:NAME one the host does not own; with route one it does"},
			&cli.StringFlag{Name: "external-can", Usage: "external: what the device's application does, `LIST` of listen, sink, closed-port"},
			&cli.StringFlag{Name: "external-config", Usage: "external: read addr, port, link, bench-addr and can from `FILE` (\"key value\" a line); flags override"},
			&cli.StringFlag{Name: "link", Usage: "how the bench reaches handmade and netstack: tun (needs root) or mem; linux is always over its TUN", DefaultText: "tun as root, mem otherwise"},
			&cli.StringFlag{Name: "run", Usage: "only scenarios whose ID or title matches this regular `PATTERN`"},
			&cli.BoolFlag{Name: "json", Usage: "stdout is one JSON document (stacks, versions, links, settings, scenarios, summary)"},
			&cli.StringFlag{Name: "markdown", Usage: "also write the matrix as a Markdown table to `FILE`"},
			&cli.StringFlag{Name: "html", Usage: "also write the matrix as an HTML page to `FILE`, each cell opening the flow graph of its capture; captures go beside it (FILE-captures/) unless --pcap-dir is set"},
			&cli.StringFlag{Name: "pcap-dir", Usage: "write one capture per scenario and stack (ID_stack.pcap) into `DIR`"},
			&cli.IntFlag{Name: "parallel", Usage: "scenario runs at once", DefaultText: "2 × CPUs"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the bench's choices (ports, ISNs)"},
			&cli.BoolFlag{Name: "list", Usage: "list the scenarios and exit"},
			&cli.BoolFlag{Name: "no-paired", Usage: "skip the paired runs (each client stack uploading to each server stack, judged from the capture)"},
		},
		Action: compareAction,
	}
}

func compareAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return cli.Exit(fmt.Sprintf("compare takes no arguments (got %q); select scenarios with --run", c.Args().Slice()), 2)
	}
	scenarios, err := compare.Select(compare.Scenarios(), c.String("run"))
	if err != nil {
		return cli.Exit(fmt.Sprintf("--run: %v", err), 2)
	}
	if len(scenarios) == 0 {
		return cli.Exit(fmt.Sprintf("--run %q matches no scenario; see tcplab compare --list", c.String("run")), 2)
	}
	if c.Bool("list") {
		for _, s := range scenarios {
			fmt.Fprintf(c.App.Writer, "%-8s %-62s %s\n", s.ID, s.Title, s.RFC)
		}
		return nil
	}
	link := c.String("link")
	switch {
	case !c.IsSet("link"):
		link = "mem"
		if tunAvailable() == nil {
			link = "tun"
		}
	case link == "tun":
		if err := tunAvailable(); err != nil {
			return cli.Exit(err.Error(), 2)
		}
	case link != "mem":
		return cli.Exit(fmt.Sprintf("--link %q: the bench reaches handmade and netstack over tun or mem (linux is always over its own TUN device)", link), 2)
	}
	var stacks []string
	for _, s := range c.StringSlice("stacks") {
		for _, n := range strings.Split(s, ",") {
			if n = strings.TrimSpace(n); n != "" {
				stacks = append(stacks, n)
			}
		}
	}
	backends, err := compare.BackendsOver(link)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	if slices.Contains(stacks, stackLinux) {
		switch err := linuxAvailable(); {
		case err == nil:
			backends = append(backends, compare.Linux())
		case c.IsSet("stacks"):
			return cli.Exit(fmt.Sprintf("--stacks linux: %v", err), 2)
		default:
			stacks = slices.DeleteFunc(stacks, func(n string) bool { return n == stackLinux })
			fmt.Fprintf(c.App.ErrWriter, "compare: linux left out: %v\n", err)
		}
	}
	if slices.Contains(stacks, stackExternal) {
		cfg, err := externalConfig(c)
		if err != nil {
			return cli.Exit(fmt.Sprintf("--stacks external: %v", err), 2)
		}
		if cfg.Route {
			fmt.Fprintf(c.App.ErrWriter, "compare: external through the kernel's routing from %v; while tcplab runs, a table of its own drops the kernel's RSTs to the device:\n  ip saddr %v ip daddr %v tcp flags rst meta mark != %#x counter drop\n",
				cfg.BenchAddr, cfg.BenchAddr, cfg.Addr, compare.RouteMark)
		}
		if err := compare.ExternalReachable(c.Context, cfg); err != nil {
			return cli.Exit(fmt.Sprintf("--stacks external: %v", err), 2)
		}
		backends = append(backends, compare.External(cfg))
	} else if f := setExternalFlag(c); f != "" {
		return cli.Exit(fmt.Sprintf("--%s is for the external stack: add external to --stacks", f), 2)
	}
	pcapDir := c.String("pcap-dir")
	if f := c.String("html"); f != "" && pcapDir == "" {
		pcapDir = reportCapturesDir(f)
	}
	m, err := compare.Run(c.Context, scenarios, backends, compare.RunOptions{
		Stacks: stacks, PcapDir: pcapDir, Parallel: c.Int("parallel"), Seed: c.Uint64("seed"),
	})
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	pairedFailed := false
	if !c.Bool("no-paired") && c.String("run") == "" {
		opt := compare.PairedOptions{Seed: int64(c.Uint64("seed")), PcapDir: pcapDir}
		if link == "mem" {
			m.Paired = compare.RunPaired(c.Context, opt)
		}
		// Over devices: each stack behind its link (TUN, the kernel)
		// against the in-process clients and servers.
		var devices []compare.Backend
		for _, b := range backends {
			if b.Link != "mem" && b.Capabilities == nil && slices.Contains(stacks, b.Name) {
				devices = append(devices, b)
			}
		}
		m.Paired = append(m.Paired, compare.RunPairedWith(c.Context, devices, opt)...)
		for _, p := range m.Paired {
			pairedFailed = pairedFailed || !p.OK
		}
	}
	if f := c.String("markdown"); f != "" {
		if err := writeMarkdown(f, m); err != nil {
			return cli.Exit(fmt.Sprintf("--markdown: %v", err), 1)
		}
	}
	if f := c.String("html"); f != "" {
		if err := writeHTMLReport(f, m); err != nil {
			return cli.Exit(fmt.Sprintf("--html: %v", err), 1)
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(m); err != nil {
			return err
		}
	} else {
		if err := m.WriteText(c.App.Writer); err != nil {
			return err
		}
		if len(m.Paired) > 0 {
			fmt.Fprintln(c.App.Writer, "\npaired runs (1 MiB upload, judged from the capture of the in-process end):")
			if err := compare.WritePaired(c.App.Writer, m.Paired); err != nil {
				return err
			}
		}
	}
	if c.Context.Err() != nil {
		return c.Context.Err()
	}
	if pairedFailed {
		return cli.Exit("a paired run failed; see above", 1)
	}
	if m.Failed() {
		return cli.Exit("some scenarios failed; see the details above", 1)
	}
	return nil
}

// stackExternal is a stack tcplab does not run (compare.External).
const stackExternal = "external"

var externalFlags = []struct{ flag, key string }{
	{"external-addr", "addr"}, {"external-port", "port"}, {"external-link", "link"},
	{"external-bench-addr", "bench-addr"}, {"external-can", "can"},
}

// setExternalFlag names an --external-* flag that was set, if any.
func setExternalFlag(c *cli.Context) string {
	if c.IsSet("external-config") {
		return "external-config"
	}
	for _, f := range externalFlags {
		if c.IsSet(f.flag) {
			return f.flag
		}
	}
	return ""
}

// externalConfig is the contract with the external stack: the file, then
// the flags over it.
func externalConfig(c *cli.Context) (compare.ExternalConfig, error) {
	var cfg compare.ExternalConfig
	if f := c.String("external-config"); f != "" {
		var err error
		if cfg, err = compare.ParseExternalConfig(f); err != nil {
			return cfg, fmt.Errorf("--external-config: %w", err)
		}
	}
	for _, f := range externalFlags {
		if c.IsSet(f.flag) {
			v := c.String(f.flag)
			if f.flag == "external-port" {
				v = fmt.Sprint(c.Uint(f.flag))
			}
			if err := cfg.Set(f.key, v); err != nil {
				return cfg, fmt.Errorf("--%s: %w", f.flag, err)
			}
		}
	}
	return cfg, cfg.Check()
}

// linuxAvailable says whether this process can run the linux stack (a
// variable, so tests can play the unprivileged user).
var linuxAvailable = compare.LinuxAvailable

// tunAvailable says whether this process can reach handmade and netstack
// over TUN devices (a variable, as linuxAvailable).
var tunAvailable = compare.TUNAvailable

// writeMarkdown writes the matrix as a Markdown table, details below.
func writeMarkdown(file string, m *compare.Matrix) error {
	var b strings.Builder
	b.WriteString("| ID | scenario | RFC |")
	for _, s := range m.Stacks {
		fmt.Fprintf(&b, " %s |", s)
	}
	b.WriteString("\n|---|---|---|" + strings.Repeat("---|", len(m.Stacks)) + "\n")
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	for _, r := range m.Scenarios {
		fmt.Fprintf(&b, "| %s | %s | %s |", r.ID, cell(r.Title), cell(r.RFC))
		for _, s := range m.Stacks {
			res := r.Results[s]
			v := string(res.Verdict)
			if res.Verdict != compare.Pass && res.Detail != "" {
				v += ": " + cell(res.Detail)
			}
			fmt.Fprintf(&b, " %s |", v)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, s := range m.Stacks {
		x := m.Summary[s]
		fmt.Fprintf(&b, "- **%s** (%s, over %s): %d pass, %d allowed, %d fail, %d n/a, %d error\n", s, m.Versions[s], m.Links[s], x.Pass, x.Allowed, x.Fail, x.NA, x.Error)
		if set := m.Settings[s]; len(set) > 0 {
			fmt.Fprintf(&b, "  - pinned: `%s`\n", strings.Join(set, "`, `"))
		}
	}
	if len(m.Paired) > 0 {
		b.WriteString("\nPaired runs: a 1 MiB upload, judged from the capture of the in-process end.\n\n" +
			"| client | server | link | result | intact | clean | segments | retransmitted | RSTs | problems |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, p := range m.Paired {
			link := p.Wire
			if p.DUTRole != "" {
				link += ", " + p.DUTRole + " behind it"
			}
			res := "ok"
			if !p.OK {
				res = "FAIL " + cell(p.Error)
			}
			var segs, retx, rsts int
			var problems []string
			if p.Conv != nil {
				segs, retx, rsts, problems = p.Conv.Segments, p.Conv.Retransmissions, p.Conv.RSTs, p.Conv.Problems
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %v | %v | %d | %d | %d | %s |\n", p.Client, p.Server, link, res, p.Intact, p.Clean, segs, retx, rsts, cell(strings.Join(problems, "; ")))
		}
	}
	return os.WriteFile(file, []byte(b.String()), 0o644)
}
