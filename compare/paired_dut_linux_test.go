//go:build linux

package compare

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"tcplab/handmade"
	"tcplab/netns"
	"tcplab/netstackref"
)

// The card's uses over real devices, judged from the capture alone: the
// hand-built and gVisor clients each upload to the Linux kernel's server
// and to each other's server behind TUN devices (a kernel forwarding in
// between), and the kernel's client uploads to each of theirs. Every
// capture shows the handshake, consistent sequence and acknowledgement
// numbers each way, no RST, both FINs acknowledged, exactly the payload.
func TestPairedRunsWithLinuxAndOverTUN(t *testing.T) {
	if err := errors.Join(netns.CanBuild(), TUNAvailable(), LinuxAvailable()); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip("needs root, /dev/net/tun and network namespaces: ", err)
	}
	dir := t.TempDir()
	backends := []Backend{Linux(), HandmadeOverTUN(handmade.Config{}), NetstackOverTUN(netstackref.DefaultOptions())}
	runs := RunPairedWith(context.Background(), backends, PairedOptions{Size: 1 << 20, Seed: 3, PcapDir: dir})
	if len(runs) != 12 {
		t.Fatalf("%d runs, want 3 backends x 2 in-process stacks x 2 roles", len(runs))
	}
	seen := map[[2]string]bool{}
	pcaps := map[string]bool{}
	for _, r := range runs {
		if pcaps[r.Pcap] {
			t.Errorf("%s -> %s (DUT %s) writes %s, as another run does", r.Client, r.Server, r.DUTRole, r.Pcap)
		}
		pcaps[r.Pcap] = true
		seen[[2]string{r.Client, r.Server}] = true
		if !r.OK || r.Conv == nil {
			t.Errorf("%s -> %s on %s: intact %v clean %v err %q: %v", r.Client, r.Server, r.Wire, r.Intact, r.Clean, r.Error, r.Conv)
			if r.Conv != nil {
				for _, p := range r.Conv.Problems {
					t.Log("  ", p)
				}
			}
			continue
		}
		if r.Wire != "tun" || r.Conv.BytesC2S != 1<<20 || filepath.Dir(r.Pcap) != dir {
			t.Errorf("%s -> %s: wire %q, %d octets up, capture %q", r.Client, r.Server, r.Wire, r.Conv.BytesC2S, r.Pcap)
		}
	}
	for _, r := range runs {
		t.Logf("%s -> %s on %s (DUT %s): %d ms, %v", r.Client, r.Server, r.Wire, r.DUTRole, r.DurationMS, r.Conv)
	}
	for _, pair := range [][2]string{
		{"handmade", "linux"}, {"netstack", "linux"}, {"linux", "handmade"}, {"linux", "netstack"},
		{"handmade", "netstack"}, {"netstack", "handmade"}, {"handmade", "handmade"}, {"netstack", "netstack"},
	} {
		if !seen[pair] {
			t.Errorf("no run of %s -> %s", pair[0], pair[1])
		}
	}
}
