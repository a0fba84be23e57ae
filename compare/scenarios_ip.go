package compare

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Scenarios about what reaches TCP from IP: addresses TCP must refuse,
// IP options, ICMP soft errors (RFC 9293 §3.9.2).
var ipScenarios = []Scenario{
	{ID: "AV-01", Title: "SYNs to a broadcast or multicast address are discarded silently",
		RFC: "RFC 9293 §3.9.2.3; RFC 1122 §4.2.3.10", Requirements: []string{"MUST-57"}, Run: synToBroadcast},
	{ID: "AV-02", Title: "SYNs from a multicast, broadcast or unspecified source address get no reply",
		RFC: "RFC 9293 §3.9.2.3; RFC 1122 §3.2.1.3, §4.2.3.10", Requirements: []string{"MUST-63"}, Run: synFromInvalidSource},
	{ID: "AV-03", Title: "connect() to a broadcast or multicast address fails, and no SYN goes out",
		RFC: "RFC 9293 §3.9.2.3; RFC 1122 §4.2.3.10", Requirements: []string{"MUST-46"}, Run: connectToBroadcast},
	{ID: "IP-01", Title: "A SYN and text carrying IP options TCP does not understand are taken as without them",
		RFC: "RFC 9293 §3.9.2.1; RFC 1122 §3.2.1.8, §4.2.3.8", Requirements: []string{"MUST-50"}, Run: ipOptionsIgnored},
	{ID: "IC-01", Title: "ICMP Source Quench and Destination Unreachable (net, host, source route) do not abort a connection",
		RFC: "RFC 9293 §3.9.2.2; RFC 6633 §2", Requirements: []string{"MUST-54", "MUST-55", "MUST-56"}, Run: icmpSoftErrors},
	{ID: "IP-02", Title: "IP_TOS and IP_TTL set on a connection are in its segments; a TOS changed mid-connection too",
		RFC: "RFC 9293 §3.9.1", Requirements: []string{"MUST-48", "SHLD-21", "SHLD-22", "MUST-49"}, Run: tosAndTTL},
	{ID: "IC-02", Title: "ICMP Port and Protocol Unreachable abort a connection (or are taken as soft errors, as Linux does)",
		RFC: "RFC 9293 §3.9.2.2", Requirements: []string{"SHLD-26"}, Run: icmpHardError},
	{ID: "IC-03", Title: "ICMP Fragmentation Needed (MTU 1000): later segments fit the path MTU",
		RFC: "RFC 9293 §3.7.2; RFC 1191 §6.3", Requirements: []string{"SHLD-6"}, Run: icmpFragNeeded},
	{ID: "NG-02", Title: "Sends held by Nagle go out together once the ACK comes: one segment, one PSH",
		RFC: "RFC 9293 §3.9.1.2, §3.7.4", Requirements: []string{"SHLD-27"}, Run: collapsePush},
	{ID: "DT-08", Title: "A send goes out at once in full-sized segments, the last one pushed",
		RFC: "RFC 9293 §3.9.1.2, §3.8.6.2.1", Requirements: []string{"MUST-60", "MUST-61", "SHLD-28"}, Run: sendIsPushed},
	{ID: "NG-01", Title: "Nagle: a small send waits while small data is unacknowledged; TCP_NODELAY sends it at once",
		RFC: "RFC 9293 §3.7.4, §3.8.6.2.1", Requirements: []string{"SHLD-7", "MUST-17"}, Run: nagle},
}

// quietStrays waits Timing.Quiet on c and returns the TCP segments that
// reached the bench for no connection of its own in the meantime (replies
// to an address the bench sent from but does not own). Other packets (an
// ICMP error from a router on the way) are not the DUT's TCP answering.
func quietStrays(t *T, c *Conn, what string) []*Segment {
	before := len(t.TB.StraySegments())
	t.ExpectNone(c, what)
	return t.TB.StraySegments()[before:]
}

