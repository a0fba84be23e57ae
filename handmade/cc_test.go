package handmade

import (
	"testing"
	"time"
)

// The congestion window's response to ACKs, loss and timeout, held to
// RFC 5681's equations.

// RFC 5681 §3.1: in congestion avoidance "cwnd MUST NOT be increased by
// more than SMSS bytes per RTT", and the RECOMMENDED byte counting
// increments it by SMSS once cwnd octets have been acknowledged: one
// segment per window of data, however the receiver spreads its ACKs over
// it. A window ACKed segment by segment, every other segment (delayed
// ACKs) or five segments at a time (gVisor's batches) grows alike.
func TestNewReno_CongestionAvoidance_ByteCounting(t *testing.T) {
	const mss = 1000
	for _, perACK := range []int{1, 2, 5} {
		r := &newReno{cwnd: 10 * mss, ssthresh: 5 * mss}
		for round := 1; round <= 3; round++ {
			before := r.cwnd
			for acked := 0; acked < before; acked += perACK * mss {
				r.OnAck(Ack{Delivered: perACK * mss, MSS: mss})
			}
			if r.cwnd != before+mss {
				t.Fatalf("%d segments per ACK, round %d: cwnd %d after a window of %d, want %d", perACK, round, r.cwnd, before, before+mss)
			}
		}
	}
}

// RFC 5681 §3.1: slow start while cwnd < ssthresh, then congestion
// avoidance. Deviation (cc.go, OnAck): every acknowledged octet grows cwnd
// in slow start, as Linux and gVisor count every acknowledged segment, not
// min(N, SMSS) per ACK (equation (2); L = 2*SMSS with RFC 3465 §2.2): an ACK
// of five segments grows it by five; growth stops at ssthresh and the
// rest counts towards congestion avoidance.
func TestNewReno_SlowStart(t *testing.T) {
	const mss = 1000
	r := &newReno{cwnd: 3 * mss, ssthresh: 10 * mss}
	r.OnAck(Ack{Delivered: 500, MSS: mss})
	r.OnAck(Ack{Delivered: 5 * mss, MSS: mss})
	if r.cwnd != 8500 {
		t.Fatalf("cwnd %d, want 8500", r.cwnd)
	}
	// 1500 reach ssthresh, 1500 go to congestion avoidance's count.
	r.OnAck(Ack{Delivered: 3 * mss, MSS: mss})
	if r.cwnd != 10*mss || r.bytesAcked != 1500 {
		t.Fatalf("cwnd %d bytesAcked %d, want ssthresh and 1500", r.cwnd, r.bytesAcked)
	}
	r.OnAck(Ack{Delivered: mss, MSS: mss})
	if r.cwnd != 10*mss {
		t.Fatalf("cwnd %d grew by an ACK of one segment in congestion avoidance", r.cwnd)
	}
	r.OnAck(Ack{Delivered: 7500, MSS: mss}) // 10000 counted: one SMSS
	if r.cwnd != 11*mss {
		t.Fatalf("cwnd %d, want %d", r.cwnd, 11*mss)
	}
}

// RFC 6928 §2: "IW = min (10*MSS, max (2*MSS, 14600))"; RFC 5681 §3.1:
// "The initial value of ssthresh SHOULD be set arbitrarily high".
func TestNewReno_InitialWindow(t *testing.T) {
	for _, tc := range []struct{ mss, iw int }{{536, 5360}, {1000, 10000}, {1460, 14600}, {1448, 14480}, {4000, 14600}, {8960, 17920}} {
		r := newNewReno(tc.mss)
		if r.Cwnd() != tc.iw || r.Ssthresh() < 1<<20 {
			t.Errorf("SMSS %d: cwnd %d ssthresh %d, want IW %d and ssthresh arbitrarily high", tc.mss, r.Cwnd(), r.Ssthresh(), tc.iw)
		}
	}
}

// ccRecorder is a CongestionControl that keeps the ACKs it is told of.
type ccRecorder struct {
	CongestionControl
	acks []Ack
}

func (r *ccRecorder) OnAck(a Ack) { r.acks = append(r.acks, a); r.CongestionControl.OnAck(a) }

