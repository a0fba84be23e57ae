package netns

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Capability numbers from linux/capability.h.
const (
	CapNetAdmin = 12
	CapNetRaw   = 13
	CapSysAdmin = 21
)

// Namespace is a fresh, unnamed network namespace owned by one locked OS
// thread. Do runs functions on that thread. Close ends the thread; the
// namespace goes when its last device and socket are closed.
type Namespace struct {
	work      chan func()
	done      chan struct{}
	closeOnce sync.Once
}

// New creates a network namespace. It needs CAP_SYS_ADMIN.
func New() (*Namespace, error) {
	ns := &Namespace{work: make(chan func()), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		defer close(ns.done)
		// Never unlocked: when this goroutine returns the thread exits
		// with it, instead of going back to the scheduler inside a
		// namespace other goroutines must not run in.
		runtime.LockOSThread()
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w (needs CAP_SYS_ADMIN)", err)
			return
		}
		errc <- nil
		for f := range ns.work {
			f()
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return ns, nil
}

// Do runs f on the namespace's thread and waits for it. f must not call
// runtime.UnlockOSThread, and must not call t.Fatal (it is not the test's
// goroutine).
func (ns *Namespace) Do(f func()) {
	done := make(chan struct{})
	ns.work <- func() { defer close(done); f() }
	<-done
}

// Close ends the namespace's thread. It is idempotent.
func (ns *Namespace) Close() {
	ns.closeOnce.Do(func() { close(ns.work); <-ns.done })
}

// Fd opens a file descriptor of the namespace (/proc/thread-self/ns/net
// read on its thread), for setns or netlink handles bound to it. The
// caller closes it.
func (ns *Namespace) Fd() (int, error) {
	var fd int
	var err error
	ns.Do(func() {
		fd, err = syscall.Open("/proc/thread-self/ns/net", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	})
	return fd, err
}

// HasCaps reports whether this process has all the given capabilities in
// its effective set (CapEff in /proc/self/status).
func HasCaps(caps ...uint) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		h, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		eff, err := strconv.ParseUint(strings.TrimSpace(h), 16, 64)
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

// CanBuild returns nil when this process can create network namespaces,
// TUN devices and raw sockets, and otherwise an error that says what is
// missing: the reason a test skips.
func CanBuild() error {
	if os.Geteuid() != 0 || !HasCaps(CapNetAdmin, CapNetRaw, CapSysAdmin) {
		return errors.New("needs root with CAP_NET_ADMIN (devices, addresses, nftables), CAP_NET_RAW (AF_PACKET) and CAP_SYS_ADMIN (a private network namespace); run as root, e.g. sudo -E go test ./...")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("needs /dev/net/tun (modprobe tun, or --device /dev/net/tun in a container): %v", err)
	}
	return nil
}

// DevName returns an interface name unique to this call: prefix (at most
// 7 bytes) followed by 8 random hex digits, within IFNAMSIZ.
func DevName(prefix string) string {
	if len(prefix) > 7 {
		prefix = prefix[:7]
	}
	var b [4]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
