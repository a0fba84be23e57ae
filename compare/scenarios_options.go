package compare

import (
	"fmt"
	"slices"
	"strings"
)

// Section B of CONFORMANCE.md: options and header fields, with the
// Appendix B option requirements of RFC 9293 (MUST-4..7, MUST-64..69)
// that no catalogue entry names (OP-02, OP-03, OP-11..OP-14).
var optionScenarios = []Scenario{
	{ID: "OP-01a", Title: "MSS 536 offered: no DUT segment carries more than 536 octets of text and options",
		RFC: "RFC 9293 §3.7.1", Requirements: []string{"MUST-14", "MUST-16", "SHLD-28"}, Run: mssHonoured},
	{ID: "OP-01b", Title: "No MSS option: the DUT sends at most 536 octets of text and options",
		RFC: "RFC 9293 §3.7.1", Requirements: []string{"MUST-15", "MUST-16"}, Run: mssDefault},
	{ID: "OP-02", Title: "Options off word boundaries, NOP and EOL in a SYN are all read",
		RFC: "RFC 9293 §3.1 (Options), §3.2", Requirements: []string{"MUST-4", "MUST-64"}, Run: unalignedOptions},
	{ID: "OP-03", Title: "Options on a data segment (MSS, WS, SACK-permitted outside a SYN) do not stop its text",
		RFC: "RFC 9293 §3.1 (Options), §3.2", Requirements: []string{"MUST-5"}, Run: optionsOnData},
	{ID: "OP-05a", Title: "Window scale 7 negotiated: the peer's window field is shifted; the SYN's is not",
		RFC: "RFC 7323 §2.2, §2.3", Run: windowScaleApplied},
	{ID: "OP-05b", Title: "No window scale offered: no WS in the SYN-ACK; the peer's window is taken unscaled",
		RFC: "RFC 7323 §2.2, §2.3", Run: windowScaleAbsent},
	{ID: "OP-05c", Title: "Window scale 15 offered: the DUT uses 14",
		RFC: "RFC 7323 §2.3", Run: windowScaleClamped},
	{ID: "OP-06a", Title: "No SACK-permitted offered: none in the SYN-ACK, no SACK blocks on out-of-order data",
		RFC: "RFC 2018 §2, §4", Run: sackNotOffered},
	{ID: "OP-06b", Title: "SACK blocks on out-of-order data: the newest block first, at most 3 with timestamps",
		RFC: "RFC 2018 §3, §4", Requirements: []string{"SHLD-31"}, Run: sackBlocks},
	{ID: "OP-06c", Title: "A duplicate segment is reported in a D-SACK block, first; a held one with its block second",
		RFC: "RFC 2883 §4", Run: dsackForDuplicate},
	{ID: "OP-07a", Title: "Timestamps: TSecr echoes the peer's TSval; every DUT segment carries TSopt; TSval never decreases",
		RFC: "RFC 7323 §3.2, §4.3, §5.4", Run: timestampsEcho},
	{ID: "OP-07b", Title: "Timestamps negotiated: text without TSopt is dropped silently",
		RFC: "RFC 7323 §3.2", Run: timestampMissingOnData},
	{ID: "OP-07c", Title: "No timestamps offered: the DUT never sends TSopt",
		RFC: "RFC 7323 §3.2", Run: timestampsNotOffered},
	{ID: "OP-07d", Title: "Timestamps negotiated: a handshake ACK without TSopt does not complete the handshake",
		RFC: "RFC 7323 §3.2", Run: timestampMissingOnHandshakeACK},
	{ID: "OP-07e", Title: "Timestamps: an out-of-order segment's TSval is not echoed; the one that fills the hole is",
		RFC: "RFC 7323 §4.3", Run: timestampsOutOfOrder},
	{ID: "OP-08", Title: "PAWS: text with a TSval older than TS.Recent is dropped and ACKed",
		RFC: "RFC 7323 §5.3", Run: paws},
	{ID: "OP-10", Title: "ECN-setup SYN (ECE+CWR): SYN-ACK with ECE alone or a plain one; no ECE without it",
		RFC: "RFC 3168 §6.1.1", Requirements: []string{"SHLD-8"}, Run: ecnSetupSYN},
	{ID: "OP-11", Title: "Unknown options, in a SYN and on data, are skipped by their length and not echoed",
		RFC: "RFC 9293 §3.1 (Options), §3.2", Requirements: []string{"MUST-6"}, Run: unknownOptions},
	{ID: "OP-12", Title: "Illegal option lengths (0, 1, past the header, a bad SACK length) are survived",
		RFC: "RFC 9293 §3.1 (Options), §3.2", Requirements: []string{"MUST-7"}, Run: illegalOptionLength},
	{ID: "OP-13", Title: "The DUT's own options: lengths present, zero padding, MSS from the MTU and only on SYNs",
		RFC: "RFC 9293 §3.1 (Options), §3.2, §3.7.1", Requirements: []string{"MUST-65", "MUST-67", "MUST-68", "MUST-69"},
		Run: ownOptionsWellFormed},
	{ID: "OP-14", Title: "Reserved header bits are ignored when received and zero when sent",
		RFC: "RFC 9293 §3.1 (Rsrvd)", Run: reservedBits},
}

