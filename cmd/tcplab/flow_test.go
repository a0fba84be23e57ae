package main

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// arrowRE matches a message of a Mermaid sequence diagram: sender, arrow,
// receiver, text.
var arrowRE = regexp.MustCompile(`^\s*([A-Za-z]+)\s*(->>|-->>|-x|--x)\s*[+-]?([A-Za-z]+)\s*:\s*(\S+)`)

// steps lists "C SYN", "S SYN-ACK", ... for each message of a diagram,
// with the article's loop block repeated chunks times.
func steps(t *testing.T, mmd string, chunks int) []string {
	t.Helper()
	var out, loop []string
	inLoop := false
	for _, l := range strings.Split(mmd, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "loop "):
			inLoop = true
			continue
		case l == "end" && inLoop:
			for range chunks {
				out = append(out, loop...)
			}
			inLoop = false
			continue
		}
		m := arrowRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		s := m[1] + " " + m[4]
		if inLoop {
			loop = append(loop, s)
		} else {
			out = append(out, s)
		}
	}
	return out
}

func wellFormedXML(t *testing.T, name string, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := d.Token(); err == io.EOF {
			return
		} else if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
	}
}

// TestFlowSeedFollowsArticle: the hand-built client's seed profile, drawn
// from the demo's captures, takes the steps of the article's own sequence
// diagram (testdata/article-sequence.mmd, copied from the article), in
// order: SYN, SYN-ACK, ACK, PSH-ACK/ACK per chunk, FIN-ACK, ACK, FIN-ACK,
// ACK — at both ends of the wire.
func TestFlowSeedFollowsArticle(t *testing.T) {
	dir := t.TempDir()
	// 5 chunks of 1400 octets.
	if _, stderr, err := runCLI(t, "demo", "--profile", "seed", "--size", "7000", "--run", runHandmadeToNetstack, "--seed", "1", "--pcap-dir", dir, "-q"); err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr)
	}
	article, err := os.ReadFile("testdata/article-sequence.mmd")
	if err != nil {
		t.Fatal(err)
	}
	want := steps(t, string(article), 5)
	if len(want) != 3+2*5+4 || want[0] != "C SYN" || want[3] != "C PSH-ACK" {
		t.Fatalf("the article's diagram reads as %v", want)
	}
	for _, end := range []string{"client", "server"} {
		out, stderr, err := runCLI(t, "flow", filepath.Join(dir, runHandmadeToNetstack+"."+end+".pcap"))
		if err != nil {
			t.Fatalf("flow: %v\n%s", err, stderr)
		}
		if !strings.HasPrefix(out, "sequenceDiagram\n") {
			t.Errorf("%s: not a Mermaid sequence diagram:\n%s", end, out)
		}
		if got := steps(t, out, 0); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s capture: steps\n%s\nwant the article's\n%s\ndiagram:\n%s", end, strings.Join(got, "\n"), strings.Join(want, "\n"), out)
		}
		for _, note := range []string{"Connection Establishment", "Data Transfer", "Note over C: Connection Teardown by Client", "Note over S: Server sends its own FIN", "Connection Closed"} {
			if !strings.Contains(out, note) {
				t.Errorf("%s: no %q", end, note)
			}
		}
		// Relative numbers, as the article writes x+1 and y+1.
		if !strings.Contains(out, "C->>S: SYN seq=0 ") || !strings.Contains(out, "S-->>C: SYN-ACK seq=0 ack=1 ") || !strings.Contains(out, "S-->>C: ACK seq=1 ack=1401 ") {
			t.Errorf("%s: sequence numbers are not relative to the ISNs:\n%s", end, out)
		}
	}
}

// TestFlowLossMarked: a run at 5% loss, captured with --pcap-dir: the
// flow graph and the time-sequence graph mark the retransmissions and the
// segments the wire lost; flags go before or after the capture.
func TestFlowLossMarked(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, err := runCLI(t, "demo", "--profile", "seed", "--size", "64KiB", "--loss", "0.05", "--seed", "7", "--run", runHandmadeToNetstack, "--pcap-dir", dir, "-q"); err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr)
	}
	ev, err := os.ReadFile(filepath.Join(dir, runHandmadeToNetstack+".events.jsonl"))
	if err != nil || !strings.Contains(string(ev), `"kind":"drop"`) || !strings.Contains(string(ev), "[PA]") {
		t.Fatalf("seed 7 at 5%% loss dropped no data segment (%v):\n%s", err, ev)
	}
	for _, end := range []string{"client", "server"} {
		capture := filepath.Join(dir, runHandmadeToNetstack+"."+end+".pcap")
		mmd, stderr, err := runCLI(t, "flow", capture)
		if err != nil {
			t.Fatalf("flow: %v\n%s", err, stderr)
		}
		if !strings.Contains(stderr, "events.jsonl") {
			t.Errorf("%s: the events sidecar beside the capture was not used: %s", end, stderr)
		}
		if !regexp.MustCompile(`(?m)^\s*rect rgb\(255, 221, 221\)\n\s*C->>S: (FAST |SPURIOUS )?RETRANSMISSION - PSH-ACK seq=\d+ ack=1 len=1400 `).MatchString(mmd) {
			t.Errorf("%s: no retransmission marked in the Mermaid flow graph:\n%s", end, mmd)
		}
		if !regexp.MustCompile(`(?m)^\s*C-xS: LOST ON THE WIRE - PSH-ACK seq=\d+ ack=1 len=1400`).MatchString(mmd) {
			t.Errorf("%s: no lost segment drawn as a crossed arrow:\n%s", end, mmd)
		}
		// Flags before and after the capture give the same graph.
		tsgA, _, errA := runCLI(t, "flow", "--format", "tsg", "--no-events", capture)
		tsgB, _, errB := runCLI(t, "flow", capture, "--format=tsg", "--no-events")
		if errA != nil || errB != nil || tsgA != tsgB {
			t.Fatalf("%s: flags before the file (%v) and after it (%v) differ", end, errA, errB)
		}
		tsg, _, err := runCLI(t, "flow", capture, "-f", "tsg", "--conn", "1")
		if err != nil {
			t.Fatal(err)
		}
		wellFormedXML(t, end+" tsg", []byte(tsg))
		if !strings.Contains(tsg, `<g class="retransmission"`) || !strings.Contains(tsg, `<g class="lost"`) {
			t.Errorf("%s: the time-sequence graph marks no retransmission or loss", end)
		}
		if n := strings.Count(tsgA, `<g class="retransmission"`); n == 0 {
			t.Errorf("%s: without the wire's events the capture alone shows no retransmission", end)
		}
		svg, _, err := runCLI(t, "flow", capture, "--format", "svg")
		if err != nil {
			t.Fatal(err)
		}
		wellFormedXML(t, end+" svg", []byte(svg))
		if !strings.Contains(svg, " retransmission\"") || !strings.Contains(svg, " lost\"") {
			t.Errorf("%s: the SVG ladder marks no retransmission or loss", end)
		}
		text, _, err := runCLI(t, "flow", capture, "--format", "text")
		if err != nil || !strings.Contains(text, "!! RETRANSMISSION") || !strings.Contains(text, "LOST ON THE WIRE") {
			t.Errorf("%s: text ladder (%v):\n%s", end, err, text)
		}
	}
}

func TestFlowErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("this is not a capture\n"), 0o644)

	// A real capture, cut in the middle of a packet.
	if _, stderr, err := runCLI(t, "demo", "--profile", "seed", "--size", "4KiB", "--run", runHandmadeToNetstack, "--seed", "1", "--pcap-dir", dir, "-q"); err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr)
	}
	full, err := os.ReadFile(filepath.Join(dir, runHandmadeToNetstack+".client.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "cut.pcap")
	os.WriteFile(truncated, full[:len(full)-7], 0o644)

	// UDP only: a pcap header and two datagrams.
	var udp bytes.Buffer
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h[0:4], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:6], 2)
	binary.LittleEndian.PutUint16(h[6:8], 4)
	binary.LittleEndian.PutUint32(h[16:20], 65535)
	binary.LittleEndian.PutUint32(h[20:24], 101)
	udp.Write(h)
	for range 2 {
		p := make([]byte, 28+4)
		p[0], p[8], p[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
		copy(p[12:], []byte{198, 18, 0, 1, 198, 18, 0, 2})
		binary.BigEndian.PutUint16(p[24:26], 12)
		r := make([]byte, 16)
		binary.LittleEndian.PutUint32(r[8:12], uint32(len(p)))
		binary.LittleEndian.PutUint32(r[12:16], uint32(len(p)))
		udp.Write(r)
		udp.Write(p)
	}
	udpFile := filepath.Join(dir, "udp.pcap")
	os.WriteFile(udpFile, udp.Bytes(), 0o644)

	for _, c := range []struct{ file, want string }{
		{text, "not a packet capture"},
		{truncated, "capture truncated"},
		{udpFile, "no TCP segment in the capture"},
		{filepath.Join(dir, "missing.pcap"), "no such file"},
	} {
		_, _, err := runCLI(t, "flow", c.file)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", filepath.Base(c.file), err, c.want)
		}
	}
	for _, args := range [][]string{{"flow"}, {"flow", "a.pcap", "b.pcap"}, {"flow", truncated, "--format", "png"}, {"flow", truncated, "--nope"}, {"flow", truncated, "--format"}} {
		if _, _, err := runCLI(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestFlowDir: --flow-dir on the demo and on the client draws each
// capture as Mermaid, an SVG ladder and a time-sequence graph.
func TestFlowDir(t *testing.T) {
	dir := t.TempDir()
	rep, stderr, err := demoJSON(t, "--profile", "seed", "--size", "8KiB", "--seed", "3", "--flow-dir", dir, "-q")
	if err != nil || !rep.OK {
		t.Fatalf("demo: %v\n%s", err, stderr)
	}
	for _, r := range rep.Runs {
		if len(r.FlowGraphs) != 6 {
			t.Errorf("%s: drew %v", r.Name, r.FlowGraphs)
		}
		for _, f := range r.FlowGraphs {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case strings.HasSuffix(f, ".mmd"):
				if !strings.HasPrefix(string(b), "sequenceDiagram") || !strings.Contains(string(b), "("+r.Client+")") {
					t.Errorf("%s:\n%s", f, b)
				}
			case strings.HasSuffix(f, ".svg"):
				wellFormedXML(t, f, b)
			}
		}
	}
	cdir := t.TempDir()
	out, stderr, err := runCLI(t, "client", "--link", "mem", "--size", "32KiB", "--flow-dir", cdir, "-q")
	if err != nil {
		t.Fatalf("client: %v\n%s", err, stderr)
	}
	for _, f := range []string{"client.pcap", "client.mmd", "client.svg", "client.tsg.svg"} {
		if _, err := os.Stat(filepath.Join(cdir, f)); err != nil || !strings.Contains(out, f) {
			t.Errorf("client --flow-dir: %s: %v\n%s", f, err, out)
		}
	}
}
