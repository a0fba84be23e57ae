package compare

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"tcplab/wire"
)

var printNeeds = flag.Bool("print-needs", false, "print the scenarioNeeds table the catalogue should declare")

// recordingDUT records what a scenario asks of the application of the
// DUT it wraps, as capabilities.
type recordingDUT struct {
	DUT
	mu     sync.Mutex
	needs  []Capability
	frozen bool
}

func (d *recordingDUT) note(c Capability) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.frozen && !slices.Contains(d.needs, c) {
		d.needs = append(d.needs, c)
	}
}

func (d *recordingDUT) undeclared() []Capability {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.frozen = true
	return nil // recorded, not judged
}

func (d *recordingDUT) unwrap() DUT {
	if u, ok := d.DUT.(interface{ unwrap() DUT }); ok {
		return u.unwrap()
	}
	return d.DUT
}

func (d *recordingDUT) Listen(port uint16) (Listener, error) {
	d.note(NeedListener)
	l, err := d.DUT.Listen(port)
	if err != nil {
		return nil, err
	}
	return &recordingListener{l, d}, nil
}

func (d *recordingDUT) Connect(to netip.AddrPort) *Pending[Socket] {
	d.note(NeedClient)
	return d.DUT.Connect(to)
}

func (d *recordingDUT) ConnectVia(to netip.AddrPort, gateways []netip.Addr) *Pending[Socket] {
	d.note(NeedClient)
	d.note(NeedSocketOptions)
	return d.DUT.ConnectVia(to, gateways)
}

type recordingListener struct {
	Listener
	d *recordingDUT
}

func (l *recordingListener) Accept() *Pending[Socket] {
	p := l.Listener.Accept()
	return Go(func() (Socket, error) {
		s, err := p.Wait(time.Minute)
		if err != nil {
			return nil, err
		}
		return &recordingSocket{s, l.d}, nil
	}, p.Cancel)
}

func (l *recordingListener) Close() error { l.d.note(NeedAppClose); return l.Listener.Close() }

type recordingSocket struct {
	Socket
	d *recordingDUT
}

func (s *recordingSocket) Send(p []byte, timeout time.Duration) (int, error) {
	s.d.note(NeedSend)
	return s.Socket.Send(p, timeout)
}
func (s *recordingSocket) Recv(max int, timeout time.Duration) ([]byte, error) {
	s.d.note(NeedSink)
	return s.Socket.Recv(max, timeout)
}
func (s *recordingSocket) ShutdownWrite() error {
	s.d.note(NeedAppClose)
	return s.Socket.ShutdownWrite()
}
func (s *recordingSocket) Close() error { s.d.note(NeedAppClose); return s.Socket.Close() }
func (s *recordingSocket) Abort() error { s.d.note(NeedAppClose); return s.Socket.Abort() }
func (s *recordingSocket) SetNoDelay(on bool) error {
	s.d.note(NeedSocketOptions)
	return s.Socket.SetNoDelay(on)
}
func (s *recordingSocket) SetKeepAlive(k KeepAlive) error {
	s.d.note(NeedSocketOptions)
	return s.Socket.SetKeepAlive(k)
}
func (s *recordingSocket) SetUserTimeout(t time.Duration) error {
	s.d.note(NeedSocketOptions)
	return s.Socket.SetUserTimeout(t)
}

// recording wraps b's DUTs, handing each to got.
func recording(b Backend, got func(*recordingDUT)) Backend {
	start := b.Start
	b.Start = func(ctx context.Context, s Setup) (DUT, wire.Link, error) {
		d, l, err := start(ctx, s)
		if err != nil {
			return nil, nil, err
		}
		r := &recordingDUT{DUT: d}
		got(r)
		return r, l, nil
	}
	return b
}

// TestScenarioNeeds: what each scenario asks of the application on the
// in-process stacks is what it declares in Needs (beyond what its Setup
// implies), so an external device that did not declare it gets n/a
// without a run. -print-needs prints the table.
func TestScenarioNeeds(t *testing.T) {
	scenarios := Scenarios()
	var mu sync.Mutex
	asked := map[string][]Capability{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, s := range scenarios {
		for _, b := range Backends() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				var d *recordingDUT
				rb := recording(b, func(r *recordingDUT) { d = r })
				if _, err := Run(context.Background(), []Scenario{s}, []Backend{rb}, RunOptions{Pattern: "^" + s.ID + "$"}); err != nil {
					t.Error(err)
					return
				}
				if d == nil {
					return
				}
				d.mu.Lock()
				defer d.mu.Unlock()
				mu.Lock()
				defer mu.Unlock()
				for _, c := range d.needs {
					if !slices.Contains(asked[s.ID], c) {
						asked[s.ID] = append(asked[s.ID], c)
					}
				}
			}()
		}
	}
	wg.Wait()
	order := []Capability{NeedListener, NeedSink, NeedClient, NeedSend, NeedAppClose, NeedSocketOptions}
	var table strings.Builder
	for _, s := range scenarios {
		a := asked[s.ID]
		sort.Slice(a, func(i, j int) bool { return slices.Index(order, a[i]) < slices.Index(order, a[j]) })
		var names []string
		for _, c := range a {
			names = append(names, "Need"+map[Capability]string{NeedListener: "Listener", NeedSink: "Sink", NeedClient: "Client", NeedSend: "Send", NeedAppClose: "AppClose", NeedSocketOptions: "SocketOptions"}[c])
		}
		fmt.Fprintf(&table, "\t%q: {%s},\n", s.ID, strings.Join(names, ", "))
		for _, c := range a {
			if !slices.Contains(s.Needs, c) {
				t.Errorf("%s asks for %s, which it does not declare in Needs", s.ID, c)
			}
		}
	}
	if *printNeeds {
		t.Log("\n" + table.String())
	}
}
