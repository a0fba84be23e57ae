package handmade

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"tcplab/wire"
)

// wrapISS returns an ISS just below 2^32 so every test crosses the wrap.
func wrapISS(n uint32) func() Seq { return func() Seq { return Seq(0xffffffff - n) } }

func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

type seedRun struct {
	client, server       *Report
	clientErr, serverErr error
	clientLog, serverLog string
}

// runSeed uploads data from a handmade client to a handmade server over a
// pipe configured by pc.
func runSeed(t *testing.T, pc wire.PipeConfig, data []byte, cc, sc SeedConfig) seedRun {
	t.Helper()
	a, b := wire.Pipe(pc)
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var clog, slog syncBuffer
	cc.Trace = NewTrace(&clog, "handmade client", false)
	sc.Trace = NewTrace(&slog, "handmade server", false)
	var r seedRun
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.server, r.serverErr = Serve(ctx, b, addrB, sc)
	}()
	r.client, r.clientErr = Upload(ctx, a, addrA.Addr(), addrB, data, cc)
	wg.Wait()
	r.clientLog, r.serverLog = clog.String(), slog.String()
	return r
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSeedUploadClean(t *testing.T) {
	data := payload(100_000, 1)
	r := runSeed(t, wire.PipeConfig{Seed: 1}, data, SeedConfig{ISS: wrapISS(10)}, SeedConfig{ISS: wrapISS(3)})
	if r.clientErr != nil || r.serverErr != nil {
		t.Fatalf("client: %v\nserver: %v\n%s\n%s", r.clientErr, r.serverErr, r.clientLog, r.serverLog)
	}
	if r.server.Bytes != int64(len(data)) || r.server.SHA256 != sha256.Sum256(data) || r.client.SHA256 != r.server.SHA256 {
		t.Errorf("server got %d bytes, sha %x; want %d, %x", r.server.Bytes, r.server.SHA256, len(data), sha256.Sum256(data))
	}
	// Stop and wait: every chunk of 1400 is one segment, answered by one ACK.
	chunks := uint64((len(data) + 1399) / 1400)
	if got := r.client.Counters.SegmentsSent; got != chunks+4 {
		t.Errorf("client sent %d segments, want %d (SYN + ACK + %d chunks + FIN + ACK)", got, chunks+4, chunks)
	}
	// The server answers each with one segment: SYN-ACK, an ACK per chunk,
	// the ACK of the FIN and its own FIN.
	if got := r.server.Counters.SegmentsSent; got != chunks+3 {
		t.Errorf("server sent %d segments, want %d", got, chunks+3)
	}
	if r.client.Counters.Retransmissions != 0 || r.server.Counters.Retransmissions != 0 {
		t.Errorf("retransmissions on a clean wire: %+v %+v", r.client.Counters, r.server.Counters)
	}
	if r.client.State != Closed || r.server.State != Closed {
		t.Errorf("final states %v, %v", r.client.State, r.server.State)
	}
	for _, want := range []string{"SENDING        SYN", "RECEIVED       SYN-ACK", "THREE-WAY HANDSHAKE COMPLETE", "SENDING        FIN-ACK", "TIME-WAIT"} {
		if !strings.Contains(r.clientLog, want) {
			t.Errorf("client narration lacks %q:\n%s", want, r.clientLog)
		}
	}
	for _, want := range []string{"RECEIVED       SYN ", "SENDING        SYN-ACK", "<mss 1460>", "CLOSE-WAIT", "LAST-ACK -> CLOSED"} {
		if !strings.Contains(r.serverLog, want) {
			t.Errorf("server narration lacks %q:\n%s", want, r.serverLog)
		}
	}
}