// synToBroadcast: "A TCP implementation MUST silently discard an incoming
// SYN segment that is addressed to a broadcast or multicast address
// (MUST-57)" (RFC 9293 §3.9.2.3). The subnet's broadcast address of the
// DUT's /24, the limited broadcast and an all-hosts group are tried; a
// SYN to the DUT's own address afterwards is answered, so the silence was
// the rule and not a deaf listener.
func synToBroadcast(t *T) {
	t.Listen(DUTPort)
	for _, dst := range []netip.Addr{
		netip.AddrFrom4([4]byte{198, 18, 0, 255}), netip.AddrFrom4([4]byte{255, 255, 255, 255}), netip.AddrFrom4([4]byte{224, 0, 0, 1}),
	} {
		c := t.TB.Dial(DUTPort)
		if _, err := c.SendIP(t.ctx, IPv4{Dst: &dst}, TCP{Flags: Ptr(SYN)}); err != nil {
			t.Fatal(err)
		}
		if got := quietStrays(t, c, "a SYN to "+dst.String()); len(got) > 0 {
			t.Fail("no reply to a SYN addressed to "+dst.String(), fmt.Sprint(got))
		}
	}
	c := t.TB.Dial(DUTPort)
	_, err := c.Handshake(t.ctx, t.Timing.Reply)
	t.Check(err)
}

// synFromInvalidSource: "An incoming SYN with an invalid source address
// MUST be ignored either by TCP or by the IP layer (MUST-63)" (RFC 9293
// §3.9.2.3); RFC 1122 §3.2.1.3 names the invalid ones: a multicast or
// broadcast address, and 0.0.0.0 except as the source of a host that does
// not know its address yet (never a TCP connection's).
func synFromInvalidSource(t *T) {
	t.Listen(DUTPort)
	for _, src := range []netip.Addr{
		netip.AddrFrom4([4]byte{224, 0, 0, 9}), netip.AddrFrom4([4]byte{255, 255, 255, 255}), netip.AddrFrom4([4]byte{0, 0, 0, 0}),
	} {
		c := t.TB.Dial(DUTPort)
		if _, err := c.SendIP(t.ctx, IPv4{Src: &src}, TCP{Flags: Ptr(SYN)}); err != nil {
			t.Fatal(err)
		}
		if got := quietStrays(t, c, "a SYN from "+src.String()); len(got) > 0 {
			t.Fail("no reply to a SYN from "+src.String(), fmt.Sprint(got))
		}
	}
	c := t.TB.Dial(DUTPort)
	_, err := c.Handshake(t.ctx, t.Timing.Reply)
	t.Check(err)
}

// connectToBroadcast: "A TCP implementation MUST reject as an error a
// local OPEN call for an invalid remote IP address (e.g., a broadcast or
// multicast address) (MUST-46)" (RFC 9293 §3.9.2.3). The limited
// broadcast and an all-hosts group are invalid wherever the DUT is (a
// subnet's broadcast address only where its prefix is known, so it is
// not tried); connect() must fail within the reply time, and no SYN may
// reach the bench.
func connectToBroadcast(t *T) {
	for _, dst := range []netip.Addr{netip.AddrFrom4([4]byte{255, 255, 255, 255}), netip.AddrFrom4([4]byte{224, 0, 0, 1})} {
		before := len(t.TB.StraySegments())
		p := t.DUT.Connect(netip.AddrPortFrom(dst, BenchPort))
		s, err := p.Wait(t.Timing.Reply)
		switch {
		case err == nil:
			s.Close()
			t.Fail("connect() to "+dst.String()+" to fail", "a connected socket")
		case errors.Is(err, ErrPending):
			p.Cancel()
			// gVisor's connect() goes on: its SYNs reach an in-memory
			// wire; a kernel forwarding to a TUN drops them. Recorded,
			// as the departure of a reference stack.
			if syns := t.TB.StraySegments()[before:]; len(syns) > 0 && !syns[0].Flags.Has(SYN) {
				t.Fail("connect() to "+dst.String()+" to fail at once", fmt.Sprintf("still connecting after %v; sent %v", t.Timing.Reply, syns))
			}
			t.Allowed(fmt.Sprintf("connect() to %v neither fails nor completes (gVisor's sends SYNs to it); RFC 9293 §3.9.2.3 (MUST-46) rejects the OPEN", dst))
			continue
		}
		t.Logf("connect() to %v: %v", dst, err)
		if syns := t.TB.StraySegments()[before:]; len(syns) > 0 {
			t.Fail("no SYN toward "+dst.String(), fmt.Sprint(syns))
		}
	}
}

// expOption is an IPv4 option no stack implements: RFC 4727 §2.5's
// experimental option 30, with the copied flag set (type 0x9e).
var expOption = IPv4Option{Type: 0x9e, Data: []byte{0, 0}}

