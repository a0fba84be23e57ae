package handmade

import "time"

// scoreboard is the sender's record of what the receiver has selectively
// acknowledged above SND.UNA (RFC 6675 §3): the SACKed octets as sorted,
// disjoint, coalesced ranges [Left, Right), each inside [SND.UNA, SND.NXT].
// What lies between them and below the first is a hole: octets sent and
// neither acknowledged nor SACKed.
//
// It knows nothing of the TCB and reads no clock: the caller passes SND.UNA
// (HighACK+1), SND.NXT (HighData+1) and the time. Sequence numbers here
// are ends, one past the octet the RFC names, so that ranges compose: RFC
// 6675 §2's HighACK is SND.UNA-1 and HighData is SND.NXT-1.
type scoreboard struct {
	sacked []SACKBlock
	// at[i] is when the receiver first SACKed an octet of sacked[i].
	at []time.Time
}

// maxSACKRanges bounds the scoreboard: a receiver that SACKs every other
// segment of a large window could otherwise grow it without end. Past it
// the highest ranges are forgotten, which only makes the sender more
// conservative (a forgotten range is a hole that is never judged lost).
const maxSACKRanges = 1024

func (sb *scoreboard) reset()      { sb.sacked, sb.at = sb.sacked[:0], sb.at[:0] }
func (sb *scoreboard) empty() bool { return len(sb.sacked) == 0 }

// update is RFC 6675 §4 Update(): it marks the octets of one SACK block
// inside [una, nxt) as SACKed and returns how many were not SACKed before.
// A block wholly below una (a D-SACK, RFC 2883 §4), empty, reaching past
// nxt, or longer than the octets outstanding is ignored: RFC 2018 §3 makes
// a block's edges sequence numbers the receiver holds, and nothing beyond
// SND.NXT was ever sent.
func (sb *scoreboard) update(b SACKBlock, una, nxt Seq, now time.Time) int {
	if !b.Left.LessThan(b.Right) || !una.LessThan(b.Right) || nxt.LessThan(b.Right) || b.Right.Sub(b.Left) > nxt.Sub(una) {
		return 0
	}
	if b.Left.LessThan(una) {
		b.Left = una
	}
	// Find the first range that ends at or after b.Left: every range
	// before it lies wholly below b and is untouched.
	i := 0
	for i < len(sb.sacked) && sb.sacked[i].Right.LessThan(b.Left) {
		i++
	}
	// Merge b with every range it overlaps or touches.
	j := i
	merged, first := b, now
	covered := uint32(0)
	for j < len(sb.sacked) && sb.sacked[j].Left.LessEq(b.Right) {
		r := sb.sacked[j]
		covered += overlap(r, b)
		if r.Left.LessThan(merged.Left) {
			merged.Left = r.Left
		}
		if merged.Right.LessThan(r.Right) {
			merged.Right = r.Right
		}
		if sb.at[j].Before(first) {
			first = sb.at[j]
		}
		j++
	}
	newly := int(b.Right.Sub(b.Left) - covered)
	if newly == 0 {
		return 0
	}
	switch {
	case j == i:
		if len(sb.sacked) >= maxSACKRanges {
			if i == len(sb.sacked) {
				return 0 // the highest: forgotten
			}
			sb.sacked, sb.at = sb.sacked[:len(sb.sacked)-1], sb.at[:len(sb.at)-1]
		}
		sb.sacked, sb.at = append(sb.sacked, SACKBlock{}), append(sb.at, time.Time{})
		copy(sb.sacked[i+1:], sb.sacked[i:])
		copy(sb.at[i+1:], sb.at[i:])
	default:
		sb.sacked = append(sb.sacked[:i+1], sb.sacked[j:]...)
		sb.at = append(sb.at[:i+1], sb.at[j:]...)
	}
	sb.sacked[i], sb.at[i] = merged, first
	return newly
}

// overlap is the number of octets a and b share.
func overlap(a, b SACKBlock) uint32 {
	l, r := a.Left, a.Right
	if l.LessThan(b.Left) {
		l = b.Left
	}
	if b.Right.LessThan(r) {
		r = b.Right
	}
	if !l.LessThan(r) {
		return 0
	}
	return r.Sub(l)
}

// advance forgets what a cumulative acknowledgement up to una covers.
func (sb *scoreboard) advance(una Seq) {
	i := 0
	for i < len(sb.sacked) && sb.sacked[i].Right.LessEq(una) {
		i++
	}
	if i > 0 {
		sb.sacked = append(sb.sacked[:0], sb.sacked[i:]...)
		sb.at = append(sb.at[:0], sb.at[i:]...)
	}
	if len(sb.sacked) > 0 && sb.sacked[0].Left.LessThan(una) {
		sb.sacked[0].Left = una
	}
}

// isSACKed reports whether octet s is SACKed.
func (sb *scoreboard) isSACKed(s Seq) bool {
	for _, r := range sb.sacked {
		if s.LessThan(r.Left) {
			return false
		}
		if s.LessThan(r.Right) {
			return true
		}
	}
	return false
}

// highest is the end of the highest SACKed octet ("the highest octet
// covered by any received SACK", RFC 6675 §4 NextSeg (1.b)), or una if
// nothing is SACKed.
func (sb *scoreboard) highest(una Seq) Seq {
	if len(sb.sacked) == 0 {
		return una
	}
	return sb.sacked[len(sb.sacked)-1].Right
}

