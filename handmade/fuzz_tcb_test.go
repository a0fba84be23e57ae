package handmade

import (
	"testing"
	"time"
)

// tcbPair is two TCBs wired back to back in memory.
type tcbPair struct {
	a, b *TCB
	now  time.Time
	buf  []byte
}

func newTCBPair(cfg *Config) *tcbPair {
	now := time.Unix(1000, 0)
	p := &tcbPair{now: now, buf: make([]byte, 65536)}
	p.a = newTCB(cfg, addrA, addrB, 0xffffff00, now)
	p.a.openActive(now)
	return p
}

// exchange moves segments between the two until both are quiet, at most
// limit segments; it creates b from a's SYN.
func (p *tcbPair) exchange(limit int) {
	var seg Segment
	for i := 0; i < limit; i++ {
		moved := false
		for j := 0; p.a.Output(p.now, &seg, p.buf); j++ {
			if j > 10000 {
				panic("Output does not stop")
			}
			moved = true
			if p.b == nil {
				if seg.Flags != SYN {
					continue
				}
				p.b = newTCB(p.a.cfg, addrB, addrA, 0xfffff000, p.now)
				p.b.openPassive(&seg, p.now)
				continue
			}
			p.b.Input(&seg, p.now)
		}
		if p.b != nil {
			for j := 0; p.b.Output(p.now, &seg, p.buf); j++ {
				if j > 10000 {
					panic("Output does not stop")
				}
				moved = true
				p.a.Input(&seg, p.now)
			}
		}
		if !moved {
			return
		}
	}
}

func (p *tcbPair) check(t *testing.T, who string, x *TCB) {
	t.Helper()
	if x.SND.NXT.LessThan(x.SND.UNA) {
		t.Fatalf("%s: SND.UNA %d > SND.NXT %d in %v", who, x.SND.UNA, x.SND.NXT, x.State)
	}
	// The receive buffer may hold a little past its size: what rounding
	// a scaled window up promised (advertise), at most an eighth or one
	// granularity over the largest it has been.
	if x.sndBuf.Len() > x.sndBuf.Cap() || x.rcvBuf.Len() > x.rcvBuf.Peak()+max(x.rcvBuf.Peak()/8, 1<<x.RCV.Shift) {
		t.Fatalf("%s: buffers beyond their bounds: send %d/%d, receive %d/%d", who, x.sndBuf.Len(), x.sndBuf.Cap(), x.rcvBuf.Len(), x.rcvBuf.Cap())
	}
	// Send-buffer autotuning grows the buffer from SendBuffer, never
	// past MaxSendBuffer.
	if c := x.sndBuf.Cap(); c < x.cfg.SendBuffer || c > x.cfg.MaxSendBuffer {
		t.Fatalf("%s: send buffer %d, outside SendBuffer %d .. MaxSendBuffer %d", who, c, x.cfg.SendBuffer, x.cfg.MaxSendBuffer)
	}
	if x.ooo.Len() > maxHeld {
		t.Fatalf("%s: %d held segments", who, x.ooo.Len())
	}
	if x.State > TimeWait {
		t.Fatalf("%s: state %d", who, x.State)
	}
	prev := x.SND.UNA
	for _, r := range x.rec.sb.sacked {
		if !prev.LessEq(r.Left) || !r.Left.LessThan(r.Right) || !r.Right.LessEq(x.SND.NXT) || r.Left == prev && prev != x.SND.UNA {
			t.Fatalf("%s: scoreboard %v not sorted, disjoint and inside [SND.UNA %d, SND.NXT %d]", who, x.rec.sb.sacked, x.SND.UNA, x.SND.NXT)
		}
		prev = r.Right
	}
	// RFC 6675 §4 SetPipe () counts each unSACKed octet at most twice
	// (not lost, and retransmitted); outside recovery and step 3 pipe
	// does not exist.
	if unSACKed := x.flight() - x.rec.sb.sackedBelow(x.SND.NXT); x.rec.pipe < 0 || x.rec.pipe > 2*unSACKed {
		t.Fatalf("%s: pipe %d with %d octets outstanding, %d of them unSACKed", who, x.rec.pipe, x.flight(), unSACKed)
	}
	if !x.pipeRules() && x.rec.pipe != 0 {
		t.Fatalf("%s: pipe %d while FlightSize governs sending (DupAcks %d, recovery %v)", who, x.rec.pipe, x.dupAcks, x.inRecovery)
	}
	// The spurious-retransmission episode (spurious.go) counts what it
	// has not proven, and exists only while armed; a D-SACK block to
	// send is a range (RFC 2883 §4, rule (3)).
	unproven := 0
	for _, r := range x.rec.undo.rtx {
		if !r.proven {
			unproven++
		}
	}
	if u := &x.rec.undo; unproven != u.unproven || !u.armed && len(u.rtx) > 0 || len(u.rtx) > maxUndoRecords {
		t.Fatalf("%s: undo episode armed %v with %d records, %d unproven, counted %d", who, u.armed, len(u.rtx), unproven, u.unproven)
	}
	if x.dsackNow && (!x.sackOn || !x.dsack.Left.LessThan(x.dsack.Right)) {
		t.Fatalf("%s: D-SACK %v pending, SACK %v", who, x.dsack, x.sackOn)
	}
	if x.cc != nil && x.cwnd() < x.sndMSS {
		t.Fatalf("%s: window %d below one segment", who, x.cwnd())
	}
	if x.State.synchronized() && x.State != TimeWait && int(x.SND.NXT.Sub(x.SND.UNA)) > x.sndBuf.Len()+2 {
		t.Fatalf("%s: %d octets in flight but %d buffered", who, x.SND.NXT.Sub(x.SND.UNA), x.sndBuf.Len())
	}
}