// sendRespectsMSS has the DUT's application write 2·mss+1 octets and
// checks each segment: "the effective send MSS ... minus the size of TCP
// options" (RFC 9293 §3.7.1, MUST-16), so text and options together stay
// within mss; and the first segment is not needlessly small: it fills the
// MSS less at most the 40 octets options can take (SHLD-28). gVisor keeps
// room for three SACK blocks; handmade only for its timestamps.
func sendRespectsMSS(t *T, c *Conn, s Socket, mss int) {
	noDelay(t, s)
	data := pattern(2*mss+1, 1)
	first := true
	ack := ackWith(t, c, c.Window)
	got := transfer(t, c, s, data, func(seg *Segment) {
		if len(seg.Payload) == 0 {
			return
		}
		if n := len(seg.Payload) + optionBytes(seg); n > mss {
			t.Fail(fmt.Sprintf("at most %d octets of text and options in a segment (RFC 9293 §3.7.1, MUST-16)", mss),
				fmt.Sprintf("%d: %s", n, seg))
		}
		if first && len(seg.Payload) < mss-40 {
			t.Fail(fmt.Sprintf("a first segment of at least %d octets: the MSS less the most options can take (SHLD-28)", mss-40), seg.String())
		}
		first = false
		ack(seg)
	})
	sameStream(t, "the bench receives", got, data)
}

// mssHonoured: a SYN with "MSS 536" (and timestamps, whose 12 octets come
// off every segment): the DUT's segments fit it (RFC 9293 §3.7.1, MUST-14
// and MUST-16).
func mssHonoured(t *T) {
	c, s, _ := establishWith(t, Options{MSS: Ptr[uint16](536), SACKOK: true, TS: &Timestamps{}}, nil)
	sendRespectsMSS(t, c, s, 536)
}

// mssDefault: "If an MSS Option is not received at connection setup, TCP
// implementations MUST assume a default send MSS of 536 (576 - 40) for
// IPv4" (RFC 9293 §3.7.1, MUST-15).
func mssDefault(t *T) {
	c, s, _ := establishWith(t, Options{SACKOK: true, TS: &Timestamps{}}, nil)
	sendRespectsMSS(t, c, s, 536)
}

// unalignedOptions: "A TCP implementation MUST support" End of Option
// List, No-Operation and MSS (MUST-4), and "MUST be prepared to process
// options even if they do not begin on a word boundary" (MUST-64). The
// SYN carries NOP, MSS 536 at offset 1, WS 7 at 5, SACK-permitted at 8,
// TS at 10, then EOL and zeros: the SYN-ACK answers WS, SACK-permitted
// and TS (RFC 7323 §2.2, §3.2; RFC 2018 §2), echoing the TSval, and the
// DUT's segments fit the MSS.
func unalignedOptions(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	ts := &Timestamps{Val: c.advanceTS(0)}
	raw := []byte{1, 2, 4, 0x02, 0x18, 3, 3, 7, 4, 2}
	raw = append(append(raw, tsOption(ts)...), 0)
	t.sendPatched(c, TCP{Flags: Ptr(SYN), Options: &Options{Unknown: []RawOption{placeholder(24)}}}, withOptions(raw))
	t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(c.ISS() + 1),
		Options: &Options{Present: MSSOpt | WSOpt | SACKOKOpt | TSOpt, TSEcr: Ptr(ts.Val)}})
	t.Send(c, TCP{Flags: Ptr(ACK)})
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	sendRespectsMSS(t, c, s, 536)
}

// optionsOnData: "A TCP implementation MUST be able to receive a TCP
// option in any segment" (MUST-5). A data segment carrying, besides its
// timestamps, the SYN-only MSS, window scale and SACK-permitted options is
// taken like any other; the MSS option there changes nothing ("MUST only
// be sent in the initial connection request", §3.2), so the DUT's own
// segments afterwards are not cut to it.
func optionsOnData(t *T) {
	c, s := t.Established()
	data := []byte("text with options")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data,
		Options: &Options{TS: c.nextTS(), MSS: Ptr[uint16](100), WS: Ptr[uint8](14), SACKOK: true}})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
	t.Recv(s, data)
	noDelay(t, s)
	out := pattern(1000, 2)
	largest := 0
	ack := ackWith(t, c, c.Window)
	got := transfer(t, c, s, out, func(seg *Segment) {
		largest = max(largest, len(seg.Payload))
		ack(seg)
	})
	sameStream(t, "the bench receives", got, out)
	if largest <= 100 {
		t.Fail("segments up to the MSS of the handshake: an MSS option on a data segment means nothing",
			fmt.Sprintf("no segment above %d octets", largest))
	}
}

// windowEdgeTest has the DUT's application write n octets with the
// bench's window fixed at edge (an absolute sequence number), and checks
// the DUT sends up to the edge and not an octet beyond it (RFC 9293
// §3.8.6: SND.UNA+SND.WND bounds what is sent);
// then the bench opens the window (field open) and takes the rest.
func windowEdgeTest(t *T, c *Conn, s Socket, n int, edge uint32, open uint16, why string) {
	noDelay(t, s)
	data := pattern(n, 3)
	st := newStream(c.RcvNxt(), n)
	write(t, s, data)
	segs := untilQuiet(t, c)
	for _, seg := range segs {
		st.add(seg)
	}
	if top := highest(st.start, segs); top != edge {
		t.Fail(fmt.Sprintf("text up to the right edge, relative %d (%s), and not beyond", edge-c.IRS(), why),
			fmt.Sprintf("text up to %d", top-c.IRS()))
	}
	t.Send(c, TCP{Flags: Ptr(ACK), Window: Ptr(open)})
	st.read(t, c, n, ackWith(t, c, open))
	sameStream(t, "the bench receives", st.buf, data)
}

