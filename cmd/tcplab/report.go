package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"tcplab/compare"
	"tcplab/flow"
)

// reportCapturesDir is where --html keeps the captures when --pcap-dir is
// not set: beside the report, named after it.
func reportCapturesDir(htmlFile string) string {
	base := strings.TrimSuffix(filepath.Base(htmlFile), filepath.Ext(htmlFile))
	return filepath.Join(filepath.Dir(htmlFile), base+"-captures")
}

// htmlGraph is one capture drawn for the report.
type htmlGraph struct {
	Caption string
	Src     template.URL // data: URL of the SVG
	Alt     string
}

type htmlCell struct {
	Stack, Verdict, Detail string
	Pcap                   string // relative to the report
	Graphs                 []htmlGraph
	Err                    string
}

type htmlRow struct {
	ID, Title, RFC string
	Cells          []htmlCell
}

type htmlPaired struct {
	ID, Client, Server, Wire, Verdict, Detail string
	Pcap                                      string
	Graphs                                    []htmlGraph
	Err                                       string
}

type htmlReport struct {
	Stacks   []string
	Versions []string
	Summary  []string
	Rows     []htmlRow
	Paired   []htmlPaired
}

// writeHTMLReport writes the matrix as one HTML page that needs nothing
// from the network: each cell opens (a details element, no script) the
// flow graph of its capture, drawn inline as an SVG data URL, and links
// the capture itself by a path relative to the report.
func writeHTMLReport(file string, m *compare.Matrix) error {
	dir := filepath.Dir(file)
	rel := func(p string) string {
		if p == "" {
			return ""
		}
		r, err := filepath.Rel(dir, p)
		if err != nil {
			r = p
		}
		parts := strings.Split(filepath.ToSlash(r), "/")
		for i, s := range parts {
			parts[i] = url.PathEscape(s)
		}
		return strings.Join(parts, "/")
	}
	rep := htmlReport{Stacks: m.Stacks}
	var names []string
	for k := range m.Versions {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		rep.Versions = append(rep.Versions, k+" "+m.Versions[k])
	}
	for _, s := range m.Stacks {
		x := m.Summary[s]
		rep.Summary = append(rep.Summary, fmt.Sprintf("%s: %d pass, %d allowed, %d fail, %d n/a, %d error", s, x.Pass, x.Allowed, x.Fail, x.NA, x.Error))
	}
	for _, r := range m.Scenarios {
		row := htmlRow{ID: r.ID, Title: r.Title, RFC: r.RFC}
		for _, s := range m.Stacks {
			res := r.Results[s]
			cell := htmlCell{Stack: s, Verdict: string(res.Verdict), Detail: res.Detail, Pcap: rel(res.Pcap)}
			if res.Pcap != "" {
				cell.Graphs, cell.Err = drawForReport(res.Pcap, false)
			}
			row.Cells = append(row.Cells, cell)
		}
		rep.Rows = append(rep.Rows, row)
	}
	for i, p := range m.Paired {
		wire := p.Wire
		if p.DUTRole != "" {
			wire += ", " + p.DUTRole + " behind it"
		}
		hp := htmlPaired{ID: fmt.Sprintf("paired-%d", i+1), Client: p.Client, Server: p.Server, Wire: wire, Verdict: "ok", Detail: p.Error, Pcap: rel(p.Pcap)}
		if !p.OK {
			hp.Verdict = "fail"
		}
		if p.Conv != nil && hp.Detail == "" {
			hp.Detail = p.Conv.String()
		}
		if p.Pcap != "" {
			hp.Graphs, hp.Err = drawForReport(p.Pcap, true)
		}
		rep.Paired = append(rep.Paired, hp)
	}
	var b bytes.Buffer
	if err := reportTemplate.Execute(&b, rep); err != nil {
		return err
	}
	return os.WriteFile(file, b.Bytes(), 0o644)
}

