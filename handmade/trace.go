package handmade

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Trace narrates a connection the way the article's prints do: "SENDING
// SYN", "RECEIVED SYN-ACK", with sequence and acknowledgement numbers both
// absolute and relative to each side's initial sequence number. Handshake,
// teardown, resets, retransmissions and drops are always narrated; data
// segments and their ACKs only when Verbose (otherwise the first of each,
// then a count). A nil *Trace is silent.
type Trace struct {
	W       io.Writer
	Name    string // "handmade client"
	Verbose bool

	mu        sync.Mutex
	start     time.Time
	quietSent int
	quietRecv int
	hinted    bool
}

// NewTrace narrates into w under name.
func NewTrace(w io.Writer, name string, verbose bool) *Trace {
	return &Trace{W: w, Name: name, Verbose: verbose}
}

// Notef writes one line of narration.
func (t *Trace) Notef(format string, args ...any) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.linef(format, args...)
}

func (t *Trace) linef(format string, args ...any) {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	fmt.Fprintf(t.W, "%9.3fms [%s] %s\n", float64(time.Since(t.start).Microseconds())/1000, t.Name, fmt.Sprintf(format, args...))
}

// segment narrates one segment sent (out) or received. iss and irs make the
// relative numbers; important segments (handshake and teardown) are always
// narrated; retransmit marks a retransmission; note is appended.
func (t *Trace) segment(out bool, s *Segment, iss, irs Seq, important, retransmit bool, note string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	quiet := !important && s.Flags&(SYN|FIN|RST) == 0 && !retransmit && note == ""
	if !t.Verbose && quiet {
		if out {
			t.quietSent++
			if t.quietSent > 1 {
				return
			}
		} else {
			t.quietRecv++
			if t.quietRecv > 1 {
				return
			}
		}
	}
	verb := "RECEIVED"
	mySeq, peerSeq := irs, iss
	if out {
		verb, mySeq, peerSeq = "SENDING", iss, irs
	}
	if s.Flags.Has(SYN) {
		mySeq = s.SEQ // a SYN carries its sender's initial sequence number
	}
	if retransmit {
		verb = "RETRANSMITTING"
	}
	line := fmt.Sprintf("%-14s %-7s seq=%d (+%d)", verb, s.Flags, s.SEQ, s.SEQ.Sub(mySeq))
	if s.Flags.Has(ACK) {
		line += fmt.Sprintf(" ack=%d (+%d)", s.ACK, s.ACK.Sub(peerSeq))
	}
	line += fmt.Sprintf(" win=%d", s.WND)
	if len(s.Payload) > 0 {
		line += fmt.Sprintf(" len=%d", len(s.Payload))
	}
	if o := optionsString(&s.Options); o != "" {
		line += " <" + o + ">"
	}
	if note != "" {
		line += "  " + note
	}
	t.linef("%s", line)
	if !t.Verbose && quiet && !t.hinted {
		t.hinted = true
		t.linef("  (further data segments and their ACKs are counted, not narrated; --verbose shows them)")
	}
}

// summary narrates how many quiet segments were counted.
func (t *Trace) summary() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.Verbose && (t.quietSent > 1 || t.quietRecv > 1) {
		t.linef("(%d data/ACK segments sent and %d received without narration)", max(t.quietSent-1, 0), max(t.quietRecv-1, 0))
	}
}

// optionsString lists options the way tcpdump does: "mss 1460,sackOK,TS
// val 1 ecr 0,wscale 7".
func optionsString(o *Options) string {
	var parts []string
	if o.HasMSS {
		parts = append(parts, fmt.Sprintf("mss %d", o.MSS))
	}
	if o.SACKPermitted {
		parts = append(parts, "sackOK")
	}
	if o.HasTimestamps && (o.TSEcr == 0 || o.HasMSS) {
		parts = append(parts, fmt.Sprintf("TS val %d ecr %d", o.TSVal, o.TSEcr))
	}
	if o.HasWScale {
		parts = append(parts, fmt.Sprintf("wscale %d", o.WScale))
	}
	for _, b := range o.SACK[:o.NumSACK] {
		parts = append(parts, fmt.Sprintf("sack %d:%d", b.Left, b.Right))
	}
	return strings.Join(parts, ",")
}