// windowScaleApplied: with window scale negotiated (the bench offers 7),
// SND.WND is the window field shifted left by Snd.Wind.Shift for every
// segment but a <SYN> or <SYN,ACK>, whose window field is never scaled
// (RFC 7323 §2.2, §2.3). The final ACK's field 16 is
// 2048 octets: two segments of the 1024-octet MSS, no more, no less.
// Without timestamps and SACK the segments are exactly the MSS on both
// stacks.
func windowScaleApplied(t *T) {
	c, s, synAck := establishWith(t, Options{MSS: Ptr[uint16](1024), WS: Ptr[uint8](7)}, Ptr[uint16](16))
	if synAck.Options.WS == nil {
		t.NA("the DUT does not scale windows: no WS in its SYN-ACK")
	}
	windowEdgeTest(t, c, s, 5000, c.RcvNxt()+16<<7, 512, "field 16 shifted by 7")
}

// windowScaleAbsent: a <SYN,ACK> carries a Window Scale option only if
// the <SYN> did, and without one on both sides no window is scaled (RFC
// 7323 §2.2): the field 2048 is 2048 octets.
func windowScaleAbsent(t *T) {
	c, s, synAck := establishWith(t, Options{MSS: Ptr[uint16](1024)}, Ptr[uint16](2048))
	if synAck.Options.WS != nil {
		t.Fail("no WS in the SYN-ACK to a SYN without one (RFC 7323 §2.2)", synAck.String())
	}
	windowEdgeTest(t, c, s, 5000, c.RcvNxt()+2048, 65535, "field 2048 unscaled")
}

// windowScaleClamped: "If a Window Scale option is received with a
// shift.cnt value larger than 14, the TCP SHOULD log the error but MUST
// use 14 instead of the specified value" (RFC 7323 §2.3). The bench
// offers 15 and advertises the field 1: 16384 octets at 14, 32768 at 15.
// Both exceed the DUT's initial congestion window, so the bench first
// acknowledges 24 segments as they come (the window's right edge moving
// with each ACK) to let the congestion window grow past 16384; then it
// stops and the DUT must send up to its last ACK + 16384 and no further.
func windowScaleClamped(t *T) {
	c, s, synAck := establishWith(t, Options{MSS: Ptr[uint16](1024), WS: Ptr[uint8](15)}, Ptr[uint16](1))
	if synAck.Options.WS == nil {
		t.NA("the DUT does not scale windows: no WS in its SYN-ACK")
	}
	noDelay(t, s)
	const n = 256 << 10 // more than the rounds below take: the window, not the data, ends each
	data := pattern(n, 4)
	st := newStream(c.RcvNxt(), n)
	sent := writeAsync(t, s, data, 10*t.Timing.Reply)
	lastAck := st.start
	top := st.start
	st.read(t, c, 24<<10, func(seg *Segment) {
		top = highest(top, []*Segment{seg})
		if seg.Len() > 0 {
			lastAck = t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(st.next())}).Ack
		}
	})
	// A sender may stop short of the window when its congestion window
	// is the smaller (Linux's is, this early): acknowledge what came and
	// look again, a few rounds, so the window alone decides the edge.
	for round := 0; ; round++ {
		segs := untilQuiet(t, c)
		for _, seg := range segs {
			st.add(seg)
		}
		top = highest(top, segs)
		if round == 8 || !seqLT(top, lastAck+1<<14) || st.next() != top || int(top-st.start)+2<<14 > n {
			break
		}
		lastAck = t.Send(c, TCP{Flags: Ptr(ACK), Ack: Ptr(top)}).Ack
	}
	switch edge := lastAck + 1<<14; {
	case top == edge:
	case top == lastAck+1<<15 || seqLT(edge, top):
		t.Fail(fmt.Sprintf("text up to the last ACK + 16384 (shift 15 used as 14), relative %d", edge-c.IRS()),
			fmt.Sprintf("text up to %d", top-c.IRS()))
	default:
		t.Fail(fmt.Sprintf("text up to the last ACK + 16384, relative %d: the window the shift of 14 gives", edge-c.IRS()),
			fmt.Sprintf("text up to %d only", top-c.IRS()))
	}
	t.Send(c, TCP{Flags: Ptr(ACK), Window: Ptr[uint16](4)})
	st.read(t, c, n, ackWith(t, c, 4))
	sent()
	sameStream(t, "the bench receives", st.buf, data)
}