// drawForReport draws every connection of a capture as an SVG ladder
// (and, with tsg, a time-sequence graph of the data).
func drawForReport(pcap string, tsg bool) ([]htmlGraph, string) {
	capt, err := flow.ReadFile(pcap)
	if err != nil {
		return nil, err.Error()
	}
	dataURL := func(b []byte) template.URL {
		return template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(b))
	}
	var out []htmlGraph
	for _, c := range capt.Conns {
		var b bytes.Buffer
		if err := flow.WriteSVG(&b, c, flow.RenderOptions{}); err != nil {
			return out, err.Error()
		}
		caption := fmt.Sprintf("connection %d: %s", c.N, c)
		out = append(out, htmlGraph{Caption: caption, Src: dataURL(b.Bytes()), Alt: "flow graph, " + caption})
		if tsg {
			b.Reset()
			if err := flow.WriteTSG(&b, c, c.DataDir(), flow.RenderOptions{}); err != nil {
				return out, err.Error()
			}
			out = append(out, htmlGraph{Caption: "time-sequence graph", Src: dataURL(b.Bytes()), Alt: "time-sequence graph, " + caption})
		}
	}
	return out, ""
}

// reportStyle is the stylesheet every HTML report of tcplab shares.
const reportStyle = `{{define "style"}}<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#f0f0f0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.v-pass,td.v-ok{background:#e8f5e9}
td.v-allowed{background:#fffde7}
td.v-fail,td.v-error{background:#ffebee}
td.v-na{background:#f5f5f5}
summary{cursor:pointer;font-weight:bold}
.detail{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap}
figure{margin:.5em 0}
figure img{max-width:100%;border:1px solid #ddd;background:#fff}
figcaption{font-size:12px;color:#555}
</style>{{end}}`

var reportTemplate = template.Must(template.New("report").Parse(reportStyle + `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tcplab compare</title>
{{template "style"}}
</head>
<body>
<h1>tcplab compare</h1>
<p>{{range .Versions}}{{.}} · {{end}}</p>
<ul>{{range .Summary}}<li>{{.}}</li>{{end}}</ul>
<table id="matrix">
<thead><tr><th>ID</th><th>scenario</th><th>RFC</th>{{range .Stacks}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr class="row" id="row-{{.ID}}" data-id="{{.ID}}"><td>{{.ID}}</td><td>{{.Title}}</td><td>{{.RFC}}</td>
{{range .Cells}}<td class="v-{{.Verdict}}"><details><summary>{{.Verdict}}</summary>
{{if .Detail}}<div class="detail">{{.Detail}}</div>{{end}}
{{if .Pcap}}<p><a href="{{.Pcap}}">capture ({{.Stack}})</a></p>{{end}}
{{if .Err}}<div class="detail">no flow graph: {{.Err}}</div>{{end}}
{{range .Graphs}}<figure><img src="{{.Src}}" alt="{{.Alt}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}
</details></td>
{{end}}</tr>
{{end}}</tbody>
</table>
{{if .Paired}}<h2>Paired runs</h2>
<table id="paired">
<thead><tr><th>client</th><th>server</th><th>wire</th><th>result</th></tr></thead>
<tbody>
{{range .Paired}}<tr class="row" id="{{.ID}}" data-id="{{.ID}}"><td>{{.Client}}</td><td>{{.Server}}</td><td>{{.Wire}}</td>
<td class="v-{{.Verdict}}"><details><summary>{{.Verdict}}</summary>
{{if .Detail}}<div class="detail">{{.Detail}}</div>{{end}}
{{if .Pcap}}<p><a href="{{.Pcap}}">client's capture</a></p>{{end}}
{{if .Err}}<div class="detail">no flow graph: {{.Err}}</div>{{end}}
{{range .Graphs}}<figure><img src="{{.Src}}" alt="{{.Alt}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}
</details></td></tr>
{{end}}</tbody>
</table>{{end}}
</body>
</html>
`))
