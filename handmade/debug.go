package handmade

import (
	"fmt"
	"strings"
	"time"
)

// DebugString describes the TCB in full for a post-mortem: state, the send
// and receive sequence variables, buffers, the out-of-order queue, recovery
// and every armed timer relative to now.
func (t *TCB) DebugString(now time.Time) string {
	var b strings.Builder
	rel := func(d time.Time) string {
		if d.IsZero() {
			return "off"
		}
		return d.Sub(now).Round(time.Microsecond).String()
	}
	fmt.Fprintf(&b, "%s %v->%v err=%v\n", t.State, t.Local, t.Remote, t.Err)
	fmt.Fprintf(&b, "  SND.UNA=%d NXT=%d (flight %d) WND=%d maxWND=%d WL1=%d WL2=%d shift=%d sndBuf=%d/%d dataEnd=%d finQueued=%v finSent=%v\n",
		t.SND.UNA, t.SND.NXT, t.flight(), t.SND.WND, t.SND.maxWND, t.SND.WL1, t.SND.WL2, t.SND.Shift,
		t.sndBuf.Len(), t.sndBuf.Cap(), t.dataEnd(), t.finQueued, t.finSent)
	fmt.Fprintf(&b, "  RCV.NXT=%d edge=%d (wnd %d) shift=%d rcvBuf=%d/%d free=%d lastACKSent=%d rcvClosed=%v tsRecent=%d\n",
		t.RCV.NXT, t.RCV.edge, int32(t.RCV.edge.Sub(t.RCV.NXT)), t.RCV.Shift, t.rcvBuf.Len(), t.rcvBuf.Cap(), t.rcvBuf.Free(),
		t.lastACKSent, t.rcvClosed, t.tsRecent)
	fmt.Fprintf(&b, "  ooo: %d held", t.ooo.Len())
	for i, s := range t.ooo.segs {
		if i == 8 {
			fmt.Fprintf(&b, " ...")
			break
		}
		fmt.Fprintf(&b, " [%d+%d fin=%v]", s.seq, len(s.data), s.fin)
	}
	fmt.Fprintf(&b, " sack=%v dsack=%v/%v\n", t.ooo.blocks(), t.dsackNow, t.dsack)
	cwnd, ssthresh := 0, 0
	if t.cc != nil {
		cwnd, ssthresh = t.cc.Cwnd(), t.cc.Ssthresh()
	}
	fmt.Fprintf(&b, "  cc: cwnd=%d (window %d) ssthresh=%d inRecovery=%v recover=%d dupAcks=%d retxNext=%d retxOne=%v limitedTx=%d ltOctets=%d inflate=%d\n",
		cwnd, t.cwndOrZero(), ssthresh, t.inRecovery, t.recover, t.dupAcks, t.retxNext, t.retxOne, t.rec.limitedTx, t.rec.ltOctets, t.rec.inflate)
	fmt.Fprintf(&b, "  scoreboard: %v pipe=%d highRxt=%d rescueRxt=%d retransmissions=%d relost=%v\n",
		t.rec.sb.sacked, t.rec.pipe, t.rec.highRxt, t.rec.rescueRxt, len(t.rec.rtx), t.rec.relost)
	fmt.Fprintf(&b, "  rtt: srtt=%v rttvar=%v rto=%v retries=%d; ackNow=%v probeNow=%v unackedSegs=%d\n",
		t.rtt.SRTT, t.rtt.RTTVAR, t.rtt.RTO, t.retries, t.ackNow, t.probeNow, t.unackedSegs)
	fmt.Fprintf(&b, "  timers: rto=%s persist=%s(backoff %d) delack=%s keepalive=%s timewait=%s finwait2=%s tlp=%s recovery=%s reorder=%s deadline=%s\n",
		rel(t.rtoAt), rel(t.persistAt), t.persistBackoff, rel(t.delackAt), rel(t.keepaliveAt), rel(t.timeWaitAt),
		rel(t.finWait2At), rel(t.rec.tlpAt), rel(t.recoveryDeadline()), rel(t.rec.reoAt), rel(t.Deadline()))
	fmt.Fprintf(&b, "  last segment received %v ago\n", now.Sub(t.lastRecvAt).Round(time.Microsecond))
	fmt.Fprintf(&b, "  counters: %+v\n", t.Counters)
	return b.String()
}

// DebugDump describes the stack for a post-mortem: its transmit queue, the
// connections waiting for room in it, and every connection's TCB and timer.
func (s *Stack) DebugDump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "handmade stack %v: closed=%v txq=%d/%d pending=%d starved=%v readErr=%v counters=%+v\n",
		s.addr, s.closed, len(s.txq), cap(s.txq), len(s.pending), s.starved.Load(), s.readErr, s.counters)
	for _, c := range s.conns {
		armed := "off"
		if !c.armed.IsZero() {
			armed = c.armed.Sub(now).Round(time.Microsecond).String()
		}
		fmt.Fprintf(&b, "conn: timer armed in %s, closed=%v handedOut=%v waiter=%v\n", armed, c.closed, c.handedOut, c.changed != nil)
		b.WriteString(c.tcb.DebugString(now))
	}
	return b.String()
}

// cwndOrZero is the window sending is held to, 0 before the handshake
// chose a congestion control.
func (t *TCB) cwndOrZero() int {
	if t.cc == nil {
		return 0
	}
	return t.cwnd()
}
