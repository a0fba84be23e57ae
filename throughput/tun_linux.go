//go:build linux

package throughput

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"tcplab/compare"
	"tcplab/stacks"
	"tcplab/upload"
	"tcplab/wire"
)

// TUNAvailable says whether the TUN pairings can run here: nil, or what
// is missing (root, /dev/net/tun, network namespaces).
func TUNAvailable() error { return compare.LinuxAvailable() }

// benchPort is the server's port on the TUN pairings: the article's.
const benchPort = 12345

// transferTUN runs one pairing with the Linux kernel at one end: the
// kernel in a namespace of its own behind a TUN device (compare.Linux,
// with its pinned sysctls), the in-process stack on the device's other
// side. The kernel's application is a socket read or written in 256 KiB
// calls; the in-process side is the same loop as on the in-memory wire.
// capture, if set, gets a pcap of the in-process side.
func transferTUN(ctx context.Context, p Pairing, opt Options, capture io.Writer) (run Run) {
	dut, dl, err := compare.Linux().Start(ctx, compare.Setup{})
	if err != nil {
		run.Error = fmt.Sprintf("the kernel's namespace: %v", err)
		return run
	}
	defer dut.Close()
	var link wire.Link = dl
	if capture != nil {
		if link, err = wire.NewTap(dl, capture); err != nil {
			run.Error = err.Error()
			return run
		}
	}
	user := p.Client
	if user == Linux {
		user = p.Server
	}
	us, err := stacks.Start(user, link, compare.TBAddr, opt.stackOptions())
	if err != nil {
		run.Error = err.Error()
		return run
	}
	defer us.Close()
	ctx, cancel := context.WithTimeout(ctx, opt.Duration+time.Minute)
	defer cancel()
	deadline, _ := ctx.Deadline()
	buf := payloadBuf()
	cpu0 := cpuTime()
	var start time.Time
	var got int64
	var end time.Time
	if p.Server == Linux {
		ln, err := dut.Listen(benchPort)
		if err != nil {
			run.Error = fmt.Sprintf("kernel listen: %v", err)
			return run
		}
		defer ln.Close()
		acc := ln.Accept()
		c, err := us.Dial(ctx, netip.AddrPortFrom(compare.DUTAddr, benchPort))
		if err != nil {
			run.Error = fmt.Sprintf("dial: %v", err)
			return run
		}
		defer c.Close()
		s, err := acc.Wait(time.Until(deadline))
		if err != nil {
			run.Error = fmt.Sprintf("kernel accept: %v", err)
			return run
		}
		defer s.Close()
		type res struct {
			n   int64
			end time.Time
			err error
		}
		done := make(chan res, 1)
		go func() {
			var n int64
			for {
				b, err := s.Recv(256<<10, time.Until(deadline))
				n += int64(len(b))
				if errors.Is(err, io.EOF) {
					done <- res{n, time.Now(), nil}
					return
				}
				if err != nil {
					done <- res{n, time.Now(), err}
					return
				}
			}
		}()
		start = time.Now()
		sent, werr := sendThenCloseWrite(c, buf, opt, start)
		if werr != nil {
			run.Error = werr.Error()
			return run
		}
		r := <-done
		if r.err != nil || r.n != sent {
			run.Error = fmt.Sprintf("kernel read %d of %d octets: %v", r.n, sent, r.err)
			return run
		}
		got, end = r.n, r.end
		run.Retransmissions, _ = us.Retransmissions(c)
	} else {
		ln, err := us.Listen(benchPort)
		if err != nil {
			run.Error = err.Error()
			return run
		}
		defer ln.Close()
		done := upload.Receive(ctx, ln, false)
		s, err := dut.Connect(netip.AddrPortFrom(compare.TBAddr, benchPort)).Wait(time.Until(deadline))
		if err != nil {
			run.Error = fmt.Sprintf("kernel connect: %v", err)
			return run
		}
		defer s.Close()
		start = time.Now()
		sent, werr := sendFor(func(b []byte) (int, error) { return s.Send(b, time.Until(deadline)) }, buf, opt, start)
		if werr != nil {
			run.Error = fmt.Sprintf("kernel send after %d octets: %v", sent, werr)
			return run
		}
		if err := s.ShutdownWrite(); err != nil {
			run.Error = fmt.Sprintf("kernel shutdown: %v", err)
			return run
		}
		r := <-done
		if r.Err != nil || r.N != sent {
			run.Error = fmt.Sprintf("%s read %d of %d octets: %v", user, r.N, sent, r.Err)
			return run
		}
		got, end = r.N, r.End
	}
	el := end.Sub(start)
	run.Bytes, run.Seconds, run.CPUSeconds = got, el.Seconds(), (cpuTime() - cpu0).Seconds()
	run.Mbps = float64(got) * 8 / el.Seconds() / 1e6
	return run
}
