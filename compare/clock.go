package compare

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/faketime"

	"tcplab/handmade"
)

// VirtualClock is the manual clock of one scenario run on an in-process
// stack (Setup.VirtualClock): the stack's timers run on it, the bench
// stamps the segments it reads and writes with it, and only the scenario
// moves it (T.Advance). A timer scenario then measures a 64 s backoff in
// milliseconds of real time, and the interval it measures is the stack's
// own, untouched by a loaded machine.
//
// It is gVisor's faketime.ManualClock, which netstack takes as its
// tcpip.Clock (netstackref.Options.Clock); handmade takes it through an
// adapter (Handmade), since handmade.ClockTimer.Reset reports whether the
// timer was active and tcpip.Timer.Reset does not. Advance runs every
// timer due in the interval, in order, on the caller's goroutine, each
// with Now at its own deadline, so a timer that re-arms itself (an RTO
// backing off) fires again within the same Advance if its new deadline
// is due too.
//
// What a timer sends still travels in real time: handmade hands it to its
// writer goroutine, netstack to its link endpoint's queue, and segments
// the bench sends are processed on the stacks' own goroutines (gVisor's
// dispatchers and processors). So after an Advance a scenario still waits
// real time for what it expects (Timing.Reply, as T.Expect does), and
// after a Send that the DUT must act on before time moves, it lets the
// stack settle (T.Settle); T.NextSegment steps the clock in small
// increments with a short real-time pause after each, so every segment
// is stamped with the step in which the stack sent it.
type VirtualClock struct{ m *faketime.ManualClock }

// NewVirtualClock starts a clock at the Unix epoch (faketime's start).
func NewVirtualClock() *VirtualClock { return &VirtualClock{m: faketime.NewManualClock()} }

// Now is the virtual time.
func (v *VirtualClock) Now() time.Time { return v.m.Now() }

// Advance moves the clock by d, running the timers due on the way.
func (v *VirtualClock) Advance(d time.Duration) { v.m.Advance(d) }

// Tcpip is the clock as gVisor takes it.
func (v *VirtualClock) Tcpip() tcpip.Clock { return v.m }

// Handmade is the clock as handmade takes it.
func (v *VirtualClock) Handmade() handmade.Clock { return handmadeClock{v.m} }

type handmadeClock struct{ m *faketime.ManualClock }

func (c handmadeClock) Now() time.Time { return c.m.Now() }

func (c handmadeClock) AfterFunc(d time.Duration, f func()) handmade.ClockTimer {
	return handmadeTimer{c.m.AfterFunc(d, f)}
}

type handmadeTimer struct{ t tcpip.Timer }

func (t handmadeTimer) Stop() bool { return t.t.Stop() }

// Reset re-arms the timer and reports, as time.Timer.Reset does, whether
// it had been active.
func (t handmadeTimer) Reset(d time.Duration) bool {
	active := t.t.Stop()
	t.t.Reset(d)
	return active
}

var _ handmade.Clock = handmadeClock{}

// settleStep bounds the real time T.NextSegment lets an in-process stack
// act on one step of virtual time, polled every millisecond: what a timer
// sent in the step reaches the bench within it (a goroutine hop or two),
// so the bench stamps it with the step's time. Later, under a loaded
// machine, it is stamped a step late: one resolution of error, well
// inside the scenarios' tolerance bands.
const settleStep = 5 * time.Millisecond

// maxRealAdvance bounds one T.Advance in real time: the compare package
// must stay fast with linux included.
const maxRealAdvance = 10 * time.Second

// settleSend is the real time T.Settle gives an in-process stack to take
// a segment the bench sent before the virtual clock moves on.
const settleSend = 20 * time.Millisecond

// Virtual reports whether the DUT's timers run on the run's VirtualClock
// (Setup.VirtualClock on a backend with VirtualTime).
func (t *T) Virtual() bool { return t.clock != nil }

// Now is the time the bench stamps segments with: the virtual clock's, or
// real time.
func (t *T) Now() time.Time {
	if t.clock != nil {
		return t.clock.Now()
	}
	return time.Now()
}

// Advance moves time by d. On a virtual clock it runs the DUT's timers
// due within d, at once; what they send arrives in real time after (see
// VirtualClock). In real time (linux) it sleeps d, unless the run ends
// first; a wait longer than maxRealAdvance ends the scenario as n/a on
// that stack instead: a timer that long is read from the kernel or not
// checked there.
func (t *T) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	if t.clock != nil {
		t.clock.Advance(d)
		return
	}
	if d > maxRealAdvance {
		t.NA(fmt.Sprintf("the scenario would wait %v of real time: %s runs its timers in real time", d, t.stack))
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-t.ctx.Done():
		t.Fatal(fmt.Errorf("advancing %v: %w", d, t.ctx.Err()))
	}
}

// AdvanceTo moves time to at (nothing if it has passed).
func (t *T) AdvanceTo(at time.Time) { t.Advance(at.Sub(t.Now())) }

// Settle lets an in-process stack on virtual time process what the bench
// just sent before the clock moves: gVisor takes segments on its own
// goroutines, so an Advance right after a Send could fire a timer the
// segment was about to stop or move. In real time it does nothing: the
// stack has the whole wait to take it.
func (t *T) Settle() {
	if t.clock != nil {
		time.Sleep(settleSend)
	}
}

