package handmade

// Per-state "feed a segment, expect the exact reply" tests of the full
// profile's TCB, in the style of smoltcp's socket tests. Each fixture
// drives a TCB into its state through real Input/Output exchanges; each
// test sends one or a few segments and asserts the exact reply the RFC
// sentence it cites calls for, and the state afterwards.
//
// Every connection starts just below 2^32 (ours at 0xffffff00, the peer's
// at 0xfffffff0), so windows, acknowledgements and payloads cross the
// sequence-number wrap.

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const (
	ourISS  Seq = 0xffffff00
	peerISS Seq = 0xfffffff0
	// zeroWnd asks send for a zero window and expect to check for one
	// (0 means "the template's" and "unchecked").
	zeroWnd = -1
	// peerWnd is the window the peer advertises unless a test says
	// otherwise.
	peerWnd = 8192
)

var (
	ourAddr  = netip.MustParseAddrPort("198.18.0.2:80")
	peerAddr = netip.MustParseAddrPort("198.18.0.1:49152")
	epoch    = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	// handshakeRTT is how long the SYN takes to be answered in every
	// fixture: one RFC 6298 sample R = 100 ms, so SRTT = 100 ms, RTTVAR =
	// 50 ms and RTO = SRTT + 4*RTTVAR = 300 ms (§2.2).
	handshakeRTT = 100 * time.Millisecond
	rtoAfterHS   = 300 * time.Millisecond
)

// sg is a segment as a test writes it: overrides of a per-direction
// template. For send, Src/Dst come from the template, WND 0 is the
// template's window (zeroWnd for a real zero), Opts nil is the template's
// options (a timestamp when they are in use), and a nil Payload of Len > 0
// is made up. For expect, WND 0 and Len 0 with no payload are "whatever",
// except that Len is always checked; Opts nil means no options beyond the
// timestamp every segment carries when timestamps are in use.
type sg struct {
	SEQ, ACK Seq
	Flags    Flags
	WND      int
	Len      int
	Payload  []byte
	UP       uint16
	Opts     *Options
	// Route is the segment's IPv4 source route: the route it came by
	// (send), the route it must take (expect, always checked).
	Route SourceRoute
}

type harness struct {
	*TCB
	cfg *Config
	now time.Time
	// ts: timestamps are in use, so send adds and expect wants one.
	ts     bool
	peerTS uint32 // TSval the peer sends next
	ourTS  uint32 // last TSval we sent
	// snd and rcv are what the fixture knows the next sequence numbers
	// to be: ours (SND.NXT) and the peer's (RCV.NXT).
	snd, rcv Seq
	out      Segment
	buf      []byte
}

func exactCfg() Config {
	return Config{DisableTimestamps: true, DisableWindowScale: true, DisableSACK: true, DisableDelayedACK: true}
}

func newHarness(cfg Config) *harness {
	c := cfg.withDefaults(1500)
	return &harness{cfg: &c, now: epoch, peerTS: 1000, buf: make([]byte, 1<<17)}
}

func bytesOf(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i%251)
	}
	return p
}

func (h *harness) segment(s sg) Segment {
	seg := Segment{Src: peerAddr, Dst: ourAddr, SEQ: s.SEQ, ACK: s.ACK, Flags: s.Flags, UP: s.UP, Payload: s.Payload, Route: s.Route}
	switch s.WND {
	case 0:
		seg.WND = peerWnd
	case zeroWnd:
		seg.WND = 0
	default:
		seg.WND = uint16(s.WND)
	}
	if seg.Payload == nil && s.Len > 0 {
		seg.Payload = bytesOf(s.Len, byte(s.SEQ))
	}
	if s.Opts != nil {
		seg.Options = *s.Opts
	} else if h.ts {
		seg.Options = Options{HasTimestamps: true, TSVal: h.peerTS, TSEcr: h.ourTS}
	}
	return seg
}

// send feeds the TCB one segment from the peer.
func send(t *testing.T, h *harness, s sg) {
	t.Helper()
	seg := h.segment(s)
	h.Input(&seg, h.now)
}

