package wire

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PipeConfig configures an in-memory wire made by Pipe.
type PipeConfig struct {
	MTU      int   // default 1500
	QueueLen int   // packets queued per direction before writers block; default 1024
	Seed     int64 // drives every random decision
	AtoB     Impairment
	BtoA     Impairment
	Names    [2]string // labels of end A and end B for events, default "a", "b"
	// ReorderHold bounds how long a reordered packet waits for the next
	// packet of its direction, counted from when it would have been
	// delivered (so the hold is Delay+ReorderHold from the write); when it
	// runs out, the packet is delivered without being overtaken. Default
	// 1 ms.
	ReorderHold time.Duration
	// Events, if set, is called for every impairment event (drop, dup,
	// corrupt, reorder). It must be cheap and may be called from any
	// goroutine (the writer's), never while the pipe holds a lock.
	Events func(Event)
}

// DirStats counts what happened to the packets of one direction.
type DirStats struct {
	Written, Delivered, Lost, Duplicated, Reordered, Corrupted uint64
	BytesWritten, BytesDelivered                               uint64
	// Delayed counts packets scheduled for delivery after the moment they
	// were written (delay, jitter or serialization at Rate), DelayTotal
	// the sum of those waits.
	Delayed    uint64
	DelayTotal time.Duration
	// LateTotal sums how long after its scheduled time each packet was
	// handed to the reader: the runtime's timer granularity (about 1 ms on
	// an idle Linux process, which the pipe works around for delays under
	// spinBelow) and a reader that was busy elsewhere.
	LateTotal time.Duration
	// RateQueued counts packets that waited for an earlier one to finish
	// serializing at Rate.
	RateQueued uint64
}

// Event is one impairment decision of the wire.
type Event struct {
	Time   time.Time `json:"time"`
	Dir    string    `json:"dir"`    // "client->server"
	Kind   string    `json:"kind"`   // "drop", "dup", "corrupt", "reorder"
	Index  uint64    `json:"index"`  // 1-based number of the packet among those written in this direction
	Len    int       `json:"len"`    // bytes of the packet
	Detail string    `json:"detail"` // e.g. "bit 1234 flipped (byte 154)"
	Packet string    `json:"packet"` // summary of the packet as written
}

// Event kinds.
const (
	EventDrop    = "drop"
	EventDup     = "dup"
	EventCorrupt = "corrupt"
	EventReorder = "reorder"
)

// End is one end of a Pipe. It implements Link: what it writes is read by
// the other end.
type End struct {
	p   *pipe
	out *direction // the direction this end writes into
	in  *direction // the direction this end reads from
}

var (
	_ Link     = (*End)(nil)
	_ Buffered = (*End)(nil)
)

type pipe struct {
	mtu       int
	closed    chan struct{}
	closeOnce sync.Once
}

// Go's timers wake an idle process through epoll_wait, whose timeout is
// in milliseconds: a 100 µs timer fires after about 1.1 ms on Linux. A
// wire asked for a LAN's sub-millisecond delay would then model a WAN. So
// on a direction whose Delay is under spinBelow, the reader sleeps on a
// timer only until spinWindow before the next delivery and yields in a
// loop for the rest (which costs CPU only while a packet is that close to
// due). Longer delays keep plain timers: their error is small beside
// them, and a busy loop on a bulk transfer would take a core from the
// stacks.
const (
	spinBelow  = 2 * time.Millisecond
	spinWindow = 1500 * time.Microsecond
)

var errClosed = fmt.Errorf("wire: pipe closed: %w", net.ErrClosed)

