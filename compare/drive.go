package compare

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"
)

// Helpers of the option, transfer, zero-window, urgent and ISN scenarios:
// the DUT's application as a sender, the bench as a receiver that
// acknowledges what it gets, and segments whose header the layers cannot
// express (malformed options, reserved bits), built by patching a segment
// the layers made.

// pattern is n octets the bench can tell apart by position: a byte stream
// compared whole shows where a DUT lost, doubled or reordered text.
func pattern(n int, salt byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = 'a' + byte((i/7+int(salt))%26)
	}
	return p
}

// write has the DUT's application send all of p.
func write(t *T, s Socket, p []byte) {
	n, err := s.Send(p, t.Timing.Reply)
	if err != nil || n != len(p) {
		t.Fail(fmt.Sprintf("send() to take %d octets", len(p)), fmt.Sprintf("%d, %v", n, err))
	}
}

// writeAsync sends p from a goroutine, for a scenario whose DUT need not
// buffer all of p at once (Linux's send buffer starts at 16 KiB and grows
// as the bench acknowledges): the bench's ACKs make room. wait, called
// once the bench has read everything, reports whether all of p went.
func writeAsync(t *T, s Socket, p []byte, within time.Duration) (wait func()) {
	done := make(chan struct{})
	var n int
	var err error
	go func() { defer close(done); n, err = s.Send(p, within) }()
	return func() {
		<-done
		if err != nil || n != len(p) {
			t.Fail(fmt.Sprintf("send() to take %d octets", len(p)), fmt.Sprintf("%d, %v", n, err))
		}
	}
}

// noDelay switches Nagle off on s, so a scenario sees what the window
// allows, not what Nagle holds back (CONFORMANCE.md: "set TCP_NODELAY on
// both sides" to compare).
func noDelay(t *T, s Socket) {
	if err := s.SetNoDelay(true); err != nil {
		t.Fatal(fmt.Errorf("TCP_NODELAY: %w", err))
	}
}

// stream is the bench's reassembly of n octets of the DUT's text from
// sequence number start on, whatever the segment boundaries.
type stream struct {
	start uint32
	buf   []byte
	got   []bool
	have  int // octets in order from start
}

func newStream(start uint32, n int) *stream {
	return &stream{start: start, buf: make([]byte, n), got: make([]bool, n)}
}

// add places the text of seg.
func (st *stream) add(seg *Segment) {
	off := int64(int32(seg.Seq - st.start))
	for i := range seg.Payload {
		if j := off + int64(i); j >= 0 && j < int64(len(st.buf)) {
			st.buf[j], st.got[j] = seg.Payload[i], true
		}
	}
	for st.have < len(st.got) && st.got[st.have] {
		st.have++
	}
}

// next is the sequence number after the octets in order.
func (st *stream) next() uint32 { return st.start + uint32(st.have) }

// read takes the DUT's segments until upto octets have come in order,
// handing each to on (which may check it and acknowledge). Nothing
// arriving for Timing.Reply before that fails the scenario.
func (st *stream) read(t *T, c *Conn, upto int, on func(seg *Segment)) {
	for st.have < upto {
		seg, err := c.Expect(TCP{}, t.Timing.Reply)
		var m *Mismatch
		if errors.As(err, &m) {
			t.Fail(fmt.Sprintf("%d octets of text from the DUT", upto),
				fmt.Sprintf("%d in order, then nothing for %v", st.have, t.Timing.Reply))
		}
		t.Check(err)
		st.add(seg)
		if on != nil {
			on(seg)
		}
	}
}

// transfer has the DUT's application write data and the bench receive it
// (stream.read), the stream starting where the bench's view of the DUT's
// SND.NXT was before the write; it returns what came.
func transfer(t *T, c *Conn, s Socket, data []byte, on func(seg *Segment)) []byte {
	st := newStream(c.RcvNxt(), len(data))
	write(t, s, data)
	st.read(t, c, len(data), on)
	return st.buf
}

