package flow

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// esc escapes text for XML character data and attribute values.
func esc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

const svgStyle = `<style>
text{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;fill:#222;stroke:none}
.lane{stroke:#555;stroke-width:2}
.c2s{stroke:#1f5fbf;fill:#1f5fbf}
.s2c{stroke:#2e7d32;fill:#2e7d32}
.seg line{stroke-width:1.5}
.notable line{stroke:#c62828;stroke-width:2.5}
.notable text.label{fill:#c62828;font-weight:bold}
.lost line{stroke-dasharray:6 4}
.note rect{fill:#fff8c4;stroke:#c9b600}
.summary rect{fill:#eeeeee;stroke:#999;stroke-dasharray:4 3}
text.ann{fill:#c62828}
text.time{fill:#666}
</style>`

// WriteSVG writes the connection as a self-contained SVG ladder: two
// lanes, one arrow per segment (or a summary box for a run of ordinary
// segments in a long connection), notable segments in red with what
// stands out beside them, lost segments as dashed arrows ending in a
// cross half way.
func WriteSVG(w io.Writer, c *Conn, o RenderOptions) error {
	rows := layout(c, o)
	const (
		rowH   = 26
		top    = 70
		xTime  = 8
		xL     = 120
		xR     = 760
		xAnn   = 775
		width  = 1180
		slope  = 8 // an arrow drops this much: time passes in flight
		maxAnn = 60
	)
	height := top + len(rows)*rowH + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" class="tcplab-flow">`+"\n", width, height, width, height)
	title := o.Title
	if title == "" {
		title = fmt.Sprintf("connection %d: %v -> %v", c.N, c.Client, c.Server)
	}
	fmt.Fprintf(&b, "<title>%s</title>\n%s\n", esc(title), svgStyle)
	b.WriteString(`<defs>` +
		`<marker id="ah-c2s" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1f5fbf"/></marker>` +
		`<marker id="ah-s2c" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#2e7d32"/></marker>` +
		`<marker id="ah-bad" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c62828"/></marker>` +
		"</defs>\n")
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="20" style="font-weight:bold">%s</text>`+"\n", xTime, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="50" text-anchor="middle" style="font-weight:bold">%s</text>`+"\n", xL, esc(o.laneName(c, ClientToServer)))
	fmt.Fprintf(&b, `<text x="%d" y="50" text-anchor="middle" style="font-weight:bold">%s</text>`+"\n", xR, esc(o.laneName(c, ServerToClient)))
	fmt.Fprintf(&b, `<text x="%d" y="50" class="time">time</text>`+"\n", xTime)
	fmt.Fprintf(&b, `<line class="lane" x1="%d" y1="58" x2="%d" y2="%d"/>`+"\n", xL, xL, height-10)
	fmt.Fprintf(&b, `<line class="lane" x1="%d" y1="58" x2="%d" y2="%d"/>`+"\n", xR, xR, height-10)
	for i, r := range rows {
		y := top + i*rowH
		switch {
		case r.note != "":
			x0, x1 := xL-60, xR+60
			if !r.noteBoth {
				x := xL
				if r.noteOver == ServerToClient {
					x = xR
				}
				x0, x1 = x-110, x+110
			}
			fmt.Fprintf(&b, `<g class="note"><rect x="%d" y="%d" width="%d" height="%d" rx="3"/><text x="%d" y="%d" text-anchor="middle">%s</text></g>`+"\n",
				x0, y, x1-x0, rowH-6, (x0+x1)/2, y+15, esc(r.note))
		case r.sum != nil:
			fmt.Fprintf(&b, `<g class="summary"><rect x="%d" y="%d" width="%d" height="%d"/><text x="%d" y="%d" text-anchor="middle">%s</text></g>`+"\n",
				xL+4, y, xR-xL-8, rowH-6, (xL+xR)/2, y+15, esc("… "+r.sum.text()+" …"))
		default:
			s := r.seg
			cls, marker := "seg c2s", "ah-c2s"
			x0, x1 := xL, xR
			if s.Dir == ServerToClient {
				cls, marker, x0, x1 = "seg s2c", "ah-s2c", xR, xL
			}
			notes := Notes(s)
			if s.Notable() {
				cls += " notable"
				marker = "ah-bad"
			}
			if s.Kinds&AnyRetransmission != 0 {
				cls += " retransmission"
			}
			if s.Lost() {
				cls += " lost"
			}
			fmt.Fprintf(&b, `<g class="%s" data-n="%d" data-frame="%d">`, cls, s.N, s.Frame)
			if len(notes) > 0 {
				fmt.Fprintf(&b, `<title>%s</title>`, esc(strings.Join(notes, ", ")))
			}
			fmt.Fprintf(&b, `<text class="time" x="%d" y="%d">%s</text>`, xTime, y+14, esc(fmtDur(s.Rel)))
			ya, yb := y+10, y+10+slope
			if s.Lost() {
				xm := (x0 + x1) / 2
				ym := (ya + yb) / 2
				fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d"/>`, x0, ya, xm, ym)
				fmt.Fprintf(&b, `<path d="M%d,%d l12,12 M%d,%d l12,-12" stroke="#c62828" stroke-width="3"/>`, xm-6, ym-6, xm-6, ym+6)
			} else {
				fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" marker-end="url(#%s)"/>`, x0, ya, x1, yb, marker)
			}
			fmt.Fprintf(&b, `<text class="label" x="%d" y="%d" text-anchor="middle" stroke="none">%s</text>`, (xL+xR)/2, ya-1, esc(Label(s)))
			if len(notes) > 0 {
				ann := strings.Join(notes, ", ")
				if len(ann) > maxAnn {
					ann = ann[:maxAnn-1] + "…"
				}
				fmt.Fprintf(&b, `<text class="ann" x="%d" y="%d">%s</text>`, xAnn, y+14, esc(ann))
			}
			b.WriteString("</g>\n")
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
