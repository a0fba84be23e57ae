// Package throughput measures bulk transfers between the hand-built stack
// and gVisor's netstack, in every pairing, under named wire profiles: the
// engine behind `tcplab bench` and its Go benchmarks.
//
// Runs of the pairings are interleaved (profile by profile, pairing by
// pairing, then again), repeated, and summarised by their median with the
// spread, so a noisy machine shifts every pairing alike; each pairing's
// goodput is also given as a ratio to netstack->netstack measured in the
// same run and profile with the same congestion control family.
package throughput

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"tcplab/handmade"
	"tcplab/netstackref"
	"tcplab/stacks"
	"tcplab/upload"
	"tcplab/wire"
)

// Profile is a named wire: impairments applied to both directions.
type Profile struct {
	Name string
	Wire wire.Impairment
	// QueueLen, if set, is the wire's packets in flight per direction
	// (wire.PipeConfig.QueueLen), for a wire longer than its default
	// 1024 packets carry.
	QueueLen int
	// Buffers, if set, sizes both stacks' buffers for the profile alike:
	// each sender's send buffer (handmade SendBuffer, netstack's default
	// and largest) is Buffers octets, so the receiver's window, not the
	// sender's buffer, is what bounds a long path.
	Buffers int
}

// Profiles are the named profiles of issue #6: clean; lossy (1% loss,
// 20 ms RTT); harsh (5% loss, 5% reordering, 10 ms RTT). The RTT is
// the wire's delay both ways.
var Profiles = []Profile{
	{Name: "clean", Wire: wire.Impairment{}},
	{Name: "lossy", Wire: wire.Impairment{Loss: 0.01, Delay: 10 * time.Millisecond}},
	{Name: "harsh", Wire: wire.Impairment{Loss: 0.05, Reorder: 0.05, Delay: 5 * time.Millisecond}},
}

// ExtraProfiles are named profiles left out of the default list because
// they take long: lfn, a long fat network (100 ms RTT, clean), whose
// bandwidth-delay product is more than a 1 MiB window or send buffer:
// only a receiver whose window grows past it (receive-buffer autotuning)
// and a sender whose send buffer does (send-buffer autotuning, issue #6)
// fill it. Its wire carries 8192 packets per direction (12 MB: 980
// Mbit/s at 100 ms). Both stacks keep their default buffers, so what is
// measured is each stack's own sizing of both (set Buffers to take the
// send buffer out of it); slow start takes about a second to open the
// window, so run it longer than the default 2 s:
//
//	tcplab bench --profiles lfn --duration 10s --size 1GiB
var ExtraProfiles = []Profile{
	{Name: "lfn", Wire: wire.Impairment{Delay: 50 * time.Millisecond}, QueueLen: 8192},
}

