package rawlink

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"tcplab/netns"

	"golang.org/x/sys/unix"
)

// ifName is what each end of the test's veth pair is called inside its
// namespace, as on the article's hosts.
const ifName = "ens224"

// host is one side of the article's setup: a network namespace the test
// made, holding one end of a veth pair renamed ens224, whose kernel owns
// kernel/24. user is an address of the same /24 the kernel does not own,
// for a userspace stack.
type host struct {
	ns     *netns.Namespace
	kernel netip.Addr
	user   netip.Addr
}

// do runs f on the host's namespace thread; f must not call t.Fatal.
func (h host) do(f func()) { h.ns.Do(f) }

// twoHosts builds two namespaces joined by a veth pair, each end renamed
// ens224 inside its namespace, in a random /24 of 198.18.0.0/15: the
// kernels own .1 (a) and .2 (b), the userspace stacks get .11 and .12. The
// pair is created inside a's namespace with its peer placed directly in
// b's, so nothing ever appears in the host's namespace; the names it is
// created with are unique all the same. Closing the namespaces (the test's
// Cleanup) removes it. IPv6 and forwarding are off in both.
func twoHosts(t *testing.T) (a, b host) {
	t.Helper()
	nsA := netns.ForTest(t)
	nsB := netns.ForTest(t)
	n := rand.IntN(512) // 198.18.0.0/24 ... 198.19.255.0/24
	subnet := [4]byte{198, byte(18 + n/256), byte(n % 256), 0}
	at := func(i byte) netip.Addr { s := subnet; s[3] = i; return netip.AddrFrom4(s) }
	a = host{ns: nsA, kernel: at(1), user: at(11)}
	b = host{ns: nsB, kernel: at(2), user: at(12)}

	start := time.Now()
	if err := netns.Veth(nsA, nsB, ifName, netip.PrefixFrom(a.kernel, 24), netip.PrefixFrom(b.kernel, 24)); err != nil {
		t.Fatal(err)
	}
	t.Logf("veth (a, %v) <-> (b, %v), both named %s; carrier after %v", a.kernel, b.kernel, ifName, time.Since(start).Round(time.Millisecond))
	return a, b
}

// open opens a Link on the host's namespace thread (the socket stays in
// the namespace) and closes it in Cleanup.
func (h host) open(t *testing.T, cfg Config) *Link {
	t.Helper()
	if cfg.Interface == "" {
		cfg.Interface = ifName
	}
	if cfg.Log == nil {
		cfg.Log = func(f string, args ...any) { t.Logf(f, args...) }
	}
	var (
		l   *Link
		err error
	)
	h.do(func() { l, err = Open(cfg) })
	if err != nil {
		t.Fatalf("Open(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// offload reads (set < 0) or sets an ethtool value of ens224 in the
// host's namespace through an AF_INET socket.
func (h host) offload(getCmd, setCmd uint32, set int) (uint32, error) {
	var (
		v   uint32
		err error
	)
	h.do(func() {
		var fd int
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return
		}
		defer unix.Close(fd)
		if set >= 0 {
			if err = setOffload(fd, ifName, setCmd, uint32(set)); err != nil {
				return
			}
		}
		v, err = getOffload(fd, ifName, getCmd)
	})
	return v, err
}

// kernelOffloads switches TSO, GSO and TX checksumming on or off on the
// host's ens224: the kernel then sends MTU-sized segments with complete
// checksums, or 64 KiB segments with partial ones.
func (h host) kernelOffloads(t *testing.T, on bool) {
	t.Helper()
	v := 0
	if on {
		v = 1
	}
	var errs []error
	for _, c := range [][2]uint32{
		{unix.ETHTOOL_GTXCSUM, unix.ETHTOOL_STXCSUM},
		{unix.ETHTOOL_GGSO, unix.ETHTOOL_SGSO},
		{unix.ETHTOOL_GTSO, unix.ETHTOOL_STSO},
	} {
		if got, err := h.offload(c[0], c[1], v); err != nil || got != uint32(v) {
			errs = append(errs, fmt.Errorf("ethtool %#x = %d: got %d, %v", c[1], v, got, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("switching offloads on %v's %s: %v", h.kernel, ifName, err)
	}
}
