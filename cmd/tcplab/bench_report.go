package main

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"os"
	"path/filepath"

	"tcplab/throughput"
)

type htmlBenchRow struct {
	ID, Pairing, Profile, CC, Goodput, Spread, Ratio, Retrans, CPU, Verdict string
	Sample                                                                  string
	Pcap                                                                    string
	Graphs                                                                  []htmlGraph
	Err                                                                     string
}

type htmlBench struct {
	Header []string
	Rows   []htmlBenchRow
}

// sampleSize is the transfer drawn for each row of the bench report.
const sampleSize = 256 << 10

// writeBenchHTML writes the results table as one offline HTML page; each
// row opens the flow graph and time-sequence graph of a sample transfer
// of that pairing and profile (256 KiB, captured at the client: drawing
// the measured transfers would cost the measurement), whose capture is
// written beside the report and linked relatively.
func writeBenchHTML(ctx context.Context, file string, rep benchReport, opt throughput.Options) error {
	capDir := reportCapturesDir(file)
	if err := os.MkdirAll(capDir, 0o755); err != nil {
		return err
	}
	page := htmlBench{Header: []string{
		fmt.Sprintf("gVisor %s, options: %s", rep.GVisorVersion, rep.NetstackOptions),
		"handmade: " + rep.HandmadeConfig,
		fmt.Sprintf("%d runs each, %s or %.0fs per transfer; medians", rep.Runs, formatSize(rep.SizeBytes), rep.DurationS),
	}}
	for i, r := range rep.Results {
		pairing := r.Pairing
		if r.Link != "mem" {
			pairing += " (" + r.Link + ")"
		}
		row := htmlBenchRow{ID: fmt.Sprintf("bench-%d", i+1), Pairing: pairing, Profile: r.Profile, CC: r.CC, Verdict: "ok",
			Goodput: fmt.Sprintf("%.0f", r.MedianMbps), Spread: fmt.Sprintf("%.0f..%.0f", r.MinMbps, r.MaxMbps),
			Ratio: fmt.Sprintf("%.2f", r.RatioVsNetstack), Retrans: fmt.Sprint(r.Retransmissions), CPU: fmt.Sprintf("%.2f", r.CPUSecondsPerGB)}
		if !r.OK {
			row.Verdict = "fail"
		}
		prof, _ := throughput.LookupProfile(r.Profile)
		pcap := filepath.Join(capDir, fmt.Sprintf("bench_%s-to-%s_%s_%s_%s.pcap", r.Client, r.Server, r.Link, r.Profile, r.CC))
		var buf bytes.Buffer
		run := throughput.Sample(ctx, throughput.Pairing{Client: r.Client, Server: r.Server}, prof, opt.ForCC(r.CC), sampleSize, opt.Seed, &buf)
		row.Sample = fmt.Sprintf("sample transfer of %s, seed %d: %.0f Mbit/s while captured, %d retransmissions", formatSize(sampleSize), run.Seed, run.Mbps, run.Retransmissions)
		if run.Error != "" {
			row.Err = run.Error
		}
		if err := os.WriteFile(pcap, buf.Bytes(), 0o644); err != nil {
			return err
		}
		row.Pcap = filepath.Base(capDir) + "/" + filepath.Base(pcap)
		graphs, gerr := drawForReport(pcap, true)
		row.Graphs = graphs
		if gerr != "" {
			row.Err = gerr
		}
		page.Rows = append(page.Rows, row)
	}
	var b bytes.Buffer
	if err := benchTemplate.Execute(&b, page); err != nil {
		return err
	}
	return os.WriteFile(file, b.Bytes(), 0o644)
}

var benchTemplate = template.Must(template.New("bench").Parse(reportStyle + `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tcplab bench</title>
{{template "style"}}
</head>
<body>
<h1>tcplab bench</h1>
<ul>{{range .Header}}<li>{{.}}</li>{{end}}</ul>
<table id="results">
<thead><tr><th>pairing</th><th>profile</th><th>cc</th><th>goodput Mbit/s</th><th>spread</th><th>ratio_vs_netstack</th><th>retrans</th><th>CPU s/GB</th><th>conversation</th></tr></thead>
<tbody>
{{range .Rows}}<tr class="row" id="{{.ID}}" data-id="{{.ID}}"><td>{{.Pairing}}</td><td>{{.Profile}}</td><td>{{.CC}}</td><td class="num">{{.Goodput}}</td><td class="num">{{.Spread}}</td><td class="num">{{.Ratio}}</td><td class="num">{{.Retrans}}</td><td class="num">{{.CPU}}</td>
<td class="v-{{.Verdict}}"><details><summary>{{.Verdict}}</summary>
<div class="detail">{{.Sample}}</div>
{{if .Pcap}}<p><a href="{{.Pcap}}">capture</a></p>{{end}}
{{if .Err}}<div class="detail">no flow graph: {{.Err}}</div>{{end}}
{{range .Graphs}}<figure><img src="{{.Src}}" alt="{{.Alt}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}
</details></td></tr>
{{end}}</tbody>
</table>
</body>
</html>
`))
