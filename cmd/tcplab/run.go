package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"tcplab/handmade"
	"tcplab/netstackref"
	"tcplab/wire"
)

// demoConfig is everything one demo needs, flags resolved.
type demoConfig struct {
	Seed       int64
	Impairment wire.Impairment
	Payload    []byte
	ChunkSize  int
	Client     netip.Addr
	Server     netip.AddrPort
	PcapDir    string
	Timeout    time.Duration
	Narration  io.Writer // handmade traces
	Progress   io.Writer // progress lines on long runs; nil: none
	Verbose    bool
	Netstack   netstackref.Options
	Profile    string // "full" or "seed"
	// CapturePrefix starts the name of every capture file of a run, so
	// that runs of several profiles into one --pcap-dir keep apart.
	CapturePrefix string
	HandmadeSeed  handmade.SeedConfig
	HandmadeFull  handmade.Config
}

// Run names, one per direction.
const (
	runHandmadeToNetstack = "handmade-to-netstack"
	runNetstackToHandmade = "netstack-to-handmade"
)

// wireStats is a wire.DirStats with JSON names.
type wireStats struct {
	Written        uint64 `json:"written"`
	Delivered      uint64 `json:"delivered"`
	Lost           uint64 `json:"lost"`
	Duplicated     uint64 `json:"duplicated"`
	Reordered      uint64 `json:"reordered"`
	Corrupted      uint64 `json:"corrupted"`
	BytesWritten   uint64 `json:"bytes_written"`
	BytesDelivered uint64 `json:"bytes_delivered"`
	// Delayed packets waited out --delay, --jitter or --rate; MeanDelayMs
	// is their mean wait; RateQueued ones queued behind another at --rate.
	Delayed     uint64  `json:"delayed"`
	MeanDelayMs float64 `json:"mean_delay_ms"`
	RateQueued  uint64  `json:"rate_queued"`
	// MeanLateMs is how long after its scheduled time a delivered packet
	// reached the reader, on average: what the host's scheduling added to
	// the wire's delays.
	MeanLateMs float64 `json:"mean_late_ms"`
}

func toWireStats(s wire.DirStats) wireStats {
	w := wireStats{Written: s.Written, Delivered: s.Delivered, Lost: s.Lost, Duplicated: s.Duplicated, Reordered: s.Reordered,
		Corrupted: s.Corrupted, BytesWritten: s.BytesWritten, BytesDelivered: s.BytesDelivered, Delayed: s.Delayed, RateQueued: s.RateQueued}
	if s.Delayed > 0 {
		w.MeanDelayMs = float64((s.DelayTotal / time.Duration(s.Delayed)).Microseconds()) / 1000
	}
	if s.Delivered > 0 {
		w.MeanLateMs = float64((s.LateTotal / time.Duration(s.Delivered)).Microseconds()) / 1000
	}
	return w
}

// runResult is one direction of the demo, as printed and as JSON.
type runResult struct {
	Name             string  `json:"name"`
	Profile          string  `json:"profile"` // the handmade profile
	Client           string  `json:"client"`
	Server           string  `json:"server"`
	Bytes            int64   `json:"bytes"`
	BytesReceived    int64   `json:"bytes_received"`
	SHA256Sent       string  `json:"sha256_sent"`
	SHA256Received   string  `json:"sha256_received"`
	OK               bool    `json:"ok"`
	Error            string  `json:"error,omitempty"`
	Retransmissions  uint64  `json:"retransmissions"`
	SegmentsSent     uint64  `json:"segments_sent"`
	SegmentsReceived uint64  `json:"segments_received"`
	DurationS        float64 `json:"duration_s"`
	GoodputMbps      float64 `json:"goodput_mbps"`
	Wire             struct {
		ClientToServer wireStats `json:"client_to_server"`
		ServerToClient wireStats `json:"server_to_client"`
	} `json:"wire"`
	Handmade handmadeSummary `json:"handmade"`
	Netstack struct {
		Role     string               `json:"role"`
		Counters netstackref.Counters `json:"counters"`
	} `json:"netstack"`
	Captures []string `json:"captures,omitempty"`
	// FlowGraphs are the drawings of the captures (--flow-dir).
	FlowGraphs []string `json:"flow_graphs,omitempty"`
	// captureBase starts the names of the run's capture files.
	captureBase string
}