// ipOptionsIgnored: "TCP MUST ignore IP options it does not understand
// (MUST-50)" ... and RFC 1122 §3.2.1.8: "The IP layer MUST ... silently
// ignore any IP option it does not implement". The SYN and a data segment
// carry an unknown option (and NOPs, off a word boundary); the handshake
// completes and the text is ACKed and delivered.
func ipOptionsIgnored(t *T) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	opts := []IPv4Option{{Type: 1}, expOption, {Type: 1}}
	if _, err := c.SendIP(t.ctx, IPv4{Options: opts}, TCP{Flags: Ptr(SYN)}); err != nil {
		t.Fatal(err)
	}
	t.Expect(c, TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(c.ISS() + 1)})
	t.Send(c, TCP{})
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	text := []byte("options")
	if _, err := c.SendIP(t.ctx, IPv4{Options: opts}, TCP{Flags: Ptr(ACK | PSH), Payload: text}); err != nil {
		t.Fatal(err)
	}
	t.Expect(c, TCP{Ack: Ptr(c.SndNxt())})
	t.Recv(s, text)
}

// icmpError builds an ICMP error of type and code from the bench to the
// DUT quoting q, a packet the DUT sent: its IP header and the first 8
// octets after it (RFC 792), as routers do; mtu is a Fragmentation
// Needed's next-hop MTU (RFC 1191 §4), 0 otherwise.
func icmpError(t *T, typ, code uint8, mtu uint16, q *Segment) []byte {
	ihl := int(q.Raw[0]&0x0f) * 4
	quote := q.Raw[:min(len(q.Raw), ihl+8)]
	p := make([]byte, 20+8+len(quote))
	p[0], p[8], p[9] = 0x45, 64, 1 // IPv4, TTL 64, ICMP
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	a, b := t.TB.local.As4(), t.TB.remote.As4()
	copy(p[12:], a[:])
	copy(p[16:], b[:])
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20], 0))
	icmp := p[20:]
	icmp[0], icmp[1] = typ, code
	binary.BigEndian.PutUint16(icmp[6:], mtu)
	copy(icmp[8:], quote)
	binary.BigEndian.PutUint16(icmp[2:], checksum(icmp, 0))
	return p
}

// icmpSoftErrors: "A TCP implementation MUST act on an ICMP error message
// passed up from the IP layer, directing it to the connection that created
// the error (MUST-54)"; "Source Quench: TCP implementations MUST silently
// discard any received ICMP Source Quench messages (MUST-55)" (RFC 9293
// §3.9.2.2, after RFC 6633); "Destination Unreachable -- codes 0, 1, 5 ...
// these Unreachable messages indicate soft error conditions, [so] a TCP
// implementation MUST NOT abort the connection (MUST-56)". Each message
// quotes the DUT's last segment; afterwards the connection still carries
// text both ways and the DUT sends no RST.
func icmpSoftErrors(t *T) {
	c, s := t.Established()
	up := []byte("before")
	next := c.RcvNxt() // read before the DUT's text can move it
	if _, err := s.Send(up, t.Timing.Reply); err != nil {
		t.Fatal(fmt.Errorf("DUT send: %w", err))
	}
	last := t.Expect(c, TCP{Seq: Ptr(next), Payload: up})
	next += uint32(len(up))
	for _, m := range []struct {
		typ, code uint8
		name      string
	}{{4, 0, "Source Quench"}, {3, 0, "Net Unreachable"}, {3, 1, "Host Unreachable"}, {3, 5, "Source Route Failed"}} {
		if err := t.TB.write(t.ctx, icmpError(t, m.typ, m.code, 0, last)); err != nil {
			t.Fatal(err)
		}
		t.Logf("sent ICMP %s (type %d code %d) quoting %v", m.name, m.typ, m.code, last)
	}
	// The quoted data is acknowledged only now: a DUT that had given up
	// would answer with a RST.
	text := []byte("after ICMP")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: text})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
	t.Recv(s, text)
	down := []byte("still here")
	if _, err := s.Send(down, t.Timing.Reply); err != nil {
		t.Fail("the DUT's connection to survive soft ICMP errors", fmt.Sprintf("send: %v", err))
	}
	t.Expect(c, TCP{Seq: Ptr(next), Payload: down})
}

