package compare

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseCapabilities(t *testing.T) {
	got, err := ParseCapabilities(" listen, sink,listen ")
	if err != nil || !slices.Equal(got, []Capability{NeedListener, NeedSink}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for in, want := range map[string]string{
		"listen,send": "cannot be declared yet",
		"listen,fly":  `unknown capability "fly"`,
	} {
		if _, err := ParseCapabilities(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestParseExternalConfig(t *testing.T) {
	f := filepath.Join(t.TempDir(), "dut.conf")
	os.WriteFile(f, []byte("# my stack\naddr 10.9.0.2\nport=8080\nlink iface:ens224\nbench-addr 10.9.0.1 # mine\ncan listen,sink\n"), 0o644)
	cfg, err := ParseExternalConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != netip.MustParseAddr("10.9.0.2") || cfg.Port != 8080 || cfg.Interface != "ens224" ||
		cfg.BenchAddr != netip.MustParseAddr("10.9.0.1") || !slices.Equal(cfg.Capabilities, []Capability{NeedListener, NeedSink}) {
		t.Errorf("got %+v", cfg)
	}
	if err := cfg.Check(); err != nil {
		t.Error(err)
	}
	if err := (ExternalConfig{Port: 1}).Check(); err == nil || !strings.Contains(err.Error(), "bench-addr") {
		t.Errorf("Check of an empty contract: %v", err)
	}
	os.WriteFile(f, []byte("link eth0\n"), 0o644)
	if _, err := ParseExternalConfig(f); err == nil || !strings.Contains(err.Error(), ":1: link") {
		t.Errorf("link without iface: %v", err)
	}
	if err := cfg.Set("link", "route"); err != nil || !cfg.Route || cfg.Interface != "" {
		t.Errorf("link route: %+v, %v", cfg, err)
	}
	if err := cfg.Check(); err != nil {
		t.Errorf("Check with link route: %v", err)
	}
	if b := External(cfg); b.Link != "route" {
		t.Errorf("External's link with link route: %q", b.Link)
	}
	if err := cfg.Set("link", "iface:ens224"); err != nil || cfg.Route || cfg.Interface != "ens224" {
		t.Errorf("link iface after route: %+v, %v", cfg, err)
	}
}

// TestMissingNeeds: a scenario's declared needs and its Setup's are
// checked against a backend's capabilities; nil capabilities can do all.
func TestMissingNeeds(t *testing.T) {
	s := Scenario{Needs: []Capability{NeedListener, NeedSend}, Setup: Setup{RecvBuffer: 1000}}
	if m := missingNeeds(s, Backend{}); m != nil {
		t.Errorf("in-process: %v", m)
	}
	m := missingNeeds(s, Backend{Capabilities: []Capability{NeedListener}})
	if !slices.Equal(m, []Capability{NeedSend, NeedSocketOptions}) {
		t.Errorf("external: %v", m)
	}
	if r := naReason(m); !strings.Contains(r, "needs send, sockopts") || !strings.Contains(r, "no way yet") {
		t.Errorf("reason: %s", r)
	}
}

// TestExternalDeclaresNothing: an external device with no capabilities
// can do nothing (nil would be "everything": the in-process stacks).
func TestExternalDeclaresNothing(t *testing.T) {
	b := External(ExternalConfig{})
	if b.Capabilities == nil {
		t.Fatal("nil capabilities")
	}
	if m := missingNeeds(Scenario{Needs: []Capability{NeedListener}}, b); !slices.Equal(m, []Capability{NeedListener}) {
		t.Errorf("missing %v", m)
	}
}
