package compare

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// runOnAll runs test-only scenarios on both in-process stacks and, when
// it can (see withLinux), on linux, and wants every one to pass.
func runOnAll(t *testing.T, scenarios ...Scenario) {
	t.Helper()
	backends, skip := withLinux(t)
	if skip != nil {
		t.Logf("linux left out: %v", skip)
	}
	m, err := Run(context.Background(), scenarios, backends, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range m.Scenarios {
		for stack, r := range row.Results {
			if r.Verdict != Pass {
				t.Errorf("%s on %s: %s %s\n  %s", row.ID, stack, r.Verdict, r.Detail, strings.Join(r.Log, "\n  "))
			}
		}
	}
}

// TestSocketOptions: every option of the Socket interface reaches the
// stack. Keep-alive is checked on the wire: with a 50 ms idle time (1 s
// on Linux, which counts in seconds) the probe comes, "a segment with SEG.SEQ = SND.NXT-1" and no text (RFC 9293
// §3.8.4). Setup.RecvBuffer bounds the SYN-ACK's window.
func TestSocketOptions(t *testing.T) {
	runOnAll(t,
		Scenario{ID: "T-keepalive", RFC: "RFC 9293 §3.8.4", Run: func(t *T) {
			c, s := t.Established()
			for _, err := range []error{s.SetNoDelay(true), s.SetUserTimeout(10 * time.Second),
				s.SetKeepAlive(KeepAlive{On: true, Idle: 50 * time.Millisecond, Interval: 50 * time.Millisecond, Count: 3})} {
				if err != nil {
					t.Fatal(err)
				}
			}
			probe := t.Expect(c, TCP{Flags: Ptr(ACK), Seq: Ptr(c.RcvNxt() - 1), Ack: Ptr(c.SndNxt())})
			if len(probe.Payload) > 1 {
				t.Failf("keep-alive probe with %d octets", len(probe.Payload))
			}
			if err := s.SetKeepAlive(KeepAlive{}); err != nil {
				t.Fatal(err)
			}
		}},
		Scenario{ID: "T-rcvbuf", RFC: "RFC 9293 §3.8.6", Setup: Setup{RecvBuffer: 4096}, Run: func(t *T) {
			l := t.Listen(DUTPort)
			l.Accept()
			c := t.TB.Dial(DUTPort)
			synAck, err := c.Handshake(t.Context(), t.Timing.Reply)
			t.Check(err)
			if synAck.Window == 0 || synAck.Window > 4096 {
				t.Fail("a SYN-ACK window of at most the 4096-octet buffer", fmt.Sprint(synAck.Window))
			}
		}},
		Scenario{ID: "T-shutdown", RFC: "RFC 9293 §3.6.1", Run: func(t *T) {
			c, s := t.Established()
			data := []byte("before the FIN")
			want := c.RcvNxt()
			if _, err := s.Send(data, t.Timing.Reply); err != nil {
				t.Fatal(err)
			}
			if err := s.ShutdownWrite(); err != nil {
				t.Fatal(err)
			}
			got := t.Expect(c, TCP{Seq: Ptr(want), Flags: Ptr(ACK), FlagsMask: Ptr(ACK | RST | SYN)})
			if string(got.Payload) != string(data) {
				t.Fail(fmt.Sprintf("%q first", data), got.String())
			}
			if got.Flags&FIN == 0 {
				t.Expect(c, TCP{Flags: Ptr(FIN | ACK), Seq: Ptr(want + uint32(len(data)))})
			}
			if s.LocalPort() != DUTPort {
				t.Fail(fmt.Sprintf("local port %d", DUTPort), fmt.Sprint(s.LocalPort()))
			}
		}},
	)
}
