package flow

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// ReadEvents reads the in-memory wire's events sidecar (RUN.events.jsonl:
// one JSON object per line, as wire.EventLog writes them).
func ReadEvents(r io.Reader) ([]WireEvent, error) {
	var out []WireEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var e WireEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("events line %d: %w", n, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// ReadEventsFile reads an events sidecar file.
func ReadEventsFile(path string) ([]WireEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	evs, err := ReadEvents(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return evs, nil
}

// wire.Summary of a TCP packet: "198.18.0.1:49336 > 198.18.0.2:12345 [PA] seq=1 ack=2 len=1400".
var summaryRE = regexp.MustCompile(`^(\S+) > (\S+) \[([A-Za-z]+)\] seq=(\d+)(?: ack=(\d+))? len=(\d+)$`)

type evKey struct {
	src, dst netip.AddrPort
	flags    uint8
	seq, ack uint32
	len      int
}

func parseSummary(s string) (evKey, bool) {
	m := summaryRE.FindStringSubmatch(s)
	if m == nil {
		return evKey{}, false
	}
	var k evKey
	var err error
	if k.src, err = netip.ParseAddrPort(m[1]); err != nil {
		return k, false
	}
	if k.dst, err = netip.ParseAddrPort(m[2]); err != nil {
		return k, false
	}
	for _, c := range m[3] {
		switch c {
		case 'F':
			k.flags |= FIN
		case 'S':
			k.flags |= SYN
		case 'R':
			k.flags |= RST
		case 'P':
			k.flags |= PSH
		case 'A':
			k.flags |= ACK
		case 'U':
			k.flags |= URG
		case 'E':
			k.flags |= ECE
		case 'C':
			k.flags |= CWR
		}
	}
	seq, _ := strconv.ParseUint(m[4], 10, 32)
	k.seq = uint32(seq)
	if m[5] != "" {
		ack, _ := strconv.ParseUint(m[5], 10, 32)
		k.ack = uint32(ack)
	}
	k.len, _ = strconv.Atoi(m[6])
	return k, true
}

func (k evKey) matches(s *Segment) bool {
	return s.Frame != 0 && s.Flags == k.flags && s.Seq == k.seq && s.Len == k.len && (k.flags&ACK == 0 || s.Ack == k.ack)
}

// senderWindow: how far before the event a capture at the sender has the
// packet (the tap records it just before handing it to the wire).
const senderWindow = 50 * time.Millisecond

// ApplyEvents marks the segments the in-memory wire dropped, duplicated,
// corrupted or reordered, from its events sidecar. Each event names its
// packet by summary and by its number among the packets written in its
// direction. Whether the capture was taken at the sender of a direction
// or at its receiver is worked out from the capture itself (at the sender
// the n-th segment that way is the n-th packet written, captured just
// before the wire decided; at the receiver the packets arrive as the wire
// delivered them: the dropped ones missing, the duplicated twice, the held
// ones one later). At the receiver a dropped segment is added to the
// connection as one the capture never saw (Frame 0), so that its next copy
// counts as a retransmission; a duplicate the wire made, or a packet it
// held back, is not counted as a retransmission. Events matching no
// segment are kept in Unmatched. It returns how many events matched.
func (c *Capture) ApplyEvents(evs []WireEvent) int {
	type group struct {
		conn *Conn
		dir  Dir
		evs  []WireEvent
		keys []evKey
	}
	groups := map[[2]netip.AddrPort]*group{}
	var order []*group
	for _, e := range evs {
		k, ok := parseSummary(e.Packet)
		if !ok {
			c.Unmatched = append(c.Unmatched, e)
			continue
		}
		conn := c.connAt(k, e.Time)
		if conn == nil {
			c.Unmatched = append(c.Unmatched, e)
			continue
		}
		d := ClientToServer
		if k.src != conn.Client {
			d = ServerToClient
		}
		gk := [2]netip.AddrPort{k.src, k.dst}
		g := groups[gk]
		if g == nil || g.conn != conn {
			g = &group{conn: conn, dir: d}
			groups[gk] = g
			order = append(order, g)
		}
		g.evs = append(g.evs, e)
		g.keys = append(g.keys, k)
	}
	matched := 0
	for _, g := range order {
		var segs []*Segment // captured that way, in capture order
		for _, s := range g.conn.Segments {
			if s.Dir == g.dir && s.Frame != 0 {
				segs = append(segs, s)
			}
		}
		recvPos := deliveryOrder(g.evs, len(segs))
		at := func(i int) *Segment {
			if i < 0 || i >= len(segs) {
				return nil
			}
			return segs[i]
		}
		// At the sender or at the receiver?
		var sendVotes, recvVotes int
		for j, e := range g.evs {
			k := g.keys[j]
			if s := at(int(e.Index) - 1); s != nil && k.matches(s) && !s.Time.After(e.Time) {
				sendVotes++
			}
			if p, ok := recvPos[e.Index]; ok && p >= 0 && e.Kind != "drop" {
				if s := at(p); s != nil && !s.Time.Before(e.Time) && (k.matches(s) || e.Kind == "corrupt" && s.Checksum == "bad") {
					recvVotes++
				}
			}
		}
		atSender := sendVotes > recvVotes
		used := map[*Segment]map[string]bool{}
		mark := func(s *Segment, e WireEvent) {
			if used[s] == nil {
				used[s] = map[string]bool{}
			}
			used[s][e.Kind] = true
			s.Wire = append(s.Wire, e)
		}
		// near finds the segment nearest position p that ok accepts.
		near := func(p int, ok func(*Segment) bool) *Segment {
			for dist := 0; dist <= 3; dist++ {
				for _, i := range []int{p - dist, p + dist} {
					if s := at(i); s != nil && ok(s) {
						return s
					}
				}
			}
			return nil
		}
		for j, e := range g.evs {
			k := g.keys[j]
			free := func(s *Segment) bool { return !used[s][e.Kind] }
			exact := func(s *Segment) bool { return free(s) && k.matches(s) }
			if atSender {
				s := near(int(e.Index)-1, func(s *Segment) bool { return exact(s) && !s.Time.After(e.Time) })
				if s == nil {
					s = findBefore(g.conn.Segments, g.dir, k, e.Time, func(s *Segment) bool { return !free(s) })
				}
				if s == nil {
					c.Unmatched = append(c.Unmatched, e)
					continue
				}
				mark(s, e)
				matched++
				continue
			}
			p, known := recvPos[e.Index]
			if !known {
				p = -10
			}
			after := func(s *Segment) bool { return !s.Time.Before(e.Time) }
			switch e.Kind {
			case "drop":
				// It would have arrived after the packet delivered before
				// it: at the receiver, packets written earlier may still
				// arrive after the drop (delay, rate).
				t := e.Time
				if prev := at(-2 - recvPos[e.Index] - 1); recvPos[e.Index] <= -2 && prev != nil && prev.Time.After(t) {
					t = prev.Time.Add(time.Nanosecond)
				}
				ph := &Segment{Frame: 0, Time: t, Dir: g.dir, Flags: k.flags, Seq: k.seq, Ack: k.ack, Len: k.len,
					RelSeq: k.seq - g.conn.ISN[g.dir], WindowBytes: -1, Opts: Options{WScale: -1}}
				if k.flags&ACK != 0 {
					ph.RelAck = k.ack - g.conn.ISN[1-g.dir]
				}
				ph.Wire = []WireEvent{e}
				g.conn.Segments = append(g.conn.Segments, ph)
				matched++
				continue
			case "corrupt":
				s := near(p, func(s *Segment) bool { return free(s) && after(s) && s.Checksum == "bad" })
				if s == nil {
					s = near(p, func(s *Segment) bool { return exact(s) && after(s) })
				}
				if s == nil {
					for _, x := range segs[firstAfter(segs, e.Time):] {
						if x.Checksum == "bad" && free(x) {
							s = x
							break
						}
					}
				}
				if s == nil {
					c.Unmatched = append(c.Unmatched, e)
					continue
				}
				mark(s, e)
			case "dup":
				first := near(p, func(s *Segment) bool { return exact(s) && after(s) })
				if first == nil {
					first = findAfter(segs, g.dir, k, e.Time, func(s *Segment) bool { return !free(s) })
				}
				if first == nil {
					c.Unmatched = append(c.Unmatched, e)
					continue
				}
				mark(first, e)
				// The copy follows at once, or after a held packet.
				for i, s := range segs {
					if s != first {
						continue
					}
					for _, x := range segs[i+1 : min(len(segs), i+3)] {
						if exact(x) {
							mark(x, e)
							x.wireCopy = true
							break
						}
					}
					break
				}
			default: // reorder, and kinds this reader does not know
				s := near(p, func(s *Segment) bool { return exact(s) && after(s) })
				if s == nil {
					s = findAfter(segs, g.dir, k, e.Time, func(s *Segment) bool { return !free(s) })
				}
				if s == nil {
					c.Unmatched = append(c.Unmatched, e)
					continue
				}
				mark(s, e)
				s.wireHeld = e.Kind == "reorder"
			}
			matched++
		}
		g.conn.renumber()
		g.conn.classifyAll()
	}
	return matched
}

// deliveryOrder works out, from a direction's events, where the packet
// written n-th lands among the packets delivered (0-based; -1 if dropped),
// for the packets the events mention; for a dropped packet -2-p, where
// p is the position it would have had.
func deliveryOrder(evs []WireEvent, delivered int) map[uint64]int {
	kinds := map[uint64]map[string]bool{}
	var maxIdx uint64
	for _, e := range evs {
		if kinds[e.Index] == nil {
			kinds[e.Index] = map[string]bool{}
		}
		kinds[e.Index][e.Kind] = true
		maxIdx = max(maxIdx, e.Index)
	}
	out := map[uint64]int{}
	pos := 0
	var held uint64
	heldCopies := 0
	for idx := uint64(1); idx <= maxIdx+1; idx++ {
		k := kinds[idx]
		if k["drop"] {
			// Not delivered: -2-p says it would have landed at p.
			out[idx] = -2 - pos
			continue
		}
		copies := 1
		if k["dup"] {
			copies = 2
		}
		if k["reorder"] && held == 0 {
			held, heldCopies = idx, copies
			continue
		}
		if k != nil {
			out[idx] = pos
		}
		pos += copies
		if held != 0 {
			out[held] = pos
			pos += heldCopies
			held = 0
		}
	}
	if held != 0 {
		out[held] = pos
	}
	return out
}

// connAt finds the connection a packet belongs to: the one on its
// 4-tuple whose time span is nearest t.
func (c *Capture) connAt(k evKey, t time.Time) *Conn {
	var best *Conn
	var bestD time.Duration
	for _, conn := range c.Conns {
		if !(conn.Client == k.src && conn.Server == k.dst || conn.Client == k.dst && conn.Server == k.src) || len(conn.Segments) == 0 {
			continue
		}
		var d time.Duration
		switch s, e := conn.Segments[0].Time, conn.Segments[len(conn.Segments)-1].Time; {
		case t.Before(s):
			d = s.Sub(t)
		case t.After(e):
			d = t.Sub(e)
		}
		if best == nil || d < bestD {
			best, bestD = conn, d
		}
	}
	return best
}

// firstAfter returns the index of the first segment captured after t
// (segments are in time order, as a capture normally is).
func firstAfter(segs []*Segment, t time.Time) int {
	return sort.Search(len(segs), func(i int) bool { return segs[i].Time.After(t) })
}

// findBefore returns the last segment matching k captured at or before t,
// at most senderWindow earlier.
func findBefore(segs []*Segment, d Dir, k evKey, t time.Time, skip func(*Segment) bool) *Segment {
	for i := firstAfter(segs, t) - 1; i >= 0; i-- {
		s := segs[i]
		if t.Sub(s.Time) > senderWindow {
			break
		}
		if s.Dir == d && k.matches(s) && (skip == nil || !skip(s)) {
			return s
		}
	}
	return nil
}

// findAfter returns the first segment matching k captured after t.
func findAfter(segs []*Segment, d Dir, k evKey, t time.Time, skip func(*Segment) bool) *Segment {
	for _, s := range segs[firstAfter(segs, t):] {
		if s.Dir == d && k.matches(s) && (skip == nil || !skip(s)) {
			return s
		}
	}
	return nil
}