func TestSeedUploadSurvivesImpairment(t *testing.T) {
	for _, tc := range []struct {
		name string
		im   wire.Impairment
	}{
		{"loss", wire.Impairment{Loss: 0.1}},
		{"corrupt", wire.Impairment{Corrupt: 0.1}},
		{"dup+reorder", wire.Impairment{Dup: 0.1, Reorder: 0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := int64(7)
			data := payload(60_000, 2)
			r := runSeed(t, wire.PipeConfig{Seed: seed, AtoB: tc.im, BtoA: tc.im}, data,
				SeedConfig{ISS: wrapISS(0), TimeWait: 100 * time.Millisecond}, SeedConfig{ISS: wrapISS(100)})
			if r.clientErr != nil || r.serverErr != nil {
				t.Fatalf("seed %d: client: %v\nserver: %v", seed, r.clientErr, r.serverErr)
			}
			if r.server.SHA256 != sha256.Sum256(data) {
				t.Fatalf("seed %d: digest differs: got %d bytes", seed, r.server.Bytes)
			}
			c, s := r.client.Counters, r.server.Counters
			switch tc.name {
			case "loss":
				if c.Retransmissions == 0 {
					t.Errorf("seed %d: 10%% loss and no retransmission: %+v", seed, c)
				}
			case "corrupt":
				if c.DroppedChecksum+s.DroppedChecksum == 0 {
					t.Errorf("seed %d: 10%% corruption and no checksum drop: %+v %+v", seed, c, s)
				}
			case "dup+reorder":
				if s.DuplicateData+s.OutOfOrder+c.DroppedUnacceptable == 0 {
					t.Errorf("seed %d: duplicates and reordering unseen: %+v %+v", seed, c, s)
				}
			}
		})
	}
}

// TestSeedClientNoAnswer: a server that never answers ends the client with
// an error naming the state.
func TestSeedClientNoAnswer(t *testing.T) {
	a, b := wire.Pipe(wire.PipeConfig{QueueLen: 64})
	defer a.Close()
	_ = b // nobody reads: the SYNs queue up unanswered
	cfg := SeedConfig{InitialRTO: time.Millisecond, MinRTO: time.Millisecond, MaxRetries: 3}
	r, err := Upload(context.Background(), a, addrA.Addr(), addrB, []byte("x"), cfg)
	var ce *ConnError
	if !errors.As(err, &ce) || ce.State != SynSent || !errors.Is(err, ErrPeerNotAnswering) {
		t.Fatalf("err = %v, want a ConnError in SYN-SENT wrapping ErrPeerNotAnswering", err)
	}
	if !strings.Contains(err.Error(), "SYN-SENT") || !strings.Contains(err.Error(), "SYN sent 4 times") {
		t.Errorf("error text %q does not name the state and the retries", err)
	}
	if r.Counters.SegmentsSent != 4 || r.Counters.Retransmissions != 3 {
		t.Errorf("counters %+v, want 4 SYNs of which 3 retransmissions", r.Counters)
	}
}

// TestSeedClientRefused: a RST answering the SYN ends the client at once.
func TestSeedClientRefused(t *testing.T) {
	a, b := wire.Pipe(wire.PipeConfig{})
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		buf := make([]byte, 2000)
		n, err := b.ReadPacket(ctx, buf)
		var syn Segment
		if err != nil || Decode(buf[:n], &syn) != nil {
			return
		}
		var e Encoder
		// RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
		rst := Segment{Src: syn.Dst, Dst: syn.Src, ACK: syn.SEQ.Add(1), Flags: RST | ACK}
		b.WritePacket(ctx, e.Append(nil, &rst))
	}()
	_, err := Upload(ctx, a, addrA.Addr(), addrB, []byte("x"), SeedConfig{})
	if !errors.Is(err, ErrConnRefused) || !strings.Contains(err.Error(), "SYN-SENT") {
		t.Fatalf("err = %v, want connection refused in SYN-SENT", err)
	}
}