// With timestamps every ACK that advances SND.UNA gives congestion
// control a round-trip sample (RFC 7323 §4.1; HyStart++ wants
// N_RTT_SAMPLE a round, RFC 9406 §4.2), while the RFC 6298 estimator
// still takes one sample a round trip, from the timed segment.
func TestEstablished_TimestampsGiveEveryACKAnRTTSample(t *testing.T) {
	h := establishedMSS(t, Config{DisableWindowScale: true, DisableSACK: true, DisableDelayedACK: true}, 1000)
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd, Flags: ACK, WND: 60000})
	rec := &ccRecorder{CongestionControl: h.cc}
	h.cc = rec
	mss := h.sndMSS
	h.Write(bytesOf(3*mss, 0), h.now)
	var tsval uint32
	for n := 0; h.Output(h.now, &h.out, h.buf); n++ {
		if len(h.out.Payload) != mss || !h.out.Options.HasTimestamps {
			t.Fatalf("segment %d: %d octets, timestamps %v", n, len(h.out.Payload), h.out.Options.HasTimestamps)
		}
		tsval = h.out.Options.TSVal
	}
	srtt := h.rtt.SRTT
	for i := 1; i <= 3; i++ {
		h.now = h.now.Add(10 * time.Millisecond)
		send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(uint32(i * mss)), Flags: ACK, WND: 60000,
			Opts: &Options{HasTimestamps: true, TSVal: h.peerTS, TSEcr: tsval}})
	}
	if len(rec.acks) != 3 {
		t.Fatalf("%d ACKs reached congestion control, want 3", len(rec.acks))
	}
	for i, a := range rec.acks {
		if want := time.Duration(i+1) * 10 * time.Millisecond; a.RTT != want {
			t.Errorf("ACK %d: RTT sample %v, want %v", i+1, a.RTT, want)
		}
	}
	// RFC 6298 §2.3: one sample R' = 10 ms: SRTT = 7/8 SRTT + 1/8 R'.
	if want := srtt - (srtt-10*time.Millisecond)/8; h.rtt.SRTT != want {
		t.Errorf("SRTT %v, want %v: one RFC 6298 sample, not one per ACK", h.rtt.SRTT, want)
	}
}

// RFC 4015 §3.1 step (0): "pipe_prev <- max (FlightSize, ssthresh)"
// before the response; "Reverse the congestion control state": "cwnd <-
// FlightSize + min (bytes_acked, IW)", "ssthresh <- pipe_prev". Undo
// never shrinks a window that grew since, and undoes one response once.
func TestNewReno_Undo(t *testing.T) {
	const mss = 1000
	r := &newReno{cwnd: 20 * mss, ssthresh: 12 * mss}
	r.OnLoss(16*mss, mss) // pipe_prev = 16000
	if r.cwnd != 8*mss || r.ssthresh != 8*mss {
		t.Fatalf("after the loss: cwnd %d ssthresh %d", r.cwnd, r.ssthresh)
	}
	r.Undo(6*mss, 3*mss, mss)
	if r.cwnd != 9*mss || r.ssthresh != 16*mss {
		t.Fatalf("after Undo: cwnd %d ssthresh %d, want 9000 16000", r.cwnd, r.ssthresh)
	}
	r.Undo(20*mss, 3*mss, mss) // a second Undo: nothing
	if r.cwnd != 9*mss || r.ssthresh != 16*mss {
		t.Fatalf("a second Undo changed cwnd %d ssthresh %d", r.cwnd, r.ssthresh)
	}
	// bytes_acked counts up to IW (RFC 6928: 10 segments here); a
	// timeout's pipe_prev is ssthresh when more than FlightSize.
	r.OnTimeout(4*mss, mss)
	r.Undo(2*mss, 30*mss, mss)
	if r.cwnd != 12*mss || r.ssthresh != 16*mss {
		t.Fatalf("after the timeout's Undo: cwnd %d ssthresh %d, want 12000 16000", r.cwnd, r.ssthresh)
	}
	// A window larger than FlightSize + IW by now is kept.
	r = &newReno{cwnd: 40 * mss, ssthresh: 1 << 30}
	r.OnLoss(40*mss, mss)
	r.cwnd = 30 * mss
	r.Undo(5*mss, 0, mss)
	if r.cwnd != 30*mss || r.ssthresh != 1<<30 {
		t.Fatalf("cwnd %d ssthresh %d, want 30000 and slow start's", r.cwnd, r.ssthresh)
	}
}
