package handmade

import (
	"math"
	"strings"
	"testing"
	"time"
)

// CUBIC's window response (RFC 9438) and HyStart++ (RFC 9406), held to
// the RFCs' equations. Windows in the comments are in segments of 1000
// octets.

const cmss = 1000

// rfcWCubic is RFC 9438 Figure 1, W_cubic(t) = C*(t-K)^3 + W_max, written
// out again so the tests do not lean on the code under test.
func rfcWCubic(t, k, wMax float64) float64 { return 0.4*math.Pow(t-k, 3) + wMax }

// ackClock is a sender that always has data: each round trip of rtt it
// gets one ACK per segment of the window it had at the round's start,
// spread evenly, each delivering one segment. It calls each after every
// ACK with the time since start and returns the time it stopped.
func ackClock(c *cubic, start time.Time, rtt, d time.Duration, each func(a Ack, t float64)) time.Time {
	una := Seq(1)
	now := start
	for now.Sub(start) < d {
		n := max(c.Cwnd()/cmss, 1)
		for i := range n {
			at := now.Add(rtt * time.Duration(i+1) / time.Duration(n))
			una = una.Add(cmss)
			a := Ack{Delivered: cmss, MSS: cmss, Now: at, RTT: rtt, SRTT: rtt, SndUna: una, SndNxt: una.Add(uint32(c.Cwnd()))}
			c.OnAck(a)
			if each != nil {
				each(a, at.Sub(start).Seconds())
			}
		}
		now = now.Add(rtt)
	}
	return now
}

// inCA is a CUBIC sender in congestion avoidance with cwnd w segments.
func inCA(w int) *cubic {
	c := newCubic(cmss)
	c.cwnd, c.ssthresh, c.hs.on = w*cmss, w*cmss, false
	return c
}

// RFC 9438 §4.6: "ssthresh = flight_size * β_cubic ... cwnd = max(ssthresh,
// 2) ... ssthresh = max(ssthresh, 2)", in MSS; §4.7: the first congestion
// event remembers cwnd as W_max.
func TestCubic_MultiplicativeDecrease(t *testing.T) {
	for _, tc := range []struct {
		cwnd, flight int // segments
		want         int // octets
	}{{100, 100, 70000}, {100, 80, 56000}, {100, 1, 2000}, {10, 7, 4900}} {
		c := inCA(tc.cwnd)
		c.OnLoss(tc.flight*cmss, cmss)
		if c.Cwnd() != tc.want || c.Ssthresh() != tc.want {
			t.Errorf("cwnd %d flight %d: cwnd %d ssthresh %d, want both %d", tc.cwnd, tc.flight, c.Cwnd(), c.Ssthresh(), tc.want)
		}
		if c.wMax != float64(tc.cwnd) || c.cwndPrior != float64(tc.cwnd) {
			t.Errorf("cwnd %d: W_max %v cwnd_prior %v, want %d", tc.cwnd, c.wMax, c.cwndPrior, tc.cwnd)
		}
	}
}

// RFC 9438 §4.7: "W_max = cwnd * (1 + β_cubic) / 2 if cwnd < W_max",
// otherwise cwnd.
func TestCubic_FastConvergence(t *testing.T) {
	c := inCA(100)
	c.wMax = 120
	c.OnLoss(100*cmss, cmss)
	if c.wMax != 85 {
		t.Errorf("loss at 100 below W_max 120: W_max %v, want 100*(1+0.7)/2 = 85", c.wMax)
	}
	c = inCA(130)
	c.wMax = 120
	c.OnLoss(130*cmss, cmss)
	if c.wMax != 130 {
		t.Errorf("loss at 130 above W_max 120: W_max %v, want 130", c.wMax)
	}
}