// sendIsPushed: "If the PUSH flag is not implemented ... [the sender]
// MUST NOT buffer data indefinitely (MUST-60) ... MUST set the PSH bit in
// the last buffered segment (MUST-61)" (RFC 9293 §3.9.1.2); a sender
// "SHOULD send a maximum-sized segment whenever possible (SHLD-28)"
// (§3.8.6.2.1). One send of two full segments and a bit more, within any
// initial window (RFC 5681 §3.1: at least 2 full segments and 4380
// octets), with Nagle off so that the small tail is not held for an ACK
// (NG-01 is about that): it arrives without the bench ACKing anything,
// every segment but the last full-sized, the last one with PSH.
func sendIsPushed(t *T) {
	c, s := t.Established()
	noDelay(t, s)
	mss := 536 // RFC 9293 §3.7.1: the default without an MSS option
	if o := c.SYNOptions.MSS; o != nil {
		mss = int(*o)
	}
	if c.TSOn() {
		mss -= 12 // RFC 7323 §3: TSopt, padded, in every segment
	}
	data := make([]byte, 2*mss+100)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	if _, err := s.Send(data, t.Timing.Reply); err != nil {
		t.Fatal(fmt.Errorf("DUT send: %w", err))
	}
	var got []byte
	var segs []*Segment
	end := time.Now().Add(t.Timing.Reply)
	for len(got) < len(data) && time.Now().Before(end) {
		seg, err := c.Expect(TCP{}, time.Until(end))
		if err != nil {
			t.Fail(fmt.Sprintf("%d octets sent at once, without ACKs", len(data)), fmt.Sprintf("%d octets, then %v", len(got), err))
		}
		if len(seg.Payload) == 0 {
			continue
		}
		if seg.Seq != c.IRS()+1+uint32(len(got)) {
			t.Fail(fmt.Sprintf("text at %d", len(got)), seg.String())
		}
		got = append(got, seg.Payload...)
		segs = append(segs, seg)
	}
	full := len(segs[0].Payload)
	for i, seg := range segs[:len(segs)-1] {
		if len(seg.Payload) != full {
			t.Fail("every segment but the last of one size", fmt.Sprintf("segment %d of %d has %d octets, the first %d", i+1, len(segs), len(seg.Payload), full))
		}
	}
	switch {
	case full > mss:
		t.Fail(fmt.Sprintf("segments of at most %d octets (MSS 1460 less the options)", mss), fmt.Sprintf("%d", full))
	case full == 1420 && mss == 1448:
		t.Allowed("full-sized segments of 1420 octets where the effective send MSS is 1448 (gVisor's sender keeps 40 octets, the most TCP options take, out of every segment)")
	case full < mss:
		t.Fail(fmt.Sprintf("full-sized segments of %d octets (SHLD-28)", mss), fmt.Sprintf("%d", full))
	}
	if lastSeg := segs[len(segs)-1]; !lastSeg.Flags.Has(PSH) {
		t.Fail("PSH on the segment that ends the send", lastSeg.String())
	}
	t.Send(c, TCP{Ack: Ptr(c.RcvNxt())})
}

