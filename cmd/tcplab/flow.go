package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"tcplab/flow"
)

func flowCommand() *cli.Command {
	return &cli.Command{
		Name:      "flow",
		Usage:     "draw a capture's TCP connections: Mermaid sequence diagram, SVG or text ladder, time-sequence graph",
		ArgsUsage: "CAPTURE",
		Description: `Reads a pcap or pcapng capture (raw IP as tcplab writes it, Ethernet, or
Linux "any"-device captures from tcpdump -i any, SLL and SLL2), splits it
into TCP connections and draws one: an arrow per segment labelled like the
article's diagram (flags, seq and ack relative to each side's ISN, length,
window, options), with retransmissions, duplicate ACKs, out-of-window
segments, RSTs and zero windows standing out. Beyond --max segments the
handshake, the teardown and every notable segment are drawn and the steady
state between them is summarised.

With the in-memory wire's events sidecar (RUN.events.jsonl, written by
--pcap-dir beside the captures, picked up automatically or named with
--events) the segments the wire lost, duplicated, corrupted or reordered
are drawn as such; at the receiving end a lost segment appears as an
arrow ending in a cross.

Formats: mermaid (the article's own), text (a ladder for the terminal),
svg (the ladder as a self-contained SVG), tsg (a time-sequence graph in the
style of tcptrace and Wireshark's Stevens graph, SVG). Flags go before or
after the file name.

Examples:
   tcplab demo --profile seed --size 8KiB --pcap-dir caps
   tcplab flow caps/handmade-to-netstack.client.pcap
   tcplab flow caps/netstack-to-handmade.server.pcap --format svg --out flow.svg
   tcplab flow --format tsg --out tsg.svg caps/handmade-to-netstack.client.pcap
   tcplab flow --list dump.pcapng`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "mermaid", Usage: "mermaid, text, svg or tsg"},
			&cli.IntFlag{Name: "conn", Aliases: []string{"c"}, Usage: "draw connection `N` (see --list)", DefaultText: "the one with most segments; text draws all"},
			&cli.StringFlag{Name: "events", Usage: "the wire's events sidecar `FILE` (default: RUN.events.jsonl beside RUN.client.pcap or RUN.server.pcap, if there)"},
			&cli.BoolFlag{Name: "no-events", Usage: "ignore the events sidecar even when it is beside the capture"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout"},
			&cli.IntFlag{Name: "max", Value: flow.DefaultMaxFull, Usage: "draw every segment up to this many; beyond, summarise the steady state (-1: draw all)"},
			&cli.StringFlag{Name: "sender", Usage: "tsg: graph the data sent by the client or the server", DefaultText: "the side that sent more"},
			&cli.StringFlag{Name: "client-name", Usage: "name the client's stack in the lanes, e.g. handmade"},
			&cli.StringFlag{Name: "server-name", Usage: "name the server's stack in the lanes, e.g. netstack"},
			&cli.BoolFlag{Name: "list", Usage: "list the connections and exit"},
		},
		Action: flowAction,
	}
}

// lateFlags parses flags that came after the first argument (urfave/cli
// v2 stops at the first argument, as Go's flag package does) and returns
// the arguments left.
func lateFlags(c *cli.Context) ([]string, error) {
	args := c.Args().Slice()
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var fl cli.Flag
		for _, f := range c.Command.Flags {
			for _, n := range f.Names() {
				if n == name {
					fl = f
				}
			}
		}
		if fl == nil {
			return nil, fmt.Errorf("flag provided but not defined: %s", a)
		}
		if !hasVal {
			if _, ok := fl.(*cli.BoolFlag); ok {
				val = "true"
			} else {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("flag needs an argument: %s", a)
				}
				i++
				val = args[i]
			}
		}
		// Each name of a flag holds its own value until urfave/cli
		// normalises them after parsing: set them all.
		for _, n := range fl.Names() {
			if err := c.Set(n, val); err != nil {
				return nil, fmt.Errorf("%s %s: %w", a, val, err)
			}
		}
	}
	return pos, nil
}