// sackNotOffered: a data receiver generates SACK options only if it
// received SACK-permitted on the SYN (RFC 2018 §4), and a SYN-ACK offers
// SACK-permitted only in answer to a SYN that did (§2, as HS-02b checks
// with no options at all). The SYN offers timestamps
// and window scale, not SACK: the SYN-ACK answers those alone, and the
// duplicate ACK for out-of-order text carries no SACK blocks.
func sackNotOffered(t *T) {
	c, s, _ := establishWith(t, Options{MSS: Ptr[uint16](1460), TS: &Timestamps{}, WS: Ptr[uint8](7)}, nil)
	seq0 := c.SndNxt()
	first, second := pattern(100, 5), pattern(100, 6)
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0 + 100), Payload: second})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0), Options: &Options{Absent: SACKOpt}})
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0), Payload: first})
	c.SetSndNxt(seq0 + 200)
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0 + 200), Options: &Options{Absent: SACKOpt}})
	t.Recv(s, append(first, second...))
}

// sackBlocks: out-of-order text is held (SHLD-31) and the duplicate ACK
// reports it: "The first SACK block (i.e., the one immediately following
// the kind and length fields in the option) MUST specify the contiguous
// block of data containing the segment which triggered this ACK" (RFC 2018
// §4), and with timestamps at most three blocks fit (§3). Blocks are
// compared as sets, save for which one comes first. The holes filled, one
// ACK covers everything and the stream reads in order.
func sackBlocks(t *T) {
	c, s := t.Established()
	if !c.SACKOn() {
		t.NA("the DUT does not do SACK: no SACK-permitted in its SYN-ACK")
	}
	seq0 := c.SndNxt()
	data := pattern(800, 7)
	piece := func(i int) []byte { return data[i*100 : (i+1)*100] }
	block := func(i int) SACKBlock { return SACKBlock{seq0 + uint32(i*100), seq0 + uint32(i+1)*100} }
	var held []SACKBlock
	for _, i := range []int{1, 3, 5, 7} {
		t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0 + uint32(i*100)), Payload: piece(i)})
		held = append(held, block(i))
		ack := t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0), Options: &Options{Present: SACKOpt}})
		got := ack.Options.SACK
		if got[0] != block(i) {
			t.Fail(fmt.Sprintf("the first SACK block {%d:%d}, the segment that triggered the ACK", i*100, (i+1)*100), ack.String())
		}
		if len(held) <= 3 && !sameBlocks(got, held) || len(held) > 3 && len(got) != 3 {
			t.Fail(fmt.Sprintf("SACK blocks for what is held, at most 3 with timestamps (%d held)", len(held)), ack.String())
		}
		for _, b := range got {
			if !containsBlock(held, b) {
				t.Fail("SACK blocks for held text only", ack.String())
			}
		}
	}
	for _, i := range []int{0, 2, 4, 6} {
		t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0 + uint32(i*100)), Payload: piece(i)})
	}
	c.SetSndNxt(seq0 + 800)
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0 + 800)})
	t.Recv(s, data)
}

// dsackForDuplicate: "When D-SACK is used, the first block of the SACK
// option should be a D-SACK block specifying the sequence numbers for the
// duplicate segment that triggers the acknowledgement" (RFC 2883 §4,
// rules (1)-(3)); for a duplicate of held out-of-order text, "(4) ... the
// second SACK block in that SACK option should specify that (possibly
// larger) block of data". Two duplicates: of text below RCV.NXT (the ACK
// carries the D-SACK block alone), and of [200, 300) held inside [200,
// 400) (the D-SACK block, then [200, 400)). RFC 2883 is an extension a
// SACK receiver may use ("the first block of the SACK option field can be
// used to report"): a receiver that reports no duplicates (gVisor:
// UpdateSACKBlocks ignores blocks below RCV.NXT) sends plain SACK blocks
// instead, which is tolerated; anything else fails. Linux sends D-SACKs
// with net.ipv4.tcp_dsack=1, its default.
func dsackForDuplicate(t *T) {
	c, s := t.Established()
	if !c.SACKOn() {
		t.NA("the DUT does not do SACK: no SACK-permitted in its SYN-ACK")
	}
	seq0 := c.SndNxt()
	data := pattern(400, 9)
	block := func(from, to int) SACKBlock { return SACKBlock{seq0 + uint32(from), seq0 + uint32(to)} }
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data[:100]})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0 + 100)})
	settle(t, c)
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0), Payload: data[:100]})
	below := t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0 + 100), Payload: []byte{}}).Options.SACK
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0 + 200), Payload: data[200:300]})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0 + 100), Options: &Options{SACK: []SACKBlock{block(200, 300)}}})
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0 + 300), Payload: data[300:400]})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0 + 100), Options: &Options{SACK: []SACKBlock{block(200, 400)}}})
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0 + 200), Payload: data[200:300]})
	held := t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0 + 100), Options: &Options{Present: SACKOpt}}).Options.SACK
	switch {
	case slices.Equal(below, []SACKBlock{block(0, 100)}) && slices.Equal(held, []SACKBlock{block(200, 300), block(200, 400)}):
	case len(below) == 0 && slices.Equal(held, []SACKBlock{block(200, 400)}):
		t.AllowedRFC("no D-SACK blocks: duplicates are not reported (RFC 2883 is an extension a SACK receiver may use)")
	default:
		t.Fail(fmt.Sprintf("SACK blocks %v, then %v (D-SACK first, RFC 2883 §4), or none and then %v without D-SACK",
			[]SACKBlock{block(0, 100)}, []SACKBlock{block(200, 300), block(200, 400)}, []SACKBlock{block(200, 400)}),
			fmt.Sprintf("%v, then %v", below, held))
	}
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0 + 100), Payload: data[100:200]})
	c.SetSndNxt(seq0 + 400)
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0 + 400)})
	t.Recv(s, data)
}

