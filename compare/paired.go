package compare

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"tcplab/stacks"
	"tcplab/upload"
	"tcplab/wire"
)

// Paired is one of the card's uses run end to end: a client stack uploads
// to a server stack over the in-memory wire, and the conversation is
// judged from the client's capture (CheckConversation), not from what the
// stacks say of themselves.
type Paired struct {
	Client     string        `json:"client"`
	Server     string        `json:"server"`
	Wire       string        `json:"wire"`
	Seed       int64         `json:"seed"`
	Bytes      int64         `json:"bytes"`
	Intact     bool          `json:"intact"` // the server read exactly the payload
	Clean      bool          `json:"clean"`  // the capture shows a clean conversation
	Conv       *Conversation `json:"conversation"`
	Error      string        `json:"error,omitempty"`
	DurationMS int64         `json:"duration_ms"`
	Pcap       string        `json:"pcap,omitempty"`
	OK         bool          `json:"ok"`
	// DUTRole is, in a run of RunPairedWith, the role of the stack the
	// backend runs behind its link ("server" or "client"); the other end
	// is in process on the bench's side of that link.
	DUTRole string `json:"dut_role,omitempty"`
	wireIm  wire.Impairment
	// RunPairedWith: the backend whose DUT is one end, and whether it
	// serves (the in-process stack is then the client).
	backend   Backend
	dutServes bool
}

// PairedOptions choose the paired runs.
type PairedOptions struct {
	Size  int               // payload octets; default 1 MiB
	Wires []wire.Impairment // one run per pairing and impairment; default clean and 2% loss
	Seed  int64
	// PcapDir, if set, keeps each run's client capture as
	// paired_CLIENT-to-SERVER_N.pcap.
	PcapDir string
}

// RunPaired runs every pairing of handmade and netstack (each way, and
// each with itself) on every wire, in parallel.
func RunPaired(ctx context.Context, opt PairedOptions) []Paired {
	if opt.Size == 0 {
		opt.Size = 1 << 20
	}
	if opt.Wires == nil {
		opt.Wires = []wire.Impairment{{}, {Loss: 0.02}}
	}
	var runs []Paired
	for _, pair := range [][2]string{{stacks.Handmade, stacks.Netstack}, {stacks.Netstack, stacks.Handmade}, {stacks.Handmade, stacks.Handmade}, {stacks.Netstack, stacks.Netstack}} {
		for i, im := range opt.Wires {
			runs = append(runs, Paired{Client: pair[0], Server: pair[1], Wire: describeWire(im), Seed: opt.Seed + int64(i), wireIm: im})
		}
	}
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runPaired(ctx, &runs[i], opt, i)
		}()
	}
	wg.Wait()
	return runs
}

func describeWire(im wire.Impairment) string {
	if im.IsZero() {
		return "clean"
	}
	return im.String()
}

// shutdownPaired closes a stack of a paired run once its FINs are
// acknowledged, or after 5 s: the capture judges the whole close.
func shutdownPaired(s *stacks.Stack) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
}

func runPaired(ctx context.Context, r *Paired, opt PairedOptions, n int) {
	start := time.Now()
	defer func() {
		r.DurationMS = time.Since(start).Milliseconds()
		r.OK = r.Error == "" && r.Intact && r.Clean
	}()
	data := make([]byte, opt.Size)
	rand.NewChaCha8([32]byte{byte(r.Seed), byte(r.Seed >> 8)}).Read(data)
	want := sha256.Sum256(data)
	r.Bytes = int64(len(data))

	ea, eb := wire.Pipe(wire.PipeConfig{Seed: r.Seed, AtoB: r.wireIm, BtoA: r.wireIm})
	defer ea.Close()
	var capture bytes.Buffer // the tap serialises its writes; read once both stacks are closed
	tap, err := wire.NewTap(ea, &capture)
	if err != nil {
		r.Error = err.Error()
		return
	}
	ca, sa := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddrPort("198.18.0.2:12345")
	client, err := stacks.Start(r.Client, tap, ca, stacks.Options{})
	if err != nil {
		r.Error = err.Error()
		return
	}
	server, err := stacks.Start(r.Server, eb, sa.Addr(), stacks.Options{})
	if err != nil {
		shutdownPaired(client)
		r.Error = err.Error()
		return
	}
	ln, err := server.Listen(sa.Port())
	if err != nil {
		shutdownPaired(client)
		shutdownPaired(server)
		r.Error = err.Error()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	got := upload.Receive(ctx, ln, true)
	err = sendUpload(ctx, client, sa, data)
	rcv := <-got
	var sum [32]byte
	if rcv.Err == nil && rcv.N == int64(len(data)) {
		sum = rcv.Sum
	}
	ln.Close()
	shutdownPaired(client)
	shutdownPaired(server)
	if err != nil {
		r.Error = err.Error()
	}
	r.Intact = sum == want
	r.check(&capture, opt, fmt.Sprintf("paired_%s-to-%s_%d.pcap", r.Client, r.Server, n))
}

// sendUpload sends data, half-closes, and reads to the server's FIN.
func sendUpload(ctx context.Context, s *stacks.Stack, to netip.AddrPort, data []byte) error {
	c, err := s.Dial(ctx, to)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.Write(data); err != nil {
		return err
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, c)
	return err
}

// WritePaired renders paired runs, one line each.
func WritePaired(w io.Writer, runs []Paired) error {
	for _, r := range runs {
		v := "ok"
		if !r.OK {
			v = "FAIL"
		}
		detail := ""
		if r.Conv != nil {
			detail = fmt.Sprintf("%d segments, %d retransmitted, %d RSTs", r.Conv.Segments, r.Conv.Retransmissions, r.Conv.RSTs)
			for _, p := range r.Conv.Problems {
				detail += "\n      " + p
			}
		}
		if r.Error != "" {
			detail += " · " + r.Error
		}
		where := r.Wire
		if r.DUTRole != "" {
			where += ", " + r.DUTRole + " behind it"
		}
		if _, err := fmt.Fprintf(w, "  %-4s %-8s -> %-8s %-23s intact %-5v clean %-5v %s\n", v, r.Client, r.Server, where, r.Intact, r.Clean, detail); err != nil {
			return err
		}
	}
	return nil
}