// FuzzTCB: two connected TCBs, driven to a state picked by the input,
// then one of them is fed arbitrary segments (flags, sequence and
// acknowledgement numbers near its own, window, options, payload) and
// timer expiries. No panic, no output loop, invariants after every step.
func FuzzTCB(f *testing.F) {
	f.Add(uint8(0), []byte{0x10, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 'a', 'b'})
	f.Add(uint8(1), []byte{0x11, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0})
	f.Add(uint8(2), []byte{0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint8(3), []byte{0x02, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 0, 7, 7, 7})
	// SACK blocks about the victim's data, three duplicate ACKs of them.
	f.Add(uint8(48), []byte{0x10, 0, 0, 0, 0x80, 0x20, 0, 0, 0x44, 2, 3, 0x10, 0, 0, 0, 0x80, 0x20, 0, 0, 0x44, 5, 3, 0x10, 0, 0, 0, 0x80, 0x20, 0, 0, 0x84, 8, 3})
	f.Fuzz(func(t *testing.T, state uint8, script []byte) {
		watchdog := time.AfterFunc(5*time.Second, func() { panic("FuzzTCB: an input ran for 5 s") })
		defer watchdog.Stop()
		cfg := Config{RecvBuffer: 8192, SendBuffer: 8192}.withDefaults(1500)
		if state&8 != 0 {
			cfg.DisableTimestamps, cfg.DisableSACK, cfg.DisableWindowScale = true, true, true
		}
		p := newTCBPair(&cfg)
		p.exchange(50)
		if p.b == nil {
			return
		}
		p.a.Write([]byte("some data for the peer"), p.now)
		p.exchange(50)
		switch state % 8 {
		case 1:
			p.a.CloseWrite(p.now)
		case 2:
			p.a.CloseWrite(p.now)
			p.exchange(50)
		case 3:
			p.a.CloseWrite(p.now)
			p.b.CloseWrite(p.now)
		case 4:
			p.a.CloseWrite(p.now)
			p.exchange(50)
			p.b.Close(p.now)
			p.exchange(50)
		case 5:
			p.b.Close(p.now)
		}
		victim, other := p.b, p.a
		if state&16 != 0 {
			victim, other = p.a, p.b
		}
		var out Segment
		if state&32 != 0 {
			// Data in flight that the peer never got: what the ACKs and
			// SACK blocks below acknowledge, and loss recovery repairs.
			victim.Write(make([]byte, 6000), p.now)
			for i := 0; victim.Output(p.now, &out, p.buf); i++ {
				if i > 10000 {
					t.Fatal("Output does not stop")
				}
			}
		}
		for steps := 0; len(script) >= 11 && steps < 32; steps++ {
			f, seqOff, ackOff := Flags(script[0]), int32(uint32(script[1])<<24|uint32(script[2])<<16)>>16, int32(uint32(script[3])<<8|uint32(script[4]))-128
			wnd := uint16(script[5])<<8 | uint16(script[6])
			n := int(script[7]) % 64
			opts := Options{}
			if script[8]&1 != 0 {
				opts.HasTimestamps, opts.TSVal, opts.TSEcr = true, uint32(script[9])<<24, uint32(script[10])
			}
			if script[8]&2 != 0 {
				opts.NumSACK = 1
				opts.SACK[0] = SACKBlock{victim.RCV.NXT.Add(uint32(script[9])), victim.RCV.NXT.Add(uint32(script[9]) + uint32(script[10]))}
			}
			if script[8]&4 != 0 {
				// Blocks about the victim's own data, as its scoreboard
				// reads them: around SND.UNA, in units of 16 octets.
				opts.NumSACK = 1 + int(script[8]>>6)
				for i := 0; i < opts.NumSACK; i++ {
					l := victim.SND.UNA.Add(uint32(int32(int8(script[9]+byte(i)*37)) * 16))
					opts.SACK[i] = SACKBlock{l, l.Add(uint32(script[10]+byte(i)*11) * 16)}
				}
			}
			script = script[11:]
			payload := script[:min(n, len(script))]
			seg := Segment{Src: other.Local, Dst: other.Remote, SEQ: victim.RCV.NXT.Add(uint32(seqOff)), ACK: victim.SND.UNA.Add(uint32(ackOff)),
				Flags: f, WND: wnd, Options: opts, Payload: payload}
			victim.Input(&seg, p.now)
			for i := 0; victim.Output(p.now, &out, p.buf); i++ {
				if i > 10000 {
					t.Fatal("Output does not stop")
				}
			}
			p.now = p.now.Add(time.Duration(n) * 30 * time.Millisecond)
			victim.OnTimer(p.now)
			p.check(t, "victim", victim)
			if d := victim.Deadline(); !d.IsZero() && victim.State == Closed {
				t.Fatalf("a closed TCB still wants a timer at %v\n%s", d, victim.DebugString(p.now))
			}
		}
	})
}
