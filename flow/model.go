package flow

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"
)

// Dir is the direction of a segment.
type Dir uint8

// Directions, named by the side that opened the connection (the sender of
// the SYN); when the capture missed the handshake, by the sender of the
// first segment.
const (
	ClientToServer Dir = 0
	ServerToClient Dir = 1
)

func (d Dir) String() string {
	if d == ClientToServer {
		return "client->server"
	}
	return "server->client"
}

// Kind is a set of classifications of a segment, in the spirit of
// Wireshark's TCP analysis.
type Kind uint32

// Classifications.
const (
	// Retransmission: the segment carries sequence space (text, SYN or
	// FIN) its sender had already sent.
	Retransmission Kind = 1 << iota
	// FastRetransmission: a retransmission after two or more duplicate
	// ACKs for its sequence number.
	FastRetransmission
	// SpuriousRetransmission: a retransmission of data already
	// acknowledged.
	SpuriousRetransmission
	// OutOfOrder: fills a hole the sender's previous segment left, not a
	// second copy of anything the capture saw.
	OutOfOrder
	// PrevNotCaptured: starts beyond everything its sender had sent: the
	// capture missed a segment (it was lost before the capture point).
	PrevNotCaptured
	// DupAck: a pure ACK repeating the sender's previous ACK and window
	// while the peer has data outstanding.
	DupAck
	// OutOfWindow: text beyond the right edge of the receiver's last
	// advertised window.
	OutOfWindow
	// AckUnseen: acknowledges sequence space the capture never saw sent.
	AckUnseen
	// Reset: the RST flag.
	Reset
	// ZeroWindow: advertises a window of zero.
	ZeroWindow
	// ZeroWindowProbe: one octet sent into a zero window.
	ZeroWindowProbe
	// WindowUpdate: a pure ACK that only changes the window.
	WindowUpdate
	// KeepAlive: zero or one octet at SND.NXT-1.
	KeepAlive
	// BadChecksum: the TCP checksum does not verify.
	BadChecksum
)

var kindNames = []struct {
	k    Kind
	name string
}{
	{FastRetransmission, "fast retransmission"},
	{SpuriousRetransmission, "spurious retransmission"},
	{Retransmission, "retransmission"},
	{OutOfOrder, "out of order"},
	{PrevNotCaptured, "previous segment not captured"},
	{DupAck, "duplicate ACK"},
	{OutOfWindow, "out of window"},
	{AckUnseen, "ACKs unseen segment"},
	{Reset, "RST"},
	{ZeroWindow, "zero window"},
	{ZeroWindowProbe, "zero window probe"},
	{WindowUpdate, "window update"},
	{KeepAlive, "keep-alive"},
	{BadChecksum, "bad checksum"},
}

// Names lists the classifications in k, most specific first (a fast
// retransmission is not also listed as a retransmission).
func (k Kind) Names() []string {
	var out []string
	for _, n := range kindNames {
		if k&n.k == 0 {
			continue
		}
		if n.k == Retransmission && k&(FastRetransmission|SpuriousRetransmission) != 0 {
			continue
		}
		out = append(out, n.name)
	}
	return out
}

func (k Kind) String() string { return strings.Join(k.Names(), ", ") }

// AnyRetransmission is every kind of retransmission.
const AnyRetransmission = Retransmission | FastRetransmission | SpuriousRetransmission

// notable kinds are drawn in full even in a summarised ladder.
const notable = AnyRetransmission | OutOfOrder | PrevNotCaptured | DupAck | OutOfWindow | AckUnseen | Reset | ZeroWindow | ZeroWindowProbe | BadChecksum

// WireEvent is one impairment the in-memory wire recorded in its events
// sidecar (wire.EventLog's JSON lines).
type WireEvent struct {
	Time   time.Time `json:"time"`
	Dir    string    `json:"dir"`
	Kind   string    `json:"kind"` // drop, dup, corrupt, reorder
	Index  uint64    `json:"index"`
	Len    int       `json:"len"`
	Detail string    `json:"detail"`
	Packet string    `json:"packet"`
}