// runDirection runs one upload over a fresh in-memory wire: the handmade
// client to the netstack server, or the netstack client to the handmade
// server. It cleans up (stack, wire, capture files) on every path.
func runDirection(ctx context.Context, cfg demoConfig, name string) (res runResult) {
	res.Name, res.Profile = name, cfg.Profile
	res.captureBase = cfg.CapturePrefix + name
	res.Bytes = int64(len(cfg.Payload))
	sum := sha256.Sum256(cfg.Payload)
	res.SHA256Sent = hex.EncodeToString(sum[:])
	handmadeClient := name == runHandmadeToNetstack
	if handmadeClient {
		res.Client, res.Server = "handmade", "netstack"
		res.Handmade.Role, res.Netstack.Role = "client", "server"
	} else {
		res.Client, res.Server = "netstack", "handmade"
		res.Handmade.Role, res.Netstack.Role = "server", "client"
	}
	fail := func(err error) runResult {
		if res.Error == "" {
			res.Error = err.Error()
		}
		res.OK = false
		return res
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	var closers []io.Closer
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			if err := closers[i].Close(); err != nil && res.Error == "" {
				res.Error, res.OK = err.Error(), false
			}
		}
	}()
	var events func(wire.Event)
	if cfg.PcapDir != "" {
		f, err := os.Create(filepath.Join(cfg.PcapDir, res.captureBase+".events.jsonl"))
		if err != nil {
			return fail(fmt.Errorf("capture sidecar: %w", err))
		}
		closers = append(closers, f)
		res.Captures = append(res.Captures, f.Name())
		log := wire.NewEventLog(f)
		events = log.Record
	}
	cEnd, sEnd := wire.Pipe(wire.PipeConfig{
		Seed: cfg.Seed, AtoB: cfg.Impairment, BtoA: cfg.Impairment,
		Names: [2]string{"client", "server"}, Events: events,
	})
	closers = append(closers, closeFunc(func() error { cEnd.Close(); return nil }))
	var cLink, sLink wire.Link = cEnd, sEnd
	if cfg.PcapDir != "" {
		for _, side := range []struct {
			l    *wire.Link
			role string
		}{{&cLink, "client"}, {&sLink, "server"}} {
			f, err := os.Create(filepath.Join(cfg.PcapDir, res.captureBase+"."+side.role+".pcap"))
			if err != nil {
				return fail(fmt.Errorf("capture: %w", err))
			}
			closers = append(closers, f)
			res.Captures = append(res.Captures, f.Name())
			tap, err := wire.NewTap(*side.l, f)
			if err != nil {
				return fail(fmt.Errorf("capture %s: %w", f.Name(), err))
			}
			*side.l = tap
		}
	}

	nsLink, nsAddr := sLink, cfg.Server.Addr()
	if !handmadeClient {
		nsLink, nsAddr = cLink, cfg.Client
	}
	ns, err := netstackref.New(nsLink, nsAddr, cfg.Netstack)
	if err != nil {
		return fail(fmt.Errorf("netstack: %w", err))
	}
	closers = append(closers, closeFunc(ns.Close))

	trace := handmade.NewTrace(cfg.Narration, "handmade "+res.Handmade.Role, cfg.Verbose)
	stopProgress := progress(ctx, cfg.Progress, name, cEnd, int64(len(cfg.Payload)))
	defer stopProgress()

	start := time.Now()
	var (
		hm          hmResult
		nerr        error
		received    int64
		receivedSum [32]byte
		serverDone  time.Time
		wg          sync.WaitGroup
		abortOnce   sync.Once
		abort       = func() { abortOnce.Do(cancel) }
	)
	if handmadeClient {
		ln, err := ns.Listen(cfg.Server.Port())
		if err != nil {
			return fail(fmt.Errorf("netstack listen on %s: %w", cfg.Server, err))
		}
		closers = append(closers, ln)
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := ln.Accept()
			if err != nil {
				nerr = fmt.Errorf("netstack server accept: %w", err)
				return
			}
			stop := context.AfterFunc(ctx, func() { conn.Close() }) // unblock reads on abort
			defer stop()
			received, receivedSum, nerr = netstackref.ReceiveAll(conn)
			serverDone = time.Now()
			if nerr != nil {
				nerr = fmt.Errorf("netstack server: %w", nerr)
			}
		}()
		hm = runHandmadeClient(ctx, cfg, cLink, trace)
		if hm.err != nil {
			ln.Close() // the server may still wait in Accept
			abort()
		}
		wg.Wait()
	} else {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hm = runHandmadeServer(ctx, cfg, sLink, trace)
			if hm.err != nil {
				abort()
			}
		}()
		conn, err := ns.Dial(ctx, cfg.Server)
		if err != nil {
			nerr = fmt.Errorf("netstack client dial %s: %w", cfg.Server, err)
			abort()
		} else {
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			if err := netstackref.SendAll(conn, cfg.Payload); err != nil {
				nerr = fmt.Errorf("netstack client: %w", err)
				abort()
			}
			stop()
		}
		wg.Wait()
		received, receivedSum = hm.received, hm.sum
	}
	// The run ends when both applications are done: the server has read
	// to EOF and the client has closed (TIME-WAIT's linger is not part of
	// the transfer).
	elapsed := time.Since(start)
	if handmadeClient && hm.err == nil && !serverDone.IsZero() && !hm.closedAt.IsZero() {
		elapsed = max(serverDone.Sub(start), hm.closedAt.Sub(start))
	}
	stopProgress()

	res.BytesReceived = received
	res.SHA256Received = hex.EncodeToString(receivedSum[:])
	res.DurationS = elapsed.Seconds()
	if elapsed > 0 {
		res.GoodputMbps = float64(received) * 8 / elapsed.Seconds() / 1e6
	}
	c2s, s2c := cEnd.Stats(), sEnd.Stats()
	res.Wire.ClientToServer, res.Wire.ServerToClient = toWireStats(c2s), toWireStats(s2c)
	res.SegmentsSent, res.SegmentsReceived = c2s.Written, s2c.Delivered
	nc := ns.Counters()
	res.Netstack.Counters = nc
	hm.summary.Role = res.Handmade.Role
	res.Handmade = hm.summary
	res.Retransmissions = nc.Retransmits + hm.summary.Retransmissions
	for _, err := range []error{hm.err, nerr} {
		if err != nil && !errors.Is(err, context.Canceled) {
			return fail(err)
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fail(fmt.Errorf("run did not finish within --timeout %v", cfg.Timeout))
	}
	if ctx.Err() != nil {
		return fail(fmt.Errorf("run interrupted: %w", ctx.Err()))
	}
	res.OK = received == res.Bytes && res.SHA256Received == res.SHA256Sent
	if !res.OK {
		res.Error = fmt.Sprintf("server received %d of %d bytes, SHA-256 %s, sent %s", received, res.Bytes, short(res.SHA256Received), short(res.SHA256Sent))
	}
	return res
}

