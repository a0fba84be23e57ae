package compare

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Scenario is one behaviour of CONFORMANCE.md, checked against one DUT at
// a time on a fresh wire.
type Scenario struct {
	// ID is the CONFORMANCE.md catalogue ID, with a letter for the case
	// ("HS-01a").
	ID    string
	Title string
	// RFC is the section the expected behaviour comes from ("RFC 9293
	// §3.10.7.1").
	RFC string
	// Requirements are the RFC 9293 Appendix B IDs checked ("MUST-10").
	Requirements []string
	// Setup is what the DUT must be built with.
	Setup Setup
	// Needs are what the scenario asks of the DUT's application beyond a
	// listener that accepts and a sink that reads (see Capability): on a
	// device that did not declare them (External) the scenario is n/a
	// without running. What a scenario asks for while it runs is also
	// checked: an undeclared call makes it n/a, naming the capability.
	Needs []Capability
	// Run drives the scenario: it ends with a verdict given through t, or
	// by returning (pass, unless t recorded an allowed difference).
	Run func(t *T)
}

// Verdict is a scenario's outcome on one DUT.
type Verdict string

// Verdicts. Error is not about the DUT: the bench or its link failed.
const (
	Pass    Verdict = "pass"
	Allowed Verdict = "allowed"
	Fail    Verdict = "fail"
	NA      Verdict = "n/a"
	Error   Verdict = "error"
)

// T is what a scenario gets: the bench, the DUT and the verdict helpers.
// Fail, NA and Fatal end the scenario (they must be called from the
// scenario's goroutine); Allowed records a legitimate difference and goes
// on.
type T struct {
	// TB is the test bench on the scenario's wire.
	TB *Bench
	// DUT is the device under test.
	DUT DUT
	// Timing is the DUT's: how long to wait for answers and for silence.
	Timing Timing

	ctx   context.Context
	stack string
	clock *VirtualClock // nil: the DUT runs in real time

	mu      sync.Mutex
	verdict Verdict
	detail  string
	allowed []string
	// answers are the Allowed reasons alone: answers a real stack gives,
	// which a stack that is not a reference may give only when a
	// reference gave it in the same run. allowed also holds AllowedRFC's.
	answers  []string
	notes    []string
	cleanups []func()
}

// Context is cancelled when the run is.
func (t *T) Context() context.Context { return t.ctx }

// Stack is the name of the DUT's stack.
func (t *T) Stack() string { return t.stack }

// Logf adds a note to the result's log.
func (t *T) Logf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// Cleanup registers f to run after the scenario, before the DUT closes.
func (t *T) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *T) end(v Verdict, detail string) {
	t.mu.Lock()
	if t.verdict == "" {
		t.verdict, t.detail = v, detail
	}
	t.mu.Unlock()
	runtime.Goexit()
}

// Fail ends the scenario with a failure: what the RFC expects and what
// the DUT did.
func (t *T) Fail(expected, got string) {
	t.end(Fail, fmt.Sprintf("expected %s; got %s", expected, got))
}

// Failf ends the scenario with a failure described by the format.
func (t *T) Failf(format string, args ...any) { t.end(Fail, fmt.Sprintf(format, args...)) }

// Allowed records that the DUT answered with one of the differences the
// scenario tolerates (CONFORMANCE.md, "Differences the tool must
// tolerate"), and why it is legitimate. The scenario goes on.
//
// reason must not depend on the stack (no measured numbers): handmade's
// Allowed answer stands only if netstack or Linux gave the same reason in
// the same run (issue #5: handmade may differ from the RFC only where its
// answer is one a reference stack actually gave, or one the RFC itself
// allows — AllowedRFC).
func (t *T) Allowed(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.allowed = append(t.allowed, reason)
	t.answers = append(t.answers, reason)
}

// AllowedRFC records an answer the RFC itself allows (a MAY, an
// alternative the text names, a SHOULD's stated exception), with the
// reason: it stands for any stack, whatever the references answered. The
// scenario goes on.
func (t *T) AllowedRFC(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.allowed = append(t.allowed, reason)
}

// NA ends the scenario: it does not apply to this DUT.
func (t *T) NA(reason string) { t.end(NA, reason) }

// Fatal ends the scenario with an infrastructure error: not a verdict
// about the DUT.
func (t *T) Fatal(err error) { t.end(Error, err.Error()) }

