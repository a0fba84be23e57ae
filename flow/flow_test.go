package flow

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func read(t *testing.T, b []byte) *Capture {
	t.Helper()
	c, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return c
}

func only(t *testing.T, c *Capture) *Conn {
	t.Helper()
	if len(c.Conns) != 1 {
		t.Fatalf("%d connections, want 1", len(c.Conns))
	}
	return c.Conns[0]
}

// flagsOf lists the flags of the drawn arrows of a Mermaid diagram.
func mermaidSteps(m string) []string {
	var out []string
	for _, l := range strings.Split(m, "\n") {
		l = strings.TrimSpace(l)
		for _, arrow := range []string{"C->>S: ", "S-->>C: ", "C-xS: ", "S--xC: "} {
			if strings.HasPrefix(l, arrow) {
				out = append(out, strings.Fields(strings.TrimPrefix(l, arrow))[0])
			}
		}
	}
	return out
}

func TestArticleFlowEveryLinkType(t *testing.T) {
	pkts, times := build(articleFlow())
	ether := func(p []byte) []byte {
		h := make([]byte, 18, 18+len(p)) // with an 802.1Q tag
		binary.BigEndian.PutUint16(h[12:14], 0x8100)
		binary.BigEndian.PutUint16(h[16:18], 0x0800)
		return append(h, p...)
	}
	sll := func(p []byte) []byte {
		h := make([]byte, 16, 16+len(p))
		binary.BigEndian.PutUint16(h[14:16], 0x0800)
		return append(h, p...)
	}
	sll2 := func(p []byte) []byte {
		h := make([]byte, 20, 20+len(p))
		binary.BigEndian.PutUint16(h[0:2], 0x0800)
		return append(h, p...)
	}
	files := map[string][]byte{
		"raw":      pcapFile(LinkRaw, pkts, times, nil),
		"ethernet": pcapFile(LinkEthernet, pkts, times, ether),
		"sll":      pcapFile(LinkLinuxSLL, pkts, times, sll),
		"sll2":     pcapFile(LinkLinuxSLL2, pkts, times, sll2), // 276: gopacket v1.1.19 reads 20
		"pcapng":   pcapngFile(LinkRaw, pkts, times),
	}
	want := []string{"SYN", "SYN-ACK", "ACK", "PSH-ACK", "ACK", "PSH-ACK", "ACK", "PSH-ACK", "ACK", "FIN-ACK", "ACK", "FIN-ACK", "ACK"}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			c := read(t, b)
			conn := only(t, c)
			if conn.Client != cliAP || conn.Server != srvAP || !conn.Handshake {
				t.Fatalf("conn %v", conn)
			}
			if len(conn.Segments) != len(want) {
				t.Fatalf("%d segments, want %d", len(conn.Segments), len(want))
			}
			for i, s := range conn.Segments {
				if s.Kinds != 0 || s.Checksum != "ok" {
					t.Errorf("segment %d: %s %q checksum %q", s.N, Label(s), s.Kinds, s.Checksum)
				}
				if FlagString(s.Flags) != want[i] {
					t.Errorf("segment %d is %s, want %s", s.N, FlagString(s.Flags), want[i])
				}
			}
			if got := conn.Segments[1].Rel; got != time.Millisecond {
				t.Errorf("SYN-ACK at %v, want 1ms", got)
			}
			if conn.Stats.Bytes[0] != 4200 || conn.Stats.Bytes[1] != 0 {
				t.Errorf("bytes %v", conn.Stats.Bytes)
			}
			// Relative numbers as in the article: x+1, y+1, x+chunk.
			if s := conn.Segments[4]; s.RelSeq != 1 || s.RelAck != 1401 {
				t.Errorf("first chunk's ACK: %s", Label(s))
			}
			var m bytes.Buffer
			if err := WriteMermaid(&m, conn, RenderOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := mermaidSteps(m.String()); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("mermaid steps %v\nwant %v\n%s", got, want, m.String())
			}
			for _, note := range []string{"Note over C,S: Connection Establishment", "Note over C,S: Data Transfer", "Note over C: Connection Teardown by Client", "Note over S: Server sends its own FIN", "Note over C,S: Connection Closed"} {
				if !strings.Contains(m.String(), note) {
					t.Errorf("mermaid lacks %q", note)
				}
			}
		})
	}
}