func containsBlock(bs []SACKBlock, b SACKBlock) bool {
	for _, x := range bs {
		if x == b {
			return true
		}
	}
	return false
}

// tsChecker checks every DUT segment of a connection with timestamps: it
// carries TSopt ("once TSopt has been successfully negotiated ... TSopt
// MUST be sent in every non-<RST> segment", RFC 7323 §3.2) and its TSval
// does not go back (§5.4: the clock is monotonic).
func tsChecker(t *T) func(*Segment) {
	var last *uint32
	return func(seg *Segment) {
		if seg.Flags&RST != 0 {
			return
		}
		if seg.Options.TS == nil {
			t.Fail("TSopt on every non-RST segment (RFC 7323 §3.2)", seg.String())
		}
		if last != nil && seqLT(seg.Options.TS.Val, *last) {
			t.Fail(fmt.Sprintf("TSval never decreasing (RFC 7323 §5.4), after %d", *last), seg.String())
		}
		last = Ptr(seg.Options.TS.Val)
	}
}

// timestampsEcho: the SYN-ACK echoes the SYN's TSval (HS-02a); then each
// text segment with a rising TSval is ACKed with TSecr = that TSval
// (RFC 7323 §4.3: TS.Recent follows the segment that covers
// Last.ACK.sent), and the DUT's own text echoes the latest one. Every DUT
// segment carries TSopt and its TSval never decreases. Absolute TSvals
// differ (random offsets): only the echo and the order are compared.
func timestampsEcho(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	check := tsChecker(t)
	syn := t.Send(c, TCP{Flags: Ptr(SYN)})
	expectChecked(t, c, TCP{Flags: Ptr(SYN | ACK), Options: &Options{TSEcr: Ptr(syn.Options.TS.Val)}}, check)
	t.Send(c, TCP{Flags: Ptr(ACK)})
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	var v uint32
	for i := range 3 {
		v = c.advanceTS(1000)
		data := pattern(10, byte(i))
		t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data, Options: &Options{TS: &Timestamps{Val: v, Ecr: c.TSRecent()}}})
		expectChecked(t, c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt()), Options: &Options{TSEcr: Ptr(v)}}, check)
		t.Recv(s, data)
	}
	noDelay(t, s)
	want := c.RcvNxt()
	write(t, s, []byte("pong"))
	expectChecked(t, c, TCP{Flags: Ptr(ACK), Seq: Ptr(want), Payload: []byte("pong"), Options: &Options{TSEcr: Ptr(v)}}, check)
}

// timestampMissingOnData: "If a non-<RST> segment is received without a
// TSopt, a TCP SHOULD silently drop the segment" once timestamps are
// negotiated (RFC 7323 §3.2). Taking the text is the common practice
// (gVisor; Linux accepts it too): tolerated, since the RFC says SHOULD
// (CONFORMANCE.md OP-07b).
func timestampMissingOnData(t *T) {
	c, s := t.Established()
	if !c.TSOn() {
		t.NA("no timestamps: the DUT's SYN-ACK has no TSopt")
	}
	seq0 := c.SndNxt()
	data := []byte("no timestamp")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data, Options: &Options{}})
	switch seg := t.Next(c); {
	case seg == nil:
		c.SetSndNxt(seq0)
		nothingToRead(t, s, "a segment without TSopt is dropped")
		t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data})
		t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
		t.Recv(s, data)
	case seg.Flags&ACK != 0 && seg.Ack == seq0+uint32(len(data)):
		t.Allowed("takes text without TSopt on a connection with timestamps, as gVisor and Linux do; RFC 7323 §3.2 says SHOULD drop it silently")
		t.Recv(s, data)
	default:
		t.Fail("the segment dropped silently, or (tolerated) taken and ACKed", seg.String())
	}
	exchange(t, c, s)
}

// timestampsNotOffered: timestamps are in use only when both the <SYN>
// and the <SYN,ACK> carried TSopt (RFC 7323 §3.2), so a DUT answering a
// SYN without one never sends TSopt on the connection. The SYN has MSS,
// SACK-permitted and WS: no DUT segment, SYN-ACK, ACK or text, carries
// TSopt.
func timestampsNotOffered(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	c.SYNOptions = Options{MSS: Ptr[uint16](1460), SACKOK: true, WS: Ptr[uint8](7)}
	check := func(seg *Segment) {
		if seg.Options.TS != nil {
			t.Fail("no TSopt on any segment of a connection whose SYN offered none (RFC 7323 §3.2)", seg.String())
		}
	}
	t.Send(c, TCP{Flags: Ptr(SYN)})
	expectChecked(t, c, TCP{Flags: Ptr(SYN | ACK)}, check)
	t.Send(c, TCP{Flags: Ptr(ACK)})
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	data := []byte("ping")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data})
	expectChecked(t, c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())}, check)
	t.Recv(s, data)
	noDelay(t, s)
	want := c.RcvNxt()
	write(t, s, []byte("pong"))
	expectChecked(t, c, TCP{Flags: Ptr(ACK), Seq: Ptr(want), Payload: []byte("pong")}, check)
	t.Send(c, TCP{Flags: Ptr(ACK)})
	if err := s.ShutdownWrite(); err != nil {
		t.Fatal(fmt.Errorf("shutdown: %w", err))
	}
	expectChecked(t, c, TCP{Flags: Ptr(FIN | ACK), Seq: Ptr(want + 4)}, check)
}