// Pipe makes an in-memory wire: what a writes, b reads (impaired by
// cfg.AtoB) and the other way round (cfg.BtoA). The pipe starts no
// goroutines; delays are served by the reader. It panics on an invalid
// Impairment (see Impairment.Validate) or a negative MTU or QueueLen.
func Pipe(cfg PipeConfig) (a, b *End) {
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = 1024
	}
	if cfg.MTU < 0 || cfg.QueueLen < 0 {
		panic(fmt.Sprintf("wire: Pipe: negative MTU (%d) or QueueLen (%d)", cfg.MTU, cfg.QueueLen))
	}
	for _, im := range []Impairment{cfg.AtoB, cfg.BtoA} {
		if err := im.Validate(); err != nil {
			panic(err)
		}
	}
	names := cfg.Names
	if names[0] == "" {
		names[0] = "a"
	}
	if names[1] == "" {
		names[1] = "b"
	}
	p := &pipe{mtu: cfg.MTU, closed: make(chan struct{})}
	ab := newDirection(p, names[0]+"->"+names[1], 0, cfg, cfg.AtoB)
	ba := newDirection(p, names[1]+"->"+names[0], 1, cfg, cfg.BtoA)
	return &End{p: p, out: ab, in: ba}, &End{p: p, out: ba, in: ab}
}

// MTU implements Link.
func (e *End) MTU() int { return e.p.mtu }

// Close closes the whole pipe: pending and later reads and writes on both
// ends return an error wrapping net.ErrClosed. It always returns nil.
func (e *End) Close() error {
	e.p.closeOnce.Do(func() { close(e.p.closed) })
	return nil
}

// Stats returns the counters of the direction this end writes into.
func (e *End) Stats() DirStats { return e.out.stats() }

// WritePacket implements Link. It copies p, blocks while the direction
// holds QueueLen packets, and returns an error for an empty packet or one
// longer than the MTU.
func (e *End) WritePacket(ctx context.Context, p []byte) error {
	if len(p) < 1 || len(p) > e.p.mtu {
		return fmt.Errorf("wire: packet of %d bytes: want 1 to %d bytes (MTU %d)", len(p), e.p.mtu, e.p.mtu)
	}
	select {
	case <-e.p.closed:
		return errClosed
	default:
	}
	if e.out.clean {
		return e.out.writeClean(ctx, p)
	}
	return e.out.writeImpaired(ctx, p)
}

// ReadPacket implements Link.
func (e *End) ReadPacket(ctx context.Context, b []byte) (int, error) {
	select {
	case <-e.p.closed:
		return 0, errClosed
	default:
	}
	if e.in.clean {
		return e.in.readClean(ctx, b)
	}
	return e.in.readImpaired(ctx, b)
}

// Buffered implements Buffered: the packets of this end's direction
// that are due (written, and past their delay), not counting a reordered
// packet still held back.
func (e *End) Buffered() int {
	if e.in.clean {
		return len(e.in.ch)
	}
	return e.in.due(time.Now())
}

type packet struct{ b []byte }

type direction struct {
	p      *pipe
	name   string
	im     Impairment
	clean  bool
	events func(Event)
	hold   time.Duration
	pool   sync.Pool // *packet with cap >= MTU
	// spin: the reader waits out the last spinWindow before a delivery
	// by yielding in a loop instead of on a timer (see spinBelow).
	spin bool

	// Counters, read by Stats at any time.
	written, delivered, lost, duplicated, reordered, corrupted atomic.Uint64
	bytesWritten, bytesDelivered                               atomic.Uint64
	delayed, delayNanos, rateQueued, lateNanos                 atomic.Uint64

	// Clean path: a buffered channel is the whole wire.
	ch chan *packet

	// Impaired path.
	slots  chan struct{} // one token per written packet not yet read (or lost)
	notify chan struct{} // cap 1: the reader should look again
	mu     sync.Mutex
	rng    *rand.Rand
	index  uint64    // packets written so far
	busy   time.Time // serialization: the direction is busy until then
	last   time.Time // delivery time of the newest queued packet
	q      []item    // FIFO; delivery times never decrease
	held   []item    // a reordered packet (and its dup), waiting for the next one
	heldBy time.Time // deadline of the hold
	// overtaker says the last packet queued was reordered: the next one
	// to be queued is the one that overtakes it, and is not reordered
	// itself, whether the held packet is still waiting or its hold ran
	// out first. Decided by the packets, not by the clock, so that the
	// same seed gives the same events however fast packets are written.
	overtaker bool
}

