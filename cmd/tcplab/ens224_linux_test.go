package main

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/google/nftables"

	"tcplab/netns"
)

// The article's setup: two hosts joined on an interface called ens224.
// Two namespaces made by the test are the hosts, a veth pair the cable,
// each end renamed ens224 inside its namespace; the kernels own .1 and .2.
// tcplab server and client run as processes inside them, on --link
// iface:ens224 (AF_PACKET).
type ens224Hosts struct {
	a, b         *netns.Namespace
	kernA, kernB netip.Addr // the hosts' own addresses
	ownA, ownB   netip.Addr // addresses no kernel owns: the links answer ARP
}

func newEns224Hosts(t *testing.T) ens224Hosts {
	t.Helper()
	requireRoot(t)
	h := ens224Hosts{a: netns.ForTest(t), b: netns.ForTest(t)}
	r := byte(128 + rand.IntN(128))
	at := func(i byte) netip.Addr { return netip.AddrFrom4([4]byte{198, 19, r, i}) }
	h.kernA, h.kernB, h.ownA, h.ownB = at(1), at(2), at(11), at(12)
	if err := netns.Veth(h.a, h.b, "ens224", netip.PrefixFrom(h.kernA, 24), netip.PrefixFrom(h.kernB, 24)); err != nil {
		t.Fatal(err)
	}
	return h
}

// rsts lists the RST segments in a LINKTYPE_RAW capture.
func rsts(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []string
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, layers.LayerTypeIPv4, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip != nil && tcp != nil && tcp.RST {
			out = append(out, fmt.Sprintf("RST %v:%d -> %v:%d seq %d ack %d", ip.SrcIP, tcp.SrcPort, ip.DstIP, tcp.DstPort, tcp.Seq, tcp.Ack))
		}
	}
	return out
}

// upload runs a server in b and a client in a, both on iface:ens224, and
// returns the client's report and the captures' directory.
func (h ens224Hosts) upload(t *testing.T, client, server string, clientAddr, serverAddr netip.Addr, serverExtra ...string) (clientReport, serverReport, string) {
	t.Helper()
	dir := t.TempDir()
	srv := startTCPLabIn(t, h.b, append([]string{"server", "--json", "--stack", server, "--link", "iface:ens224", "--addr", serverAddr.String(),
		"--pcap-dir", dir}, serverExtra...)...)
	srv.waitLine(t, "listening on")
	cli := startTCPLabIn(t, h.a, "client", "--json", "--stack", client, "--link", "iface:ens224", "--addr", clientAddr.String(),
		"--server", serverAddr.String(), "--size", "8MiB", "--pcap-dir", dir, "--connect-timeout", "5s", "--timeout", "60s")
	cli.wait(t)
	var crep clientReport
	decodeOne(t, cli.stdout.Bytes(), &crep)
	var srep serverReport
	if crep.OK {
		if code := srv.wait(t); code != 0 {
			t.Fatalf("server exit %d\n%s", code, srv.stderr.String())
		}
		decodeOne(t, srv.stdout.Bytes(), &srep)
	}
	t.Logf("client: %s\nserver: %s", crep.LinkDetail, srep.LinkDetail)
	return crep, srep, dir
}

func TestArticleOverEns224(t *testing.T) {
	h := newEns224Hosts(t)
	for _, own := range []bool{true, false} {
		for _, pair := range [][2]string{{stackHandmade, stackNetstack}, {stackNetstack, stackHandmade}} {
			ca, sa, name := h.kernA, h.kernB, "host-addresses"
			if own {
				ca, sa, name = h.ownA, h.ownB, "own-addresses"
			}
			t.Run(name+"/"+pair[0]+"-to-"+pair[1], func(t *testing.T) {
				crep, srep, dir := h.upload(t, pair[0], pair[1], ca, sa)
				if !crep.OK || !srep.OK || len(srep.Uploads) != 1 || srep.Uploads[0].SHA256 != crep.Upload.SHA256 || crep.Upload.Bytes != 8<<20 {
					t.Fatalf("client %+v\nserver %+v", crep.Upload, srep)
				}
				for _, f := range []string{"client-" + pair[0] + ".pcap", "server-" + pair[1] + ".pcap"} {
					if r := rsts(t, filepath.Join(dir, f)); len(r) > 0 {
						t.Errorf("%s holds %d RSTs, want none (a kernel RST got through?): %q", f, len(r), r)
					}
				}
			})
		}
	}
	// Control: the same run on the hosts' own addresses without the
	// server's rule. The server's kernel has no socket for the SYN and
	// resets it; the client's capture shows that RST, so the test above
	// would notice a rule that does nothing.
	t.Run("host-addresses/no-rst-filter", func(t *testing.T) {
		_, _, dir := h.upload(t, stackHandmade, stackNetstack, h.kernA, h.kernB, "--no-rst-filter")
		got := rsts(t, filepath.Join(dir, "client-handmade.pcap"))
		found := false
		for _, r := range got {
			found = found || strings.HasPrefix(r, "RST "+h.kernB.String()+":")
		}
		if !found {
			t.Errorf("without the rule, no RST from the server host %v reached the client: %q", h.kernB, got)
		}
	})
}

// tables lists the nftables tables of ns.
func tables(t *testing.T, ns *netns.Namespace) []string {
	t.Helper()
	fd, err := ns.Fd()
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range ts {
		names = append(names, tb.Name)
	}
	return names
}

// Ctrl-C on both ends in the middle of an upload on the hosts' own
// addresses: both exit 130 and neither namespace keeps an nftables table.
func TestEns224InterruptedLeavesNoRule(t *testing.T) {
	h := newEns224Hosts(t)
	srv := startTCPLabIn(t, h.b, "server", "--json", "--link", "iface:ens224", "--addr", h.kernB.String())
	srv.waitLine(t, "listening on")
	cli := startTCPLabIn(t, h.a, "client", "--json", "--link", "iface:ens224", "--addr", h.kernA.String(),
		"--server", h.kernB.String(), "--size", "4GiB")
	srv.waitLine(t, "connected from")
	if n := len(tables(t, h.a)) + len(tables(t, h.b)); n != 2 {
		t.Fatalf("%d nftables tables during the run, want one per end: %q %q", n, tables(t, h.a), tables(t, h.b))
	}
	cli.cmd.Process.Signal(os.Interrupt)
	srv.cmd.Process.Signal(os.Interrupt)
	for _, p := range []*proc{cli, srv} {
		if code := p.wait(t); code != 130 {
			t.Errorf("exit %d after SIGINT, want 130\n%s", code, p.stderr.String())
		}
	}
	if ta, tb := tables(t, h.a), tables(t, h.b); len(ta)+len(tb) > 0 {
		t.Errorf("tables left after SIGINT: %q %q", ta, tb)
	}
}