func flowAction(c *cli.Context) error {
	args, err := lateFlags(c)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	if len(args) != 1 {
		return cli.Exit(fmt.Sprintf("flow takes one capture file (got %d arguments); see tcplab flow --help", len(args)), 2)
	}
	format := c.String("format")
	switch format {
	case "mermaid", "text", "svg", "tsg":
	default:
		return cli.Exit(fmt.Sprintf("--format %q: want mermaid, text, svg or tsg", format), 2)
	}
	capPath := args[0]
	capt, err := flow.ReadFile(capPath)
	if err != nil {
		return cli.Exit("flow: "+err.Error(), 1)
	}
	evPath := c.String("events")
	if evPath == "" && !c.Bool("no-events") {
		if p := sidecarFor(capPath); p != "" {
			evPath = p
			fmt.Fprintf(c.App.ErrWriter, "tcplab flow: using the wire's events from %s\n", p)
		}
	}
	if evPath != "" && !c.Bool("no-events") {
		evs, err := flow.ReadEventsFile(evPath)
		if err != nil {
			return cli.Exit("--events: "+err.Error(), 1)
		}
		capt.ApplyEvents(evs)
		if n := len(capt.Unmatched); n > 0 {
			fmt.Fprintf(c.App.ErrWriter, "tcplab flow: %d of %d wire events matched no segment of this capture\n", n, len(evs))
		}
	}
	if c.Bool("list") {
		for _, cn := range capt.Conns {
			fmt.Fprintf(c.App.Writer, "%3d  %s\n", cn.N, cn)
		}
		return nil
	}
	opts := flow.RenderOptions{MaxFull: c.Int("max"), ClientName: c.String("client-name"), ServerName: c.String("server-name")}
	var conns []*flow.Conn
	if n := c.Int("conn"); c.IsSet("conn") {
		if n < 1 || n > len(capt.Conns) {
			return cli.Exit(fmt.Sprintf("--conn %d: the capture holds connections 1 to %d (see --list)", n, len(capt.Conns)), 2)
		}
		conns = []*flow.Conn{capt.Conns[n-1]}
	} else if format == "text" {
		conns = capt.Conns
	} else {
		best := capt.Conns[0]
		for _, cn := range capt.Conns {
			if len(cn.Segments) > len(best.Segments) {
				best = cn
			}
		}
		conns = []*flow.Conn{best}
		if len(capt.Conns) > 1 {
			fmt.Fprintf(c.App.ErrWriter, "tcplab flow: %d connections; drawing %d (most segments); pick another with --conn (see --list)\n", len(capt.Conns), best.N)
		}
	}
	var buf bytes.Buffer
	for i, cn := range conns {
		if i > 0 {
			buf.WriteString("\n")
		}
		if err := renderFlow(&buf, cn, format, c.String("sender"), opts); err != nil {
			return cli.Exit(err.Error(), 2)
		}
	}
	if out := c.String("out"); out != "" {
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			return cli.Exit("--out: "+err.Error(), 1)
		}
		return nil
	}
	_, err = c.App.Writer.Write(buf.Bytes())
	return err
}

func renderFlow(w io.Writer, cn *flow.Conn, format, sender string, o flow.RenderOptions) error {
	switch format {
	case "mermaid":
		return flow.WriteMermaid(w, cn, o)
	case "text":
		return flow.WriteText(w, cn, o)
	case "svg":
		return flow.WriteSVG(w, cn, o)
	case "tsg":
		d := cn.DataDir()
		switch sender {
		case "":
		case "client":
			d = flow.ClientToServer
		case "server":
			d = flow.ServerToClient
		default:
			return fmt.Errorf("--sender %q: want client or server", sender)
		}
		return flow.WriteTSG(w, cn, d, o)
	}
	return fmt.Errorf("format %q", format)
}

// sidecarFor returns RUN.events.jsonl for RUN.client.pcap or
// RUN.server.pcap when it exists.
func sidecarFor(capture string) string {
	base := strings.TrimSuffix(capture, filepath.Ext(capture))
	for _, role := range []string{".client", ".server"} {
		if strings.HasSuffix(base, role) {
			p := strings.TrimSuffix(base, role) + ".events.jsonl"
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p
			}
		}
	}
	return ""
}

// writeFlowGraphs draws the capture at pcapPath into dir as BASE.mmd
// (Mermaid), BASE.svg (the ladder) and BASE.tsg.svg (time-sequence graph of
// the direction that carried the data), using the wire's events when
// eventsPath is set. It returns the files written.
func writeFlowGraphs(dir, base, pcapPath, eventsPath string, o flow.RenderOptions) ([]string, error) {
	capt, err := flow.ReadFile(pcapPath)
	if err != nil {
		return nil, err
	}
	if eventsPath != "" {
		evs, err := flow.ReadEventsFile(eventsPath)
		if err != nil {
			return nil, err
		}
		capt.ApplyEvents(evs)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, cn := range capt.Conns {
		name := base
		if len(capt.Conns) > 1 {
			name = fmt.Sprintf("%s.conn%d", base, cn.N)
		}
		for _, f := range []struct{ ext, format string }{{".mmd", "mermaid"}, {".svg", "svg"}, {".tsg.svg", "tsg"}} {
			var buf bytes.Buffer
			if err := renderFlow(&buf, cn, f.format, "", o); err != nil {
				return files, err
			}
			p := filepath.Join(dir, name+f.ext)
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				return files, err
			}
			files = append(files, p)
		}
	}
	return files, nil
}

// captureDir is where client and server write their captures: --pcap-dir,
// or --flow-dir when only that is set (the graphs are drawn from them).
func captureDir(c *cli.Context) string {
	if d := c.String("pcap-dir"); d != "" {
		return d
	}
	return c.String("flow-dir")
}

// drawCaptures draws each capture a client or server wrote into
// --flow-dir. Stacks that write no capture (linux) get a clear error.
func drawCaptures(c *cli.Context, captures []string) ([]string, error) {
	dir := c.String("flow-dir")
	if dir == "" {
		return nil, nil
	}
	var files []string
	drawn := 0
	for _, p := range captures {
		if !strings.HasSuffix(p, ".pcap") {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil || fi.Size() <= 24 {
			continue // header only: nothing was sent
		}
		f, err := writeFlowGraphs(dir, strings.TrimSuffix(filepath.Base(p), ".pcap"), p, "", flow.RenderOptions{})
		files = append(files, f...)
		if err != nil {
			return files, fmt.Errorf("--flow-dir: %w", err)
		}
		drawn++
	}
	if drawn == 0 {
		return files, fmt.Errorf("--flow-dir: no capture to draw (--stack linux writes none: capture with tcpdump and run tcplab flow on it)")
	}
	return files, nil
}
