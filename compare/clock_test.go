package compare

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestVirtualClockHandmadeAdapter: handmade's timers fire only when the
// clock is advanced past their deadline, each with Now at that deadline,
// and Reset reports whether the timer was active, as time.Timer.Reset
// does.
func TestVirtualClockHandmadeAdapter(t *testing.T) {
	v := NewVirtualClock()
	c := v.Handmade()
	start := c.Now()
	var fired atomic.Int64
	var at time.Time
	tm := c.AfterFunc(time.Second, func() { at = c.Now(); fired.Add(1) })
	v.Advance(999 * time.Millisecond)
	if fired.Load() != 0 {
		t.Fatal("fired before its deadline")
	}
	v.Advance(time.Millisecond)
	if fired.Load() != 1 || at.Sub(start) != time.Second {
		t.Fatalf("fired %d times, at %v", fired.Load(), at.Sub(start))
	}
	if tm.Reset(time.Second) {
		t.Error("Reset of a fired timer reported it active")
	}
	if !tm.Reset(2 * time.Second) {
		t.Error("Reset of an armed timer reported it inactive")
	}
	v.Advance(time.Second + 999*time.Millisecond)
	if fired.Load() != 1 {
		t.Fatal("a reset timer fired at its old deadline")
	}
	v.Advance(time.Millisecond)
	if fired.Load() != 2 || at.Sub(start) != 3*time.Second {
		t.Fatalf("fired %d times, last at %v", fired.Load(), at.Sub(start))
	}
	if tm.Stop() {
		t.Error("Stop of a fired timer reported it active")
	}
	if v.Tcpip().Now() != c.Now() {
		t.Error("the two views of the clock disagree")
	}
}