// LookupProfile finds a profile by name, default or extra.
func LookupProfile(name string) (Profile, bool) {
	for _, p := range slices.Concat(Profiles, ExtraProfiles) {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// Pairing is a client stack sending to a server stack.
type Pairing struct{ Client, Server string }

func (p Pairing) String() string { return p.Client + "->" + p.Server }

// Stack names. Linux is the kernel, reached over a TUN device in a
// namespace of its own (TUNPairings).
const (
	Handmade = stacks.Handmade
	Netstack = stacks.Netstack
	Linux    = "linux"
)

// Pairings are every pairing of the two in-process stacks, the baseline
// (netstack->netstack) first.
var Pairings = []Pairing{{Netstack, Netstack}, {Handmade, Handmade}, {Handmade, Netstack}, {Netstack, Handmade}}

// TUNPairings are the in-process stacks against the Linux kernel over a
// TUN device (issue #6: "over TUN against Linux"), each compared with
// netstack in the same role on the same device.
var TUNPairings = []Pairing{{Netstack, Linux}, {Handmade, Linux}, {Linux, Netstack}, {Linux, Handmade}}

// Congestion control families, by the hand-built stack's names: each runs
// as itself in handmade and as its counterpart in gVisor (NetstackCC).
// Kernel is the label of the runs where the Linux kernel sends: its own
// algorithm, whatever the family.
const (
	NewReno = handmade.NewReno
	CUBIC   = handmade.CUBIC
	Kernel  = "kernel"
)

// Families are the congestion control families Measure knows.
var Families = []string{NewReno, CUBIC}

// NetstackCC is gVisor's name for a family: its "reno" is RFC 5681 with
// NewReno's recovery as handmade's newreno is, its "cubic" CUBIC.
func NetstackCC(family string) string {
	if family == NewReno {
		return "reno"
	}
	return family
}

// Options choose what Measure runs.
type Options struct {
	Pairings []Pairing // default Pairings
	Profiles []Profile // default Profiles
	// CC are the congestion control families to run (NewReno, CUBIC),
	// each pairing and profile once per family: default NewReno alone,
	// which keeps the default bench within a few minutes.
	CC   []string
	Runs int // repetitions of each pairing and profile; default 5
	// Each transfer sends Size octets or runs Duration, whichever ends
	// first: defaults 64 MiB and 2 s.
	Size     int64
	Duration time.Duration
	Seed     int64
	// Netstack are the baseline's options (default
	// netstackref.DefaultOptions); Handmade the hand-built stack's.
	// Buffers should match: the baseline is never handicapped.
	Netstack netstackref.Options
	Handmade handmade.Config
	// TUN also runs the pairings against the Linux kernel over a TUN
	// device (TUNOnly, default TUNPairings), on a clean link (the
	// kernel's device has no impairments), interleaved with the rest; it
	// needs root (TUNAvailable).
	TUN     bool
	TUNOnly []Pairing
	// Progress, if set, is told about each run as it ends.
	Progress func(done, total int, r Result, run Run)
}

func (o Options) withDefaults() Options {
	if o.Pairings == nil {
		o.Pairings = Pairings
	}
	if o.Profiles == nil {
		o.Profiles = Profiles
	}
	if o.Runs <= 0 {
		o.Runs = 5
	}
	if o.Size <= 0 {
		o.Size = 64 << 20
	}
	if o.Duration <= 0 {
		o.Duration = 2 * time.Second
	}
	if o.Netstack == (netstackref.Options{}) {
		o.Netstack = netstackref.DefaultOptions()
	}
	if o.CC == nil {
		o.CC = []string{NewReno}
	}
	return o
}

// ForCC is o with both stacks set to one family: handmade's
// CongestionControl, netstack's its counterpart (NetstackCC). Kernel
// leaves them as they are.
func (o Options) ForCC(family string) Options {
	if family != Kernel {
		o.CC = []string{family}
		o.Handmade.CongestionControl = family
		o.Netstack.CongestionControl = NetstackCC(family)
	}
	return o
}

// ccOf is the family a run of p is labelled with: the sender's.
func ccOf(p Pairing, family string) string {
	if p.Client == Linux {
		return Kernel
	}
	return family
}

// Run is one transfer.
type Run struct {
	Bytes           int64   `json:"bytes"`
	Seconds         float64 `json:"seconds"`
	Mbps            float64 `json:"goodput_mbps"`
	Retransmissions uint64  `json:"retransmissions"`
	CPUSeconds      float64 `json:"cpu_seconds"` // the whole process's, both stacks and the wire
	Seed            int64   `json:"seed"`
	Error           string  `json:"error,omitempty"`
}

// Result is one pairing on one link and profile with one congestion
// control family, over its runs.
type Result struct {
	Pairing string `json:"pairing"`
	Client  string `json:"client"`
	Server  string `json:"server"`
	Link    string `json:"link"`
	Profile string `json:"profile"`
	// CC is the sender's congestion control family (NewReno, CUBIC:
	// handmade's newreno against netstack's reno, cubic against cubic),
	// Kernel where the Linux kernel sends.
	CC   string `json:"cc"`
	Runs []Run  `json:"runs"`
	// MedianMbps is the median goodput; MinMbps and MaxMbps the spread.
	MedianMbps float64 `json:"median_goodput_mbps"`
	MinMbps    float64 `json:"min_goodput_mbps"`
	MaxMbps    float64 `json:"max_goodput_mbps"`
	// RatioVsNetstack is MedianMbps over Baseline's median in the same
	// run, link, profile and family (0 when that baseline did not run).
	// The baseline is netstack->netstack on the in-memory wire, and on a
	// TUN netstack in the same role against the same kernel.
	RatioVsNetstack float64 `json:"ratio_vs_netstack"`
	Baseline        string  `json:"baseline"`
	// Retransmissions is the median of the runs'.
	Retransmissions uint64 `json:"retransmissions"`
	// CPUSecondsPerGB is the median CPU time per 10^9 octets moved.
	CPUSecondsPerGB float64 `json:"cpu_seconds_per_gb"`
	OK              bool    `json:"ok"`
}

// Measure runs every pairing under every profile, Runs times,
// interleaved, and summarises each.
func Measure(ctx context.Context, opt Options) []Result {
	opt = opt.withDefaults()
	var results []Result
	type job struct {
		link string
		prof Profile
		p    Pairing
		cc   string
	}
	index := map[job]int{}
	var jobs []job
	add := func(j job) {
		// The kernel sends with its own algorithm: its pairings run once,
		// not once per family.
		j.cc = ccOf(j.p, j.cc)
		if _, ok := index[j]; ok {
			return
		}
		index[j] = len(results)
		jobs = append(jobs, j)
		results = append(results, Result{Pairing: j.p.String(), Client: j.p.Client, Server: j.p.Server, Link: j.link, Profile: j.prof.Name, CC: j.cc})
	}
	for _, cc := range opt.CC {
		for _, prof := range opt.Profiles {
			for _, p := range opt.Pairings {
				add(job{"mem", prof, p, cc})
			}
		}
	}
	if opt.TUN {
		tp := opt.TUNOnly
		if tp == nil {
			tp = TUNPairings
		}
		for _, cc := range opt.CC {
			for _, p := range tp {
				add(job{"tun", Profiles[0], p, cc})
			}
		}
	}
	total, done := opt.Runs*len(results), 0
	for rep := range opt.Runs {
		for _, j := range jobs {
			if ctx.Err() != nil {
				return summarise(results)
			}
			seed := opt.Seed + int64(rep)*1000 + int64(len(j.prof.Name))
			var run Run
			if j.link == "tun" {
				run = transferTUN(ctx, j.p, opt.ForCC(j.cc), nil)
				run.Seed = seed
			} else {
				run = transfer(ctx, j.p, j.prof, opt.ForCC(j.cc), seed, nil)
			}
			i := index[j]
			results[i].Runs = append(results[i].Runs, run)
			done++
			if opt.Progress != nil {
				opt.Progress(done, total, results[i], run)
			}
		}
	}
	return summarise(results)
}

// baseline is the pairing r is compared with: netstack->netstack on the
// in-memory wire; on a TUN, netstack in r's in-process stack's role.
func baseline(r *Result) Pairing {
	switch {
	case r.Server == Linux:
		return Pairing{Netstack, Linux}
	case r.Client == Linux:
		return Pairing{Linux, Netstack}
	}
	return Pairing{Netstack, Netstack}
}

func summarise(results []Result) []Result {
	base := map[string]float64{}
	for i := range results {
		r := &results[i]
		var mbps, cpu []float64
		var rt []uint64
		r.OK = len(r.Runs) > 0
		for _, run := range r.Runs {
			if run.Error != "" {
				r.OK = false
				continue
			}
			mbps = append(mbps, run.Mbps)
			rt = append(rt, run.Retransmissions)
			if run.Bytes > 0 {
				cpu = append(cpu, run.CPUSeconds/(float64(run.Bytes)/1e9))
			}
		}
		if len(mbps) == 0 {
			continue
		}
		slices.Sort(mbps)
		slices.Sort(rt)
		slices.Sort(cpu)
		r.MedianMbps, r.MinMbps, r.MaxMbps = median(mbps), mbps[0], mbps[len(mbps)-1]
		r.Retransmissions = rt[len(rt)/2]
		if len(cpu) > 0 {
			r.CPUSecondsPerGB = median(cpu)
		}
		base[r.Link+"/"+r.Profile+"/"+r.CC+"/"+r.Pairing] = r.MedianMbps
	}
	for i := range results {
		r := &results[i]
		r.Baseline = baseline(r).String()
		if b := base[r.Link+"/"+r.Profile+"/"+r.CC+"/"+r.Baseline]; b > 0 {
			r.RatioVsNetstack = r.MedianMbps / b
		}
	}
	return results
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// sized applies the profile's buffer sizes to both stacks' options.
func (p Profile) sized(opt Options) Options {
	if p.Buffers > 0 {
		opt.Handmade.SendBuffer = p.Buffers
		opt.Netstack.SendBufferDefault = p.Buffers
		opt.Netstack.SendBufferMax = max(opt.Netstack.SendBufferMax, p.Buffers)
	}
	return opt
}

// stackOptions are the options of whichever stack a run starts.
func (o Options) stackOptions() stacks.Options {
	return stacks.Options{Handmade: o.Handmade, Netstack: o.Netstack}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// transfer runs one bulk transfer: the client sends until Size octets
// or Duration, then half-closes; goodput is what the server read over
// the time from the handshake's end to the server's EOF.
func transfer(ctx context.Context, p Pairing, prof Profile, opt Options, seed int64, capture io.Writer) (run Run) {
	run.Seed = seed
	a, b := wire.Pipe(wire.PipeConfig{Seed: seed, AtoB: prof.Wire, BtoA: prof.Wire, QueueLen: prof.QueueLen})
	opt = prof.sized(opt)
	defer a.Close()
	var cl wire.Link = a
	if capture != nil {
		tap, err := wire.NewTap(a, capture)
		if err != nil {
			run.Error = err.Error()
			return run
		}
		cl = tap
	}
	ca, sa := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddrPort("198.18.0.2:12345")
	client, err := stacks.Start(p.Client, cl, ca, opt.stackOptions())
	if err != nil {
		run.Error = err.Error()
		return run
	}
	defer client.Close()
	server, err := stacks.Start(p.Server, b, sa.Addr(), opt.stackOptions())
	if err != nil {
		run.Error = err.Error()
		return run
	}
	defer server.Close()
	ln, err := server.Listen(sa.Port())
	if err != nil {
		run.Error = err.Error()
		return run
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(ctx, opt.Duration+time.Minute)
	defer cancel()
	gotc := upload.Receive(ctx, ln, false)
	c, err := client.Dial(ctx, sa)
	if err != nil {
		run.Error = fmt.Sprintf("dial: %v", err)
		return run
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	buf := payloadBuf()
	cpu0, start := cpuTime(), time.Now()
	sent, err := sendThenCloseWrite(c, buf, opt, start)
	if err != nil {
		run.Error = err.Error()
		return run
	}
	g := <-gotc
	cpu := cpuTime() - cpu0
	if g.Err != nil {
		run.Error = fmt.Sprintf("server: %v", g.Err)
		return run
	}
	if g.N != sent {
		run.Error = fmt.Sprintf("server read %d of %d octets", g.N, sent)
		return run
	}
	el := g.End.Sub(start)
	run.Bytes, run.Seconds, run.CPUSeconds = g.N, el.Seconds(), cpu.Seconds()
	run.Mbps = float64(g.N) * 8 / el.Seconds() / 1e6
	run.Retransmissions, _ = client.Retransmissions(c)
	return run
}

// payloadBuf is what a sender writes, 64 KiB at a time.
func payloadBuf() []byte {
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	return buf
}

// sendFor writes buf through write until opt.Size octets or opt.Duration
// from start, whichever comes first, and returns how many it wrote.
func sendFor(write func([]byte) (int, error), buf []byte, opt Options, start time.Time) (int64, error) {
	deadline := start.Add(opt.Duration)
	var sent int64
	for sent < opt.Size && time.Now().Before(deadline) {
		n := int(min(int64(len(buf)), opt.Size-sent))
		w, err := write(buf[:n])
		sent += int64(w)
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// sendThenCloseWrite is sendFor over c, then a half-close so that the
// receiver reads to EOF; the error says how far the writing got.
func sendThenCloseWrite(c net.Conn, buf []byte, opt Options, start time.Time) (int64, error) {
	sent, err := sendFor(c.Write, buf, opt, start)
	if err != nil {
		return sent, fmt.Errorf("write after %d octets: %w", sent, err)
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	return sent, nil
}

// Sample runs one transfer of size octets of pairing p under prof with a
// capture at the client written to w (the tap serialises its writes), to
// draw what a pairing's conversation looks like (opt.ForCC picks the
// family). It is not a measurement: capturing costs time.
func Sample(ctx context.Context, p Pairing, prof Profile, opt Options, size int64, seed int64, w io.Writer) Run {
	opt = opt.withDefaults()
	opt.Size, opt.Duration = size, time.Minute
	if p.Client == Linux || p.Server == Linux {
		run := transferTUN(ctx, p, opt, w)
		run.Seed = seed
		return run
	}
	return transfer(ctx, p, prof, opt, seed, w)
}