// Segment is one TCP segment of a connection.
type Segment struct {
	N     int // 1-based position in the connection
	Frame int // 1-based frame number in the capture; 0 for a segment the capture never saw (the wire dropped it on the way)
	Time  time.Time
	Rel   time.Duration // since the connection's first segment
	Dir   Dir
	Flags uint8
	// Seq and Ack as on the wire; RelSeq and RelAck relative to the
	// sender's and the receiver's ISN (the SYN's sequence number, or one
	// less than the first sequence number seen when the SYN was not
	// captured).
	Seq, Ack       uint32
	RelSeq, RelAck uint32
	Len            int    // text octets
	Window         uint16 // as on the wire
	// WindowBytes is Window shifted by the sender's window scale, -1 when
	// the scale is unknown (the handshake was not captured).
	WindowBytes int64
	Opts        Options
	// Checksum is "ok", "bad" or "" (not checked: the capture cut the
	// segment short, or the wire dropped it before the capture point).
	Checksum string
	Kinds    Kind
	DupAckN  int         // the how-manyth duplicate of its ACK, for DupAck
	Wire     []WireEvent // what the in-memory wire did to this segment

	wireCopy bool // the second copy of a packet the wire duplicated
	wireHeld bool // a packet the wire held back behind the next
}

// Lost reports whether the wire dropped this segment.
func (s *Segment) Lost() bool { return s.wire("drop") }

