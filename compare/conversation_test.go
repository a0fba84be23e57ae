package compare

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"tcplab/handmade"
	"tcplab/netstackref"
	"tcplab/wire"
)

// syncBuffer is a bytes.Buffer safe for the tap's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

type pairedStack struct {
	dial   func(ctx context.Context, to netip.AddrPort) (net.Conn, error)
	listen func(port uint16) (net.Listener, error)
	close  func() error
}

func startPaired(t *testing.T, name string, l wire.Link, a netip.Addr) pairedStack {
	t.Helper()
	switch name {
	case "handmade":
		s, err := handmade.NewStack(l, a, handmade.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return pairedStack{
			dial: func(ctx context.Context, to netip.AddrPort) (net.Conn, error) { return s.Dial(ctx, to) },
			listen: func(p uint16) (net.Listener, error) {
				ln, err := s.Listen(p)
				return ln, err
			},
			close: s.Close,
		}
	default:
		s, err := netstackref.New(l, a, netstackref.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		return pairedStack{dial: s.Dial, listen: s.Listen, close: s.Close}
	}
}

// The card's paired runs, judged from the capture alone: the handmade
// client uploads to the netstack server and the reverse (and each to its
// own kind), and the client's capture shows a clean conversation: the
// handshake, consistent sequence and acknowledgement numbers each way, no
// RST, both FINs acknowledged, and exactly the payload carried.
func TestPairedRunsCleanOnTheWire(t *testing.T) {
	const size = 2 << 20
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{9}).Read(data)
	for _, pair := range [][2]string{{"handmade", "netstack"}, {"netstack", "handmade"}, {"handmade", "handmade"}, {"netstack", "netstack"}} {
		for _, lossy := range []bool{false, true} {
			name := pair[0] + "-to-" + pair[1]
			im := wire.Impairment{}
			if lossy {
				name += "/loss=2%"
				im = wire.Impairment{Loss: 0.02}
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				seed := int64(len(name))
				ea, eb := wire.Pipe(wire.PipeConfig{Seed: seed, AtoB: im, BtoA: im})
				defer ea.Close()
				var capture syncBuffer
				tap, err := wire.NewTap(ea, &capture)
				if err != nil {
					t.Fatal(err)
				}
				ca, sa := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddrPort("198.18.0.2:12345")
				client := startPaired(t, pair[0], tap, ca)
				server := startPaired(t, pair[1], eb, sa.Addr())
				ln, err := server.listen(sa.Port())
				if err != nil {
					t.Fatal(err)
				}
				got := make(chan [32]byte, 1)
				go func() {
					c, err := ln.Accept()
					if err != nil {
						got <- [32]byte{}
						return
					}
					h := sha256.New()
					io.Copy(h, c)
					c.Close()
					var sum [32]byte
					copy(sum[:], h.Sum(nil))
					got <- sum
				}()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				c, err := client.dial(ctx, sa)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(time.Minute))
				if _, err := c.Write(data); err != nil {
					t.Fatal(err)
				}
				if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, c); err != nil { // to the server's FIN
					t.Fatal(err)
				}
				if sum := <-got; sum != sha256.Sum256(data) {
					t.Fatal("the server received other bytes")
				}
				c.Close()
				client.close()
				server.close()
				conv, err := CheckCapture(&capture.b)
				if err != nil {
					t.Fatal(err)
				}
				if !conv.Clean() || conv.BytesC2S != size || conv.BytesS2C != 0 {
					t.Errorf("seed %d: %v\n%s", seed, conv, strings.Join(conv.Problems, "\n"))
				}
				if lossy && conv.Retransmissions == 0 {
					t.Errorf("seed %d: 2%% loss and no retransmission seen: %v", seed, conv)
				}
			})
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