// nagle: "A TCP implementation SHOULD implement the Nagle algorithm to
// coalesce short segments (SHLD-7). However, there MUST be a way for an
// application to disable the Nagle algorithm on an individual connection
// (MUST-17)" (RFC 9293 §3.7.4); the algorithm: "if there is unacknowledged
// data (i.e., SND.NXT > SND.UNA), then the sending TCP endpoint buffers
// all user data (regardless of the PSH bit) until the outstanding data has
// been acknowledged or until the TCP endpoint can send a full-sized
// segment". With Nagle on, a second small send waits for the first's
// ACK; with TCP_NODELAY, a small send goes while data is unacknowledged.
func nagle(t *T) {
	c, s := t.Established()
	t.Check(s.SetNoDelay(false))
	send := func(p string) {
		if _, err := s.Send([]byte(p), t.Timing.Reply); err != nil {
			t.Fatal(fmt.Errorf("DUT send: %w", err))
		}
	}
	next := c.RcvNxt()
	send("one")
	one := t.Expect(c, TCP{Seq: Ptr(next), Payload: []byte("one")})
	next += 3
	send("two")
	// Within the quiet window only a retransmission of "one" may come
	// (its RTO can be as short as 200 ms; it may carry "two" along).
	var two *Segment
	for quiet := time.Now().Add(t.Timing.Quiet); two == nil && time.Now().Before(quiet); {
		seg, err := c.Expect(TCP{}, time.Until(quiet))
		var m *Mismatch
		if errors.As(err, &m) {
			break
		}
		t.Check(err)
		if seg.Seq != one.Seq || !bytes.HasPrefix(seg.Payload, []byte("one")) {
			two = seg
		}
	}
	if two != nil {
		// RFC 8985 §7.3: a tail loss probe "SHOULD send a new, previously
		// unsent segment, if one exists" (Linux does, Nagle or not), one
		// probe timeout (at least 10 ms in Linux) after the last send. A
		// Nagle that held nothing would send at once.
		if after := two.At.Sub(one.At); !bytes.Equal(two.Payload, []byte("two")) || after < 10*time.Millisecond {
			t.Fail("no small segment while \"one\" is unacknowledged (or a tail loss probe at least 10 ms later)",
				fmt.Sprintf("%v, %v after \"one\"", two, after))
		} else {
			t.AllowedRFC(fmt.Sprintf("a tail loss probe (RFC 8985 §7.3) sent the held segment as new data %v after \"one\"", after.Round(time.Millisecond)))
		}
	} else {
		t.Send(c, TCP{Ack: Ptr(next)})
		t.Expect(c, TCP{Seq: Ptr(next), Payload: []byte("two")})
	}
	next += 3
	t.Check(s.SetNoDelay(true))
	send("three")
	t.Expect(c, TCP{Seq: Ptr(next), Payload: []byte("three")})
	t.Send(c, TCP{Ack: Ptr(next + 5)})
}

// tosAndTTL: "The application layer MUST be able to specify the Diffserv
// field for segments that are transmitted (MUST-48)", which "SHOULD be
// passed unchanged to IP (SHLD-22)"; the application "SHOULD be able to
// change the Diffserv field during the connection lifetime (SHLD-21)";
// "the TTL value used to send TCP segments MUST be configurable (MUST-49)"
// (RFC 9293 §3.9.1). DSCP AF11 (TOS 0x28) and TTL 33 are set before the
// DUT sends; then DSCP CS1 (TOS 0x20) and TTL 40, which its next segment
// carries. A forwarding kernel between the bench and the DUT (the TUN
// links) takes one off the TTL: what must hold is a TTL at most the one
// set, no more than 2 hops below it, and moving by the 7 it was moved by.
func tosAndTTL(t *T) {
	c, s := t.Established()
	noDelay(t, s)
	next := c.RcvNxt()
	send := func(p string, tos, ttl uint8) uint8 {
		t.Check(s.SetTOS(tos))
		t.Check(s.SetTTL(ttl))
		if _, err := s.Send([]byte(p), t.Timing.Reply); err != nil {
			t.Fatal(fmt.Errorf("DUT send: %w", err))
		}
		seg := t.Expect(c, TCP{Seq: Ptr(next), Payload: []byte(p)})
		next += uint32(len(p))
		if got := seg.TOS &^ 0x3; got != tos || seg.TTL > ttl || seg.TTL+2 < ttl {
			t.Fail(fmt.Sprintf("%q sent with DS field 0x%02x and TTL %d (less the hops on the way)", p, tos, ttl), fmt.Sprintf("TOS 0x%02x, TTL %d", seg.TOS, seg.TTL))
		}
		t.Send(c, TCP{Ack: Ptr(next)})
		return seg.TTL
	}
	a := send("af11", 0x28, 33)
	if b := send("cs1", 0x20, 40); b-a != 7 {
		t.Fail("the TTL to follow IP_TTL from 33 to 40", fmt.Sprintf("%d, then %d", a, b))
	}
}

