package compare

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"tcplab/wire"
)

// RunOptions are what a command line sets.
type RunOptions struct {
	// Stacks picks backends by name from those Run is given; empty runs
	// them all. A name Run was not given is an error.
	Stacks []string
	// Pattern selects scenarios: a regular expression that must match the
	// ID or the title; empty runs all.
	Pattern string
	// PcapDir, if set, receives one capture per scenario and stack
	// (ID_stack.pcap), written by a wire.Tap on the bench's link.
	PcapDir string
	// Parallel is how many scenario runs go at once (default
	// 2*GOMAXPROCS: runs mostly wait). Timer scenarios on a stack that
	// runs in real time (linux) do not count: they run beside these.
	Parallel int
	// Timeout bounds one scenario run (default 30 s).
	Timeout time.Duration
	// Seed makes the bench's choices (ports, ISNs) reproducible.
	Seed uint64
}

// Matrix is the outcome of a run: one row per scenario, one result per
// stack. Its JSON form is what `tcplab compare --json` prints.
type Matrix struct {
	Stacks   []string          `json:"stacks"`
	Versions map[string]string `json:"versions"`
	// Links says how the bench reached each stack: "mem" or "tun".
	Links map[string]string `json:"links"`
	// Settings are what a backend pinned for the run (Linux's sysctls).
	Settings  map[string][]string `json:"settings,omitempty"`
	Scenarios []Row               `json:"scenarios"`
	Summary   map[string]Summary  `json:"summary"`
	// Paired holds the paired runs when the caller ran them (RunPaired).
	Paired    []Paired `json:"paired,omitempty"`
	ElapsedMS int64    `json:"elapsed_ms"`
}

// Row is one scenario's results.
type Row struct {
	ID           string            `json:"id"`
	Title        string            `json:"title"`
	RFC          string            `json:"rfc"`
	Requirements []string          `json:"requirements"`
	Results      map[string]Result `json:"results"`
}

// Result is one scenario on one stack.
type Result struct {
	Verdict    Verdict  `json:"verdict"`
	Detail     string   `json:"detail,omitempty"`
	DurationMS int64    `json:"duration_ms"`
	Pcap       string   `json:"pcap,omitempty"`
	Log        []string `json:"log,omitempty"`
	// Answers are the differences the scenario allowed as answers real
	// stacks give (T.Allowed), to be matched against the references'.
	Answers []string `json:"allowed_answers,omitempty"`
}

// Summary counts a stack's verdicts.
type Summary struct {
	Pass    int `json:"pass"`
	Allowed int `json:"allowed"`
	Fail    int `json:"fail"`
	NA      int `json:"na"`
	Error   int `json:"error"`
}