// await moves time until cond holds, for at most within, and reports
// whether it did. On a virtual clock it steps res at a time, or a
// fortieth of the time waited so far if that is more (so a long wait
// takes few steps and every wait is measured to 2.5% or res), polling cond
// for up to settleStep of real time after each step; in real time it
// polls cond every res, kept between 1 and 10 ms.
func (t *T) await(within, res time.Duration, cond func() bool) bool {
	if cond() {
		return true
	}
	if t.clock == nil {
		poll := min(max(res, time.Millisecond), 10*time.Millisecond)
		end := time.Now().Add(within)
		for time.Now().Before(end) {
			t.Advance(min(poll, time.Until(end)))
			if cond() {
				return true
			}
		}
		return false
	}
	start := t.clock.Now()
	for {
		for range settleStep / time.Millisecond {
			if cond() {
				return true
			}
			time.Sleep(time.Millisecond)
		}
		if cond() {
			return true
		}
		waited := t.clock.Now().Sub(start)
		left := within - waited
		if left <= 0 {
			return false
		}
		if err := t.ctx.Err(); err != nil {
			t.Fatal(fmt.Errorf("waiting on the virtual clock: %w", err))
		}
		t.clock.Advance(min(max(res, waited/40), left))
	}
}

// NextSegment returns the next segment of c to arrive within the given
// time, or nil. On a virtual clock it steps the clock (see await), so
// the segment's stamp (Segment.At) is the virtual time at which the DUT
// sent it, to within res or 2.5%; in real time it waits, and the stamp is
// when the bench read it.
func (t *T) NextSegment(c *Conn, within, res time.Duration) *Segment {
	if t.clock == nil {
		seg, err := c.next(time.Now().Add(within))
		if errors.Is(err, errTimeout) {
			return nil
		}
		t.Check(err)
		return seg
	}
	if !t.await(within, res, c.queued) {
		return nil
	}
	seg, err := c.next(time.Now())
	t.Check(err)
	return seg
}

// queued reports whether a segment of c is waiting to be consumed.
func (c *Conn) queued() bool {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	return len(c.queue) > 0 || c.b.err != nil
}

// Timers are an in-process DUT's timer settings as it runs, so a scenario
// holds what it measured to the stack's own configuration.
type Timers struct {
	TimeWait, FinWait2 time.Duration
}

type timerSettings interface{ timers() Timers }

// dutTimers returns the DUT's timer settings, when it reports them.
func dutTimers(d DUT) (Timers, bool) {
	if u, ok := d.(interface{ unwrap() DUT }); ok {
		d = u.unwrap()
	}
	if ts, ok := d.(timerSettings); ok {
		return ts.timers(), true
	}
	return Timers{}, false
}

// KernelSocket is one TCP socket as the kernel's inet_diag reports it
// (what ss -tano shows): the linux backend's way to read a timer instead
// of waiting it out.
type KernelSocket struct {
	Local, Remote netip.AddrPort
	// State is the kernel's TCP state (include/net/tcp_states.h:
	// 1 ESTABLISHED ... 5 FIN-WAIT-2, 6 TIME-WAIT).
	State uint8
	// Timer is the timer running (inet_diag: 1 retransmission, 2
	// keep-alive, 3 TIME-WAIT, 4 zero-window probe) and Expires the time
	// left on it.
	Timer   uint8
	Expires time.Duration
}

// The kernel's TIME-WAIT state and inet_diag's timers.
const (
	kernelTimeWait       = 6
	kernelTimerNone      = 0
	kernelTimerKeepAlive = 2
	kernelTimerTWait     = 3
)

type kernelSockets interface {
	kernelTCP() ([]KernelSocket, error)
}

// dutKernelSockets lists the DUT's kernel sockets; false when the DUT has
// no kernel to ask.
// dutSysctl returns how to read an integer sysctl of the DUT's kernel,
// for a DUT that has a kernel to ask.
func dutSysctl(d DUT) (func(key string) (int, error), bool) {
	if u, ok := d.(interface{ unwrap() DUT }); ok {
		d = u.unwrap()
	}
	k, ok := d.(interface{ sysctlInt(key string) (int, error) })
	if !ok {
		return nil, false
	}
	return k.sysctlInt, true
}

// dutSynRetries reads the DUT kernel's SYN retry settings
// (net.ipv4.tcp_syn_retries, tcp_syn_linear_timeouts).
func dutSynRetries(d DUT) (retries, linear int, ok bool, err error) {
	read, ok := dutSysctl(d)
	if !ok {
		return 0, 0, false, nil
	}
	if retries, err = read("net.ipv4.tcp_syn_retries"); err != nil {
		return 0, 0, true, err
	}
	linear, err = read("net.ipv4.tcp_syn_linear_timeouts")
	if errors.Is(err, os.ErrNotExist) {
		linear, err = 0, nil // before Linux 6.5
	}
	return retries, linear, true, err
}

// dutRetries2 reads the DUT kernel's net.ipv4.tcp_retries2.
func dutRetries2(d DUT) (n int, ok bool, err error) {
	read, ok := dutSysctl(d)
	if !ok {
		return 0, false, nil
	}
	n, err = read("net.ipv4.tcp_retries2")
	return n, true, err
}

func dutKernelSockets(d DUT) ([]KernelSocket, bool, error) {
	if u, ok := d.(interface{ unwrap() DUT }); ok {
		d = u.unwrap()
	}
	k, ok := d.(kernelSockets)
	if !ok {
		return nil, false, nil
	}
	socks, err := k.kernelTCP()
	return socks, true, err
}
