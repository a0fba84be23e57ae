package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tcplab/compare"
	"tcplab/netns"
)

// TestCompareExternalKernel: tcplab compare, run inside one host of the
// ens224 pair, reaches the other host's kernel as an external stack (a
// listener on 8080 whose application reads to EOF, started by the test),
// beside the linux stack: the external column is in the JSON and the
// Markdown, scenarios that need only listen and sink get linux's
// verdict, the others are n/a naming what they need.
func TestCompareExternalKernel(t *testing.T) {
	h := newEns224Hosts(t)
	kernelSink(t, h.b, netip.AddrPortFrom(h.kernB, 8080))
	md := filepath.Join(t.TempDir(), "m.md")
	p := startTCPLabIn(t, h.a, "compare", "--stacks", "linux,external", "--run", `^(HS-0[1-5]|DT-01|RS-0[1-3]|FC-01)`,
		"--external-link", "iface:ens224", "--external-addr", h.kernB.String(), "--external-port", "8080",
		"--external-bench-addr", h.ownA.String(), "--external-can", "listen,sink", "--json", "--markdown", md)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s\nstdout:\n%s", code, p.stderr.String(), p.stdout.String())
	}
	var m compare.Matrix
	if err := json.Unmarshal(p.stdout.Bytes(), &m); err != nil {
		t.Fatalf("%v:\n%s", err, p.stdout.String())
	}
	if !slices.Equal(m.Stacks, []string{"linux", "external"}) || m.Links["external"] != "iface:ens224" {
		t.Fatalf("stacks %v, links %v", m.Stacks, m.Links)
	}
	verdicts, na := 0, 0
	for _, r := range m.Scenarios {
		ext, lin := r.Results["external"], r.Results["linux"]
		switch {
		case ext.Verdict == compare.NA:
			na++
			if !strings.HasPrefix(ext.Detail, "needs ") {
				t.Errorf("%s: n/a for %q", r.ID, ext.Detail)
			}
		case ext.Verdict != lin.Verdict:
			t.Errorf("%s: external %s, linux %s: %s", r.ID, ext.Verdict, lin.Verdict, ext.Detail)
		default:
			verdicts++
		}
	}
	// HS-01a dials a closed port (closed-port not declared), FC-01 needs
	// the application to close.
	if verdicts < 5 || na < 2 {
		t.Errorf("%d verdicts, %d n/a on external", verdicts, na)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "| linux | external |") || !strings.Contains(string(b), "needs close") {
		t.Errorf("markdown:\n%s", b)
	}
}

// kernelSink is a listener of ns's kernel on addr whose application reads
// every connection to EOF and keeps it open, until t ends.
func kernelSink(t *testing.T, ns *netns.Namespace, addr netip.AddrPort) {
	t.Helper()
	var ln net.Listener
	var err error
	ns.Do(func() {
		lc := net.ListenConfig{KeepAlive: -1}
		ln, err = lc.Listen(context.Background(), "tcp4", addr.String())
	})
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			go io.Copy(io.Discard, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
}

// TestCompareExternalRoute: the same, through host A's kernel routing
// (--external-link route) from its own address, kernA: A's kernel would
// reset every connection the bench makes, and the run's filter keeps it
// from doing so; the scenarios that need only listen and sink get linux's
// verdict, and no table is left in A afterwards.
func TestCompareExternalRoute(t *testing.T) {
	h := newEns224Hosts(t)
	kernelSink(t, h.b, netip.AddrPortFrom(h.kernB, 8080))
	p := startTCPLabIn(t, h.a, "compare", "--stacks", "linux,external", "--run", `^(HS-0[1-5]|DT-01|RS-0[1-3]|OW-0)`,
		"--external-link", "route", "--external-addr", h.kernB.String(), "--external-port", "8080",
		"--external-bench-addr", h.kernA.String(), "--external-can", "listen,sink,closed-port", "--json")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s\nstdout:\n%s", code, p.stderr.String(), p.stdout.String())
	}
	if !strings.Contains(p.stderr.String(), "meta mark != 0x74636c62") {
		t.Errorf("stderr does not show the RST rule:\n%s", p.stderr.String())
	}
	var m compare.Matrix
	if err := json.Unmarshal(p.stdout.Bytes(), &m); err != nil {
		t.Fatalf("%v:\n%s", err, p.stdout.String())
	}
	if m.Links["external"] != "route" {
		t.Errorf("links %v", m.Links)
	}
	verdicts := 0
	for _, r := range m.Scenarios {
		ext, lin := r.Results["external"], r.Results["linux"]
		switch {
		case ext.Verdict == compare.NA:
		case ext.Verdict != lin.Verdict:
			t.Errorf("%s: external %s, linux %s: %s", r.ID, ext.Verdict, lin.Verdict, ext.Detail)
		default:
			verdicts++
		}
	}
	if verdicts < 10 {
		t.Errorf("only %d verdicts on external", verdicts)
	}
	var out []byte
	var err error
	h.a.Do(func() { out, err = exec.Command("nft", "list", "tables").CombinedOutput() })
	if err == nil && strings.Contains(string(out), "tcplab_rst_") {
		t.Errorf("tables left in A:\n%s", out)
	}
}

// TestCompareExternalUnreachable: a device that does not answer ARP is a
// clear error, in seconds.
func TestCompareExternalUnreachable(t *testing.T) {
	h := newEns224Hosts(t)
	p := startTCPLabIn(t, h.a, "compare", "--stacks", "external", "--run", "^HS-02a$",
		"--external-link", "iface:ens224", "--external-addr", h.ownB.String(), "--external-port", "8080",
		"--external-bench-addr", h.ownA.String(), "--external-can", "listen")
	code := p.wait(t)
	if code != 2 || !strings.Contains(p.stderr.String(), "does not answer ARP") {
		t.Errorf("exit %d; stdout:\n%s\nstderr:\n%s", code, p.stdout.String(), p.stderr.String())
	}
}
