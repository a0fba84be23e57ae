package flow

import (
	"fmt"
	"io"
	"strings"
)

// mermaidText keeps a label inside Mermaid's message syntax: ';' and '#'
// start statements and entity codes, '<' '>' would be read as HTML.
var mermaidText = strings.NewReplacer(";", ",", "#", "no. ", "<", "(", ">", ")", "\n", " ", "{", "(", "}", ")")

// WriteMermaid writes a Mermaid sequenceDiagram of the connection, in the
// style of the article's: the client's segments as solid arrows, the
// server's as dotted ones, phase notes between, notable segments in a red
// box with what stands out, lost segments as arrows ending in a cross.
func WriteMermaid(w io.Writer, c *Conn, o RenderOptions) error {
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	fmt.Fprintf(&b, "    participant C as %s\n", mermaidText.Replace(o.laneName(c, ClientToServer)))
	fmt.Fprintf(&b, "    participant S as %s\n", mermaidText.Replace(o.laneName(c, ServerToClient)))
	for _, r := range layout(c, o) {
		switch {
		case r.note != "":
			over := "C,S"
			if !r.noteBoth {
				over = map[Dir]string{ClientToServer: "C", ServerToClient: "S"}[r.noteOver]
			}
			fmt.Fprintf(&b, "    Note over %s: %s\n", over, mermaidText.Replace(r.note))
		case r.sum != nil:
			fmt.Fprintf(&b, "    Note over C,S: … %s …\n", mermaidText.Replace(r.sum.text()))
		default:
			s := r.seg
			from, to, arrow := "C", "S", "->>"
			if s.Dir == ServerToClient {
				from, to, arrow = "S", "C", "-->>"
			}
			if s.Lost() {
				arrow = strings.TrimSuffix(arrow, ">>") + "x"
			}
			label := fmt.Sprintf("%s [%s]", Label(s), fmtDur(s.Rel))
			notes := Notes(s)
			if len(notes) > 0 && s.Notable() {
				fmt.Fprintf(&b, "    rect rgb(255, 221, 221)\n")
				fmt.Fprintf(&b, "    %s%s%s: %s\n", from, arrow, to, mermaidText.Replace(strings.ToUpper(notes[0])+" - "+label))
				fmt.Fprintf(&b, "    Note right of S: %s\n", mermaidText.Replace(strings.Join(notes, ", ")))
				b.WriteString("    end\n")
				continue
			}
			if len(notes) > 0 {
				label += " (" + strings.Join(notes, ", ") + ")"
			}
			fmt.Fprintf(&b, "    %s%s%s: %s\n", from, arrow, to, mermaidText.Replace(label))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteText writes the connection as a ladder for a terminal: time, an
// arrow between the two lanes labelled like the Mermaid diagram, and what
// stands out at the end of the line.
func WriteText(w io.Writer, c *Conn, o RenderOptions) error {
	const width = 72 // between the lanes
	var b strings.Builder
	fmt.Fprintf(&b, "connection %d: %s\n", c.N, c.String())
	left, right := o.laneName(c, ClientToServer), o.laneName(c, ServerToClient)
	fmt.Fprintf(&b, "%12s  %-*s%s\n", "time", width-len(right)+2, left, right)
	for _, r := range layout(c, o) {
		switch {
		case r.note != "":
			fmt.Fprintf(&b, "%12s  |%s|\n", "", center("[ "+r.note+" ]", width, ' '))
		case r.sum != nil:
			fmt.Fprintf(&b, "%12s  :%s:\n", "", center("... "+r.sum.text()+" ...", width, ' '))
		default:
			s := r.seg
			label := " " + Label(s) + " "
			var line string
			if s.Dir == ClientToServer {
				if s.Lost() {
					line = "|--" + label + strings.Repeat("-", max(1, width/2-len(label)-2)) + "X"
					line += strings.Repeat(" ", max(0, width+1-len(line))) + "|"
				} else {
					line = "|--" + label + strings.Repeat("-", max(1, width-len(label)-3)) + ">|"
				}
			} else {
				if s.Lost() {
					body := "X" + strings.Repeat("-", max(1, width/2-len(label)-2)) + label + "--|"
					line = "|" + strings.Repeat(" ", max(0, width+1-len(body))) + body
				} else {
					line = "|<" + strings.Repeat("-", max(1, width-len(label)-3)) + label + "--|"
				}
			}
			fmt.Fprintf(&b, "%12s  %s", fmtDur(s.Rel), line)
			if n := Notes(s); len(n) > 0 {
				mark := "  "
				if s.Notable() {
					mark = "  !! "
				}
				b.WriteString(mark + strings.ToUpper(strings.Join(n, ", ")))
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func center(s string, width int, pad byte) string {
	if len(s) >= width {
		return s
	}
	l := (width - len(s)) / 2
	return strings.Repeat(string(pad), l) + s + strings.Repeat(string(pad), width-len(s)-l)
}