// handmadeSummary is what the demo reports of the hand-built side, the
// same for both profiles; Counters holds the profile's own counters.
type handmadeSummary struct {
	Role                string  `json:"role"`
	Profile             string  `json:"profile"`
	State               string  `json:"final_state"`
	SRTTms              float64 `json:"srtt_ms"`
	RTOms               float64 `json:"rto_ms"`
	PeerMSS             int     `json:"peer_mss"`
	Retransmissions     uint64  `json:"retransmissions"`
	DroppedChecksum     uint64  `json:"dropped_checksum"`
	DroppedMalformed    uint64  `json:"dropped_malformed"`
	DroppedUnacceptable uint64  `json:"dropped_unacceptable"`
	OutOfOrder          uint64  `json:"out_of_order_segments"`
	Counters            any     `json:"counters"`
}

type hmResult struct {
	summary  handmadeSummary
	received int64
	sum      [32]byte
	closedAt time.Time
	err      error
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func seedSummary(r *handmade.Report) handmadeSummary {
	c := r.Counters
	return handmadeSummary{
		Profile: "seed", State: r.State.String(), SRTTms: ms(r.SRTT), RTOms: ms(r.RTO), PeerMSS: r.PeerMSS,
		Retransmissions: c.Retransmissions, DroppedChecksum: c.DroppedChecksum, DroppedMalformed: c.DroppedMalformed,
		DroppedUnacceptable: c.DroppedUnacceptable, OutOfOrder: c.OutOfOrder, Counters: c,
	}
}

// fullCounters is the full profile's counters: the connection's and the
// stack's.
type fullCounters struct {
	Conn  handmade.TCBCounters   `json:"conn"`
	Stack handmade.StackCounters `json:"stack"`
}

func fullSummary(i handmade.Info, sc handmade.StackCounters) handmadeSummary {
	c := i.Counters
	return handmadeSummary{
		Profile: "full", State: i.State.String(), SRTTms: ms(i.SRTT), RTOms: ms(i.RTO), PeerMSS: i.PeerMSS,
		Retransmissions: c.Retransmissions, DroppedChecksum: sc.DroppedChecksum, DroppedMalformed: sc.DroppedMalformed,
		DroppedUnacceptable: c.DroppedUnacceptable + c.DroppedPAWS + c.DroppedNoACK + c.DroppedACKTooNew, OutOfOrder: c.OutOfOrder,
		Counters: fullCounters{c, sc},
	}
}

// runHandmadeClient uploads cfg.Payload from the hand-built client.
func runHandmadeClient(ctx context.Context, cfg demoConfig, l wire.Link, trace *handmade.Trace) (r hmResult) {
	if cfg.Profile == "seed" {
		hcfg := cfg.HandmadeSeed
		hcfg.ChunkSize, hcfg.Trace = cfg.ChunkSize, trace
		start := time.Now()
		rep, err := handmade.Upload(ctx, l, cfg.Client, cfg.Server, cfg.Payload, hcfg)
		r.err = err
		if rep != nil {
			r.summary = seedSummary(rep)
			r.closedAt = start.Add(rep.Duration)
		}
		return r
	}
	hcfg := cfg.HandmadeFull
	hcfg.Trace = trace
	s, err := handmade.NewStack(l, cfg.Client, hcfg)
	if err != nil {
		r.err = err
		return r
	}
	defer s.Close()
	conn, err := s.Dial(ctx, cfg.Server)
	if err != nil {
		r.err = fmt.Errorf("handmade client: %w", err)
		r.summary = fullSummary(handmade.Info{}, s.Counters())
		return r
	}
	stop := context.AfterFunc(ctx, conn.Abort)
	defer stop()
	// Write everything, send the FIN, and wait for the server's FIN.
	if err := netstackref.SendAll(conn, cfg.Payload); err != nil {
		r.err = fmt.Errorf("handmade client: %w", err)
	}
	r.closedAt = time.Now()
	conn.Close()
	r.summary = fullSummary(conn.Info(), s.Counters())
	return r
}

// runHandmadeServer receives one upload on the hand-built server.
func runHandmadeServer(ctx context.Context, cfg demoConfig, l wire.Link, trace *handmade.Trace) (r hmResult) {
	if cfg.Profile == "seed" {
		hcfg := cfg.HandmadeSeed
		hcfg.Trace = trace
		rep, err := handmade.Serve(ctx, l, cfg.Server, hcfg)
		r.err = err
		if rep != nil {
			r.summary, r.received, r.sum = seedSummary(rep), rep.Bytes, rep.SHA256
		}
		return r
	}
	hcfg := cfg.HandmadeFull
	hcfg.Trace = trace
	s, err := handmade.NewStack(l, cfg.Server.Addr(), hcfg)
	if err != nil {
		r.err = err
		return r
	}
	defer s.Close()
	ln, err := s.Listen(cfg.Server.Port())
	if err != nil {
		r.err = err
		return r
	}
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	conn, err := ln.AcceptTCP()
	if err != nil {
		r.err = fmt.Errorf("handmade server accept: %w", err)
		r.summary = fullSummary(handmade.Info{}, s.Counters())
		return r
	}
	stopConn := context.AfterFunc(ctx, conn.Abort)
	defer stopConn()
	r.received, r.sum, r.err = netstackref.ReceiveAll(conn)
	if r.err != nil {
		r.err = fmt.Errorf("handmade server: %w", r.err)
	}
	// ReceiveAll closed the connection after the client's FIN: wait for
	// the ACK of our FIN so the close is complete.
	conn.WaitClosed(ctx)
	r.summary = fullSummary(conn.Info(), s.Counters())
	return r
}

type closeFunc func() error

func (f closeFunc) Close() error { return f() }

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

// progress prints how much of the payload the wire has carried, once a
// second, until stopped; silent when w is nil or the run is quick.
func progress(ctx context.Context, w io.Writer, name string, client *wire.End, total int64) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				s := client.Stats()
				fmt.Fprintf(w, "  %s: %s written toward the server of %s payload, %d segments, %v elapsed\n",
					name, formatSize(int64(s.BytesWritten)), formatSize(total), s.Written, time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
