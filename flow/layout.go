package flow

import (
	"fmt"
	"strings"
	"time"
)

// DefaultMaxFull is how many segments a ladder draws one arrow each;
// beyond it the steady state is summarised.
const DefaultMaxFull = 200

// RenderOptions tune the renderers.
type RenderOptions struct {
	// MaxFull: up to this many segments, every one is drawn; beyond it,
	// the handshake, the teardown and every notable segment (with one
	// neighbour each side) are drawn and the runs between are summarised.
	// 0 means DefaultMaxFull; negative draws everything.
	MaxFull int
	// Names of the two stacks, e.g. "handmade" and "netstack": shown
	// beside the client's and the server's address.
	ClientName, ServerName string
	// Title heads the SVG outputs; empty: the connection's 4-tuple.
	Title string
}

func (o RenderOptions) maxFull() int {
	if o.MaxFull == 0 {
		return DefaultMaxFull
	}
	return o.MaxFull
}

func (o RenderOptions) laneName(c *Conn, d Dir) string {
	role, name := "Client", o.ClientName
	if d == ServerToClient {
		role, name = "Server", o.ServerName
	}
	s := fmt.Sprintf("%s %s", role, c.Endpoint(d))
	if name != "" {
		s += " (" + name + ")"
	}
	return s
}

// summary stands for a run of segments not drawn.
type summary struct {
	from, to   *Segment // first and last of the run
	segs       [2]int
	bytes      [2]int64
	retransmit int
}

func (s *summary) text() string {
	n := s.segs[0] + s.segs[1]
	return fmt.Sprintf("%d segments not drawn (nos. %d to %d: %d client->server, %d server->client), %s up, %s down, %s",
		n, s.from.N, s.to.N, s.segs[0], s.segs[1], fmtBytes(s.bytes[0]), fmtBytes(s.bytes[1]), fmtDur(s.to.Time.Sub(s.from.Time)))
}

// row is one line of a ladder: a phase note, a segment or a summary.
type row struct {
	note     string // a phase: "Connection Establishment", ...
	noteOver Dir    // the side a one-sided note is over
	noteBoth bool
	seg      *Segment
	sum      *summary
}