// expect asserts the TCB's next output segment.
func expect(t *testing.T, h *harness, want sg) {
	t.Helper()
	if !h.Output(h.now, &h.out, h.buf) {
		t.Fatalf("state %s: want %s seq=%#x ack=%#x len=%d, got nothing", h.State, want.Flags, uint32(want.SEQ), uint32(want.ACK), want.Len)
	}
	got := &h.out
	if got.Options.HasTimestamps {
		h.ourTS = got.Options.TSVal
	}
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	if got.Src != ourAddr || got.Dst != peerAddr {
		bad("addresses %s > %s", got.Src, got.Dst)
	}
	if got.Flags != want.Flags {
		bad("flags %s, want %s", got.Flags, want.Flags)
	}
	if got.SEQ != want.SEQ {
		bad("SEQ %#x, want %#x", uint32(got.SEQ), uint32(want.SEQ))
	}
	if want.Flags.Has(ACK) && got.ACK != want.ACK {
		bad("ACK %#x, want %#x", uint32(got.ACK), uint32(want.ACK))
	}
	if want.WND == zeroWnd && got.WND != 0 || want.WND > 0 && int(got.WND) != want.WND {
		bad("WND %d, want %d", got.WND, max(want.WND, 0))
	}
	if len(got.Payload) != want.Len {
		bad("payload %d octets, want %d", len(got.Payload), want.Len)
	}
	if got.Route != want.Route {
		bad("route %v, want %v", got.Route, want.Route)
	}
	if want.Payload != nil && string(got.Payload) != string(want.Payload) {
		bad("payload differs")
	}
	wo := Options{HasTimestamps: h.ts}
	if want.Opts != nil {
		wo = *want.Opts
	}
	o := got.Options
	if o.HasMSS != wo.HasMSS || wo.HasMSS && o.MSS != wo.MSS {
		bad("MSS option %v/%d, want %v/%d", o.HasMSS, o.MSS, wo.HasMSS, wo.MSS)
	}
	if o.HasWScale != wo.HasWScale || wo.HasWScale && o.WScale != wo.WScale {
		bad("window scale option %v/%d, want %v/%d", o.HasWScale, o.WScale, wo.HasWScale, wo.WScale)
	}
	if o.SACKPermitted != wo.SACKPermitted {
		bad("SACK-permitted %v, want %v", o.SACKPermitted, wo.SACKPermitted)
	}
	if o.HasTimestamps != wo.HasTimestamps || wo.HasTimestamps && wo.TSEcr != 0 && o.TSEcr != wo.TSEcr {
		bad("timestamps %v ecr=%d, want %v ecr=%d", o.HasTimestamps, o.TSEcr, wo.HasTimestamps, wo.TSEcr)
	}
	if o.NumSACK != wo.NumSACK || o.SACK != wo.SACK {
		bad("SACK blocks %v, want %v", o.SACK[:o.NumSACK], wo.SACK[:wo.NumSACK])
	}
	if len(errs) > 0 {
		t.Fatalf("state %s: reply %s:\n\t%s", h.State, got, strings.Join(errs, "\n\t"))
	}
}

// expectNothing asserts the TCB has nothing to send.
func expectNothing(t *testing.T, h *harness) {
	t.Helper()
	if h.Output(h.now, &h.out, h.buf) {
		t.Fatalf("state %s: want nothing, got %s", h.State, &h.out)
	}
}

func wantState(t *testing.T, h *harness, want State) {
	t.Helper()
	if h.State != want {
		t.Fatalf("state %s, want %s", h.State, want)
	}
}

// wantRead reads everything readable and compares its length.
func wantRead(t *testing.T, h *harness, n int) []byte {
	t.Helper()
	p := make([]byte, n+1)
	got := h.Read(p, h.now)
	if got != n {
		t.Fatalf("read %d octets, want %d", got, n)
	}
	return p[:got]
}

