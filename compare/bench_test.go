package compare

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"tcplab/wire"
)

// peer is the DUT's end of a pipe, scripted by the test.
type peer struct {
	t    *testing.T
	link *wire.End
}

func newBenchPair(t *testing.T) (*Bench, *peer) {
	t.Helper()
	a, b := wire.Pipe(wire.PipeConfig{})
	tb := NewBench(a, TBAddr, DUTAddr, 1)
	t.Cleanup(func() {
		tb.Close()
		a.Close()
	})
	return tb, &peer{t: t, link: b}
}

func (p *peer) read() *Segment {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	buf := make([]byte, 1<<16)
	n, err := p.link.ReadPacket(ctx, buf)
	if err != nil {
		p.t.Fatal(err)
	}
	s, err := parse(buf[:n])
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

func (p *peer) write(w *wireSegment) {
	p.t.Helper()
	b, err := build(w)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.link.WritePacket(context.Background(), b); err != nil {
		p.t.Fatal(err)
	}
}

// TestConnTracksSequence walks a bench connection through a handshake and
// some data against a scripted DUT and checks the state it keeps and the
// defaults it fills in.
func TestConnTracksSequence(t *testing.T) {
	ctx := context.Background()
	tb, dut := newBenchPair(t)
	c := tb.Dial(8080)
	c.SYNOptions.WS = Ptr[uint8](7)
	if _, err := c.Send(ctx, TCP{Flags: Ptr(SYN)}); err != nil {
		t.Fatal(err)
	}
	syn := dut.read()
	if syn.Flags != SYN || syn.Seq != c.ISS() || syn.Options.WS == nil || syn.Options.TS == nil || syn.Options.MSS == nil || !syn.Options.SACKOK {
		t.Fatalf("SYN %s", syn)
	}
	const irs = 0xffff_fff0 // the DUT's numbers wrap soon
	from, to := syn.Dst, syn.Src
	dut.write(&wireSegment{src: from, dst: to, ttl: 64, seq: irs, ack: syn.Seq + 1, flags: SYN | ACK, window: 5000,
		options: Options{MSS: Ptr[uint16](1400), WS: Ptr[uint8](2), TS: &Timestamps{Val: 777, Ecr: syn.Options.TS.Val}}})
	if _, err := c.Expect(TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(c.ISS() + 1)}, time.Second); err != nil {
		t.Fatal(err)
	}
	if c.IRS() != irs || c.RcvNxt() != irs+1 || c.SndNxt() != c.ISS()+1 || !c.TSOn() {
		t.Fatalf("after SYN-ACK: IRS %d RcvNxt %d SndNxt-ISS %d TSOn %v", c.IRS(), c.RcvNxt(), c.SndNxt()-c.ISS(), c.TSOn())
	}
	if c.DUTWindow() != 5000 {
		t.Fatalf("SYN-ACK window %d: a SYN's window is never scaled", c.DUTWindow())
	}

	c.Send(ctx, TCP{Flags: Ptr(ACK)})
	ack := dut.read()
	if ack.Ack != irs+1 || ack.Seq != c.ISS()+1 || ack.Options.TS == nil || ack.Options.TS.Ecr != 777 {
		t.Fatalf("ACK %s", ack)
	}
	c.Send(ctx, TCP{Flags: Ptr(ACK | PSH), Payload: []byte("hello")})
	c.Send(ctx, TCP{Flags: Ptr(RST)})
	c.Send(ctx, TCP{Flags: Ptr(ACK | PSH), Payload: []byte("bad"), BadChecksum: true})
	c.Send(ctx, TCP{Flags: Ptr(SYN)})
	if got := c.SndNxt() - c.ISS(); got != 6 {
		t.Fatalf("SndNxt is ISS+%d after 5 octets, a RST, a bad checksum and a SYN; want ISS+6", got)
	}
	for range 4 {
		dut.read()
	}

	// The DUT sends 3 octets across the wrap and a scaled window.
	dut.write(&wireSegment{src: from, dst: to, ttl: 64, seq: irs + 1, ack: c.SndNxt(), flags: ACK | PSH, window: 100,
		payload: []byte("abc"), options: Options{TS: &Timestamps{Val: 778, Ecr: 1}}})
	seg, err := c.Expect(TCP{Payload: []byte("abc")}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.RcvNxt() != irs+4 || c.DUTWindow() != 400 || c.DUTWindowEdge() != c.SndNxt()+400 {
		t.Fatalf("after data: RcvNxt-IRS %d, window %d", c.RcvNxt()-irs, c.DUTWindow())
	}
	if !strings.Contains(seg.String(), "DUT>TB [P.] seq 1 ack 6 win 100") {
		t.Fatalf("rendered %q", seg)
	}
	if c.OutOfWindowSeq(1) != c.SndNxt()+401 || c.UnacceptableAck(1) != irs+5 || c.InWindowSeq(3) != c.SndNxt()+3 {
		t.Fatal("window helpers")
	}
	c.Send(ctx, TCP{})
	if a := dut.read(); a.Ack != irs+4 || a.Options.TS.Ecr != 778 {
		t.Fatalf("default ACK %s", a)
	}
}

// TestExpectMismatch: what did not match is consumed and listed;
// ExpectNone reports what came; silence is an error only for Expect.
func TestExpectMismatch(t *testing.T) {
	tb, dut := newBenchPair(t)
	c := tb.Dial(8080)
	c.Send(context.Background(), TCP{Flags: Ptr(SYN)})
	syn := dut.read()
	dut.write(&wireSegment{src: syn.Dst, dst: syn.Src, ttl: 64, flags: RST | ACK, ack: syn.Seq + 1})
	_, err := c.Expect(TCP{Flags: Ptr(SYN | ACK)}, 100*time.Millisecond)
	var m *Mismatch
	if !errors.As(err, &m) || len(m.Got) != 1 || !strings.Contains(m.Got[0], "[R.]") || !strings.Contains(err.Error(), "expected [S.]") {
		t.Fatalf("Expect = %v", err)
	}
	if err := c.ExpectNone(50 * time.Millisecond); err != nil {
		t.Fatalf("ExpectNone on silence = %v", err)
	}
	dut.write(&wireSegment{src: syn.Dst, dst: syn.Src, ttl: 64, flags: ACK})
	if err := c.ExpectNone(50 * time.Millisecond); !errors.As(err, &m) || len(m.Got) != 1 {
		t.Fatalf("ExpectNone with a segment = %v", err)
	}
	if _, err := c.Expect(TCP{}, 50*time.Millisecond); !errors.As(err, &m) || len(m.Got) != 0 || !strings.Contains(err.Error(), "got nothing") {
		t.Fatalf("Expect on silence = %v", err)
	}
	// A segment for no connection is a stray, not the connection's.
	dut.write(&wireSegment{src: syn.Dst, dst: netip.AddrPortFrom(TBAddr, 1), ttl: 64, flags: ACK})
	deadline := time.Now().Add(2 * time.Second)
	for len(tb.Strays()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if s := tb.Strays(); len(s) != 1 || !strings.Contains(s[0], ":1 ") {
		t.Fatalf("strays %q", s)
	}
	if err := c.ExpectNone(20 * time.Millisecond); err != nil {
		t.Fatalf("the stray reached the connection: %v", err)
	}
}

// TestInfraError: a closed link is an infrastructure fault, not a
// mismatch.
func TestInfraError(t *testing.T) {
	tb, dut := newBenchPair(t)
	c := tb.Dial(8080)
	dut.link.Close()
	_, err := c.Expect(TCP{}, time.Second)
	var ie *InfraError
	if !errors.As(err, &ie) {
		t.Fatalf("Expect on a closed link = %v", err)
	}
	if _, err := c.Send(context.Background(), TCP{Flags: Ptr(SYN)}); !errors.As(err, &ie) {
		t.Fatalf("Send on a closed link = %v", err)
	}
}