// Select returns the scenarios whose ID or title matches pattern.
func Select(scenarios []Scenario, pattern string) ([]Scenario, error) {
	if pattern == "" {
		return scenarios, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("compare: scenario pattern: %w", err)
	}
	var out []Scenario
	for _, s := range scenarios {
		if re.MatchString(s.ID) || re.MatchString(s.Title) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Run runs the selected scenarios against every backend, in parallel, each
// on a fresh wire and a fresh DUT, and returns the matrix. The error is
// about the options (pattern, capture directory), never about a DUT.
func Run(ctx context.Context, scenarios []Scenario, backends []Backend, opt RunOptions) (*Matrix, error) {
	sel, err := Select(scenarios, opt.Pattern)
	if err != nil {
		return nil, err
	}
	if backends, err = pick(backends, opt.Stacks); err != nil {
		return nil, err
	}
	if opt.PcapDir != "" {
		if err := os.MkdirAll(opt.PcapDir, 0o755); err != nil {
			return nil, fmt.Errorf("compare: capture directory: %w", err)
		}
	}
	if opt.Parallel <= 0 {
		opt.Parallel = 2 * runtime.GOMAXPROCS(0)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	start := time.Now()
	m := &Matrix{Versions: map[string]string{}, Links: map[string]string{}, Summary: map[string]Summary{}}
	for _, b := range backends {
		m.Stacks = append(m.Stacks, b.Name)
		m.Versions[b.Name] = b.Version
		m.Links[b.Name] = b.Link
		if len(b.Settings) > 0 {
			if m.Settings == nil {
				m.Settings = map[string][]string{}
			}
			m.Settings[b.Name] = b.Settings
		}
	}
	m.Scenarios = make([]Row, len(sel))
	for i, s := range sel {
		m.Scenarios[i] = Row{ID: s.ID, Title: s.Title, RFC: s.RFC, Requirements: s.Requirements, Results: map[string]Result{}}
	}

	type job struct {
		row int
		b   Backend
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range opt.Parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r := runOne(ctx, sel[j.row], j.b, opt)
				mu.Lock()
				m.Scenarios[j.row].Results[j.b.Name] = r
				mu.Unlock()
			}
		}()
	}
	// A timer scenario on a stack that runs in real time (linux) spends
	// its seconds waiting for the kernel's timers, not computing: it runs
	// beside the pool, from the start, rather than holding a worker.
	for i := range sel {
		for _, b := range backends {
			if !realTimeTimers(sel[i], b) {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := runOne(ctx, sel[i], b, opt)
				mu.Lock()
				m.Scenarios[i].Results[b.Name] = r
				mu.Unlock()
			}()
		}
	}
	for i := range sel {
		for _, b := range backends {
			if !realTimeTimers(sel[i], b) {
				jobs <- job{i, b}
			}
		}
	}
	close(jobs)
	wg.Wait()
	holdToReferences(m)
	for _, row := range m.Scenarios {
		for stack, r := range row.Results {
			s := m.Summary[stack]
			switch r.Verdict {
			case Pass:
				s.Pass++
			case Allowed:
				s.Allowed++
			case Fail:
				s.Fail++
			case NA:
				s.NA++
			default:
				s.Error++
			}
			m.Summary[stack] = s
		}
	}
	m.ElapsedMS = time.Since(start).Milliseconds()
	return m, nil
}

// realTimeTimers reports a timer scenario (one asking for virtual time)
// on a backend whose timers run in real time.
func realTimeTimers(s Scenario, b Backend) bool { return s.Setup.VirtualClock && !b.VirtualTime }

// pick keeps the backends named in names (all for none), in names' order.
func pick(backends []Backend, names []string) ([]Backend, error) {
	if len(names) == 0 {
		return backends, nil
	}
	var out []Backend
	for _, n := range names {
		i := slices.IndexFunc(backends, func(b Backend) bool { return b.Name == n })
		if i < 0 {
			var have []string
			for _, b := range backends {
				have = append(have, b.Name)
			}
			return nil, fmt.Errorf("compare: no stack %q here (have %s)", n, strings.Join(have, ", "))
		}
		out = append(out, backends[i])
	}
	return out, nil
}

// runOne runs scenario s on a fresh DUT of backend b.
func runOne(ctx context.Context, s Scenario, b Backend, opt RunOptions) (res Result) {
	start := time.Now()
	defer func() { res.DurationMS = time.Since(start).Milliseconds() }()
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()

	if missing := missingNeeds(s, b); len(missing) > 0 {
		return Result{Verdict: NA, Detail: naReason(missing)}
	}
	setup := s.Setup
	var clock *VirtualClock
	now := time.Now
	if setup.VirtualClock && b.VirtualTime {
		clock = NewVirtualClock()
		setup.clock, now = clock, clock.Now
	}
	dut, link, err := b.Start(ctx, setup)
	if err != nil {
		return Result{Verdict: Error, Detail: err.Error()}
	}
	defer dut.Close()
	var tap *wire.Tap
	if opt.PcapDir != "" {
		name := filepath.Join(opt.PcapDir, fileName(s.ID+"_"+b.Name)+".pcap")
		f, err := os.Create(name)
		if err != nil {
			return Result{Verdict: Error, Detail: fmt.Sprintf("capture: %v", err)}
		}
		defer f.Close()
		if tap, err = wire.NewTap(link, f); err != nil {
			return Result{Verdict: Error, Detail: fmt.Sprintf("capture: %v", err)}
		}
		link = tap
		res.Pcap = name
	}
	h := fnv.New64a()
	io.WriteString(h, s.ID+"/"+b.Name)
	local, remote := TBAddr, DUTAddr
	if b.benchAddr.IsValid() {
		local, remote = b.benchAddr, b.dutAddr
	}
	tb := newBench(link, local, remote, opt.Seed^h.Sum64(), now)
	defer tb.Close()
	if ext, ok := dut.(*externalDUT); ok {
		tb.dutPort = ext.dutPort
		tb.claim = func(p uint16) bool { return ext.link.e.claim(ext.link, p) }
	}

	t := &T{TB: tb, DUT: dut, Timing: b.Timing, ctx: ctx, stack: b.Name, clock: clock}
	done := make(chan struct{})
	var panicked any
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				panicked = p
			}
		}()
		s.Run(t)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.mu.Lock()
		if t.verdict == "" {
			t.verdict, t.detail = Error, fmt.Sprintf("the scenario did not finish within %v: %v", opt.Timeout, ctx.Err())
		}
		t.mu.Unlock()
	}
	var undeclared []Capability
	if r, ok := dut.(needRecorder); ok {
		undeclared = r.undeclared()
	}
	t.mu.Lock()
	cleanups := t.cleanups
	t.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}

	v, detail, answers := t.result()
	res.Answers = answers
	if panicked != nil {
		v, detail = Error, fmt.Sprintf("the scenario panicked: %v", panicked)
	}
	// MUST-2: whatever the scenario was about, every segment the DUT sent
	// must carry a correct checksum.
	if bad := tb.BadChecksums(); len(bad) > 0 && (v == Pass || v == Allowed) {
		v, detail = Fail, "MUST-2: segments with a bad checksum:\n  "+strings.Join(bad, "\n  ")
	}
	if err := tb.Err(); err != nil && !errors.Is(err, context.Canceled) && v != Error && tb.ctx.Err() == nil {
		v, detail = Error, err.Error()
	}
	// A scenario that asked the device's application for more than it
	// declared got answers tcplab made up: whatever it concluded is n/a.
	if len(undeclared) > 0 {
		v, detail = NA, naReason(undeclared)
	}
	res.Verdict, res.Detail = v, detail
	res.Log = tb.Log()
	if strays := tb.Strays(); len(strays) > 0 {
		res.Log = append(res.Log, "not for any bench connection:")
		res.Log = append(res.Log, strays...)
	}
	t.mu.Lock()
	res.Log = append(res.Log, t.notes...)
	t.mu.Unlock()
	if tap != nil {
		if err := tap.Err(); err != nil && res.Verdict != Error {
			res.Verdict, res.Detail = Error, fmt.Sprintf("capture: %v", err)
		}
	}
	return res
}