// layout decides what a ladder draws.
func layout(c *Conn, o RenderOptions) []row {
	segs := c.Segments
	draw := make([]bool, len(segs))
	max := o.maxFull()
	if max < 0 || len(segs) <= max {
		for i := range draw {
			draw[i] = true
		}
	} else {
		// Handshake: up to the first segment carrying text.
		for i := 0; i < len(segs) && i < 8; i++ {
			draw[i] = true
			if segs[i].Len > 0 && segs[i].Flags&SYN == 0 {
				break
			}
		}
		// Teardown: from the first FIN or RST, at most the last 16.
		td := len(segs)
		for i, s := range segs {
			if s.Flags&(FIN|RST) != 0 {
				td = i
				break
			}
		}
		td = max2(td-1, len(segs)-16)
		for i := max2(td, 0); i < len(segs); i++ {
			draw[i] = true
		}
		for i, s := range segs {
			if s.Notable() {
				for j := max2(i-1, 0); j <= i+1 && j < len(segs); j++ {
					draw[j] = true
				}
			}
		}
		// A run of fewer than three is drawn rather than summarised.
		for i := 0; i < len(segs); {
			if draw[i] {
				i++
				continue
			}
			j := i
			for j < len(segs) && !draw[j] {
				j++
			}
			if j-i < 3 {
				for k := i; k < j; k++ {
					draw[k] = true
				}
			}
			i = j
		}
	}
	var rows []row
	if c.Handshake {
		rows = append(rows, row{note: "Connection Establishment", noteBoth: true})
	}
	dataSeen, finSeen := false, [2]bool{}
	var sum *summary
	flush := func() {
		if sum != nil {
			rows = append(rows, row{sum: sum})
			sum = nil
		}
	}
	for i, s := range segs {
		// Phase notes, as the article's diagram has them.
		if !dataSeen && s.Len > 0 && s.Flags&SYN == 0 {
			dataSeen = true
			flush()
			rows = append(rows, row{note: "Data Transfer", noteBoth: true})
		}
		if s.Flags&FIN != 0 && !finSeen[s.Dir] && s.Frame != 0 {
			flush()
			if !finSeen[1-s.Dir] {
				rows = append(rows, row{note: "Connection Teardown by " + roleName(s.Dir), noteOver: s.Dir})
			} else {
				rows = append(rows, row{note: roleName(s.Dir) + " sends its own FIN", noteOver: s.Dir})
			}
			finSeen[s.Dir] = true
		}
		if !draw[i] {
			if sum == nil {
				sum = &summary{from: s}
			}
			sum.to = s
			sum.segs[s.Dir]++
			sum.bytes[s.Dir] += int64(s.Len)
			if s.Kinds&AnyRetransmission != 0 {
				sum.retransmit++
			}
			continue
		}
		flush()
		rows = append(rows, row{seg: s})
	}
	flush()
	switch {
	case c.Stats.RSTs > 0:
		rows = append(rows, row{note: "Connection Reset", noteBoth: true})
	case finSeen[0] && finSeen[1]:
		rows = append(rows, row{note: "Connection Closed", noteBoth: true})
	}
	return rows
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func roleName(d Dir) string {
	if d == ClientToServer {
		return "Client"
	}
	return "Server"
}

// Label describes a segment the way the article's diagram does: flags,
// then seq and ack relative to each side's ISN, length, window and the
// options worth knowing.
func Label(s *Segment) string {
	var b strings.Builder
	b.WriteString(FlagString(s.Flags))
	fmt.Fprintf(&b, " seq=%d", s.RelSeq)
	if s.Flags&ACK != 0 {
		fmt.Fprintf(&b, " ack=%d", s.RelAck)
	}
	if s.Len > 0 {
		fmt.Fprintf(&b, " len=%d", s.Len)
	}
	if s.Frame != 0 {
		switch {
		case s.WindowBytes >= 0:
			fmt.Fprintf(&b, " win=%d", s.WindowBytes)
		default:
			fmt.Fprintf(&b, " win=%d", s.Window)
		}
	}
	if o := optString(s); o != "" {
		b.WriteString(" (" + o + ")")
	}
	return b.String()
}

func optString(s *Segment) string {
	o := s.Opts
	var p []string
	if o.MSS > 0 {
		p = append(p, fmt.Sprintf("mss %d", o.MSS))
	}
	if o.WScale >= 0 {
		p = append(p, fmt.Sprintf("wscale %d", o.WScale))
	}
	if o.SACKPerm {
		p = append(p, "sackOK")
	}
	if len(o.SACK) > 0 {
		// SACK blocks name the peer's sequence space: relative to its ISN.
		peerISN := s.Ack - s.RelAck
		var blocks []string
		for _, bl := range o.SACK {
			blocks = append(blocks, fmt.Sprintf("%d-%d", bl[0]-peerISN, bl[1]-peerISN))
		}
		p = append(p, "sack "+strings.Join(blocks, " "))
	}
	if o.TS && s.Flags&SYN != 0 {
		p = append(p, "TS")
	}
	if len(o.Unknown) > 0 {
		p = append(p, fmt.Sprintf("options %v", o.Unknown))
	}
	if o.Malformed {
		p = append(p, "malformed options")
	}
	return strings.Join(p, ", ")
}

// Notes lists what stands out about a segment: its classifications and
// what the wire did to it, e.g. "retransmission", "lost on the wire".
func Notes(s *Segment) []string {
	var out []string
	for _, e := range s.Wire {
		switch e.Kind {
		case "drop":
			out = append(out, "lost on the wire")
		case "dup":
			out = append(out, "duplicated by the wire")
		case "corrupt":
			t := "corrupted by the wire"
			if e.Detail != "" {
				t += " (" + e.Detail + ")"
			}
			out = append(out, t)
		case "reorder":
			out = append(out, "held back by the wire (reordered)")
		default:
			out = append(out, "wire: "+e.Kind)
		}
	}
	for _, n := range s.Kinds.Names() {
		if n == "duplicate ACK" {
			n = fmt.Sprintf("duplicate ACK #%d", s.DupAckN)
		}
		out = append(out, n)
	}
	return out
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3f s", d.Seconds())
	default:
		return fmt.Sprintf("%.3f ms", float64(d)/1e6)
	}
}