// RFC 9438 §4.2: after a loss at W_max = 100 the window restarts at 70,
// K = cubic_root((W_max - cwnd_epoch)/C) = cubic_root(75) s, and cwnd
// follows W_cubic: concave up to W_max at t = K (§4.4), convex beyond
// (§4.5). Each ACK moves cwnd towards target = W_cubic(t + RTT), clamped
// to [cwnd, 1.5 cwnd], so cwnd stays between W_cubic(t) and W_cubic(t +
// RTT), less a segment of rounding. With RTT 200 ms the Reno-friendly
// W_est (0.53 segments a round trip) stays below.
func TestCubic_FollowsWCubicAfterLoss(t *testing.T) {
	const rtt = 200 * time.Millisecond
	c := inCA(100)
	c.OnLoss(100*cmss, cmss)
	k := math.Cbrt(75)
	var checked, atK bool
	ackClock(c, epoch, rtt, 7*time.Second, func(a Ack, ts float64) {
		if math.Abs(c.k-k) > 1e-9 || c.wMax != 100 {
			t.Fatalf("K %v W_max %v, want %v and 100", c.k, c.wMax, k)
		}
		// t counts from the stage's first ACK, a step into the clock.
		t0 := c.epochStart.Sub(epoch).Seconds()
		w := float64(c.Cwnd()) / cmss
		lo, hi := rfcWCubic(ts-t0, k, 100)-1, rfcWCubic(ts-t0+rtt.Seconds(), k, 100)+1
		if w < lo || w > hi {
			t.Fatalf("t=%.3fs: cwnd %.2f segments, want within [W_cubic(t)-1, W_cubic(t+RTT)+1] = [%.2f, %.2f]", ts-t0, w, lo, hi)
		}
		if ts-t0 > 0.01 && c.wEst >= rfcWCubic(ts-t0, k, 100) {
			t.Fatalf("t=%.3fs: W_est %.2f above W_cubic: not the region under test", ts-t0, c.wEst)
		}
		checked = true
		if !atK && ts-t0 >= k {
			atK = true
			if math.Abs(w-100) > 1.5 {
				t.Errorf("at t = K: cwnd %.2f, want W_max 100", w)
			}
		}
	})
	if !checked || !atK {
		t.Fatal("the clock never reached K")
	}
	// At t = 7 s, convex: W_cubic(7) = 0.4*(7-K)^3 + 100 = 108.6.
	if w := float64(c.Cwnd()) / cmss; w < rfcWCubic(6.8, k, 100)-1 || w > rfcWCubic(7.2, k, 100)+1 {
		t.Errorf("t=7s: cwnd %.2f, want about W_cubic(7) = %.2f", w, rfcWCubic(7, k, 100))
	}
}

// RFC 9438 §4.2: "target = 1.5 * cwnd if W_cubic(t + RTT) > 1.5 * cwnd":
// far beyond K an ACK of a whole window grows cwnd by half at most.
func TestCubic_TargetClamp(t *testing.T) {
	c := inCA(10)
	c.wMax, c.cwndPrior, c.wEst, c.epochStart = 10, 10, 10, epoch
	// Ten seconds into the stage W_cubic(t+RTT) = 0.4*10.1^3 + 10 = 422
	// (W_est 11): target is 1.5 * cwnd, and an ACK of ten segments adds
	// (15 - 10)/10 per segment.
	c.OnAck(Ack{Delivered: 10 * cmss, MSS: cmss, Now: epoch.Add(10 * time.Second), SRTT: 100 * time.Millisecond, SndUna: 2, SndNxt: 10002})
	if c.Cwnd() != 15*cmss {
		t.Errorf("cwnd %d, want 1.5 * 10 segments = %d", c.Cwnd(), 15*cmss)
	}
}

