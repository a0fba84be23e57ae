package handmade

// ring is a fixed-capacity byte queue: the send buffer (octets from
// SND.UNA on) and the receive buffer (in-order octets the application has
// not read).
type ring struct {
	buf     []byte
	head, n int
}

func newRing(capacity int) ring { return ring{buf: make([]byte, capacity)} }

func (r *ring) Len() int  { return r.n }
func (r *ring) Cap() int  { return len(r.buf) }
func (r *ring) Free() int { return len(r.buf) - r.n }

// Write appends as much of p as fits and returns how much that was.
func (r *ring) Write(p []byte) int {
	n := min(len(p), r.Free())
	tail := (r.head + r.n) % max(len(r.buf), 1)
	c := copy(r.buf[tail:], p[:n])
	copy(r.buf, p[c:n])
	r.n += n
	return n
}

// Peek copies into p the octets starting off octets after the head,
// without removing them, and returns how many it copied.
func (r *ring) Peek(off int, p []byte) int {
	if off >= r.n {
		return 0
	}
	n := min(len(p), r.n-off)
	start := (r.head + off) % len(r.buf)
	c := copy(p[:n], r.buf[start:])
	copy(p[c:n], r.buf)
	return n
}

// Read removes up to len(p) octets from the head into p.
func (r *ring) Read(p []byte) int {
	n := r.Peek(0, p)
	r.Discard(n)
	return n
}

// Discard removes n octets from the head.
func (r *ring) Discard(n int) {
	n = min(n, r.n)
	r.n -= n
	if r.n == 0 {
		r.head = 0
		return
	}
	r.head = (r.head + n) % len(r.buf)
}
