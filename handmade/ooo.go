package handmade

// heldSegment is data that arrived beyond RCV.NXT.
type heldSegment struct {
	seq  Seq
	data []byte
	fin  bool
}

// oooQueue holds out-of-order segments, sorted by sequence number, until
// the gap before them fills (RFC 9293 §3.10.7.4, first check: "segments
// with higher beginning sequence numbers ... should be held for later
// processing"). It only ever holds data inside the receive window.
type oooQueue struct {
	segs []heldSegment
	last Seq // start of the most recently held segment
	// out is blocks' result, reused so that an ACK with SACK blocks
	// allocates nothing.
	out []SACKBlock
}

// maxHeld bounds the queue in segments; the window bounds it in octets.
const maxHeld = 1024

// hold copies data at seq into the queue; it reports false when the queue
// is full or already holds that much at seq.
func (q *oooQueue) hold(seq Seq, data []byte, fin bool) bool {
	i := 0
	for i < len(q.segs) && q.segs[i].seq.LessThan(seq) {
		i++
	}
	if i < len(q.segs) && q.segs[i].seq == seq && len(q.segs[i].data) >= len(data) && (q.segs[i].fin || !fin) {
		return false
	}
	if len(q.segs) >= maxHeld {
		return false
	}
	q.segs = append(q.segs, heldSegment{})
	copy(q.segs[i+1:], q.segs[i:])
	q.segs[i] = heldSegment{seq: seq, data: append([]byte(nil), data...), fin: fin}
	q.last = seq
	return true
}

// next removes and returns the first held segment that starts at or before
// rcvNxt and reaches past it, trimmed to start at rcvNxt; segments wholly
// before rcvNxt are discarded on the way.
func (q *oooQueue) next(rcvNxt Seq) (heldSegment, bool) {
	for len(q.segs) > 0 && q.segs[0].seq.LessEq(rcvNxt) {
		s := q.segs[0]
		q.segs = q.segs[1:]
		end := s.seq.Add(uint32(len(s.data)))
		if end.LessThan(rcvNxt) || (end == rcvNxt && !s.fin) {
			continue
		}
		skip := rcvNxt.Sub(s.seq)
		if skip > uint32(len(s.data)) { // only the FIN, one past the data, is left
			continue
		}
		return heldSegment{seq: rcvNxt, data: s.data[skip:], fin: s.fin}, true
	}
	return heldSegment{}, false
}

// Len is the number of held segments.
func (q *oooQueue) Len() int { return len(q.segs) }

// end is the sequence number after the held segment: after its data and,
// if it carries one, after its FIN, which occupies a sequence number of its
// own (RFC 9293 §3.4).
func (s heldSegment) end() Seq {
	end := s.seq.Add(uint32(len(s.data)))
	if s.fin {
		end = end.Add(1)
	}
	return end
}

// blocks returns the SACK blocks covering the held data, the block with
// the most recently held segment first (RFC 2018 §4), then in sequence
// order. The slice is reused by the next call.
func (q *oooQueue) blocks() []SACKBlock {
	out := q.out[:0]
	for _, s := range q.segs {
		// RFC 2018 §3: the right edge is "the sequence number immediately
		// following the last sequence number of this block", and a held
		// FIN's sequence number is one of them. Reporting a FIN held
		// alone (the data before it lost) as the empty block [SEQ, SEQ)
		// tells the sender nothing: gVisor's RACK saw no segment SACKed
		// after the hole, its loss probe resent the FIN, and with its
		// count of segments in flight fallen to zero it armed no
		// retransmission timer, so the lost data was never resent.
		// Linux SACKs a held FIN the same way (its end_seq counts it).
		end := s.end()
		if n := len(out); n > 0 && s.seq.LessEq(out[n-1].Right) {
			if out[n-1].Right.LessThan(end) {
				out[n-1].Right = end
			}
			continue
		}
		out = append(out, SACKBlock{Left: s.seq, Right: end})
	}
	for i, b := range out {
		if q.last.InWindow(b.Left, b.Right.Sub(b.Left)) && i > 0 {
			copy(out[1:i+1], out[:i])
			out[0] = b
			break
		}
	}
	q.out = out
	return out
}

// duplicate returns the first run of octets in [seq, end) that the queue
// already holds: what a segment arriving beyond RCV.NXT repeats, for a
// D-SACK block (RFC 2883 §4).
func (q *oooQueue) duplicate(seq, end Seq) (SACKBlock, bool) {
	var run SACKBlock
	found := false
	for _, s := range q.segs {
		l, r := maxSeq(s.seq, seq), minSeq(s.seq.Add(uint32(len(s.data))), end)
		if !l.LessThan(r) {
			if found && run.Right.LessThan(s.seq) {
				break // a gap after the run
			}
			continue
		}
		switch {
		case !found:
			run, found = SACKBlock{l, r}, true
		case l.LessEq(run.Right):
			run.Right = maxSeq(run.Right, r)
		default:
			return run, true
		}
	}
	return run, found
}