// tick moves the clock on and runs the timers.
func (h *harness) tick(d time.Duration) {
	h.now = h.now.Add(d)
	h.OnTimer(h.now)
}

// synOpts is what a SYN from a TCB with cfg offers: MSS always (RFC 9293
// §3.7.1, MUST-14), the rest as enabled.
func synOpts(cfg Config, mss uint16, wscale uint8) *Options {
	o := &Options{MSS: mss, HasMSS: true}
	if !cfg.DisableWindowScale {
		o.WScale, o.HasWScale = wscale, true
	}
	o.SACKPermitted = !cfg.DisableSACK
	o.HasTimestamps = !cfg.DisableTimestamps
	return o
}

// ---- fixtures: one per state ----

// synSent: OPEN (active) "A SYN segment of the form <SEQ=ISS><CTL=SYN> is
// sent ... enter SYN-SENT" (RFC 9293 §3.10.1).
func synSent(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := newHarness(cfg)
	h.TCB = newTCB(h.cfg, ourAddr, peerAddr, ourISS, h.now)
	h.openActive(h.now)
	expect(t, h, sg{SEQ: ourISS, Flags: SYN, WND: min(h.cfg.RecvBuffer, 65535), Opts: synOpts(*h.cfg, 1460, rcvShift(h.cfg.MaxRecvBuffer))})
	wantState(t, h, SynSent)
	h.snd = ourISS.Add(1)
	return h
}

// synReceived: a SYN reached a listener: "ISS should be selected and a SYN
// segment sent of the form: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>" (RFC 9293
// §3.10.7.2). The peer offers what cfg enables.
func synReceived(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := newHarness(cfg)
	h.TCB = newTCB(h.cfg, ourAddr, peerAddr, ourISS, h.now)
	syn := h.segment(sg{SEQ: peerISS, Flags: SYN, Opts: h.peerSynOpts(1460)})
	h.openPassive(&syn, h.now)
	o := synOpts(*h.cfg, 1460, rcvShift(h.cfg.MaxRecvBuffer))
	o.TSEcr = h.peerTS
	expect(t, h, sg{SEQ: ourISS, ACK: peerISS.Add(1), Flags: SYN | ACK, WND: 65535, Opts: o})
	wantState(t, h, SynReceived)
	h.ts = !h.cfg.DisableTimestamps
	h.snd, h.rcv = ourISS.Add(1), peerISS.Add(1)
	return h
}

func (h *harness) peerSynOpts(mss uint16) *Options {
	o := synOpts(*h.cfg, mss, 7)
	if o.HasTimestamps {
		o.TSVal, o.TSEcr = h.peerTS, h.ourTS
	}
	return o
}

// established, actively: SYN-SENT and the peer's SYN-ACK: "If SND.UNA >
// ISS (our SYN has been ACKed), change the connection state to
// ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and
// send it" (RFC 9293 §3.10.7.3, fourth check).
func established(t *testing.T, cfg Config) *harness {
	t.Helper()
	return establishedMSS(t, cfg, 1460)
}

func establishedMSS(t *testing.T, cfg Config, peerMSS uint16) *harness {
	t.Helper()
	h := synSent(t, cfg)
	h.now = h.now.Add(handshakeRTT)
	send(t, h, sg{SEQ: peerISS, ACK: ourISS.Add(1), Flags: SYN | ACK, Opts: h.peerSynOpts(peerMSS)})
	h.ts = !h.cfg.DisableTimestamps
	var o *Options
	if h.ts {
		o = &Options{HasTimestamps: true, TSEcr: h.peerTS}
	}
	expect(t, h, sg{SEQ: ourISS.Add(1), ACK: peerISS.Add(1), Flags: ACK, Opts: o})
	wantState(t, h, Established)
	h.snd, h.rcv = ourISS.Add(1), peerISS.Add(1)
	return h
}

