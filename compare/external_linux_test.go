//go:build linux

package compare

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"tcplab/netns"
)

// kernelDevice is the Linux kernel of a namespace of its own, behind one
// end of a veth pair, run as a device tcplab does not drive: a listener
// on port whose application reads every connection to EOF and keeps it
// open. The bench is in another namespace, on the other end of the veth
// (with no kernel address: the bench's is rawlink's own).
func kernelDevice(t *testing.T, port uint16) (ExternalConfig, *netns.Namespace) {
	t.Helper()
	if err := netns.CanBuild(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	bench, dev := netns.ForTest(t), netns.ForTest(t)
	devAddr := netip.MustParsePrefix("10.77.0.2/24")
	if err := netns.Veth(bench, dev, "ens224", netip.Prefix{}, devAddr); err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	var err error
	dev.Do(func() {
		if err = pinSysctls(); err != nil {
			return
		}
		lc := net.ListenConfig{KeepAlive: -1}
		ln, err = lc.Listen(context.Background(), "tcp4", netip.AddrPortFrom(devAddr.Addr(), port).String())
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c) // the sink: reads to EOF, never closes
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ExternalConfig{
		Addr: devAddr.Addr(), Port: port, Interface: "ens224",
		BenchAddr:    netip.MustParseAddr("10.77.0.1"),
		Capabilities: []Capability{NeedListener, NeedSink, NeedClosedPort},
		Do:           bench.Do,
	}, bench
}

// TestExternalKernel runs the catalogue against the Linux kernel as an
// external device (listen, sink, closed-port declared), beside the linux
// backend: a scenario that needs nothing else gets the linux column's
// verdict, the others are n/a naming what they need.
func TestExternalKernel(t *testing.T) {
	cfg, _ := kernelDevice(t, 8080)
	bs := []Backend{Linux(), External(cfg)}
	start := time.Now()
	m, err := Run(context.Background(), Scenarios(), bs, RunOptions{Parallel: 8, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d scenarios in %v", len(m.Scenarios), time.Since(start).Round(time.Millisecond))
	var b strings.Builder
	m.WriteText(&b)
	t.Log("\n" + b.String())
	verdicts := 0
	for _, r := range m.Scenarios {
		ext, lin := r.Results["external"], r.Results["linux"]
		switch {
		case ext.Verdict == NA:
			// For a capability, or the scenario's own reason (a
			// timer that would take hours in real time).
		case ext.Verdict != lin.Verdict:
			t.Errorf("%s: external %s, linux %s: %s", r.ID, ext.Verdict, lin.Verdict, ext.Detail)
		default:
			verdicts++
		}
	}
	if verdicts < 10 {
		t.Errorf("only %d scenarios got a verdict on external", verdicts)
	}
}

// TestExternalUnreachable: a device that does not answer ARP is an error
// that says so, within seconds.
func TestExternalUnreachable(t *testing.T) {
	cfg, _ := kernelDevice(t, 8080)
	cfg.Addr = netip.MustParseAddr("10.77.0.9")
	start := time.Now()
	_, _, err := External(cfg).Start(context.Background(), Setup{})
	if err == nil || !strings.Contains(err.Error(), "does not answer ARP") {
		t.Fatalf("err = %v, want one saying the device does not answer ARP", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("took %v", d)
	}
	t.Log(err)
}
