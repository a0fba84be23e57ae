package compare

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"tcplab/stacks"
	"tcplab/upload"
	"tcplab/wire"
)

// pairedPort is the server's port in paired runs: the article's.
const pairedPort = 12345

// RunPairedWith runs the card's uses against the stacks of backends (the
// kernel, or handmade and netstack behind TUN devices): the hand-built
// and gVisor clients each upload to a server the backend's DUT opens, and
// the DUT's client uploads to each of theirs. The in-process stack sits
// where the bench would, on the backend's link at TBAddr, so the
// conversation crosses whatever the backend's link is (a TUN, a
// forwarding kernel) and is judged from the capture of that side.
// Backends whose application cannot be driven (External) are skipped.
// Runs go in parallel, each with its own DUT.
func RunPairedWith(ctx context.Context, backends []Backend, opt PairedOptions) []Paired {
	if opt.Size == 0 {
		opt.Size = 1 << 20
	}
	var runs []Paired
	for _, b := range backends {
		if b.Capabilities != nil {
			continue
		}
		for _, u := range stacks.Names {
			runs = append(runs,
				Paired{Client: u, Server: b.Name, Wire: b.Link, Seed: opt.Seed, DUTRole: "server", backend: b, dutServes: true},
				Paired{Client: b.Name, Server: u, Wire: b.Link, Seed: opt.Seed, DUTRole: "client", backend: b})
		}
	}
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runPairedDUT(ctx, &runs[i], opt)
		}()
	}
	wg.Wait()
	return runs
}

// runPairedDUT is one run of RunPairedWith.
func runPairedDUT(ctx context.Context, r *Paired, opt PairedOptions) {
	start := time.Now()
	defer func() {
		r.DurationMS = time.Since(start).Milliseconds()
		r.OK = r.Error == "" && r.Intact && r.Clean
	}()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	data := make([]byte, opt.Size)
	rand.NewChaCha8([32]byte{byte(r.Seed), byte(r.Seed >> 8), 'd'}).Read(data)
	want := sha256.Sum256(data)
	r.Bytes = int64(len(data))

	user := r.Server // the in-process stack
	if r.dutServes {
		user = r.Client
	}
	dut, link, err := r.backend.Start(ctx, Setup{})
	if err != nil {
		r.Error = fmt.Sprintf("starting %s: %v", r.backend.Name, err)
		return
	}
	var capture bytes.Buffer
	tap, err := wire.NewTap(link, &capture)
	if err != nil {
		dut.Close()
		r.Error = err.Error()
		return
	}
	us, err := stacks.Start(user, tap, TBAddr, stacks.Options{})
	if err != nil {
		dut.Close()
		r.Error = fmt.Sprintf("starting %s: %v", user, err)
		return
	}
	var sum [32]byte
	if r.dutServes {
		sum, err = uploadToDUT(ctx, us, dut, data)
	} else {
		sum, err = uploadFromDUT(ctx, us, dut, data)
	}
	cerr := shutdownPaired(us)
	derr := dut.Close()
	if err = errors.Join(err, cerr, derr); err != nil {
		r.Error = err.Error()
	}
	r.Intact = sum == want
	r.check(&capture, opt, fmt.Sprintf("paired_%s-to-%s_over-%s_dut-%s.pcap", r.Client, r.Server, r.Wire, r.DUTRole))
}

// check judges the capture and keeps it in opt.PcapDir, if set, as name.
func (r *Paired) check(capture *bytes.Buffer, opt PairedOptions, name string) {
	if opt.PcapDir != "" {
		f := filepath.Join(opt.PcapDir, name)
		if werr := os.WriteFile(f, capture.Bytes(), 0o644); werr == nil {
			r.Pcap = f
		}
	}
	conv, err := CheckCapture(capture)
	if err != nil {
		if r.Error != "" {
			r.Error += "; "
		}
		r.Error += "reading the capture: " + err.Error()
		return
	}
	r.Conv = conv
	r.Clean = conv.Clean() && conv.BytesC2S == r.Bytes && conv.BytesS2C == 0
}

// uploadToDUT: the in-process stack's client uploads data to a listener
// of the DUT, which reads to the end, then closes. It returns the SHA-256
// of what the DUT read.
func uploadToDUT(ctx context.Context, us *stacks.Stack, dut DUT, data []byte) (sum [32]byte, err error) {
	ln, err := dut.Listen(pairedPort)
	if err != nil {
		return sum, fmt.Errorf("%s: listen: %w", dut.Name(), err)
	}
	defer ln.Close()
	accepted := ln.Accept()
	upCtx, upCancel := context.WithCancel(ctx)
	defer upCancel()
	up := make(chan error, 1)
	go func() { up <- sendUpload(upCtx, us, netip.AddrPortFrom(dut.Addr(), pairedPort), data) }()
	s, err := accepted.Wait(time.Until(deadlineOf(ctx)))
	if err != nil {
		upCancel()
		<-up
		return sum, fmt.Errorf("%s: accept: %w", dut.Name(), err)
	}
	h := sha256.New()
	for {
		b, rerr := s.Recv(64<<10, time.Until(deadlineOf(ctx)))
		h.Write(b)
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			s.Close()
			upCancel()
			<-up
			return sum, fmt.Errorf("%s: recv: %w", dut.Name(), rerr)
		}
	}
	copy(sum[:], h.Sum(nil))
	err = s.Close()
	if uerr := <-up; uerr != nil {
		err = errors.Join(err, fmt.Errorf("upload: %w", uerr))
	}
	return sum, err
}

// uploadFromDUT: the DUT connects to a listener of the in-process stack
// and uploads data, half-closes and reads to the end; the in-process
// server reads to the end and closes. It returns the SHA-256 of what the
// in-process server read, once its connection has closed.
func uploadFromDUT(ctx context.Context, us *stacks.Stack, dut DUT, data []byte) (sum [32]byte, err error) {
	ln, err := us.Listen(pairedPort)
	if err != nil {
		return sum, err
	}
	defer ln.Close()
	got := upload.Receive(ctx, ln, true)
	s, err := dut.Connect(netip.AddrPortFrom(TBAddr, pairedPort)).Wait(time.Until(deadlineOf(ctx)))
	if err != nil {
		return sum, fmt.Errorf("%s: connect: %w", dut.Name(), err)
	}
	if err = sendAll(ctx, s, data); err == nil {
		if err = s.ShutdownWrite(); err == nil {
			for {
				_, rerr := s.Recv(4096, time.Until(deadlineOf(ctx)))
				if errors.Is(rerr, io.EOF) {
					break
				}
				if rerr != nil {
					err = rerr
					break
				}
			}
		}
	}
	if err != nil {
		err = fmt.Errorf("%s: %w", dut.Name(), err)
	}
	err = errors.Join(err, s.Close())
	r := <-got
	// The DUT's ACK of our FIN ends the conversation: wait for it, so the
	// capture holds it (handmade; netstack's close waits).
	if w, ok := r.Conn.(interface{ WaitClosed(context.Context) error }); ok {
		w.WaitClosed(ctx)
	}
	if r.Err == nil && r.N == int64(len(data)) {
		sum = r.Sum
	}
	return sum, err
}

// sendAll sends data through a DUT socket before ctx ends.
func sendAll(ctx context.Context, s Socket, data []byte) error {
	for len(data) > 0 {
		n, err := s.Send(data[:min(len(data), 64<<10)], time.Until(deadlineOf(ctx)))
		data = data[n:]
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	return nil
}

// deadlineOf is ctx's deadline (every paired run has one).
func deadlineOf(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Minute)
	}
	return d
}
