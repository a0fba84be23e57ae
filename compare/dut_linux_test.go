//go:build linux

package compare

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openFDs counts this process's file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// threads is the Threads line of /proc/self/status.
func threads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// TestLinuxLeavesNothing: a linux DUT with a listener, an accepted and a
// connecting socket closes every descriptor (TUN, sockets) and ends its
// namespace's thread, so the namespace and the device go with them. It
// also checks the pinned settings took and the errno mapping of a
// refused connect.
func TestLinuxLeavesNothing(t *testing.T) {
	if err := LinuxAvailable(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	fds, thr := openFDs(t), threads(t)
	for range 3 {
		dut, link, err := Linux().Start(context.Background(), Setup{RecvBuffer: 8192})
		if err != nil {
			t.Fatal(err)
		}
		tb := NewBench(link, TBAddr, DUTAddr, 1)
		l, err := dut.Listen(DUTPort)
		if err != nil {
			t.Fatal(err)
		}
		acc := l.Accept()
		c := tb.Dial(DUTPort)
		synAck, err := c.Handshake(context.Background(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if synAck.Window > 8192 {
			t.Errorf("SYN-ACK window %d with SO_RCVBUF 8192", synAck.Window)
		}
		if _, err := acc.Wait(time.Second); err != nil {
			t.Fatal(err)
		}
		// A connect the bench refuses: ECONNREFUSED, as a socket says.
		bc := tb.Listen(BenchPort)
		p := dut.Connect(netip.AddrPortFrom(TBAddr, BenchPort))
		syn, err := bc.Expect(TCP{Flags: Ptr(SYN)}, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bc.Send(context.Background(), TCP{Flags: Ptr(RST | ACK), Seq: Ptr[uint32](0), Ack: Ptr(syn.Seq + 1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("refused connect: %v, want ECONNREFUSED", err)
		}
		// One left connecting when the DUT closes.
		dut.Connect(netip.AddrPortFrom(TBAddr, BenchPort+1))
		tb.Close()
		if err := dut.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	// The Go runtime may keep an idle thread or two around; a namespace
	// thread per run must not.
	if got := openFDs(t); got > fds {
		t.Errorf("%d descriptors open after the runs, %d before", got, fds)
	}
	if got := threads(t); got > thr+2 {
		t.Errorf("%d threads after the runs, %d before", got, thr)
	}
}