type item struct {
	pk   *packet
	at   time.Time
	slot bool // holds a slot token (originals do, duplicates do not)
}

func newDirection(p *pipe, name string, idx uint64, cfg PipeConfig, im Impairment) *direction {
	d := &direction{
		p:      p,
		name:   name,
		im:     im,
		clean:  im.IsZero(),
		events: cfg.Events,
		hold:   cfg.ReorderHold,
		spin:   im.Delay > 0 && im.Delay < spinBelow,
	}
	if d.hold <= 0 {
		d.hold = time.Millisecond
	}
	mtu := cfg.MTU
	d.pool.New = func() any { return &packet{b: make([]byte, 0, mtu)} }
	if d.clean {
		d.ch = make(chan *packet, cfg.QueueLen)
		return d
	}
	d.slots = make(chan struct{}, cfg.QueueLen)
	d.notify = make(chan struct{}, 1)
	d.rng = rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15^idx))
	return d
}

func (d *direction) stats() DirStats {
	return DirStats{
		Written:        d.written.Load(),
		Delivered:      d.delivered.Load(),
		Lost:           d.lost.Load(),
		Duplicated:     d.duplicated.Load(),
		Reordered:      d.reordered.Load(),
		Corrupted:      d.corrupted.Load(),
		BytesWritten:   d.bytesWritten.Load(),
		BytesDelivered: d.bytesDelivered.Load(),
		Delayed:        d.delayed.Load(),
		DelayTotal:     time.Duration(d.delayNanos.Load()),
		LateTotal:      time.Duration(d.lateNanos.Load()),
		RateQueued:     d.rateQueued.Load(),
	}
}

func (d *direction) copyPacket(p []byte) *packet {
	pk := d.pool.Get().(*packet)
	pk.b = append(pk.b[:0], p...)
	return pk
}

// deliver copies pk into b, counts it and recycles pk.
func (d *direction) deliver(pk *packet, b []byte) (int, error) {
	n := copy(b, pk.b)
	full := len(pk.b)
	d.delivered.Add(1)
	d.bytesDelivered.Add(uint64(full))
	d.pool.Put(pk)
	if n < full {
		return n, ErrTruncated
	}
	return n, nil
}

func (d *direction) writeClean(ctx context.Context, p []byte) error {
	pk := d.copyPacket(p)
	// Count first so that Stats never shows more delivered than written.
	d.written.Add(1)
	d.bytesWritten.Add(uint64(len(p)))
	select {
	case d.ch <- pk:
		return nil
	case <-ctx.Done():
		d.pool.Put(pk)
		err := ctx.Err()
		d.uncount(len(p))
		return err
	case <-d.p.closed:
		d.uncount(len(p))
		return errClosed
	}
}

func (d *direction) uncount(n int) {
	d.written.Add(^uint64(0))
	d.bytesWritten.Add(^uint64(n - 1))
}

func (d *direction) readClean(ctx context.Context, b []byte) (int, error) {
	select {
	case pk := <-d.ch:
		return d.deliver(pk, b)
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-d.p.closed:
		return 0, errClosed
	}
}

// decisions are drawn for every written packet in this fixed order, whatever
// the outcome, so a sequence of written packets always gets the same ones.
type decisions struct {
	loss, dup, corrupt, reorder bool
	bit                         uint64
	jitter                      time.Duration
}

func (d *direction) decide() decisions {
	var x decisions
	x.loss = d.rng.Float64() < d.im.Loss
	x.dup = d.rng.Float64() < d.im.Dup
	x.corrupt = d.rng.Float64() < d.im.Corrupt
	x.bit = d.rng.Uint64()
	x.reorder = d.rng.Float64() < d.im.Reorder
	r := d.rng.Uint64()
	if d.im.Jitter > 0 {
		x.jitter = time.Duration(r % uint64(d.im.Jitter))
	}
	return x
}

