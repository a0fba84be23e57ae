package interop

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"tcplab/wire"
)

// recorder is a wire.Link that keeps the headers of the last packets it
// read and wrote, for a post-mortem of a stalled transfer: cheap enough to
// stay on in every run, formatted only when dumped.
type recorder struct {
	wire.Link
	name string

	mu   sync.Mutex
	ring [512]recorded
	n    uint64
}

type recorded struct {
	at  time.Time
	out bool
	hdr [64]byte
	len int
}

func newRecorder(l wire.Link, name string) *recorder { return &recorder{Link: l, name: name} }

func (r *recorder) keep(p []byte, out bool) {
	r.mu.Lock()
	e := &r.ring[r.n%uint64(len(r.ring))]
	r.n++
	e.at, e.out, e.len = time.Now(), out, len(p)
	copy(e.hdr[:], p)
	r.mu.Unlock()
}

func (r *recorder) ReadPacket(ctx context.Context, b []byte) (int, error) {
	n, err := r.Link.ReadPacket(ctx, b)
	if err == nil && n > 0 {
		r.keep(b[:n], false)
	}
	return n, err
}

func (r *recorder) WritePacket(ctx context.Context, p []byte) error {
	r.keep(p, true)
	return r.Link.WritePacket(ctx, p)
}

// dump returns the last max packets, oldest first, one line each.
func (r *recorder) dump(max int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	k := min(uint64(max), r.n, uint64(len(r.ring)))
	fmt.Fprintf(&b, "last %d of %d packets at %s (now %s):\n", k, r.n, r.name, time.Now().Format("15:04:05.000000"))
	for i := r.n - k; i < r.n; i++ {
		e := &r.ring[i%uint64(len(r.ring))]
		dir := "in "
		if e.out {
			dir = "out"
		}
		// Summary reads the lengths from the IP header; the payload is
		// cut, so give it the header with the packet's real length.
		hdr := make([]byte, e.len)
		copy(hdr, e.hdr[:])
		fmt.Fprintf(&b, "  %s %s %s\n", e.at.Format("15:04:05.000000"), dir, wire.Summary(hdr))
	}
	return b.String()
}

// eventRing keeps the wire's last impairment events.
type eventRing struct {
	mu  sync.Mutex
	evs [256]wire.Event
	n   uint64
}

func (e *eventRing) record(ev wire.Event) {
	e.mu.Lock()
	e.evs[e.n%uint64(len(e.evs))] = ev
	e.n++
	e.mu.Unlock()
}

func (e *eventRing) dump(max int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	k := min(uint64(max), e.n, uint64(len(e.evs)))
	fmt.Fprintf(&b, "last %d of %d wire events:\n", k, e.n)
	for i := e.n - k; i < e.n; i++ {
		ev := &e.evs[i%uint64(len(e.evs))]
		fmt.Fprintf(&b, "  %s %s #%d %s %s %s\n", ev.Time.Format("15:04:05.000000"), ev.Dir, ev.Index, ev.Kind, ev.Detail, ev.Packet)
	}
	return b.String()
}

// goroutines returns every goroutine's stack, or writes them to the file
// named by TCPLAB_STALL_STACKS when set.
func goroutines() string {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	if f := os.Getenv("TCPLAB_STALL_STACKS"); f != "" {
		if err := os.WriteFile(f, []byte(b.String()), 0o644); err == nil {
			return "goroutine stacks written to " + f + "\n"
		}
	}
	return b.String()
}