// timestampMissingOnHandshakeACK: the same SHOULD for the ACK that would
// complete the handshake (RFC 7323 §3.2: timestamps were negotiated by
// the SYN and SYN-ACK). gVisor drops it (CONFORMANCE.md OP-07b), so
// accept() has nothing, and the SYN-ACK would be retransmitted later;
// taking it is tolerated (Linux, unverified). The ACK with TSopt then
// completes the handshake.
func timestampMissingOnHandshakeACK(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	t.Send(c, TCP{Flags: Ptr(SYN)})
	synAck := t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(c.ISS() + 1)})
	if synAck.Options.TS == nil {
		t.NA("no timestamps: the DUT's SYN-ACK has no TSopt")
	}
	t.Send(c, TCP{Flags: Ptr(ACK), Options: &Options{}})
	if seg := t.Next(c); seg != nil && seg.Flags&RST != 0 {
		t.Fail("the ACK without TSopt dropped (RFC 7323 §3.2), or taken", seg.String())
	}
	if acc.Done() {
		t.Allowed("completes the handshake on an ACK without TSopt; RFC 7323 §3.2 says SHOULD drop it (gVisor does)")
		return
	}
	t.Send(c, TCP{Flags: Ptr(ACK)})
	t.Accepted(acc)
}

// timestampsOutOfOrder: TS.Recent, the value echoed, is updated only
// "If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent" (RFC 7323
// §4.3, rule (2)): the duplicate ACK for a segment beyond a hole echoes
// the TSval of the last in-order one, so the peer's RTT measure includes
// the time the hole took to fill (§4.3, case (B)); the segment that fills
// the hole starts at Last.ACK.sent and its TSval is echoed (case (C)).
func timestampsOutOfOrder(t *T) {
	c, s := t.Established()
	if !c.TSOn() {
		t.NA("no timestamps: the DUT's SYN-ACK has no TSopt")
	}
	check := tsChecker(t)
	v := c.advanceTS(1000)
	first := []byte("in order")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: first, Options: &Options{TS: &Timestamps{Val: v, Ecr: c.TSRecent()}}})
	expectChecked(t, c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt()), Options: &Options{TSEcr: Ptr(v)}}, check)
	seq0 := c.SndNxt()
	hole, beyond := pattern(100, 1), pattern(100, 2)
	ooo := c.advanceTS(1000)
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0 + 100), Payload: beyond, Options: &Options{TS: &Timestamps{Val: ooo, Ecr: c.TSRecent()}}})
	expectChecked(t, c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0), Options: &Options{TSEcr: Ptr(v)}}, check)
	fill := c.advanceTS(1000)
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0), Payload: hole, Options: &Options{TS: &Timestamps{Val: fill, Ecr: c.TSRecent()}}})
	c.SetSndNxt(seq0 + 200)
	expectChecked(t, c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0 + 200), Options: &Options{TSEcr: Ptr(fill)}}, check)
	t.Recv(s, append(append(first, hole...), beyond...))
}

// paws: RFC 7323 §5.3, R1: a non-RST segment whose SEG.TSval is less
// than a valid TS.Recent is not acceptable: the receiver sends an
// acknowledgment in reply and drops it. The ACK is the duplicate <SEQ=SND.NXT><ACK=RCV.NXT> and echoes the
// last valid TSval. gVisor has no PAWS ("we do not yet support PAWS",
// rcv.go): it takes the text (CONFORMANCE.md OP-08), tolerated.
func paws(t *T) {
	c, s := t.Established()
	if !c.TSOn() {
		t.NA("no timestamps: the DUT's SYN-ACK has no TSopt")
	}
	v := c.advanceTS(1000)
	data := []byte("recent")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data, Options: &Options{TS: &Timestamps{Val: v, Ecr: c.TSRecent()}}})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt()), Options: &Options{TSEcr: Ptr(v)}})
	t.Recv(s, data)
	seq0 := c.SndNxt()
	old := []byte("old duplicate")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: old, Options: &Options{TS: &Timestamps{Val: v - 100, Ecr: c.TSRecent()}}})
	seg := t.Expect(c, TCP{Flags: Ptr(ACK), Payload: []byte{}})
	switch {
	case seg.Ack == seq0 && seg.Options.TS != nil && seg.Options.TS.Ecr == v:
		c.SetSndNxt(seq0)
		nothingToRead(t, s, "a segment that fails PAWS is dropped")
	case seg.Ack == seq0+uint32(len(old)):
		t.Allowed("no PAWS: takes text whose TSval is older than TS.Recent, as gVisor does (rcv.go); RFC 7323 §5.3 drops it")
		t.Recv(s, old)
	default:
		t.Fail(fmt.Sprintf("<SEQ=SND.NXT><ACK=RCV.NXT> echoing TSval %d (RFC 7323 §5.3)", v), seg.String())
	}
	exchange(t, c, s)
}

