package handmade

import (
	"bytes"
	"testing"
)

// TestEstablished_URG_DataInlineNoStall: RFC 9293 §3.8.5 (MUST-30, MUST-31)
// requires that urgent data be accepted and the user told where it ends;
// RFC 6093 §5 advises taking it inline. A URG segment's octets arrive in
// the stream in order, the next segment too, and each is acknowledged.
func TestEstablished_URG_DataInlineNoStall(t *testing.T) {
	h := established(t, exactCfg())
	urgent := bytesOf(10, 7)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK | URG | PSH, UP: 10, Payload: urgent})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(10), Flags: ACK})
	after := bytesOf(5, 9)
	send(t, h, sg{SEQ: h.rcv.Add(10), ACK: h.snd, Flags: ACK | PSH, Payload: after})
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv.Add(15), Flags: ACK})
	got := wantRead(t, h, 15)
	if !bytes.Equal(got, append(append([]byte(nil), urgent...), after...)) {
		t.Errorf("stream %x, want the urgent octets then the next segment's", got)
	}
	if h.Counters.Urgent != 1 || h.RCV.UP != h.rcv.Add(10) {
		t.Errorf("Urgent=%d RCV.UP=%d, want 1 and %d (RFC 9293 §3.10.7.4 sixth check: RCV.UP = max(RCV.UP, SEG.UP))", h.Counters.Urgent, h.RCV.UP, h.rcv.Add(10))
	}
}

// TestEstablished_AbortWithTimestamps_RSTCarriesTSopt: RFC 7323 §3.2,
// "TSopt ... SHOULD be sent in an <RST> segment", and ABORT sends
// <SEQ=SND.NXT><CTL=RST> (RFC 9293 §3.10.5).
func TestEstablished_AbortWithTimestamps_RSTCarriesTSopt(t *testing.T) {
	cfg := exactCfg()
	cfg.DisableTimestamps = false
	h := established(t, cfg)
	h.Abort(h.now)
	var seg Segment
	if !h.Output(h.now, &seg, h.buf) {
		t.Fatal("ABORT sent nothing")
	}
	if seg.Flags != RST || seg.SEQ != h.snd || !seg.Options.HasTimestamps || seg.Options.TSEcr != h.peerTS {
		t.Errorf("got %v with options %+v, want RST seq=%d carrying TSval and TSecr=%d", &seg, seg.Options, h.snd, h.peerTS)
	}
}

// TestReopensFromTimeWait holds TCB.reopens to RFC 6191 §2's rules for a
// SYN arriving in TIME-WAIT.
func TestReopensFromTimeWait(t *testing.T) {
	const rcvNxt, tsRecent = 1000, 5000
	for _, tc := range []struct {
		name  string
		oldTS bool
		synTS bool
		tsVal uint32
		seq   Seq
		want  bool
	}{
		{"timestamps, newer TSval", true, true, tsRecent + 1, rcvNxt - 10, true},
		{"timestamps, equal TSval, higher SEQ", true, true, tsRecent, rcvNxt + 1, true},
		{"timestamps, equal TSval, old SEQ", true, true, tsRecent, rcvNxt, false},
		{"timestamps, older TSval", true, true, tsRecent - 1, rcvNxt + 100, false},
		{"timestamps before, none now", true, false, 0, rcvNxt - 10, true},
		{"no timestamps, higher SEQ (RFC 1122)", false, false, 0, rcvNxt + 1, true},
		{"no timestamps, old SEQ", false, false, 0, rcvNxt - 1, false},
	} {
		tcb := &TCB{cfg: &Config{}, tsOn: tc.oldTS, tsRecent: tsRecent}
		tcb.RCV.NXT = rcvNxt
		syn := &Segment{Flags: SYN, SEQ: tc.seq, Options: Options{HasTimestamps: tc.synTS, TSVal: tc.tsVal}}
		if got := tcb.reopens(syn); got != tc.want {
			t.Errorf("%s: reopens %v, want %v", tc.name, got, tc.want)
		}
	}
}