func TestClassification(t *testing.T) {
	ms := time.Millisecond
	var s []seg
	s = append(s, articleFlow()[:3]...)
	d := func(i int) uint32 { return isnC + 1 + uint32(i*1000) }
	// Five segments out; the second is "lost": three duplicate ACKs, a
	// fast retransmission, then the window closes and opens again.
	for i := 0; i < 5; i++ {
		s = append(s, seg{c2s: true, flags: ACK, seq: d(i), ack: isnS + 1, len: 1000, win: 65535, at: 3*ms + time.Duration(i)*100*time.Microsecond})
	}
	s = append(s,
		seg{flags: ACK, seq: isnS + 1, ack: d(1), win: 8000, at: 4 * ms},
		seg{flags: ACK, seq: isnS + 1, ack: d(1), win: 8000, at: 4*ms + 10},
		seg{flags: ACK, seq: isnS + 1, ack: d(1), win: 8000, at: 4*ms + 20},
		seg{flags: ACK, seq: isnS + 1, ack: d(1), win: 8000, at: 4*ms + 30},
		seg{c2s: true, flags: ACK, seq: d(1), ack: isnS + 1, len: 1000, win: 65535, at: 5 * ms},     // fast retransmission
		seg{flags: ACK, seq: isnS + 1, ack: d(5), win: 0, at: 6 * ms},                               // zero window
		seg{c2s: true, flags: ACK, seq: d(5), ack: isnS + 1, len: 1, win: 65535, at: 7 * ms},        // zero window probe
		seg{flags: ACK, seq: isnS + 1, ack: d(5), win: 4000, at: 8 * ms},                            // window update
		seg{c2s: true, flags: ACK, seq: d(5) + 1, ack: isnS + 1, len: 9000, win: 65535, at: 9 * ms}, // beyond the window
		seg{c2s: true, flags: ACK, seq: d(2), ack: isnS + 1, len: 1000, win: 65535, at: 10 * ms},    // already ACKed: spurious
		seg{flags: RST | ACK, seq: isnS + 1, ack: d(14), at: 11 * ms},
	)
	pkts, times := build(s)
	conn := only(t, read(t, pcapFile(LinkRaw, pkts, times, nil)))
	want := map[int]Kind{
		10: DupAck, 11: DupAck, 12: DupAck,
		13: FastRetransmission | Retransmission,
		14: ZeroWindow,
		15: ZeroWindowProbe,
		16: WindowUpdate,
		17: OutOfWindow,
		18: SpuriousRetransmission | Retransmission,
		19: Reset,
	}
	for _, sg := range conn.Segments {
		if sg.Kinds != want[sg.N] {
			t.Errorf("segment %d (%s): %q, want %q", sg.N, Label(sg), sg.Kinds, want[sg.N])
		}
	}
	if conn.Segments[10].DupAckN != 2 {
		t.Errorf("second duplicate ACK numbered %d", conn.Segments[10].DupAckN)
	}
	if st := conn.Stats; st.Retransmissions != 2 || st.DupAcks != 3 || st.RSTs != 1 || st.ZeroWindows != 1 || st.OutOfWindow != 1 {
		t.Errorf("stats %+v", st)
	}
	// The text ladder says so.
	var b bytes.Buffer
	WriteText(&b, conn, RenderOptions{})
	for _, w := range []string{"FAST RETRANSMISSION", "DUPLICATE ACK #3", "ZERO WINDOW", "OUT OF WINDOW", "RST", "Connection Reset"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("text ladder lacks %q:\n%s", w, b.String())
		}
	}
}

