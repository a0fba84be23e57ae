package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tcplab/compare"
)

// TestCompareExternalKernel: tcplab compare, run inside one host of the
// ens224 pair, reaches the other host's kernel as an external stack (a
// listener on 8080 whose application reads to EOF, started by the test),
// beside the linux stack: the external column is in the JSON and the
// Markdown, scenarios that need only listen and sink get linux's
// verdict, the others are n/a naming what they need.
func TestCompareExternalKernel(t *testing.T) {
	h := newEns224Hosts(t)
	var ln net.Listener
	var err error
	h.b.Do(func() {
		lc := net.ListenConfig{KeepAlive: -1}
		ln, err = lc.Listen(context.Background(), "tcp4", netip.AddrPortFrom(h.kernB, 8080).String())
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