// RFC 9438 §4.3: in the Reno-friendly region, W_cubic(t) < W_est, cwnd is
// W_est, which starts at cwnd_epoch and grows by "W_est = W_est + α_cubic
// * segments_acked / cwnd" with α_cubic = 3(1-β)/(1+β) = 0.529 until it
// reaches cwnd_prior, then by 1: Reno's segment per round trip. A short
// RTT (10 ms) after a timeout (W_max = cwnd_epoch, K = 0: §4.8) puts it
// there.
func TestCubic_RenoFriendly(t *testing.T) {
	const rtt = 10 * time.Millisecond
	alpha := 3 * (1 - 0.7) / (1 + 0.7)
	c := inCA(20)
	c.cwndPrior = 30 // the window before the last reduction
	wEst, before := 20.0, 20.0
	var at10 float64
	ackClock(c, epoch, rtt, 600*time.Millisecond, func(a Ack, ts float64) {
		if c.k != 0 || c.wMax != 20 {
			t.Fatalf("K %v W_max %v, want 0 and cwnd_epoch 20", c.k, c.wMax)
		}
		if wEst >= 30 {
			wEst += 1 * 1 / before
		} else {
			wEst += alpha * 1 / before
		}
		if math.Abs(c.wEst-wEst) > 1e-9 {
			t.Fatalf("t=%.3fs: W_est %.6f, want %.6f", ts, c.wEst, wEst)
		}
		if rfcWCubic(ts, 0, 20) >= wEst {
			t.Fatalf("t=%.3fs: W_cubic above W_est: not the region under test", ts)
		}
		if want := int(wEst * cmss); c.Cwnd() != want {
			t.Fatalf("t=%.3fs: cwnd %d, want W_est = %d", ts, c.Cwnd(), want)
		}
		before = float64(c.Cwnd()) / cmss
		if at10 == 0 && ts >= 10*rtt.Seconds() {
			at10 = wEst
		}
	})
	// About α_cubic a round trip, then one once past cwnd_prior.
	if math.Abs(at10-(20+10*alpha)) > 0.3 {
		t.Errorf("W_est %.2f after 10 round trips, want about 20 + 10*%.3f", at10, alpha)
	}
	if wEst < 30+(600*time.Millisecond-40*rtt).Seconds()/rtt.Seconds()-2 {
		t.Errorf("W_est %.2f after 60 round trips: want it to pass 30 and grow a segment a round trip after", wEst)
	}
}

// RFC 9438 §4.8: a timeout sets cwnd to one segment (RFC 5681 §3.1) and
// ssthresh to flight_size * β_cubic; slow start runs up to ssthresh; the
// first congestion avoidance stage takes K = 0, W_max and W_est at the
// window it begins with.
func TestCubic_Timeout(t *testing.T) {
	c := inCA(100)
	c.wMax = 150
	c.OnTimeout(100*cmss, cmss)
	if c.Cwnd() != cmss || c.Ssthresh() != 70*cmss {
		t.Fatalf("cwnd %d ssthresh %d, want %d and %d", c.Cwnd(), c.Ssthresh(), cmss, 70*cmss)
	}
	if c.hs.on {
		t.Fatal("HyStart++ on after a timeout (RFC 9406 §4.2: the initial slow start only)")
	}
	una := Seq(1)
	now := epoch
	for c.Cwnd() < c.Ssthresh() {
		una = una.Add(cmss)
		now = now.Add(time.Millisecond)
		c.OnAck(Ack{Delivered: cmss, MSS: cmss, Now: now, SRTT: 20 * time.Millisecond, SndUna: una, SndNxt: una.Add(50000)})
		if !c.epochStart.IsZero() && c.Cwnd() < c.Ssthresh() {
			t.Fatal("congestion avoidance began below ssthresh")
		}
	}
	if c.Cwnd() != 70*cmss {
		t.Fatalf("slow start ended at %d, want ssthresh %d", c.Cwnd(), 70*cmss)
	}
	c.OnAck(Ack{Delivered: cmss, MSS: cmss, Now: now.Add(time.Millisecond), SRTT: 20 * time.Millisecond, SndUna: una.Add(cmss), SndNxt: una.Add(50000)})
	// W_est starts at 70 and grows by α_cubic/cwnd: 70 < cwnd_prior 100.
	if want := 70 + 3*(1-0.7)/(1+0.7)/70; c.k != 0 || c.wMax != 70 || math.Abs(c.wEst-want) > 1e-9 {
		t.Errorf("first stage after the timeout: K %v W_max %v W_est %v, want 0, 70, %v", c.k, c.wMax, c.wEst, want)
	}
}