// Check turns an error from the bench into the scenario's end: nil goes
// on, a *Mismatch fails, anything else is an infrastructure error.
func (t *T) Check(err error) {
	if err == nil {
		return
	}
	var m *Mismatch
	if errors.As(err, &m) {
		t.end(Fail, m.Error())
	}
	t.Fatal(err)
}

// Expect waits Timing.Reply for a segment of c matching m, failing the
// scenario if none comes.
func (t *T) Expect(c *Conn, m TCP) *Segment {
	seg, err := c.Expect(m, t.Timing.Reply)
	t.Check(err)
	return seg
}

// ExpectNone fails the scenario if any segment of c arrives within
// Timing.Quiet; what failing means is said by what.
func (t *T) ExpectNone(c *Conn, what string) {
	if err := c.ExpectNone(t.Timing.Quiet); err != nil {
		var m *Mismatch
		if errors.As(err, &m) {
			t.end(Fail, fmt.Sprintf("expected no reply (%s) within %v; got:\n  %s", what, m.Within, strings.Join(m.Got, "\n  ")))
		}
		t.Fatal(err)
	}
}

// Next returns the next segment of c arriving within Timing.Quiet, or nil:
// for stimuli where an answer and silence are both possible verdicts.
func (t *T) Next(c *Conn) *Segment {
	seg, err := c.Expect(TCP{}, t.Timing.Quiet)
	var m *Mismatch
	if errors.As(err, &m) {
		return nil
	}
	t.Check(err)
	return seg
}

// Send sends tcp on c (see Conn.Send).
func (t *T) Send(c *Conn, tcp TCP) *Segment {
	seg, err := c.Send(t.ctx, tcp)
	t.Check(err)
	return seg
}

// Listen makes the DUT listen on port.
func (t *T) Listen(port uint16) Listener {
	l, err := t.DUT.Listen(port)
	if err != nil {
		t.Fatal(fmt.Errorf("DUT listen on %d: %w", port, err))
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Accepted waits for a pending accept; the DUT not handing out the
// connection fails the scenario.
func (t *T) Accepted(p *Pending[Socket]) Socket {
	s, err := p.Wait(t.Timing.Reply)
	if err != nil {
		t.Fail("accept() to return the connection", fmt.Sprintf("%v", err))
	}
	return s
}

// DUTPort is the port scenarios make the DUT listen on.
const DUTPort = 8080

// Established gives a connection the bench opened to a DUT listener: the
// bench's side and the DUT's accepted socket, SYN-ACK seen and ACKed.
func (t *T) Established() (*Conn, Socket) {
	l := t.Listen(DUTPort)
	acc := l.Accept()
	c := t.TB.Dial(DUTPort)
	_, err := c.Handshake(t.ctx, t.Timing.Reply)
	t.Check(err)
	s := t.Accepted(acc)
	t.Cleanup(func() { s.Close() })
	return c, s
}

// BenchPort is the port the bench listens on for the DUT's active opens.
const BenchPort = 9090

// Connected gives a connection the DUT opened to the bench: the bench's
// side and the DUT's connected socket.
func (t *T) Connected() (*Conn, Socket) {
	c := t.TB.Listen(BenchPort)
	p := t.DUT.Connect(netip.AddrPortFrom(t.TB.local, BenchPort))
	t.Cleanup(p.Cancel)
	_, _, err := c.AcceptFrom(t.ctx, t.Timing.Reply)
	t.Check(err)
	s, err := p.Wait(t.Timing.Reply)
	if err != nil {
		t.Fail("connect() to succeed after the handshake", err.Error())
	}
	t.Cleanup(func() { s.Close() })
	return c, s
}

// Recv reads from s and fails the scenario unless exactly want arrives
// (in one or more reads) within Timing.Reply.
func (t *T) Recv(s Socket, want []byte) {
	var got []byte
	end := time.Now().Add(t.Timing.Reply)
	for len(got) < len(want) {
		b, err := s.Recv(len(want)-len(got), time.Until(end))
		got = append(got, b...)
		if err != nil {
			t.Fail(fmt.Sprintf("the application to read %q", want), fmt.Sprintf("%q, then %v", got, err))
		}
	}
	if string(got) != string(want) {
		t.Fail(fmt.Sprintf("the application to read %q", want), fmt.Sprintf("%q", got))
	}
}

// result is the verdict of a finished run of the scenario, and the
// Allowed answers it gave.
func (t *T) result() (Verdict, string, []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.verdict != "":
		return t.verdict, t.detail, nil
	case len(t.allowed) > 0:
		return Allowed, strings.Join(t.allowed, "; "), t.answers
	}
	return Pass, "", nil
}