func (d *direction) writeImpaired(ctx context.Context, p []byte) error {
	// Take a slot first: blocks while QueueLen packets are in flight.
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-d.p.closed:
		return errClosed
	}
	var evs [4]Event
	nev := 0
	event := func(now time.Time, idx uint64, kind, detail string) {
		if d.events != nil {
			evs[nev] = Event{Time: now, Dir: d.name, Kind: kind, Index: idx, Len: len(p), Detail: detail, Packet: Summary(p)}
			nev++
		}
	}

	d.mu.Lock()
	now := time.Now()
	d.index++
	idx := d.index
	x := d.decide()
	d.written.Add(1)
	d.bytesWritten.Add(uint64(len(p)))
	d.releaseHeldIfDue(now)
	if x.loss {
		d.lost.Add(1)
		event(now, idx, EventDrop, "")
		d.mu.Unlock()
		<-d.slots
		d.emit(evs[:nev])
		return nil
	}
	pk := d.copyPacket(p)
	if x.corrupt {
		lo, hi := corruptRange(pk.b)
		bit := uint64(lo)*8 + x.bit%uint64((hi-lo)*8)
		pk.b[bit/8] ^= 0x80 >> (bit % 8)
		d.corrupted.Add(1)
		event(now, idx, EventCorrupt, fmt.Sprintf("bit %d flipped (byte %d)", bit, bit/8))
	}
	// Serialization, then propagation delay and jitter. Jitter never
	// reorders: a packet is not delivered before the one written before it.
	start := now
	if d.busy.After(start) {
		start = d.busy
		d.rateQueued.Add(1)
	}
	if d.im.Rate > 0 {
		start = start.Add(time.Duration(uint64(len(p)) * 8 * uint64(time.Second) / d.im.Rate))
		d.busy = start
	}
	at := start.Add(d.im.Delay + x.jitter)
	if at.Before(d.last) {
		at = d.last
	}
	d.last = at
	if at.After(now) {
		d.delayed.Add(1)
		d.delayNanos.Add(uint64(at.Sub(now)))
	}
	batch := []item{{pk: pk, at: at, slot: true}}
	if x.dup {
		dup := d.copyPacket(pk.b)
		batch = append(batch, item{pk: dup, at: at})
		d.duplicated.Add(1)
		event(now, idx, EventDup, "")
	}
	reorder := x.reorder && !d.overtaker
	d.overtaker = reorder
	switch {
	case d.held != nil:
		// This is the next packet: the held one follows it.
		d.q = append(d.q, batch...)
		d.flushHeld(at)
	case reorder:
		d.held = batch
		d.heldBy = at.Add(d.hold)
		d.reordered.Add(1)
		event(now, idx, EventReorder, "held back until after the next packet (at most "+d.hold.String()+")")
	default:
		d.q = append(d.q, batch...)
	}
	d.mu.Unlock()
	select {
	case d.notify <- struct{}{}:
	default:
	}
	d.emit(evs[:nev])
	return nil
}

func (d *direction) emit(evs []Event) {
	for _, e := range evs {
		d.events(e)
	}
}

// flushHeld queues the held packets for delivery at (or after) at.
// d.mu must be held.
func (d *direction) flushHeld(at time.Time) {
	if at.Before(d.last) {
		at = d.last
	}
	d.last = at
	for _, it := range d.held {
		it.at = at
		d.q = append(d.q, it)
	}
	d.held = nil
}

// releaseHeldIfDue queues a held packet whose hold has expired.
// d.mu must be held.
func (d *direction) releaseHeldIfDue(now time.Time) {
	if d.held != nil && !now.Before(d.heldBy) {
		d.flushHeld(d.heldBy)
	}
}

// due is the number of queued packets whose delivery time has come.
func (d *direction) due(now time.Time) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for n < len(d.q) && !d.q[n].at.After(now) { // delivery times never decrease
		n++
	}
	return n
}