// ackWith returns a stream.read callback that acknowledges, with window
// field w, whatever new the DUT's segments brought: one ACK per advance of
// RCV.NXT, never a repeat, which a DUT with data in flight would count as
// a duplicate ACK (RFC 5681 §2) and answer with a fast retransmit.
func ackWith(t *T, c *Conn, w uint16) func(*Segment) {
	var last uint32
	sent := false
	return func(*Segment) {
		if nxt := c.RcvNxt(); !sent || nxt != last {
			last, sent = t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(nxt), Window: Ptr(w)}).Ack, true
		}
	}
}

// sameStream fails the scenario unless got is want.
func sameStream(t *T, what string, got, want []byte) {
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fail(fmt.Sprintf("%s: the %d octets written, in order", what, len(want)),
			fmt.Sprintf("a stream that differs from octet %d on", i))
	}
}

// untilQuiet returns the DUT's segments on c until it has sent nothing
// for Timing.Quiet (at most Timing.Reply in all, a bound on a DUT that
// never stops).
func untilQuiet(t *T, c *Conn) []*Segment {
	var segs []*Segment
	end := time.Now().Add(t.Timing.Reply)
	for time.Now().Before(end) {
		seg := t.Next(c)
		if seg == nil {
			return segs
		}
		segs = append(segs, seg)
	}
	return segs
}

// highest is the largest SEG.SEQ+SEG.LEN among segs (from, if none is
// beyond it).
func highest(from uint32, segs []*Segment) uint32 {
	for _, s := range segs {
		if seqLT(from, s.End()) {
			from = s.End()
		}
	}
	return from
}

// tcpHeader is the TCP header and text of a received or sent segment.
func tcpHeader(seg *Segment) []byte {
	ihl := int(seg.Raw[0]&0x0f) * 4
	return seg.Raw[ihl:]
}

// optionBytes is how many octets of TCP options seg carries: its data
// offset less the 20 octets of the fixed header.
func optionBytes(seg *Segment) int { return int(tcpHeader(seg)[12]>>4)*4 - 20 }

// nextTS is the timestamps option the bench puts on its next segment once
// timestamps are in use: its clock and the DUT's newest TSval.
func (c *Conn) nextTS() *Timestamps {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	return &Timestamps{Val: c.tsVal(), Ecr: c.tsRecent}
}

// advanceTS moves the bench's timestamp clock d ticks ahead and returns
// the new value: segments the scenario sends with an explicit TSval stay
// in step with those the connection fills in, which never go back.
func (c *Conn) advanceTS(d uint32) uint32 {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	v := c.tsVal() + d
	c.lastTSval = v
	return v
}

// TSRecent is the newest TSval the bench has seen from the DUT.
func (c *Conn) TSRecent() uint32 { c.b.mu.Lock(); defer c.b.mu.Unlock(); return c.tsRecent }

// sendPatched sends tcp on c after patch has changed its TCP header (the
// header and text, checksum recomputed afterwards): for what the layers
// cannot express. The connection's state follows the patched segment when
// the bench can parse it; one it cannot (an option of impossible length)
// is logged raw and leaves the state alone.
func (t *T) sendPatched(c *Conn, tcp TCP, patch func(hdr []byte)) {
	c.b.mu.Lock()
	w := c.fill(&IPv4{}, &tcp)
	p, err := build(w)
	if err != nil {
		c.b.mu.Unlock()
		t.Fatal(&InfraError{err})
	}
	ihl := int(p[0]&0x0f) * 4
	hdr := p[ihl:]
	patch(hdr)
	hdr[16], hdr[17] = 0, 0
	binary.BigEndian.PutUint16(hdr[16:], checksum(hdr, pseudoHeader(p[12:16], p[16:20], len(hdr))))
	if sent, err := parse(p); err == nil {
		sent.At, sent.fromTB = time.Now(), true
		c.sent(sent)
		c.b.record(sent)
	} else {
		now := time.Now()
		c.b.log = append(c.b.log, fmt.Sprintf("%7.3fms TB>DUT [%s] seq %d (rel) header %x len %d (the bench's parser refuses it: %v)",
			float64(now.Sub(c.b.start).Microseconds())/1000, w.flags, w.seq-c.iss, hdr[:int(hdr[12]>>4)*4], len(w.payload), err))
	}
	c.b.mu.Unlock()
	t.Check(c.b.write(t.ctx, p))
}