func (s *Segment) wire(kind string) bool {
	for _, e := range s.Wire {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// Notable reports whether the segment is one of the events a summarised
// ladder never hides: a retransmission, loss, RST, zero window and the
// like.
func (s *Segment) Notable() bool {
	return s.Kinds&notable != 0 || len(s.Wire) > 0 || s.Frame == 0
}

// Stats counts what a connection carried and what stood out.
type Stats struct {
	Segments        [2]int
	Bytes           [2]int64 // text octets, counting each octet once
	BytesSent       [2]int64 // text octets including retransmissions
	Retransmissions int
	DupAcks         int
	OutOfWindow     int
	RSTs            int
	ZeroWindows     int
	WindowUpdates   int
	BadChecksums    int
	// What the wire did (from its events sidecar).
	WireLost, WireDuplicated, WireCorrupted, WireReordered int
}

// Conn is one TCP connection of a capture.
type Conn struct {
	N              int // 1-based, in order of first segment
	Client, Server netip.AddrPort
	// Handshake is set when the client's SYN was captured: roles and
	// ISNs are then certain, and window scales known.
	Handshake bool
	ISN       [2]uint32
	WScale    [2]int // -1: unknown
	Segments  []*Segment
	Stats     Stats

	pkts   []rawSeg
	closed bool // both FINs or a RST seen: a new SYN on the 4-tuple starts a new connection
	fins   [2]bool
}

type rawSeg struct {
	frame int
	time  time.Time
	p     *packet
}

// Start is the time of the first segment.
func (c *Conn) Start() time.Time {
	if len(c.Segments) == 0 {
		return time.Time{}
	}
	return c.Segments[0].Time
}

// Duration is the time from the first segment to the last.
func (c *Conn) Duration() time.Duration {
	if len(c.Segments) == 0 {
		return 0
	}
	return c.Segments[len(c.Segments)-1].Time.Sub(c.Segments[0].Time)
}

// Endpoint returns the address of the sender in direction d.
func (c *Conn) Endpoint(d Dir) netip.AddrPort {
	if d == ClientToServer {
		return c.Client
	}
	return c.Server
}

func (c *Conn) String() string {
	return fmt.Sprintf("%v -> %v: %d segments (%d up, %d down), %d bytes up, %d down, %d retransmissions, %s",
		c.Client, c.Server, len(c.Segments), c.Stats.Segments[0], c.Stats.Segments[1], c.Stats.Bytes[0], c.Stats.Bytes[1],
		c.Stats.Retransmissions, fmtDur(c.Duration()))
}

// Capture is what a capture file holds: its TCP connections, and counts
// of what was not TCP.
type Capture struct {
	Format    string   // pcap or pcapng
	LinkTypes []uint32 // link types met, in order
	Frames    int
	NonTCP    int // IP packets of other protocols, non-IP frames
	Fragments int // IP fragments (not reassembled)
	// Unsupported counts frames of a link type this package cannot read.
	Unsupported int
	Conns       []*Conn
	// Unmatched are events of the wire's sidecar no segment matched.
	Unmatched []WireEvent
}

// ReadFile reads a capture file; see Read.
func ReadFile(path string) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Read reads a pcap or pcapng capture (link types raw IP, Ethernet, Linux
// cooked v1 and v2, BSD loopback), splits it into TCP connections and
// classifies every segment. It returns an error wrapping ErrNotCapture,
// ErrTruncated, ErrMalformed or ErrNoTCP when the file is not a capture,
// ends in the middle of a record, holds nonsense, or holds no TCP.
func Read(r io.Reader) (*Capture, error) {
	c := &Capture{}
	open := map[[2]netip.AddrPort]*Conn{}
	format, err := ReadFrames(r, func(f *Frame) error {
		c.Frames++
		if len(c.LinkTypes) == 0 || c.LinkTypes[len(c.LinkTypes)-1] != f.LinkType {
			if len(c.LinkTypes) < 16 {
				c.LinkTypes = append(c.LinkTypes, f.LinkType)
			}
		}
		ip, err := linkPayload(f.LinkType, f.Data)
		if err != nil {
			if errors.Is(err, errUnsupportedLink) {
				c.Unsupported++
			} else {
				c.NonTCP++
			}
			return nil
		}
		p, err := decode(ip)
		switch {
		case errors.Is(err, errFrag):
			c.Fragments++
			return nil
		case err != nil:
			c.NonTCP++
			return nil
		}
		c.add(open, f, p)
		return nil
	})
	c.Format = format
	if err != nil {
		return nil, err
	}
	if len(c.Conns) == 0 {
		what := fmt.Sprintf("%d frames", c.Frames)
		if c.Unsupported > 0 {
			what += fmt.Sprintf(", %d of link types %v this reader does not decode (it reads raw IP 101, Ethernet 1, Linux SLL 113 and SLL2 276, loopback 0)", c.Unsupported, c.LinkTypes)
		}
		if c.NonTCP > 0 {
			what += fmt.Sprintf(", %d not TCP", c.NonTCP)
		}
		if c.Fragments > 0 {
			what += fmt.Sprintf(", %d IP fragments", c.Fragments)
		}
		return nil, fmt.Errorf("%s (%s): %w", format, what, ErrNoTCP)
	}
	for _, conn := range c.Conns {
		conn.analyze()
	}
	return c, nil
}

func key(a, b netip.AddrPort) [2]netip.AddrPort {
	if a.Addr().Less(b.Addr()) || (a.Addr() == b.Addr() && a.Port() < b.Port()) {
		return [2]netip.AddrPort{a, b}
	}
	return [2]netip.AddrPort{b, a}
}

func (c *Capture) add(open map[[2]netip.AddrPort]*Conn, f *Frame, p *packet) {
	k := key(p.src, p.dst)
	conn := open[k]
	syn := p.flags&(SYN|ACK) == SYN
	if conn != nil && syn {
		// A new SYN after the connection ended, or with another ISN
		// after data flowed, opens a new connection on the 4-tuple.
		if conn.closed || (conn.Handshake && conn.ISN[0] != p.seq && p.src == conn.Client) {
			conn = nil
		}
	}
	if conn == nil {
		conn = &Conn{N: len(c.Conns) + 1, Client: p.src, Server: p.dst, WScale: [2]int{-1, -1}}
		if p.flags&(SYN|ACK) == SYN|ACK {
			conn.Client, conn.Server = p.dst, p.src
		}
		if syn {
			conn.Handshake, conn.ISN[0] = true, p.seq
		}
		open[k] = conn
		c.Conns = append(c.Conns, conn)
	}
	conn.pkts = append(conn.pkts, rawSeg{f.Number, f.Time, p})
	d := ClientToServer
	if p.src != conn.Client {
		d = ServerToClient
	}
	if p.flags&RST != 0 {
		conn.closed = true
	}
	if p.flags&FIN != 0 {
		conn.fins[d] = true
		conn.closed = conn.closed || conn.fins[0] && conn.fins[1]
	}
}

// side is what one direction's sender has done, as the capture saw it.
type side struct {
	isnKnown bool
	isn      uint32
	started  bool
	sndMax   uint32 // one past the highest sequence number sent
	gaps     [][2]uint32
	lastGap  int // segment number that opened the last gap
	ackSeen  bool
	lastAck  uint32
	lastWin  uint16
	dupAcks  int
	wscale   int // -1 unknown
	synWS    int // WS option on its SYN, -1 absent
}

func seqLT(a, b uint32) bool  { return int32(a-b) < 0 }
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }

// analyze turns the raw packets into Segments, classified.
func (c *Conn) analyze() {
	var sides [2]side
	sides[0].synWS, sides[1].synWS = -1, -1
	sides[0].wscale, sides[1].wscale = -1, -1
	// ISNs first: a SYN anywhere in the connection fixes its side's.
	for _, r := range c.pkts {
		d := c.dirOf(r.p)
		s := &sides[d]
		if r.p.flags&SYN != 0 && !s.isnKnown {
			s.isnKnown, s.isn = true, r.p.seq
			s.synWS = r.p.opts.WScale
		}
	}
	if sides[0].isnKnown && sides[1].isnKnown {
		// RFC 7323 §2.2: scaling is on only when both SYNs carry it.
		if sides[0].synWS >= 0 && sides[1].synWS >= 0 {
			sides[0].wscale, sides[1].wscale = min(sides[0].synWS, 14), min(sides[1].synWS, 14)
		} else {
			sides[0].wscale, sides[1].wscale = 0, 0
		}
	}
	for i := range sides {
		c.WScale[i] = sides[i].wscale
	}
	for d := range sides {
		if !sides[d].isnKnown {
			for _, r := range c.pkts {
				if c.dirOf(r.p) == Dir(d) {
					sides[d].isn = r.p.seq - 1
					break
				}
			}
		}
		c.ISN[d] = sides[d].isn
	}
	c.Segments = make([]*Segment, 0, len(c.pkts))
	var t0 time.Time
	if len(c.pkts) > 0 {
		t0 = c.pkts[0].time
	}
	for i, r := range c.pkts {
		p := r.p
		d := c.dirOf(p)
		me, peer := &sides[d], &sides[1-d]
		seg := &Segment{
			N: i + 1, Frame: r.frame, Time: r.time, Rel: r.time.Sub(t0), Dir: d, Flags: p.flags,
			Seq: p.seq, Ack: p.ack, RelSeq: p.seq - me.isn, Len: p.len, Window: p.window, Opts: p.opts, WindowBytes: -1,
		}
		if p.flags&ACK != 0 {
			seg.RelAck = p.ack - peer.isn
		}
		switch p.csum {
		case csumOK:
			seg.Checksum = "ok"
		case csumBad:
			seg.Checksum = "bad"
			seg.Kinds |= BadChecksum
		}
		if me.wscale >= 0 {
			if p.flags&SYN != 0 {
				seg.WindowBytes = int64(p.window)
			} else {
				seg.WindowBytes = int64(p.window) << me.wscale
			}
		}
		c.Segments = append(c.Segments, seg)
	}
	c.pkts = nil
	c.classifyAll()
}

// classifyAll (re)classifies every segment in time order, from scratch.
// Segments the capture never saw (Frame 0, added from the wire's events)
// count as sent, so a later copy is a retransmission, but their ACK and
// window, unseen by the receiver, are not judged.
func (c *Conn) classifyAll() {
	var sides [2]side
	for d := range sides {
		sides[d].isn, sides[d].wscale = c.ISN[d], c.WScale[d]
	}
	c.Stats = Stats{}
	for _, seg := range c.Segments {
		seg.Kinds &= BadChecksum
		seg.DupAckN = 0
		if seg.Frame != 0 {
			c.Stats.Segments[seg.Dir]++
		}
		if seg.Kinds&BadChecksum != 0 {
			// The receiver drops it: judge nothing else by it.
			continue
		}
		c.classify(seg, &sides[seg.Dir], &sides[1-seg.Dir])
		if seg.wireCopy {
			seg.Kinds &^= AnyRetransmission
		}
		if seg.wireHeld && seg.Kinds&AnyRetransmission != 0 {
			seg.Kinds = seg.Kinds&^AnyRetransmission | OutOfOrder
		}
	}
	c.recount()
}

func (c *Conn) dirOf(p *packet) Dir {
	if p.src == c.Client && p.dst == c.Server {
		return ClientToServer
	}
	return ServerToClient
}

func (c *Conn) classify(seg *Segment, me, peer *side) {
	f := seg.Flags
	seqLen := uint32(seg.Len)
	if f&SYN != 0 {
		seqLen++
	}
	if f&FIN != 0 {
		seqLen++
	}
	start, end := seg.Seq, seg.Seq+seqLen
	if f&RST != 0 {
		seg.Kinds |= Reset
	}
	if seg.Window == 0 && f&RST == 0 && seg.Frame != 0 {
		seg.Kinds |= ZeroWindow
	}
	if !me.started {
		me.started, me.sndMax = true, start
	}
	pure := seg.Len == 0 && f&(SYN|FIN|RST) == 0
	switch {
	case f&RST != 0:
	case seg.Len <= 1 && f&(SYN|FIN) == 0 && start == me.sndMax-1:
		seg.Kinds |= KeepAlive
	case seqLen == 0:
	case seqLT(me.sndMax, end):
		// New sequence space (some of it, at least).
		if seqLT(me.sndMax, start) {
			seg.Kinds |= PrevNotCaptured
			if len(me.gaps) < 256 {
				me.gaps = append(me.gaps, [2]uint32{me.sndMax, start})
			}
			me.lastGap = seg.N
		} else if seqLT(start, me.sndMax) {
			seg.Kinds |= Retransmission // partly old
		}
		newFrom := start
		if seqLT(newFrom, me.sndMax) {
			newFrom = me.sndMax
		}
		if seg.Len > 0 {
			n := int64(end - newFrom)
			if f&FIN != 0 {
				n--
			}
			if f&SYN != 0 && newFrom == start {
				n--
			}
			c.Stats.Bytes[seg.Dir] += max(n, 0)
		}
		me.sndMax = end
	default:
		// Nothing new: a hole filled, or a second copy.
		if g := me.fillGap(start, end); g {
			if me.lastGap == seg.N-1 || me.lastGap == seg.N-2 {
				seg.Kinds |= OutOfOrder
			} else {
				seg.Kinds |= Retransmission
			}
		} else {
			seg.Kinds |= Retransmission
		}
		if seg.Kinds&Retransmission != 0 {
			switch {
			case peer.ackSeen && seqLEQ(end, peer.lastAck) && f&SYN == 0:
				seg.Kinds |= SpuriousRetransmission
			case peer.dupAcks >= 2 && peer.lastAck == start:
				seg.Kinds |= FastRetransmission
			}
		}
	}
	c.Stats.BytesSent[seg.Dir] += int64(seg.Len)
	if seg.Frame == 0 {
		return // never captured: its ACK and window reached nobody here
	}
	// Against the receiver's window.
	if seg.Len > 0 && peer.ackSeen && peer.wscale >= 0 && f&SYN == 0 {
		right := peer.lastAck + uint32(peer.lastWin)<<peer.wscale
		if seqLT(right, seg.Seq+uint32(seg.Len)) {
			if peer.lastWin == 0 && seg.Len == 1 {
				seg.Kinds |= ZeroWindowProbe
			} else {
				seg.Kinds |= OutOfWindow
			}
		}
	}
	// Its ACK.
	if f&ACK != 0 {
		if peer.started && seqLT(peer.sndMax, seg.Ack) && f&RST == 0 {
			seg.Kinds |= AckUnseen
		}
		switch {
		case !me.ackSeen:
		case pure && seg.Ack == me.lastAck && seg.Window == me.lastWin && peer.started && seqLT(seg.Ack, peer.sndMax) && seg.Kinds&KeepAlive == 0:
			me.dupAcks++
			seg.Kinds |= DupAck
			seg.DupAckN = me.dupAcks
		case pure && seg.Ack == me.lastAck && seg.Window != me.lastWin:
			seg.Kinds |= WindowUpdate
		}
		if !me.ackSeen || seg.Ack != me.lastAck {
			me.dupAcks = 0
		}
		if !me.ackSeen || seqLT(me.lastAck, seg.Ack) || seg.Ack == me.lastAck {
			me.lastAck = seg.Ack
			me.lastWin = seg.Window
		}
		me.ackSeen = true
	}
}

// fillGap removes [start, end) from the recorded holes and reports
// whether any of it was a hole.
func (s *side) fillGap(start, end uint32) bool {
	hit := false
	out := s.gaps[:0]
	for _, g := range s.gaps {
		if seqLEQ(end, g[0]) || seqLEQ(g[1], start) {
			out = append(out, g)
			continue
		}
		hit = true
		if seqLT(g[0], start) {
			out = append(out, [2]uint32{g[0], start})
		}
		if seqLT(end, g[1]) {
			out = append(out, [2]uint32{end, g[1]})
		}
	}
	s.gaps = out
	return hit
}

// recount fills the Stats that derive from the classifications.
func (c *Conn) recount() {
	st := &c.Stats
	for _, s := range c.Segments {
		k := s.Kinds
		if k&AnyRetransmission != 0 {
			st.Retransmissions++
		}
		if k&DupAck != 0 {
			st.DupAcks++
		}
		if k&OutOfWindow != 0 {
			st.OutOfWindow++
		}
		if k&Reset != 0 {
			st.RSTs++
		}
		if k&ZeroWindow != 0 {
			st.ZeroWindows++
		}
		if k&WindowUpdate != 0 {
			st.WindowUpdates++
		}
		if k&BadChecksum != 0 {
			st.BadChecksums++
		}
		for _, e := range s.Wire {
			switch e.Kind {
			case "drop":
				st.WireLost++
			case "dup":
				st.WireDuplicated++
			case "corrupt":
				st.WireCorrupted++
			case "reorder":
				st.WireReordered++
			}
		}
	}
}

// renumber restores N and Rel after segments were inserted.
func (c *Conn) renumber() {
	sort.SliceStable(c.Segments, func(i, j int) bool { return c.Segments[i].Time.Before(c.Segments[j].Time) })
	t0 := c.Segments[0].Time
	for i, s := range c.Segments {
		s.N, s.Rel = i+1, s.Time.Sub(t0)
	}
}

// FlagString names flags the way the article does: SYN, SYN-ACK,
// PSH-ACK, FIN-ACK, RST-ACK, FIN-PSH-ACK.
func FlagString(f uint8) string {
	var parts []string
	for _, x := range []struct {
		f    uint8
		name string
	}{{SYN, "SYN"}, {FIN, "FIN"}, {RST, "RST"}, {PSH, "PSH"}, {URG, "URG"}, {ECE, "ECE"}, {CWR, "CWR"}, {ACK, "ACK"}} {
		if f&x.f != 0 {
			parts = append(parts, x.name)
		}
	}
	if len(parts) == 0 {
		return "NONE"
	}
	return strings.Join(parts, "-")
}
