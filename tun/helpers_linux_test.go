package tun

import (
	"testing"

	"tcplab/netns"
)

// requireDevices skips the test unless it can build TUN devices and
// network namespaces.
func requireDevices(t *testing.T) {
	t.Helper()
	if err := netns.CanBuild(); err != nil {
		t.Skip(err)
	}
}

// testNS is an unnamed network namespace (see package netns) that the
// test's Cleanup ends: nothing survives a killed test binary.
type testNS struct{ *netns.Namespace }

func newNetns(t *testing.T) testNS { t.Helper(); return testNS{netns.ForTest(t)} }

// do runs f on the namespace's thread. f must not call t.Fatal.
func (ns testNS) do(f func()) { ns.Do(f) }

// open opens a device in ns and closes it in Cleanup.
func (ns testNS) open(t *testing.T, cfg Config) *Device {
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
func devName() string { return netns.DevName("tl") }