// RFC 9438 §4.9: a spurious congestion event is undone by restoring
// cwnd, ssthresh, W_max, K, epoch_start and W_est as they were before the
// reduction, if cwnd is still below cwnd_prior; a second Undo does
// nothing; once cwnd has grown past cwnd_prior the current values stay.
func TestCubic_Undo(t *testing.T) {
	for _, response := range []string{"loss", "timeout"} {
		c := inCA(100)
		c.OnLoss(100*cmss, cmss) // an earlier, real, congestion event
		now := ackClock(c, epoch, 50*time.Millisecond, time.Second, nil)
		before := c.cubicState
		if before.epochStart.IsZero() || before.k == 0 || before.wEst == 0 {
			t.Fatalf("no congestion avoidance stage under way: %+v", before)
		}
		if response == "loss" {
			c.OnLoss(c.Cwnd(), cmss)
		} else {
			c.OnTimeout(c.Cwnd(), cmss)
		}
		// Recovery over, a few ACKs into the next stage.
		ackClock(c, now, 50*time.Millisecond, 100*time.Millisecond, nil)
		c.Undo(0, 0, 1000)
		if c.cubicState != before {
			t.Errorf("undo after a %s: state\n%+v\nwant\n%+v", response, c.cubicState, before)
		}
		c.OnAck(Ack{Delivered: cmss, MSS: cmss, Now: now.Add(time.Second), SRTT: 50 * time.Millisecond, SndUna: 1, SndNxt: 100000})
		after := c.cubicState
		c.Undo(0, 0, 1000)
		if c.cubicState != after {
			t.Errorf("a second undo after a %s changed the state", response)
		}
	}
	// cwnd already above cwnd_prior: "CUBIC SHOULD continue to use the
	// current and the most recent values of these variables".
	c := inCA(10)
	c.OnLoss(10*cmss, cmss)
	c.cwnd = 12 * cmss
	now := c.cubicState
	c.Undo(0, 0, 1000)
	if c.cubicState != now {
		t.Errorf("undo with cwnd above cwnd_prior changed the state")
	}
	// No response since: nothing to undo.
	c = inCA(10)
	c.Undo(0, 0, 1000)
	if c.Cwnd() != 10*cmss || c.Ssthresh() != 10*cmss {
		t.Errorf("undo with nothing to undo: cwnd %d ssthresh %d", c.Cwnd(), c.Ssthresh())
	}
}

// hsClock drives slow start round by round, each round ending with the
// ACK of what SND.NXT was when the last one ended (RFC 9406 §4.2), one
// ACK per perACK segments, each with the round's RTT sample; after each
// ACK the sender fills the window.
type hsClock struct {
	c             *cubic
	una, nxt, end Seq
	now           time.Time
}

func newHSClock() *hsClock {
	c := newCubic(cmss)
	nxt := Seq(1).Add(uint32(c.Cwnd()))
	return &hsClock{c: c, una: 1, nxt: nxt, end: nxt, now: epoch}
}

// round runs one round and returns how many ACKs it took.
func (h *hsClock) round(rtt time.Duration, perACK int) (acks int) {
	end := h.end
	for h.una.LessThan(end) {
		n := min(perACK*cmss, int(end.Sub(h.una)))
		h.una = h.una.Add(uint32(n))
		h.now = h.now.Add(time.Millisecond)
		h.c.OnAck(Ack{Delivered: n, MSS: cmss, Now: h.now, RTT: rtt, SRTT: rtt, SndUna: h.una, SndNxt: h.nxt})
		acks++
		if !h.una.LessThan(end) {
			h.end = h.nxt
		}
		h.nxt = h.una.Add(uint32(h.c.Cwnd()))
	}
	return acks
}

