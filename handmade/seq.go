package handmade

// Seq is a TCP sequence number. Comparisons are modulo 2^32 (RFC 9293
// §3.4), so a raw < on two Seqs is a bug: use LessThan and friends.
type Seq uint32

// Add returns s advanced by n octets.
func (s Seq) Add(n uint32) Seq { return s + Seq(n) }

// Sub returns the distance from o up to s, assuming o <= s.
func (s Seq) Sub(o Seq) uint32 { return uint32(s - o) }

// LessThan reports s < o in sequence space (RFC 9293 §3.4).
func (s Seq) LessThan(o Seq) bool { return int32(s-o) < 0 }

// LessEq reports s <= o in sequence space.
func (s Seq) LessEq(o Seq) bool { return int32(s-o) <= 0 }

// InWindow reports start <= s < start+size (RFC 9293 §3.4, the receive
// and acknowledgement tests).
func (s Seq) InWindow(start Seq, size uint32) bool { return uint32(s-start) < size }