// icmpHardError: "Destination Unreachable -- codes 2-4. These are hard
// error conditions, so TCP implementations SHOULD abort the connection
// (SHLD-26)" (RFC 9293 §3.9.2.2). After a Port Unreachable quoting the
// DUT's text, the bench's next segment gets a RST (the connection is
// gone) or, from a stack that keeps it, an ACK (Linux takes it as a soft
// error in a synchronized state unless IP_RECVERR is set).
func icmpHardError(t *T) {
	c, s := t.Established()
	next := c.RcvNxt()
	if _, err := s.Send([]byte("doomed"), t.Timing.Reply); err != nil {
		t.Fatal(fmt.Errorf("DUT send: %w", err))
	}
	seg := t.Expect(c, TCP{Seq: Ptr(next), Payload: []byte("doomed")})
	if err := t.TB.write(t.ctx, icmpError(t, 3, 3, 0, seg)); err != nil {
		t.Fatal(err)
	}
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Ack: Ptr(next + 6), Payload: []byte("hello?")})
	reply := t.Expect(c, TCP{})
	switch {
	case reply.Flags.Has(RST):
	case reply.Flags&^PSH == ACK:
		t.Allowed("keeps the connection after an ICMP Port Unreachable, as Linux does (a soft error in ESTABLISHED without IP_RECVERR); RFC 9293 §3.9.2.2 SHOULD abort (SHLD-26)")
	default:
		t.Fail("a RST (the connection aborted) or an ACK (kept)", reply.String())
	}
}

// icmpFragNeeded: Path MTU Discovery (RFC 1191 §6.3): "When a Datagram
// Too Big message is received, it SHOULD reduce its estimate of the PMTU
// for the relevant path" and TCP "MUST ... reduce the size of segments
// it sends"; RFC 9293 §3.7.2: the effective MSS follows the path's MTU
// (SHLD-6: "MSS accounts for varying MTU"). A Fragmentation Needed with
// a next-hop MTU of 1000 quotes the DUT's segment in flight; then a
// 3000-octet send goes out in segments of at most 1000 - 40 octets with
// their options.
func icmpFragNeeded(t *T) {
	c, s := t.Established()
	noDelay(t, s)
	next := c.RcvNxt()
	if _, err := s.Send([]byte("x"), t.Timing.Reply); err != nil {
		t.Fatal(fmt.Errorf("DUT send: %w", err))
	}
	seg := t.Expect(c, TCP{Seq: Ptr(next), Payload: []byte("x")})
	if err := t.TB.write(t.ctx, icmpError(t, 3, 4, 1000, seg)); err != nil {
		t.Fatal(err)
	}
	next++
	// Text after the ICMP, ACKed: the DUT has taken the ICMP by then (one
	// link, in order), before the application's next send.
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Ack: Ptr(next), Payload: []byte("y")})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte('A' + i%26)
	}
	if _, err := s.Send(data, t.Timing.Reply); err != nil {
		t.Fatal(fmt.Errorf("DUT send: %w", err))
	}
	limit := 1000 - 40
	if c.TSOn() {
		limit -= 12
	}
	for got := 0; got < len(data); {
		seg := t.Expect(c, TCP{})
		if len(seg.Payload) == 0 {
			continue
		}
		if len(seg.Payload) > limit {
			t.Fail(fmt.Sprintf("segments of at most %d octets after the Fragmentation Needed", limit), seg.String())
		}
		if seg.Seq == next+uint32(got) {
			got += len(seg.Payload)
		}
		t.Send(c, TCP{Ack: Ptr(next + uint32(got))})
	}
}

// collapsePush: "When an application issues a series of SEND calls
// without setting the PUSH flag, the TCP implementation MAY aggregate the
// data internally without sending it (MAY-16)... A sender SHOULD collapse
// successive bits when it packetizes data, to send the largest possible
// segment (SHLD-27)" (RFC 9293 §3.9.1.2). With Nagle on, "one" goes out
// and stays unacknowledged; three small sends follow, which Nagle holds
// (RFC 9293 §3.7.4); the ACK of "one" releases them: in one segment,
// "abc", not three.
func collapsePush(t *T) {
	c, s := t.Established()
	t.Check(s.SetNoDelay(false))
	next := c.RcvNxt()
	send := func(p string) {
		if _, err := s.Send([]byte(p), t.Timing.Reply); err != nil {
			t.Fatal(fmt.Errorf("DUT send: %w", err))
		}
	}
	send("one")
	t.Expect(c, TCP{Seq: Ptr(next), Payload: []byte("one")})
	next += 3
	send("a")
	send("b")
	send("c")
	t.Send(c, TCP{Ack: Ptr(next)})
	seg := t.Expect(c, TCP{Seq: Ptr(next)})
	switch string(seg.Payload) {
	case "abc":
	case "a":
		t.Fail("the held sends in one segment, \"abc\"", seg.String()+" (then the rest)")
	default:
		t.Fail("the held sends in one segment, \"abc\"", seg.String())
	}
	t.Send(c, TCP{Ack: Ptr(next + uint32(len(seg.Payload)))})
}