// RFC 9406 §4.2: standard slow start grows cwnd by min(N, L*SMSS) per ACK
// (L = 8 unpaced); the round's minimum RTT rising by RttThresh = max(4
// ms, min(lastRoundMinRTT/8, 16 ms)) over at least N_RTT_SAMPLE = 8
// samples moves to CSS, which grows by a quarter.
func TestHyStart_DelayIncreaseEntersCSS(t *testing.T) {
	h := newHSClock()
	h.round(20*time.Millisecond, 1)
	if h.c.Cwnd() != 20*cmss {
		t.Fatalf("cwnd %d after a round of slow start from IW 10, want doubled", h.c.Cwnd())
	}
	// RttThresh is max(4 ms, 20/8 ms) = 4 ms: 23 ms is not enough.
	before := h.c.Cwnd()
	n := h.round(23*time.Millisecond, 1)
	if h.c.hs.css || h.c.Cwnd() != before+n*cmss {
		t.Fatalf("RTT up 3 ms: css %v cwnd %d, want slow start at %d", h.c.hs.css, h.c.Cwnd(), before+n*cmss)
	}
	// Last round's minimum is 23 ms: 27 ms exits on the 8th sample; the
	// rest of the round grows by a quarter.
	before = h.c.Cwnd()
	n = h.round(27*time.Millisecond, 1)
	if !h.c.hs.css || h.c.hs.cssBaselineMinRTT != 27*time.Millisecond {
		t.Fatalf("RTT up 4 ms: css %v baseline %v, want CSS at 27 ms", h.c.hs.css, h.c.hs.cssBaselineMinRTT)
	}
	if want := before + 8*cmss + (n-8)*cmss/4; h.c.Cwnd() != want {
		t.Errorf("cwnd %d, want %d: 8 segments in slow start, %d in CSS at a quarter", h.c.Cwnd(), want, n-8)
	}
	if h.c.Ssthresh() != 1<<30 {
		t.Errorf("ssthresh %d set in CSS", h.c.Ssthresh())
	}
}

// RFC 9406 §4.2: the exit test needs N_RTT_SAMPLE samples in the round;
// a round of 7 ACKs never checks however the RTT grows.
func TestHyStart_TooFewSamples(t *testing.T) {
	h := newHSClock()
	h.round(20*time.Millisecond, 2) // 5 ACKs
	h.round(60*time.Millisecond, 3) // 7 ACKs
	if h.c.hs.css {
		t.Fatal("CSS on 7 samples")
	}
	h.round(100*time.Millisecond, 1)
	if !h.c.hs.css {
		t.Fatal("no CSS on a round of 100 ms samples after one of 60 ms")
	}
}

// RFC 9406 §4.2: in CSS, a round whose minimum RTT falls below
// cssBaselineMinRtt over N_RTT_SAMPLE samples resumes slow start.
func TestHyStart_CSSBackToSlowStart(t *testing.T) {
	h := newHSClock()
	h.round(20*time.Millisecond, 1)
	h.round(30*time.Millisecond, 1)
	if !h.c.hs.css {
		t.Fatal("no CSS")
	}
	h.round(29*time.Millisecond, 1)
	if h.c.hs.css || h.c.hs.cssBaselineMinRTT != hystartInfinity {
		t.Fatalf("RTT 29 ms under the 30 ms baseline: css %v baseline %v, want slow start", h.c.hs.css, h.c.hs.cssBaselineMinRTT)
	}
	if !h.c.hs.on || h.c.Ssthresh() != 1<<30 {
		t.Fatal("HyStart++ off after a spurious exit")
	}
}

// RFC 9406 §4.2: "CSS lasts at most CSS_ROUNDS rounds. If the transition
// into CSS happens in the middle of a round, that partial round counts
// towards the limit", then "ssthresh = cwnd". RFC 9438 §4.10: congestion
// avoidance follows with cwnd_prior = cwnd, K = 0, W_max = cwnd_epoch.
func TestHyStart_CSSRoundsThenCongestionAvoidance(t *testing.T) {
	h := newHSClock()
	h.round(20*time.Millisecond, 1)
	h.round(30*time.Millisecond, 1) // CSS from the 8th ACK: round 1
	for r := 2; r <= 4; r++ {
		h.round(30*time.Millisecond, 1)
		if !h.c.hs.css || h.c.Ssthresh() != 1<<30 {
			t.Fatalf("CSS round %d: css %v ssthresh %d", r, h.c.hs.css, h.c.Ssthresh())
		}
	}
	h.round(30*time.Millisecond, 1) // the fifth
	if h.c.hs.on || h.c.Ssthresh() != h.c.Cwnd() {
		t.Fatalf("after 5 CSS rounds: HyStart++ on %v, ssthresh %d, want cwnd %d", h.c.hs.on, h.c.Ssthresh(), h.c.Cwnd())
	}
	w := float64(h.c.Cwnd()) / cmss
	h.round(30*time.Millisecond, 1)
	if h.c.k != 0 || h.c.wMax != w || h.c.cwndPrior != w {
		t.Errorf("K %v W_max %v cwnd_prior %v, want 0 and %v", h.c.k, h.c.wMax, h.c.cwndPrior, w)
	}
}

