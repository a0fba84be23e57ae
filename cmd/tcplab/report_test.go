package main

import (
	"context"
	"encoding/json"
	"html"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"tcplab/compare"
)

// findChromium returns Debian's chromium (installed by .ci/run), or
// skips: fails under CI, where it must be there.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set and no chromium is installed: .ci/run installs Debian's chromium for this test")
	}
	t.Skip("chromium is not installed (Debian package chromium; .ci/run installs it): the HTML report is not rendered")
	return ""
}

func TestCompareHTMLReport(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "report.html")
	out, stderr, err := runCLI(t, "compare", "--run", "HS-0[12]|RS-01", "--html", report, "--json")
	if err != nil {
		t.Fatalf("compare: %v\n%s", err, stderr)
	}
	var m compare.Matrix
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Scenarios) < 3 {
		t.Fatalf("%d scenarios", len(m.Scenarios))
	}
	page, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	// Self-contained: no URL but data: images and the captures, linked
	// relatively and written beside the report.
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(string(page), -1) {
		u := html.UnescapeString(m[1])
		switch {
		case strings.HasPrefix(u, "data:image/svg+xml;base64,"):
		case strings.HasPrefix(u, "report-captures/"):
			p, _ := url.PathUnescape(u)
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				t.Errorf("the report links %s, which is not beside it: %v", u, err)
			}
		default:
			t.Errorf("the report refers to %.80q", u)
		}
	}
	for _, r := range m.Scenarios {
		for _, s := range m.Stacks {
			if r.Results[s].Pcap == "" {
				t.Errorf("%s on %s: no capture", r.ID, s)
			}
		}
	}

	chromium := findChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	var mu sync.Mutex
	var problems []string
	problem := func(p string) {
		mu.Lock()
		problems = append(problems, p)
		mu.Unlock()
	}
	// Console errors and uncaught exceptions, and any fetch that is not
	// of the file itself or a data: image.
	cctx, ccancel := context.WithCancel(bctx)
	console := chromedp.Console(cctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg, err := range console {
			if err != nil {
				return
			}
			if msg.Type == chromedp.ConsoleError || msg.IsException() {
				problem("console: " + msg.String())
			}
		}
	}()
	if err := chromedp.Listen(bctx, func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok && ev.Request != nil {
			if u := ev.Request.URL; !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
				problem("network fetch: " + u)
			}
		}
	}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+report), chromedp.WaitReady(chromedp.CSS("#matrix"))); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	ids, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#matrix tr.row')).map(r => r.dataset.id)`))
	if err != nil {
		t.Fatal(err)
	}
	// Open every cell: its flow graphs show inline.
	opened, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('details').forEach(d => d.open = true); document.querySelectorAll('details[open] img').length`))
	if err != nil {
		t.Fatal(err)
	}
	chromedp.Do(bctx, chromedp.Sleep(500*time.Millisecond))
	imagesOK, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)`))
	if err != nil {
		t.Fatal(err)
	}
	ccancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("in the page: %s", p)
	}
	if len(ids) != len(m.Scenarios) {
		t.Errorf("the page shows %d rows, the matrix has %d: %v", len(ids), len(m.Scenarios), ids)
	}
	for i, r := range m.Scenarios {
		if i < len(ids) && ids[i] != r.ID {
			t.Errorf("row %d is %q, want %q", i, ids[i], r.ID)
		}
	}
	if opened < len(m.Scenarios)*len(m.Stacks) || !imagesOK {
		t.Errorf("%d flow graphs shown for %d cells; all images decoded: %v", opened, len(m.Scenarios)*len(m.Stacks), imagesOK)
	}
}

func TestBenchHTMLReport(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "bench.html")
	_, stderr, err := runCLI(t, "bench", "-q", "--profiles", "clean,lossy", "--cc", "newreno", "--runs", "1", "--size", "512KiB", "--duration", "1s", "--no-tun", "--html", report)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	page, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`<tr class="row" id="bench-\d+"`).FindAllString(string(page), -1)
	if len(rows) != 8 {
		t.Errorf("%d rows, want 4 pairings x 2 profiles", len(rows))
	}
	images, links := 0, 0
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(string(page), -1) {
		u := html.UnescapeString(m[1])
		switch {
		case strings.HasPrefix(u, "data:image/svg+xml;base64,"):
			images++
		case strings.HasPrefix(u, "bench-captures/"):
			links++
			if _, err := os.Stat(filepath.Join(dir, u)); err != nil {
				t.Errorf("the report links %s, which is not beside it: %v", u, err)
			}
		default:
			t.Errorf("the report refers to %.80q", u)
		}
	}
	// Each row: a ladder and a time-sequence graph, and its capture.
	if images != 16 || links != 8 {
		t.Errorf("%d inline graphs and %d capture links, want 16 and 8", images, links)
	}
	if strings.Contains(string(page), "no flow graph") {
		t.Errorf("a row has no graph")
	}
}
