package handmade

import "testing"

// RFC 9293 §3.8.5 (MUST-62): urgent data sent in two segments carries URG
// on each, the pointer "to the sequence number of the octet following the
// urgent data" as an offset from each SEG.SEQ; after its ACK, data sent
// normally carries neither.
func TestSendUrgent(t *testing.T) {
	cfg := exactCfg()
	cfg.NoDelay = true // the 50-octet tail goes without waiting for an ACK
	h := establishedMSS(t, cfg, 100)
	h.urgentFollows(150)
	h.Write(bytesOf(150, 0), h.now)
	for _, w := range []struct{ off, n int }{{0, 100}, {100, 50}} {
		flags := ACK | URG
		if w.off+w.n == 150 {
			flags |= PSH
		}
		expect(t, h, sg{SEQ: h.snd.Add(uint32(w.off)), ACK: h.rcv, Flags: flags, Len: w.n})
		if want := uint16(150 - w.off); h.out.UP != want {
			t.Errorf("segment at +%d: urgent pointer %d, want %d (the octet after the urgent data)", w.off, h.out.UP, want)
		}
	}
	send(t, h, sg{SEQ: h.rcv, ACK: h.snd.Add(150), Flags: ACK})
	h.snd = h.snd.Add(150)
	h.Write(bytesOf(10, 1), h.now)
	expect(t, h, sg{SEQ: h.snd, ACK: h.rcv, Flags: ACK | PSH, Len: 10})
	if h.out.UP != 0 {
		t.Errorf("urgent pointer %d after the urgent data was acknowledged", h.out.UP)
	}
}
