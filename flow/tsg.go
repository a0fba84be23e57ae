package flow

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// DataDir returns the direction that carried more text: the transfer a
// time-sequence graph shows by default.
func (c *Conn) DataDir() Dir {
	if c.Stats.BytesSent[ServerToClient] > c.Stats.BytesSent[ClientToServer] {
		return ServerToClient
	}
	return ClientToServer
}

// WriteTSG writes a time-sequence graph (Stevens/tcptrace style, as
// Wireshark draws it) of direction d as a self-contained SVG: each data
// segment an I-bar from its first to its last sequence number at the
// time it was captured, the ACK line and the receive window's right edge
// (ACK + window) the other side advertised, retransmissions in red marked
// R, segments the wire lost marked ×, SYN and FIN marked.
func WriteTSG(w io.Writer, c *Conn, d Dir, o RenderOptions) error {
	const (
		width, height = 1000, 620
		ml, mr        = 90, 30
		mt, mb        = 50, 60
	)
	pw, ph := float64(width-ml-mr), float64(height-mt-mb)
	// Extent: time of the whole connection, sequence numbers of d from
	// 0 to the highest of data sent, ACKed or offered.
	dur := c.Duration()
	if dur <= 0 {
		dur = time.Microsecond
	}
	var maxSeq float64 = 1
	for _, s := range c.Segments {
		if s.Dir == d {
			maxSeq = math.Max(maxSeq, float64(s.RelSeq)+float64(s.Len))
		} else if s.Flags&ACK != 0 {
			maxSeq = math.Max(maxSeq, float64(s.RelAck))
		}
	}
	// The window line may run far above the data: allow it some room,
	// then clip.
	var maxWin float64
	for _, s := range c.Segments {
		if s.Dir != d && s.Flags&ACK != 0 && s.Frame != 0 {
			maxWin = math.Max(maxWin, float64(s.RelAck)+float64(windowOf(s)))
		}
	}
	yMax := math.Max(maxSeq, math.Min(maxWin, maxSeq*1.5)) * 1.02
	x := func(t time.Duration) float64 { return ml + pw*float64(t)/float64(dur) }
	y := func(seq float64) float64 { return mt + ph - ph*math.Min(seq, yMax)/yMax }

	var b strings.Builder
	title := o.Title
	if title == "" {
		title = fmt.Sprintf("time-sequence graph, connection %d: %v -> %v", c.N, c.Endpoint(d), c.Endpoint(1-d))
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" class="tcplab-tsg">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(title))
	b.WriteString(`<style>
text{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11px;fill:#222;stroke:none}
.axis{stroke:#444;stroke-width:1}
.grid{stroke:#e4e4e4;stroke-width:1}
.data{stroke:#1f3fbf;stroke-width:1.2}
.retransmission{stroke:#d50000;stroke-width:2}
.ack{stroke:#2e7d32;stroke-width:1.2;fill:none}
.window{stroke:#b8a000;stroke-width:1.2;fill:none}
.lost{stroke:#d50000;stroke-width:2}
text.r{fill:#d50000;font-weight:bold}
</style>
`)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" style="font-weight:bold;font-size:13px">%s</text>`+"\n", ml, esc(title))
	// Axes and ticks.
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`+"\n", ml, mt, ml, height-mb)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`+"\n", ml, height-mb, width-mr, height-mb)
	for i := 0; i <= 5; i++ {
		t := dur * time.Duration(i) / 5
		xx := x(t)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n",
			xx, mt, xx, height-mb, xx, height-mb+16, esc(fmtDur(t)))
		sq := yMax * float64(i) / 5
		yy := y(sq)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
			ml, yy, width-mr, yy, ml-6, yy+4, esc(fmtBytes(int64(sq))))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">time since the first segment</text>`+"\n", ml+int(pw/2), height-mb+36)
	fmt.Fprintf(&b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">sequence number (relative, octets)</text>`+"\n", mt+int(ph/2), mt+int(ph/2))

	// ACK and window lines: steps, one point per pixel column at most.
	var ack, win []string
	lastCol := -1
	var lastAckY, lastWinY float64
	for _, s := range c.Segments {
		if s.Dir == d || s.Flags&ACK == 0 || s.Frame == 0 {
			continue
		}
		xx := x(s.Rel)
		ay := y(float64(s.RelAck))
		wy := y(float64(s.RelAck) + float64(windowOf(s)))
		col := int(xx)
		if col == lastCol && len(ack) > 0 {
			// Same column: keep the latest value.
			ack[len(ack)-1] = fmt.Sprintf("%.1f,%.1f", xx, ay)
			win[len(win)-1] = fmt.Sprintf("%.1f,%.1f", xx, wy)
		} else {
			if len(ack) > 0 {
				ack = append(ack, fmt.Sprintf("%.1f,%.1f", xx, lastAckY))
				win = append(win, fmt.Sprintf("%.1f,%.1f", xx, lastWinY))
			}
			ack = append(ack, fmt.Sprintf("%.1f,%.1f", xx, ay))
			win = append(win, fmt.Sprintf("%.1f,%.1f", xx, wy))
		}
		lastCol, lastAckY, lastWinY = col, ay, wy
	}
	if len(ack) > 0 {
		end := x(dur)
		ack = append(ack, fmt.Sprintf("%.1f,%.1f", end, lastAckY))
		win = append(win, fmt.Sprintf("%.1f,%.1f", end, lastWinY))
		fmt.Fprintf(&b, `<polyline class="window" points="%s"><title>receive window (ACK + window advertised by %v)</title></polyline>`+"\n", strings.Join(win, " "), c.Endpoint(1-d))
		fmt.Fprintf(&b, `<polyline class="ack" points="%s"><title>ACK from %v</title></polyline>`+"\n", strings.Join(ack, " "), c.Endpoint(1-d))
	}

	// Data: ordinary segments merged per pixel column (one bar from the
	// lowest to the highest sequence number drawn there); retransmitted,
	// lost and other notable ones drawn one by one.
	type col struct{ lo, hi float64 }
	cols := map[int]*col{}
	var colOrder []int
	retrans, lost := 0, 0
	var marks strings.Builder
	for _, s := range c.Segments {
		if s.Dir != d {
			continue
		}
		xx := x(s.Rel)
		lo, hi := float64(s.RelSeq), float64(s.RelSeq)+float64(s.Len)
		switch {
		case s.Lost():
			lost++
			fmt.Fprintf(&marks, `<g class="lost" data-n="%d"><title>%s</title><path d="M%.1f,%.1f l8,8 M%.1f,%.1f l8,-8"/></g>`+"\n",
				s.N, esc("lost on the wire: "+Label(s)), xx-4, y(hi)-4, xx-4, y(hi)+4)
		case s.Kinds&AnyRetransmission != 0:
			retrans++
			fmt.Fprintf(&marks, `<g class="retransmission" data-n="%d"><title>%s</title><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><text class="r" x="%.1f" y="%.1f">R</text></g>`+"\n",
				s.N, esc(strings.Join(Notes(s), ", ")+": "+Label(s)),
				xx, y(lo), xx, y(hi), xx-3, y(lo), xx+3, y(lo), xx-3, y(hi), xx+3, y(hi), xx+4, y(hi)-2)
		case s.Len > 0 || s.Flags&(SYN|FIN) != 0:
			k := int(xx)
			cc := cols[k]
			if cc == nil {
				cc = &col{lo, hi}
				cols[k] = cc
				colOrder = append(colOrder, k)
			}
			cc.lo, cc.hi = math.Min(cc.lo, lo), math.Max(cc.hi, hi)
			if s.Flags&(SYN|FIN) != 0 {
				what := "SYN"
				if s.Flags&FIN != 0 {
					what = "FIN"
				}
				fmt.Fprintf(&marks, `<text x="%.1f" y="%.1f" style="fill:#555">%s</text>`+"\n", xx+4, y(hi)-4, what)
			}
		}
	}
	b.WriteString(`<g class="data">` + "\n")
	for _, k := range colOrder {
		cc := cols[k]
		xx := float64(k) + 0.5
		y0, y1 := y(cc.lo), y(cc.hi)
		if y0-y1 < 2 {
			y1 = y0 - 2
		}
		fmt.Fprintf(&b, `<path d="M%.1f,%.1f V%.1f M%.1f,%.1f h4 M%.1f,%.1f h4"/>`+"\n", xx, y0, y1, xx-2, y0, xx-2, y1)
	}
	b.WriteString("</g>\n")
	b.WriteString(marks.String())
	// Legend.
	lx, ly := ml+10, mt+10
	fmt.Fprintf(&b, `<g class="legend"><rect x="%d" y="%d" width="330" height="74" fill="#ffffff" stroke="#ccc"/>`, lx, ly)
	fmt.Fprintf(&b, `<line class="data" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d">data segments sent by %s</text>`, lx+8, ly+14, lx+28, ly+14, lx+34, ly+18, esc(c.Endpoint(d).String()))
	fmt.Fprintf(&b, `<line class="ack" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d">ACK</text>`, lx+8, ly+30, lx+28, ly+30, lx+34, ly+34)
	fmt.Fprintf(&b, `<line class="window" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d">receive window (ACK + window)</text>`, lx+8, ly+46, lx+28, ly+46, lx+34, ly+50)
	fmt.Fprintf(&b, `<line class="retransmission" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d">retransmission (R): %d · lost on the wire (×): %d</text></g>`+"\n", lx+8, ly+62, lx+28, ly+62, lx+34, ly+66, retrans, lost)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func windowOf(s *Segment) int64 {
	if s.WindowBytes >= 0 {
		return s.WindowBytes
	}
	return int64(s.Window)
}
