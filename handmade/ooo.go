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
type oooQueue struct{ segs []heldSegment }

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