// withOptions is a patch that overwrites the option space of a header
// with raw (zero-filled after it). The segment must have been built with
// at least len(raw) octets of options: a placeholder of that size.
func withOptions(raw []byte) func(hdr []byte) {
	return func(hdr []byte) {
		opts := hdr[20 : int(hdr[12]>>4)*4]
		if len(raw) > len(opts) {
			panic(fmt.Sprintf("compare: %d octets of raw options in %d octets of option space", len(raw), len(opts)))
		}
		clear(opts)
		copy(opts, raw)
	}
}

// placeholder is an option of n octets (n >= 2) that reserves room for
// raw options: an unknown kind the patch overwrites.
func placeholder(n int) RawOption { return RawOption{Kind: 254, Data: make([]byte, n-2)} }

// tsOption is the raw timestamps option.
func tsOption(ts *Timestamps) []byte {
	b := []byte{8, 10}
	b = binary.BigEndian.AppendUint32(b, ts.Val)
	return binary.BigEndian.AppendUint32(b, ts.Ecr)
}

// expectChecked is T.Expect that also hands every segment of c arriving
// meanwhile, the ones that do not match included, to check: for rules
// about every segment a DUT sends (timestamps on all of them, no MSS
// option outside a SYN).
func expectChecked(t *T, c *Conn, m TCP, check func(*Segment)) *Segment {
	deadline := time.Now().Add(t.Timing.Reply)
	var got []string
	for {
		seg, err := c.Expect(TCP{}, time.Until(deadline))
		var mm *Mismatch
		if errors.As(err, &mm) {
			c.b.mu.Lock()
			mm.Want = describe(nil, &m, c.seqBaseDUT(), c.ackBaseDUT())
			c.b.mu.Unlock()
			mm.Within, mm.Got = t.Timing.Reply, got
		}
		t.Check(err)
		check(seg)
		why := match(nil, &m, seg)
		if why == "" {
			return seg
		}
		got = append(got, fmt.Sprintf("%s (%s)", seg, why))
	}
}

// establishWith opens a connection to a DUT listener as Established does,
// with opts on the bench's SYN and, if ackWindow is not nil, that window
// on the final ACK and every later segment. It returns the SYN-ACK too.
func establishWith(t *T, opts Options, ackWindow *uint16) (*Conn, Socket, *Segment) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	c.SYNOptions = opts
	syn := t.Send(c, TCP{Flags: Ptr(SYN)})
	synAck := t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(syn.Seq + 1)})
	if ackWindow != nil {
		c.Window = *ackWindow
	}
	t.Send(c, TCP{Flags: Ptr(ACK)})
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	return c, s, synAck
}

// silentAndNothingToRead is T.ExpectNone and nothingToRead at once: the
// DUT sends nothing on c and its application can read nothing from s
// within one Timing.Quiet.
func silentAndNothingToRead(t *T, c *Conn, s Socket, why string) {
	type read struct {
		b   []byte
		err error
	}
	done := make(chan read, 1)
	go func() {
		b, err := s.Recv(100, t.Timing.Quiet)
		done <- read{b, err}
	}()
	t.ExpectNone(c, why)
	if r := <-done; !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fail("nothing for the application to read ("+why+")", fmt.Sprintf("read %q, %v", r.b, r.err))
	}
}