// isLost is RFC 6675 §4 IsLost(SeqNum): "The routine returns true when
// either DupThresh discontiguous SACKed sequences have arrived above
// 'SeqNum' or more than (DupThresh - 1) * SMSS bytes with sequence numbers
// greater than 'SeqNum' have been SACKed." The discontiguous sequences are
// the scoreboard's ranges.
func (sb *scoreboard) isLost(s Seq, dupThresh, smss int) bool {
	octets, ranges := 0, 0
	for i := len(sb.sacked) - 1; i >= 0; i-- {
		r := sb.sacked[i]
		if r.Right.LessEq(s.Add(1)) {
			break
		}
		ranges++
		if r.Left.LessEq(s) {
			octets += int(r.Right.Sub(s.Add(1)))
			break
		}
		octets += int(r.Right.Sub(r.Left))
	}
	return ranges >= dupThresh || octets > (dupThresh-1)*smss
}

// lostBelow is where IsLost stops holding: an unSACKed octet s is lost
// (isLost(s) is true) exactly when s < lostBelow. Going down from the top,
// the SACKed octets and ranges above an unSACKed octet only grow, so the
// lost octets are the holes below some range's left edge; una if none is
// lost. SetPipe and NextSeg ask IsLost of every hole with this one walk.
func (sb *scoreboard) lostBelow(una Seq, dupThresh, smss int) Seq {
	octets := 0
	for i := len(sb.sacked) - 1; i >= 0; i-- {
		r := sb.sacked[i]
		octets += int(r.Right.Sub(r.Left))
		if len(sb.sacked)-i >= dupThresh || octets > (dupThresh-1)*smss {
			return r.Left
		}
	}
	return una
}

// lostByTime is where RACK's rule (RFC 8985 §6.2) stops holding, and
// when it will next move: an unSACKed octet below a SACKed one was sent
// no later than it (data goes out in sequence order; what was
// retransmitted since is the caller's to tell apart), so it is lost once
// reo has passed since the receiver first SACKed an octet above it. RACK
// waits RACK.rtt + reo_wnd from the lost segment's transmission, which is
// at most as long. Every unSACKed octet below the returned edge is lost by
// that rule; next is when the edge moves up, zero if it will not.
func (sb *scoreboard) lostByTime(una Seq, now time.Time, reo time.Duration) (edge Seq, next time.Time) {
	var first time.Time
	for i := len(sb.sacked) - 1; i >= 0; i-- {
		if first.IsZero() || sb.at[i].Before(first) {
			first = sb.at[i]
		}
		at := first.Add(reo)
		if !now.Before(at) {
			return sb.sacked[i].Left, next
		}
		next = at
	}
	return una, next
}

// hole returns the first unSACKed range at or above from and below nxt:
// [start, end), end being the next SACKed range's left edge or nxt.
func (sb *scoreboard) hole(from, nxt Seq) (start, end Seq, ok bool) {
	start = from
	for _, r := range sb.sacked {
		if r.Right.LessEq(start) {
			continue
		}
		if r.Left.LessEq(start) {
			start = r.Right
			continue
		}
		if !start.LessThan(nxt) {
			return start, start, false
		}
		return start, minSeq(r.Left, nxt), true
	}
	return start, nxt, start.LessThan(nxt)
}

// lastHole returns the highest unSACKed range in [una, nxt).
func (sb *scoreboard) lastHole(una, nxt Seq) (start, end Seq, ok bool) {
	end = nxt
	for i := len(sb.sacked) - 1; i >= 0; i-- {
		r := sb.sacked[i]
		if r.Right.LessThan(end) {
			return r.Right, end, true
		}
		end = r.Left
	}
	return una, end, una.LessThan(end)
}

// sackedBelow is the number of SACKed octets below s.
func (sb *scoreboard) sackedBelow(s Seq) int {
	n := 0
	for _, r := range sb.sacked {
		if !r.Left.LessThan(s) {
			break
		}
		n += span(r.Left, minSeq(r.Right, s))
	}
	return n
}

// pipe is RFC 6675 §4 SetPipe(): over every unSACKed octet S1 from una to
// nxt, "(a) If IsLost (S1) returns false: Pipe is incremented by 1 octet.
// (b) If S1 <= HighRxt: Pipe is incremented by 1 octet." highRxt is the
// end of the highest retransmitted octet (HighRxt+1); IsLost holds below
// lost (lostBelow).
func (sb *scoreboard) pipe(una, nxt, highRxt, lost Seq) int {
	p := 0
	hole := func(start, end Seq) {
		p += span(maxSeq(start, lost), end) // (a): not lost
		p += span(start, minSeq(end, highRxt))
	}
	prev := una
	for _, r := range sb.sacked {
		hole(prev, r.Left)
		prev = r.Right
	}
	hole(prev, nxt)
	return p
}

// span is the number of octets in [a, b), 0 if b <= a.
func span(a, b Seq) int {
	if !a.LessThan(b) {
		return 0
	}
	return int(b.Sub(a))
}

func minSeq(a, b Seq) Seq {
	if a.LessThan(b) {
		return a
	}
	return b
}

func maxSeq(a, b Seq) Seq {
	if a.LessThan(b) {
		return b
	}
	return a
}