// ecnSetupSYN: an ECN-capable host answers an ECN-setup SYN (ECE and CWR)
// with an ECN-setup SYN-ACK (ECE set, CWR clear); a host that is not
// answers with a plain SYN-ACK; neither sets ECT on a SYN-ACK (RFC 3168
// §6.1.1). ECN is a SHOULD in RFC 9293 (SHLD-8): Linux answers with
// ECE, gVisor has no ECN (CONFORMANCE.md OP-10); a plain SYN-ACK is the
// tolerated answer. A SYN that is not ECN-setup never gets ECE.
func ecnSetupSYN(t *T) {
	t.Listen(DUTPort)
	c := t.TB.Dial(DUTPort)
	syn := t.Send(c, TCP{Flags: Ptr(SYN | ECE | CWR)})
	seg := t.Expect(c, TCP{Flags: Ptr(SYN | ACK), FlagsMask: Ptr(SYN | ACK | RST | FIN), Ack: Ptr(syn.Seq + 1)})
	switch seg.Flags & (ECE | CWR) {
	case ECE:
	case 0:
		t.Allowed("no ECN (SHLD-8): a plain SYN-ACK to an ECN-setup SYN, as gVisor sends (RFC 3168 §6.1.1 for a host that is not ECN-capable)")
	default:
		t.Fail("ECE without CWR (an ECN-setup SYN-ACK), or neither", seg.String())
	}
	if seg.TOS&0x03 != 0 {
		t.Fail("Not-ECT on the SYN-ACK (RFC 3168 §6.1.1: no ECT on SYN-ACKs)", fmt.Sprintf("ECN field %d", seg.TOS&0x03))
	}
	plain := t.TB.Dial(DUTPort)
	syn = t.Send(plain, TCP{Flags: Ptr(SYN)})
	t.Expect(plain, TCP{Flags: Ptr(SYN | ACK), FlagsMask: Ptr(SYN | ACK | RST | FIN | ECE | CWR), Ack: Ptr(syn.Seq + 1)})
}

// unknownOptions: "A TCP implementation MUST ignore without error any TCP
// option it does not implement, assuming that the option has a length
// field" (MUST-6). The SYN carries an experimental option (kind 253, RFC
// 4727) and an unassigned one (kind 77) besides the usual ones: the SYN-ACK answers the usual ones and echoes neither; a data
// segment with both is taken.
func unknownOptions(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	unknown := []RawOption{{Kind: 253, Data: []byte{0xf9, 0x89, 1, 2}}, {Kind: 77, Data: []byte{0xde, 0xad, 0xbe}}}
	c.SYNOptions.Unknown = unknown
	syn := t.Send(c, TCP{Flags: Ptr(SYN)})
	synAck := t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(syn.Seq + 1),
		Options: &Options{Present: MSSOpt | SACKOKOpt | TSOpt, TSEcr: Ptr(syn.Options.TS.Val)}})
	if len(synAck.Options.Unknown) > 0 {
		t.Fail("no option the DUT does not implement echoed in the SYN-ACK", synAck.String())
	}
	t.Send(c, TCP{Flags: Ptr(ACK)})
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	data := []byte("unknown options")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data, Options: &Options{TS: c.nextTS(), Unknown: unknown}})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
	t.Recv(s, data)
}

// illegalOptionLength: "A TCP implementation MUST be prepared to handle
// an illegal option length (e.g., zero); a suggested procedure is to
// reset the connection and log the error cause" (MUST-7). Four data
// segments, each with valid timestamps followed by an option of length
// 0, of length 1, of a length running past the header, and a SACK option
// whose length is no multiple of 8 plus 2. Each may be taken, dropped or
// answered with a RST (then the scenario ends): what must not happen is a
// DUT that hangs or garbles the stream. A last, valid segment is ACKed and
// the stream reads as the taken segments plus it.
func illegalOptionLength(t *T) {
	c, s := t.Established()
	if !c.TSOn() {
		t.NA("no timestamps: the DUT's SYN-ACK has no TSopt")
	}
	cases := []struct {
		name string
		opt  []byte
	}{
		{"length 0", []byte{99, 0}},
		{"length 1", []byte{99, 1}},
		{"length past the header", []byte{99, 30}},
		{"SACK length 7", []byte{5, 7}},
	}
	var taken []byte
	var notes []string
	for i, x := range cases {
		seq := c.SndNxt()
		data := pattern(8, byte(i))
		raw := append(tsOption(c.nextTS()), x.opt...)
		t.sendPatched(c, TCP{Flags: Ptr(ACK | PSH), Payload: data, Options: &Options{Unknown: []RawOption{placeholder(12)}}}, withOptions(raw))
		seg := t.Next(c)
		switch {
		case seg != nil && seg.Flags&RST != 0:
			t.Logf("%s: the DUT reset the connection (MUST-7's suggested procedure)", x.name)
			return
		case seg != nil && seg.Flags&ACK != 0 && seg.Ack == seq+uint32(len(data)):
			c.SetSndNxt(seq + uint32(len(data)))
			taken = append(taken, data...)
			notes = append(notes, x.name+": taken")
		case seg == nil || seg.Flags&ACK != 0 && seg.Ack == seq && len(seg.Payload) == 0:
			c.SetSndNxt(seq)
			notes = append(notes, x.name+": dropped")
		default:
			t.Fail(fmt.Sprintf("the segment with an option of %s taken, dropped or answered with a RST", x.name), seg.String())
		}
	}
	t.Logf("illegal option lengths: %s", strings.Join(notes, "; "))
	if len(taken) > 0 {
		t.Recv(s, taken)
	}
	exchange(t, c, s)
}

