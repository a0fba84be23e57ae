package handmade

// Sending urgent data (RFC 9293 §3.8.5, §3.9.1; RFC 6093). Received
// urgent data is taken inline (input.go); this is the sender's side.

// urgentFollows marks the next n octets the application queues as
// urgent: SND.UP becomes the sequence number after them, "the urgent
// pointer ... points to the sequence number of the octet following the
// urgent data" (RFC 9293 §3.8.5, MUST-62; RFC 6093 §2).
func (t *TCB) urgentFollows(n int) {
	t.sndUP = t.dataEnd().Add(uint32(n))
	t.urgentMode = true
}

// markUrgent sets URG and the urgent pointer on a segment that starts
// before SND.UP (RFC 9293 §3.9.1: "the urgent pointer [is set] in the
// outgoing segments"), as an offset from its SEG.SEQ; a pointer beyond
// 65535 octets away is sent as 65535, which still points past this
// segment's text (RFC 6093 §4). Once SND.UNA has passed SND.UP the urgent
// data is acknowledged and urgent mode ends.
func (t *TCB) markUrgent(seg *Segment) {
	if !t.urgentMode {
		return
	}
	if !t.SND.UNA.LessThan(t.sndUP) {
		t.urgentMode = false
		return
	}
	if seg.SEQ.LessThan(t.sndUP) {
		seg.Flags |= URG
		seg.UP = uint16(min(t.sndUP.Sub(seg.SEQ), 0xffff))
	}
}