// RFC 9406 §4.2: cwnd += min(N, L*SMSS), L = 8 for a sender that does not
// pace: an ACK of 20 segments grows it by 8.
func TestHyStart_LimitPerACK(t *testing.T) {
	c := newCubic(cmss)
	c.OnAck(Ack{Delivered: 20 * cmss, MSS: cmss, Now: epoch, SndUna: 20001, SndNxt: 30001})
	if c.Cwnd() != 18*cmss {
		t.Errorf("cwnd %d, want IW 10 + 8 segments", c.Cwnd())
	}
}

// RFC 9406 §4.2: a loss in slow start or CSS ends HyStart++ (and RFC
// 9438 §4.6 reduces the window): later slow starts are standard.
func TestHyStart_OffAfterLoss(t *testing.T) {
	h := newHSClock()
	h.round(20*time.Millisecond, 1)
	h.c.OnLoss(h.c.Cwnd(), cmss)
	if h.c.hs.on || h.c.Cwnd() != 14*cmss {
		t.Fatalf("HyStart++ on %v cwnd %d after a loss at 20, want off, 14", h.c.hs.on, h.c.Cwnd())
	}
}

func TestCongestionControlByName(t *testing.T) {
	for name, want := range map[string]string{"": "*handmade.newReno", NewReno: "*handmade.newReno", CUBIC: "*handmade.cubic"} {
		cc, err := newCongestionControl(name, cmss)
		if err != nil || typeName(cc) != want || cc.Cwnd() != 10*cmss {
			t.Errorf("%q: %s %v", name, typeName(cc), err)
		}
	}
	_, err := newCongestionControl("bbr", cmss)
	if err == nil || !strings.Contains(err.Error(), `"bbr"`) || !strings.Contains(err.Error(), `"newreno" or "cubic"`) {
		t.Errorf("bbr: %v, want an error naming the valid values", err)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *newReno:
		return "*handmade.newReno"
	case *cubic:
		return "*handmade.cubic"
	}
	return "?"
}

// Like Linux's TCP_CONGESTION, a switch mid-connection starts the new
// algorithm from the current cwnd and ssthresh.
func TestTCB_SetCongestionControl(t *testing.T) {
	h := established(t, exactCfg())
	if i := h.Info(); i.CongestionControl != NewReno {
		t.Fatalf("Info says %q, want the default newreno", i.CongestionControl)
	}
	h.cc.OnLoss(30*1460, 1460) // somewhere other than the initial window
	cwnd, ssthresh := h.cc.Cwnd(), h.cc.Ssthresh()
	if err := h.SetCongestionControl(CUBIC); err != nil {
		t.Fatal(err)
	}
	c, ok := h.cc.(*cubic)
	if !ok || c.Cwnd() != cwnd || c.Ssthresh() != ssthresh || c.hs.on || c.wMax != 0 {
		t.Fatalf("after the switch: %T cwnd %d ssthresh %d, want cubic at %d/%d, HyStart++ off, W_max undefined", h.cc, h.cc.Cwnd(), h.cc.Ssthresh(), cwnd, ssthresh)
	}
	if i := h.Info(); i.CongestionControl != CUBIC {
		t.Errorf("Info says %q, want cubic", i.CongestionControl)
	}
	if err := h.SetCongestionControl("vegas"); err == nil || h.Info().CongestionControl != CUBIC {
		t.Errorf("vegas: %v; Info says %q", err, h.Info().CongestionControl)
	}
	if err := h.SetCongestionControl(NewReno); err != nil || h.cc.Cwnd() != cwnd {
		t.Errorf("back to newreno: %v, cwnd %d", err, h.cc.Cwnd())
	}
}