func TestReadErrors(t *testing.T) {
	pkts, times := build(articleFlow())
	good := pcapFile(LinkRaw, pkts, times, nil)
	udp := ipv4TCP(seg{c2s: true})
	udp[9] = 17
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrNotCapture},
		{"text", []byte("hello, this is not a capture\n"), ErrNotCapture},
		{"short", []byte{0xd4, 0xc3}, ErrNotCapture},
		{"header cut", good[:20], ErrTruncated},
		{"record header cut", good[:24+10], ErrTruncated},
		{"packet cut", good[:len(good)-5], ErrTruncated},
		{"udp only", pcapFile(LinkRaw, [][]byte{udp, udp}, []time.Duration{0, 1}, nil), ErrNoTCP},
		{"no packets", good[:24], ErrNoTCP},
		{"unknown link", pcapFile(147, pkts, times, nil), ErrNoTCP},
		{"pcapng cut", pcapngFile(LinkRaw, pkts, times)[:100], ErrTruncated},
	}
	for _, c := range cases {
		_, err := Read(bytes.NewReader(c.b))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// The message says what is wrong.
	_, err := Read(bytes.NewReader(pcapFile(147, pkts, times, nil)))
	if err == nil || !strings.Contains(err.Error(), "link type") {
		t.Errorf("unknown link type: %v", err)
	}
}

// wellFormed decodes every token of an XML document.
func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b)
		}
	}
}

// bulk is a long transfer: handshake, n data segments each ACKed, one
// lost and retransmitted in the middle, teardown.
func bulk(n int, lost int) []seg {
	s := articleFlow()[:3]
	at := 3 * time.Millisecond
	for i := 0; i < n; i++ {
		sq := uint32(isnC + 1 + i*1000)
		s = append(s, seg{c2s: true, flags: ACK, seq: sq, ack: isnS + 1, len: 1000, win: 65535, at: at})
		if i == lost {
			s = append(s, seg{c2s: true, flags: ACK, seq: sq, ack: isnS + 1, len: 1000, win: 65535, at: at + 10})
		}
		s = append(s, seg{flags: ACK, seq: isnS + 1, ack: sq + 1000, win: 65535, at: at + 20})
		at += 50 * time.Microsecond
	}
	end := uint32(isnC + 1 + n*1000)
	return append(s,
		seg{c2s: true, flags: FIN | ACK, seq: end, ack: isnS + 1, win: 65535, at: at},
		seg{flags: FIN | ACK, seq: isnS + 1, ack: end + 1, win: 65535, at: at + 10},
		seg{c2s: true, flags: ACK, seq: end + 1, ack: isnS + 2, win: 65535, at: at + 20})
}

func TestLargeConnectionSummarised(t *testing.T) {
	pkts, times := build(bulk(400, 200))
	conn := only(t, read(t, pcapFile(LinkRaw, pkts, times, nil)))
	if len(conn.Segments) != 3+801+3 {
		t.Fatalf("%d segments", len(conn.Segments))
	}
	var m bytes.Buffer
	WriteMermaid(&m, conn, RenderOptions{})
	steps := mermaidSteps(m.String())
	if len(steps) > 40 {
		t.Errorf("%d arrows drawn for a long steady state", len(steps))
	}
	if n := strings.Count(m.String(), "segments not drawn"); n != 2 {
		t.Errorf("%d summaries, want 2 (before and after the retransmission):\n%s", n, m.String())
	}
	if !strings.Contains(m.String(), "RETRANSMISSION - ACK seq=200001") {
		t.Errorf("the retransmission is not drawn:\n%s", m.String())
	}
	if steps[0] != "SYN" || steps[len(steps)-1] != "ACK" || steps[len(steps)-2] != "FIN-ACK" {
		t.Errorf("handshake or teardown missing: %v", steps)
	}
	// Everything drawn when asked.
	m.Reset()
	WriteMermaid(&m, conn, RenderOptions{MaxFull: -1})
	if n := len(mermaidSteps(m.String())); n != len(conn.Segments) {
		t.Errorf("MaxFull -1 drew %d of %d", n, len(conn.Segments))
	}
	for _, f := range []func(io.Writer, *Conn, RenderOptions) error{WriteSVG, func(w io.Writer, c *Conn, o RenderOptions) error { return WriteTSG(w, c, ClientToServer, o) }} {
		var b bytes.Buffer
		if err := f(&b, conn, RenderOptions{Title: `a <title> & "quotes"`}); err != nil {
			t.Fatal(err)
		}
		wellFormed(t, b.Bytes())
		if !strings.Contains(b.String(), `class="retransmission"`) && !strings.Contains(b.String(), `retransmission"`) {
			t.Errorf("SVG does not mark the retransmission")
		}
	}
	var svg bytes.Buffer
	WriteSVG(&svg, conn, RenderOptions{})
	if !strings.Contains(svg.String(), "segments not drawn") {
		t.Errorf("SVG ladder does not summarise")
	}
}

