package handmade

// ring is a byte queue with a limit: the send buffer (octets from SND.UNA
// on) and the receive buffer (in-order octets the application has not
// read). Its memory grows on demand, doubling, up to what it has held at
// once: a connection whose buffer may grow to megabytes takes them only
// if it queues that much, and one that has reached its working size
// allocates no more.
type ring struct {
	buf         []byte
	head, n     int
	limit, peak int // peak: the largest limit the ring has had
}

// ringMinAlloc is the first allocation of a ring that gets data.
const ringMinAlloc = 4 << 10

func newRing(limit int) ring { return ring{limit: limit, peak: limit} }

func (r *ring) Len() int { return r.n }

// Cap is the ring's limit: the most octets Write takes.
func (r *ring) Cap() int { return r.limit }

// Free is what Write takes now: the limit less what is held (0 when a
// lowered limit is below that).
func (r *ring) Free() int { return max(r.limit-r.n, 0) }

// Allocated is the memory the ring holds now.
func (r *ring) Allocated() int { return len(r.buf) }

// Peak is the largest limit the ring has had.
func (r *ring) Peak() int { return r.peak }

// SetLimit changes the limit. Octets already held stay, even above it.
func (r *ring) SetLimit(limit int) {
	r.limit = limit
	r.peak = max(r.peak, limit)
}

// Write appends as much of p as fits under the limit and returns how much
// that was.
func (r *ring) Write(p []byte) int {
	return r.WriteAll(p[:min(len(p), r.Free())])
}

// WriteAll appends all of p, past the limit if need be: the receive
// buffer takes whatever arrives within the window it advertised, which a
// lowered limit does not take back (RFC 7323 §2.4).
func (r *ring) WriteAll(p []byte) int {
	n := len(p)
	if r.n+n > len(r.buf) {
		r.grow(r.n + n)
	}
	tail := (r.head + r.n) % max(len(r.buf), 1)
	c := copy(r.buf[tail:], p)
	copy(r.buf, p[c:])
	r.n += n
	return n
}

// grow reallocates the ring to hold at least need octets: double its
// size, at least ringMinAlloc, no more than the limit unless need is;
// then with an eighth of the limit to spare, so a receive buffer held a
// little past its limit (WriteAll) is not reallocated octet by octet.
func (r *ring) grow(need int) {
	ceiling := r.limit
	if need > r.limit {
		ceiling = need + r.limit/8
	}
	size := min(max(2*len(r.buf), ringMinAlloc, need), ceiling)
	nb := make([]byte, size)
	r.Peek(0, nb[:r.n])
	r.buf, r.head = nb, 0
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