// fileName keeps letters, digits, '-', '_' and '.'.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// Failed reports whether any stack failed a scenario or hit an error.
func (m *Matrix) Failed() bool {
	for _, s := range m.Summary {
		if s.Fail > 0 || s.Error > 0 {
			return true
		}
	}
	return false
}

// WriteText renders the matrix: a line per stack saying what ran and over
// which link (and what it pinned), one row per scenario, one column per
// stack, then the details of every result that is not a pass, then a
// summary line per stack.
func (m *Matrix) WriteText(w io.Writer) error {
	m.writeHeader(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\tscenario")
	for _, s := range m.Stacks {
		fmt.Fprintf(tw, "\t%s", s)
	}
	fmt.Fprintln(tw)
	for _, r := range m.Scenarios {
		fmt.Fprintf(tw, "%s\t%s", r.ID, clip(r.Title, 60))
		for _, s := range m.Stacks {
			fmt.Fprintf(tw, "\t%s", r.Results[s].Verdict)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range m.Scenarios {
		for _, s := range m.Stacks {
			res := r.Results[s]
			if res.Verdict == Pass || res.Detail == "" {
				continue
			}
			fmt.Fprintf(w, "\n%s %s (%s): %s\n  %s\n", r.ID, s, r.RFC, res.Verdict, strings.ReplaceAll(res.Detail, "\n", "\n  "))
		}
	}
	fmt.Fprintln(w)
	for _, s := range m.Stacks {
		x := m.Summary[s]
		if _, err := fmt.Fprintf(w, "%s (%s): %d pass, %d allowed, %d fail, %d n/a, %d error\n",
			s, m.Versions[s], x.Pass, x.Allowed, x.Fail, x.NA, x.Error); err != nil {
			return err
		}
	}
	return nil
}

// writeHeader says, per stack, what ran and how the bench reached it.
func (m *Matrix) writeHeader(w io.Writer) {
	for _, s := range m.Stacks {
		link := m.Links[s]
		if link == "" {
			link = "?"
		}
		fmt.Fprintf(w, "%s: %s, over %s\n", s, m.Versions[s], link)
		if set := m.Settings[s]; len(set) > 0 {
			fmt.Fprintf(w, "  pinned: %s\n", strings.Join(set, ", "))
		}
	}
	fmt.Fprintln(w)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// References are the stacks whose answers are the yardstick: gVisor's
// netstack and the Linux kernel.
var References = map[string]bool{"netstack": true, "linux": true}

// holdToReferences turns a non-reference stack's Allowed verdict into a
// fail when its answer (T.Allowed) is not one a reference stack gave in
// the same run: handmade may differ from the RFC only as netstack or
// Linux actually did, or as the RFC itself allows (T.AllowedRFC).
func holdToReferences(m *Matrix) {
	for i := range m.Scenarios {
		row := &m.Scenarios[i]
		given := map[string]bool{}
		var refs []string
		for stack, r := range row.Results {
			if References[stack] {
				refs = append(refs, stack)
				for _, a := range r.Answers {
					given[a] = true
				}
			}
		}
		sort.Strings(refs)
		for stack, r := range row.Results {
			if References[stack] || r.Verdict != Allowed {
				continue
			}
			for _, a := range r.Answers {
				if !given[a] {
					r.Verdict = Fail
					r.Detail = fmt.Sprintf("expected an RFC answer, or a difference a reference stack (%s) gave in this run; got %q, which none of them gave", strings.Join(refs, ", "), a)
					row.Results[stack] = r
					break
				}
			}
		}
	}
}