func TestEventsAtReceiver(t *testing.T) {
	// The wire dropped the second chunk; the capture is the server's:
	// it never saw the first copy. The retransmission is then drawn
	// as one, and the lost copy as an arrow ending in a cross.
	all := articleFlow()
	lostCopy := all[5]
	var segs []seg
	segs = append(segs, all[:5]...)
	retrans := lostCopy
	retrans.at += 20 * time.Millisecond
	for _, s := range all[5:] {
		s.at += 20 * time.Millisecond
		segs = append(segs, s)
	}
	segs[5] = retrans
	pkts, times := build(segs)
	capt := read(t, pcapFile(LinkRaw, pkts, times, nil))
	ev := WireEvent{Time: t0.Add(lostCopy.at), Dir: "client->server", Kind: "drop", Index: 4, Len: 1440,
		Packet: "198.18.0.1:40000 > 198.18.0.2:12345 [PA] seq=2401 ack=5001 len=1400"}
	if n := capt.ApplyEvents([]WireEvent{ev}); n != 1 || len(capt.Unmatched) != 0 {
		t.Fatalf("matched %d, unmatched %v", n, capt.Unmatched)
	}
	conn := capt.Conns[0]
	var lost, re *Segment
	for _, s := range conn.Segments {
		if s.Lost() {
			lost = s
		}
		if s.Kinds&AnyRetransmission != 0 {
			re = s
		}
	}
	if lost == nil || lost.Frame != 0 || lost.RelSeq != 1401 || re == nil || re.RelSeq != 1401 || re.N != lost.N+1 {
		t.Fatalf("lost %+v, retransmission %+v", lost, re)
	}
	var m, tsg bytes.Buffer
	WriteMermaid(&m, conn, RenderOptions{})
	if !strings.Contains(m.String(), "C-xS: LOST ON THE WIRE - PSH-ACK seq=1401") || !strings.Contains(m.String(), "RETRANSMISSION - PSH-ACK seq=1401") {
		t.Errorf("mermaid:\n%s", m.String())
	}
	WriteTSG(&tsg, conn, ClientToServer, RenderOptions{})
	wellFormed(t, tsg.Bytes())
	if !strings.Contains(tsg.String(), `<g class="lost"`) || !strings.Contains(tsg.String(), `<g class="retransmission"`) {
		t.Errorf("time-sequence graph marks neither the loss nor the retransmission")
	}
}

func TestEventsAtSender(t *testing.T) {
	// At the client, the lost copy is in the capture: it is marked lost,
	// and its retransmission is one.
	all := articleFlow()
	segs := append([]seg{}, all[:6]...)
	re := all[5]
	re.at += 20 * time.Millisecond
	segs = append(segs, re)
	for _, s := range all[6:] {
		s.at += 20 * time.Millisecond
		segs = append(segs, s)
	}
	pkts, times := build(segs)
	capt := read(t, pcapFile(LinkRaw, pkts, times, nil))
	ev := WireEvent{Time: t0.Add(all[5].at + 3000), Dir: "client->server", Kind: "drop", Index: 4,
		Packet: "198.18.0.1:40000 > 198.18.0.2:12345 [PA] seq=2401 ack=5001 len=1400"}
	capt.ApplyEvents([]WireEvent{ev})
	conn := capt.Conns[0]
	if len(conn.Segments) != len(segs) {
		t.Fatalf("a phantom was added at the sender: %d segments", len(conn.Segments))
	}
	if s := conn.Segments[5]; !s.Lost() || s.Frame != 6 {
		t.Errorf("segment 6: %s lost %v", Label(s), s.Lost())
	}
	if s := conn.Segments[6]; s.Kinds&Retransmission == 0 {
		t.Errorf("segment 7 is not a retransmission: %q", s.Kinds)
	}
}
