package compare

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

// The card's paired runs, judged from the capture alone: the handmade
// client uploads to the netstack server and the reverse (and each to its
// own kind), clean and at 2% loss, and the client's capture shows a clean
// conversation: the handshake, consistent sequence and acknowledgement
// numbers each way, no RST, both FINs acknowledged, exactly the payload.
func TestPairedRunsCleanOnTheWire(t *testing.T) {
	runs := RunPaired(context.Background(), PairedOptions{Size: 2 << 20, Seed: 20})
	if len(runs) != 8 {
		t.Fatalf("%d runs, want 4 pairings x 2 wires", len(runs))
	}
	for _, r := range runs {
		if !r.OK || r.Conv == nil {
			t.Errorf("%s -> %s on %s (seed %d): intact %v clean %v err %q: %v", r.Client, r.Server, r.Wire, r.Seed, r.Intact, r.Clean, r.Error, r.Conv)
			continue
		}
		if r.Wire != "clean" && r.Conv.Retransmissions == 0 {
			t.Errorf("%s -> %s on %s (seed %d): loss and no retransmission seen: %v", r.Client, r.Server, r.Wire, r.Seed, r.Conv)
		}
	}
}

// The checker notices what it is there to notice: a RST, an ACK of
// unsent data, a missing FIN, a bad checksum.
func TestCheckConversationCatchesDepartures(t *testing.T) {
	c, s := netip.MustParseAddrPort("198.18.0.1:40000"), netip.MustParseAddrPort("198.18.0.2:12345")
	seg := func(from, to netip.AddrPort, flags Flags, seq, ack uint32, payload string) []byte {
		b, err := build(&wireSegment{src: from, dst: to, ttl: 64, seq: seq, ack: ack, flags: flags, window: 65535, payload: []byte(payload)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const ci, si = 1000, 5000
	clean := [][]byte{
		seg(c, s, SYN, ci, 0, ""),
		seg(s, c, SYN|ACK, si, ci+1, ""),
		seg(c, s, ACK, ci+1, si+1, ""),
		seg(c, s, ACK|PSH, ci+1, si+1, "hello"),
		seg(s, c, ACK, si+1, ci+6, ""),
		seg(c, s, FIN|ACK, ci+6, si+1, ""),
		seg(s, c, FIN|ACK, si+1, ci+7, ""),
		seg(c, s, ACK, ci+7, si+2, ""),
	}
	if conv := CheckConversation(clean); !conv.Clean() || conv.BytesC2S != 5 || conv.Handshake != true {
		t.Fatalf("a clean exchange judged %v: %q", conv, conv.Problems)
	}
	bad := append([]byte(nil), seg(c, s, ACK|PSH, ci+1, si+1, "hello")...)
	bad[len(bad)-1] ^= 1
	for _, tc := range []struct {
		name string
		pkts [][]byte
		want string
	}{
		{"rst", append(append([][]byte{}, clean[:4]...), seg(s, c, RST, si+1, 0, "")), "RST"},
		{"ack-beyond", append(append([][]byte{}, clean[:4]...), seg(s, c, ACK, si+1, ci+60, "")), "beyond what the other side sent"},
		{"no-server-fin", clean[:6], "the close is incomplete"},
		{"bad-checksum", append(append([][]byte{}, clean[:3]...), bad), "bad TCP checksum"},
		{"synack-wrong-ack", [][]byte{clean[0], seg(s, c, SYN|ACK, si, ci+5, "")}, "want the client's ISN+1"},
		{"no-ack-flag", append(append([][]byte{}, clean[:3]...), seg(c, s, PSH, ci+1, 0, "x")), "no ACK flag"},
	} {
		conv := CheckConversation(tc.pkts)
		if conv.Clean() || !strings.Contains(strings.Join(conv.Problems, "\n"), tc.want) {
			t.Errorf("%s: clean=%v problems %q; want one saying %q", tc.name, conv.Clean(), conv.Problems, tc.want)
		}
	}
}

func TestCheckConversationsSplitsByConnection(t *testing.T) {
	s := netip.MustParseAddrPort("198.18.0.2:12345")
	var all [][]byte
	for i, c := range []netip.AddrPort{netip.MustParseAddrPort("198.18.0.1:40000"), netip.MustParseAddrPort("198.18.0.1:40001")} {
		seg := func(from, to netip.AddrPort, flags Flags, seq, ack uint32, payload string) []byte {
			b, err := build(&wireSegment{src: from, dst: to, ttl: 64, seq: seq, ack: ack, flags: flags, window: 65535, payload: []byte(payload)})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		ci, si := uint32(1000*(i+1)), uint32(5000*(i+1))
		conv := [][]byte{
			seg(c, s, SYN, ci, 0, ""), seg(s, c, SYN|ACK, si, ci+1, ""), seg(c, s, ACK, ci+1, si+1, ""),
			seg(c, s, ACK|PSH, ci+1, si+1, "hello"[:i+3]), seg(s, c, ACK, si+1, ci+uint32(i)+4, ""),
			seg(c, s, FIN|ACK, ci+uint32(i)+4, si+1, ""), seg(s, c, FIN|ACK, si+1, ci+uint32(i)+5, ""),
		}
		if i == 0 {
			conv = append(conv, seg(c, s, ACK, ci+4, si+2, "")) // the second never acknowledges the server's FIN
		}
		all = append(all, conv...)
	}
	// Interleave the two connections' segments.
	mixed := make([][]byte, 0, len(all))
	for i := 0; i < 8; i++ {
		mixed = append(mixed, all[i])
		if 8+i < len(all) {
			mixed = append(mixed, all[8+i])
		}
	}
	convs := CheckConversations(mixed)
	if len(convs) != 2 {
		t.Fatalf("%d conversations, want 2", len(convs))
	}
	if !convs[0].Clean() || convs[0].BytesC2S != 3 {
		t.Errorf("first: %v %q", convs[0], convs[0].Problems)
	}
	if convs[1].Clean() || convs[1].ClosedS2C || convs[1].BytesC2S != 4 {
		t.Errorf("second (server FIN never acknowledged): %v %q", convs[1], convs[1].Problems)
	}
}