// TestSeedServerDropsGarbage: truncated, wrong-version and bad-checksum
// packets are dropped and counted; the upload still completes.
func TestSeedServerDropsGarbage(t *testing.T) {
	a, b := wire.Pipe(wire.PipeConfig{})
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var e Encoder
	good := Segment{Src: addrA, Dst: addrB, SEQ: 1, Flags: SYN}
	pkt := e.Append(nil, &good)
	badsum := append([]byte(nil), pkt...)
	badsum[len(badsum)-1] ^= 0x40
	v6 := append([]byte(nil), pkt...)
	v6[0] = 0x65
	for _, p := range [][]byte{pkt[:13], v6, badsum, {0x45}} {
		if err := a.WritePacket(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	data := payload(5000, 3)
	var sr *Report
	var serr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		sr, serr = Serve(ctx, b, addrB, SeedConfig{})
	}()
	if _, err := Upload(ctx, a, addrA.Addr(), addrB, data, SeedConfig{TimeWait: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	<-done
	if serr != nil {
		t.Fatal(serr)
	}
	if sr.SHA256 != sha256.Sum256(data) {
		t.Error("digest differs")
	}
	if c := sr.Counters; c.DroppedMalformed != 3 || c.DroppedChecksum != 1 {
		t.Errorf("server counters %+v: want 3 malformed (truncated x2, IPv6 version) and 1 bad checksum", c)
	}
}

// TestSeedServerTakesAnyFlags: data without PSH, several segments in
// flight, is taken and ACKed cumulatively (the article's server only took
// PSH-ACK).
func TestSeedServerTakesAnyFlags(t *testing.T) {
	a, b := wire.Pipe(wire.PipeConfig{})
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan *Report, 1)
	go func() {
		r, _ := Serve(ctx, b, addrB, SeedConfig{ISS: wrapISS(0)})
		done <- r
	}()
	var e Encoder
	send := func(s Segment) {
		s.Src, s.Dst = addrA, addrB
		if err := a.WritePacket(ctx, e.Append(nil, &s)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2000)
	expect := func(what string) Segment {
		t.Helper()
		n, err := a.ReadPacket(ctx, buf)
		var s Segment
		if err != nil || Decode(buf[:n], &s) != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return s
	}
	iss := Seq(0xfffffff0)
	send(Segment{SEQ: iss, Flags: SYN, WND: 1000})
	sa := expect("SYN-ACK")
	if sa.Flags != SYN|ACK || sa.ACK != iss.Add(1) || !sa.Options.HasMSS || sa.Options.MSS != 1460 || sa.SEQ != 0xffffffff {
		t.Fatalf("SYN-ACK = %v", &sa)
	}
	send(Segment{SEQ: iss.Add(1), ACK: sa.SEQ.Add(1), Flags: ACK})
	// Two segments back to back, plain ACK flag, no PSH; then one beyond a gap.
	send(Segment{SEQ: iss.Add(1), ACK: sa.SEQ.Add(1), Flags: ACK, Payload: []byte("hello ")})
	send(Segment{SEQ: iss.Add(7), ACK: sa.SEQ.Add(1), Flags: ACK, Payload: []byte("world")})
	if s := expect("ACK 1"); s.ACK != iss.Add(7) {
		t.Errorf("first ACK = %v, want ack %d", &s, iss.Add(7))
	}
	if s := expect("ACK 2"); s.ACK != iss.Add(12) {
		t.Errorf("second ACK = %v, want ack %d", &s, iss.Add(12))
	}
	send(Segment{SEQ: iss.Add(20), ACK: sa.SEQ.Add(1), Flags: ACK, Payload: []byte("later")})
	if s := expect("dup ACK"); s.ACK != iss.Add(12) || s.Flags != ACK {
		t.Errorf("out-of-order data: got %v, want a duplicate ACK of %d", &s, iss.Add(12))
	}
	// The gap fills: one cumulative ACK covers the held segment too.
	send(Segment{SEQ: iss.Add(12), ACK: sa.SEQ.Add(1), Flags: PSH | ACK, Payload: []byte("12345678")})
	if s := expect("cumulative ACK"); s.ACK != iss.Add(25) {
		t.Errorf("after the gap filled: got %v, want ack %d", &s, iss.Add(25))
	}
	send(Segment{SEQ: iss.Add(25), ACK: sa.SEQ.Add(1), Flags: FIN | ACK})
	if s := expect("ACK of FIN"); s.ACK != iss.Add(26) || s.Flags != ACK {
		t.Errorf("got %v, want the ACK of our FIN", &s)
	}
	fin := expect("server FIN")
	if fin.Flags != FIN|ACK || fin.SEQ != sa.SEQ.Add(1) {
		t.Errorf("got %v, want the server's FIN", &fin)
	}
	send(Segment{SEQ: iss.Add(26), ACK: fin.SEQ.Add(1), Flags: ACK})
	r := <-done
	if want := "hello world12345678later"; r == nil || r.Bytes != int64(len(want)) || r.SHA256 != sha256.Sum256([]byte(want)) || r.State != Closed {
		t.Fatalf("server report %+v", r)
	}
}