// finWait1: CLOSE in ESTABLISHED: "Queue this until all preceding SENDs
// have been segmentized, then form a FIN segment and send it. In any case,
// enter FIN-WAIT-1 state" (RFC 9293 §3.10.4). CloseWrite, so the
// receiving side stays open.
func finWait1(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := established(t, cfg)
	h.CloseWrite(h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: FIN | ACK})
	wantState(t, h, FinWait1)
	h.snd = h.snd.Add(1)
	return h
}

// finWait2: FIN-WAIT-1 and the ACK of our FIN: "if the FIN segment is now
// acknowledged, then enter FIN-WAIT-2 and continue processing in that
// state" (RFC 9293 §3.10.7.4, fifth check).
func finWait2(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := finWait1(t, cfg)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK})
	expectNothing(t, h)
	wantState(t, h, FinWait2)
	return h
}

// closeWait: ESTABLISHED and the peer's FIN: "advance RCV.NXT over the
// FIN, and send an acknowledgment for the FIN ... ESTABLISHED STATE: Enter
// the CLOSE-WAIT state" (RFC 9293 §3.10.7.4, eighth check).
func closeWait(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := established(t, cfg)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: FIN | ACK})
	h.rcv = h.rcv.Add(1)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	wantState(t, h, CloseWait)
	return h
}

// closing: FIN-WAIT-1 and the peer's FIN not acknowledging ours: "If our
// FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT ...;
// otherwise, enter the CLOSING state" (RFC 9293 §3.10.7.4, eighth check).
func closing(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := finWait1(t, cfg)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(^uint32(0)), Flags: FIN | ACK})
	h.rcv = h.rcv.Add(1)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	wantState(t, h, Closing)
	return h
}

// lastAck: CLOSE in CLOSE-WAIT: "Queue this request until all preceding
// SENDs have been segmentized; then send a FIN segment, enter LAST-ACK
// state" (RFC 9293 §3.10.4).
func lastAck(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := closeWait(t, cfg)
	h.Close(h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: FIN | ACK})
	wantState(t, h, LastAck)
	h.snd = h.snd.Add(1)
	return h
}

// timeWait: FIN-WAIT-2 and the peer's FIN: "Enter the TIME-WAIT state.
// Start the time-wait timer, turn off the other timers" (RFC 9293
// §3.10.7.4, eighth check).
func timeWait(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := finWait2(t, cfg)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: FIN | ACK})
	h.rcv = h.rcv.Add(1)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK})
	wantState(t, h, TimeWait)
	if d := h.Deadline(); !d.Equal(h.now.Add(h.cfg.TimeWait)) {
		t.Fatalf("time-wait deadline %v, want now+%v", d.Sub(h.now), h.cfg.TimeWait)
	}
	return h
}

type fixture struct {
	state State
	make  func(*testing.T, Config) *harness
}

// synchronizedFixtures are the states after the handshake.
var synchronizedFixtures = []fixture{
	{Established, established}, {FinWait1, finWait1}, {FinWait2, finWait2}, {CloseWait, closeWait},
	{Closing, closing}, {LastAck, lastAck}, {TimeWait, timeWait},
}

// TestFixtures checks every fixture reaches its state with the sequence
// numbers it claims (the fixtures themselves assert each reply).
func TestFixtures(t *testing.T) {
	for _, f := range append([]fixture{{SynSent, synSent}, {SynReceived, synReceived}}, synchronizedFixtures...) {
		t.Run(f.state.String(), func(t *testing.T) {
			h := f.make(t, exactCfg())
			wantState(t, h, f.state)
			if h.SND.NXT != h.snd || f.state != SynSent && h.RCV.NXT != h.rcv {
				t.Fatalf("SND.NXT %#x RCV.NXT %#x, fixture says %#x %#x", uint32(h.SND.NXT), uint32(h.RCV.NXT), uint32(h.snd), uint32(h.rcv))
			}
		})
	}
}

func wantErr(t *testing.T, h *harness, want error) {
	t.Helper()
	if want == nil && h.Err != nil || want != nil && !errors.Is(h.Err, want) {
		t.Fatalf("Err = %v, want %v", h.Err, want)
	}
}
