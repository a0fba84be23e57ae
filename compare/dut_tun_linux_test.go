//go:build linux

package compare

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"tcplab/netns"
)

// TestOverTUNForwardsAndLeavesNothing: handmade and netstack over TUN
// answer through the namespace's kernel (their SYN-ACK arrives one hop
// lower in TTL than over the in-memory wire, so it was forwarded), and
// closing the DUT closes both devices and ends the namespace's thread.
func TestOverTUNForwardsAndLeavesNothing(t *testing.T) {
	if err := errors.Join(netns.CanBuild(), TUNAvailable()); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	synAckTTL := func(b Backend) uint8 {
		t.Helper()
		dut, link, err := b.Start(context.Background(), Setup{})
		if err != nil {
			t.Fatal(err)
		}
		defer dut.Close()
		tb := NewBench(link, TBAddr, DUTAddr, 1)
		defer tb.Close()
		l, err := dut.Listen(DUTPort)
		if err != nil {
			t.Fatal(err)
		}
		acc := l.Accept()
		synAck, err := tb.Dial(DUTPort).Handshake(context.Background(), time.Second)
		if err != nil {
			t.Fatalf("%s over %s: %v", b.Name, b.Link, err)
		}
		if _, err := acc.Wait(time.Second); err != nil {
			t.Fatalf("%s over %s: accept: %v", b.Name, b.Link, err)
		}
		return synAck.TTL
	}
	mem := map[string]uint8{}
	for _, b := range Backends() {
		mem[b.Name] = synAckTTL(b)
	}
	tuns, err := BackendsOver("tun")
	if err != nil {
		t.Fatal(err)
	}
	fds, thr := openFDs(t), threads(t)
	for range 3 {
		for _, b := range tuns {
			if got := synAckTTL(b); got != mem[b.Name]-1 {
				t.Errorf("%s over tun: SYN-ACK TTL %d, over mem %d: not one forwarding hop", b.Name, got, mem[b.Name])
			}
		}
	}
	if got := openFDs(t); got > fds {
		t.Errorf("%d descriptors open after the runs, %d before", got, fds)
	}
	if got := threads(t); got > thr+2 {
		t.Errorf("%d threads after the runs, %d before", got, thr)
	}
}
