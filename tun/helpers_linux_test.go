package tun

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// requireDevices skips the test unless it can build TUN devices and
// network namespaces.
func requireDevices(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 || !hasCaps(capNetAdmin, capSysAdmin) {
		t.Skip("needs root with CAP_NET_ADMIN (TUN devices) and CAP_SYS_ADMIN (a test network namespace)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("needs /dev/net/tun (modprobe tun, or --device /dev/net/tun in a container): %v", err)
	}
}

// netns is an unnamed network namespace owned by one locked OS thread.
// The thread is never unlocked, so when its goroutine ends (Cleanup) the
// thread exits and the namespace goes once its last device and socket
// are closed. Nothing survives a killed test binary.
type netns struct {
	work chan func()
	done chan struct{}
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	requireDevices(t)
	ns := &netns{work: make(chan func()), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		defer close(ns.done)
		runtime.LockOSThread() // never unlocked: see netns
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- nil
		for f := range ns.work {
			f()
		}
	}()
	if err := <-errc; err != nil {
		t.Fatalf("unshare(CLONE_NEWNET): %v", err)
	}
	t.Cleanup(func() { close(ns.work); <-ns.done })
	return ns
}

// do runs f on the namespace's thread. f must not call t.Fatal.
func (ns *netns) do(f func()) {
	done := make(chan struct{})
	ns.work <- func() { defer close(done); f() }
	<-done
}

// open opens a device in ns and closes it in Cleanup.
func (ns *netns) open(t *testing.T, cfg Config) *Device {
	t.Helper()
	var d *Device
	var err error
	ns.do(func() { d, err = Open(cfg) })
	if err != nil {
		t.Fatalf("Open(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// devName returns a device name unique to this run: "tl" and 8 hex digits.
func devName() string {
	var b [4]byte
	rand.Read(b[:])
	return "tl" + hex.EncodeToString(b[:])
}

const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// hasCaps reports whether this process has all the given capabilities in
// its effective set (CapEff in /proc/self/status).
func hasCaps(caps ...uint) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		hex, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		eff, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return false
		}
		for _, c := range caps {
			if eff&(1<<c) == 0 {
				return false
			}
		}
		return true
	}
	return false
}