// optionProblem checks the TCP header of a DUT segment against what RFC
// 9293 asks of a sender's options and header, and says what is wrong (""
// if nothing): every option but EOL and NOP has a length that fits
// (MUST-68), what follows EOL is zero (MUST-69), the MSS option is on
// SYNs only (MUST-65) and no larger than the link's MTU less 40 (MUST-67,
// MMS_R of a 1500-octet link), and the reserved bits are zero (§3.1).
func optionProblem(seg *Segment) string {
	hdr := tcpHeader(seg)
	if r := hdr[12] & 0x0f; r != 0 {
		return fmt.Sprintf("reserved bits %04b set (RFC 9293 §3.1: zero in generated segments)", r)
	}
	opts := hdr[20 : int(hdr[12]>>4)*4]
	for i := 0; i < len(opts); {
		switch kind := opts[i]; kind {
		case 0:
			for _, b := range opts[i:] {
				if b != 0 {
					return fmt.Sprintf("padding after EOL not zero: % x (MUST-69)", opts[i:])
				}
			}
			i = len(opts)
		case 1:
			i++
		default:
			if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
				return fmt.Sprintf("option kind %d without a length that fits: % x (MUST-68)", kind, opts[i:])
			}
			i += int(opts[i+1])
		}
	}
	if mss := seg.Options.MSS; mss != nil {
		if seg.Flags&SYN == 0 {
			return "an MSS option on a segment without SYN (MUST-65)"
		}
		if *mss > 1460 {
			return fmt.Sprintf("MSS %d above the 1460 octets a 1500-octet link can take (MUST-67)", *mss)
		}
	}
	return ""
}

// ownOptionsWellFormed checks every segment the DUT sends in a passive
// open, a transfer both ways and an active open (its SYN) with
// optionProblem; the SYN-ACK and the SYN carry an MSS option (SHLD-5: the
// DUT's MSS is not 536).
func ownOptionsWellFormed(t *T) {
	check := func(seg *Segment) {
		if why := optionProblem(seg); why != "" {
			t.Fail("well-formed options and header from the DUT", fmt.Sprintf("%s: %s", seg, why))
		}
	}
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	c.SYNOptions.WS = Ptr[uint8](7)
	t.Send(c, TCP{Flags: Ptr(SYN)})
	expectChecked(t, c, TCP{Flags: Ptr(SYN | ACK), Options: &Options{Present: MSSOpt}}, check)
	t.Send(c, TCP{Flags: Ptr(ACK)})
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	seq0 := c.SndNxt()
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0 + 100), Payload: pattern(100, 1)})
	expectChecked(t, c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0)}, check)
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Seq: Ptr(seq0), Payload: pattern(100, 2)})
	c.SetSndNxt(seq0 + 200)
	expectChecked(t, c, TCP{Flags: Ptr(ACK), Ack: Ptr(seq0 + 200)}, check)
	noDelay(t, s)
	ack := ackWith(t, c, c.Window)
	transfer(t, c, s, pattern(3000, 3), func(seg *Segment) {
		check(seg)
		ack(seg)
	})
	b, p, syn := dutConnect(t)
	check(syn)
	if syn.Options.MSS == nil {
		t.Fail("an MSS option on the DUT's SYN (SHLD-5)", syn.String())
	}
	t.Send(b, TCP{Flags: Ptr(SYN | ACK), Seq: Ptr(b.ISS()), Ack: Ptr(syn.Seq + 1), Options: &Options{MSS: Ptr[uint16](1460)}})
	expectChecked(t, b, TCP{Flags: Ptr(ACK), Ack: Ptr(b.ISS() + 1)}, check)
	if _, err := p.Wait(t.Timing.Reply); err != nil {
		t.Fail("connect() to succeed", err.Error())
	}
}

// reservedBits: the four bits between the data offset and CWR are
// "Reserved for future use. Must be zero in generated segments and must
// be ignored in received segments" (RFC 9293 §3.1). A SYN and a data
// segment with the three highest of them set (AE, the lowest, is left
// alone: Accurate ECN gives it a meaning) are taken as if clear; the
// DUT's answers have them clear.
func reservedBits(t *T) {
	set := func(hdr []byte) { hdr[12] |= 0x0e }
	check := func(seg *Segment) {
		if r := tcpHeader(seg)[12] & 0x0f; r != 0 {
			t.Fail("reserved bits zero in the DUT's segments (RFC 9293 §3.1)", fmt.Sprintf("%s: %04b", seg, r))
		}
	}
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	t.sendPatched(c, TCP{Flags: Ptr(SYN)}, set)
	expectChecked(t, c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(c.ISS() + 1)}, check)
	t.Send(c, TCP{Flags: Ptr(ACK)})
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	data := []byte("reserved bits set")
	t.sendPatched(c, TCP{Flags: Ptr(ACK | PSH), Payload: data}, set)
	expectChecked(t, c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())}, check)
	t.Recv(s, data)
}