func (d *direction) readImpaired(ctx context.Context, b []byte) (int, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		d.mu.Lock()
		now := time.Now()
		d.releaseHeldIfDue(now)
		var wake time.Time
		if len(d.q) > 0 {
			it := d.q[0]
			if !it.at.After(now) {
				d.lateNanos.Add(uint64(now.Sub(it.at)))
				d.q[0] = item{}
				d.q = d.q[1:]
				d.mu.Unlock()
				if it.slot {
					<-d.slots
				}
				return d.deliver(it.pk, b)
			}
			wake = it.at
		}
		if d.held != nil && (wake.IsZero() || d.heldBy.Before(wake)) {
			wake = d.heldBy
		}
		d.mu.Unlock()

		var tc <-chan time.Time
		if !wake.IsZero() {
			wait := wake.Sub(now)
			if d.spin {
				if wait < spinWindow {
					// Too close for a timer to wake us on time: yield
					// and look again.
					runtime.Gosched()
					select {
					case <-ctx.Done():
						return 0, ctx.Err()
					case <-d.p.closed:
						return 0, errClosed
					default:
					}
					continue
				}
				wait -= spinWindow
			}
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			tc = timer.C
		}
		select {
		case <-tc:
		case <-d.notify:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-d.p.closed:
			return 0, errClosed
		}
	}
}

// corruptRange returns the byte range a corruption may hit: the transport
// bytes of a sane IPv4 packet, otherwise the whole packet.
func corruptRange(p []byte) (lo, hi int) {
	if len(p) >= 20 && p[0]>>4 == 4 {
		ihl := int(p[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(p[2:4]))
		if ihl >= 20 && ihl < total && total <= len(p) {
			return ihl, total
		}
	}
	return 0, len(p)
}

// Summary describes an IPv4 packet in one line, like
// "198.18.0.1:40000 > 198.18.0.2:12345 [PA] seq=1001 ack=5001 len=1400" for
// TCP and "198.18.0.1 > 198.18.0.2 proto 17 len 60" for other protocols.
// It never panics, whatever the bytes.
func Summary(p []byte) string {
	if len(p) == 0 {
		return "empty"
	}
	if v := p[0] >> 4; v != 4 {
		if v == 6 {
			return "ipv6 len " + strconv.Itoa(len(p))
		}
		return fmt.Sprintf("not ipv4 (version %d) len %d", v, len(p))
	}
	if len(p) < 20 {
		return "truncated ipv4 len " + strconv.Itoa(len(p))
	}
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:4]))
	if ihl < 20 || ihl > len(p) || total < ihl || total > len(p) {
		return fmt.Sprintf("bad ipv4 header (ihl %d, total length %d) len %d", ihl, total, len(p))
	}
	src := net.IP(p[12:16]).String()
	dst := net.IP(p[16:20]).String()
	proto := p[9]
	frag := binary.BigEndian.Uint16(p[6:8])&0x1fff != 0
	t := p[ihl:total]
	if proto != 6 || frag || len(t) < 20 || int(t[12]>>4)*4 < 20 || int(t[12]>>4)*4 > len(t) {
		return fmt.Sprintf("%s > %s proto %d len %d", src, dst, proto, len(p))
	}
	off := int(t[12]>>4) * 4
	flags := t[13]
	var fl strings.Builder
	for i, c := range "FSRPAUEC" {
		if flags&(1<<i) != 0 {
			fl.WriteRune(c)
		}
	}
	if fl.Len() == 0 {
		fl.WriteString("none")
	}
	s := fmt.Sprintf("%s:%d > %s:%d [%s] seq=%d", src, binary.BigEndian.Uint16(t[0:2]), dst,
		binary.BigEndian.Uint16(t[2:4]), fl.String(), binary.BigEndian.Uint32(t[4:8]))
	if flags&0x10 != 0 {
		s += fmt.Sprintf(" ack=%d", binary.BigEndian.Uint32(t[8:12]))
	}
	return s + fmt.Sprintf(" len=%d", len(t)-off)
}
