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
