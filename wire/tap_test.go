package wire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

func readPcap(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeRaw {
		t.Fatalf("link type %v, want Raw", r.LinkType())
	}
	if r.Snaplen() < 65535 {
		t.Fatalf("snaplen %d", r.Snaplen())
	}
	var ps [][]byte
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return ps
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.Length != len(data) || ci.Timestamp.IsZero() {
			t.Fatalf("capture info %+v for %d bytes", ci, len(data))
		}
		ps = append(ps, data)
	}
}

func TestTap(t *testing.T) {
	dir := t.TempDir()
	a, b := Pipe(PipeConfig{Names: [2]string{"client", "server"}})
	fa, err := os.Create(filepath.Join(dir, "a.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Create(filepath.Join(dir, "b.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	ta, err := NewTap(a, fa)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := NewTap(b, fb)
	if err != nil {
		t.Fatal(err)
	}
	ps := makePackets(100)
	// a writes the even packets, b the odd ones, from several goroutines
	// per end (the tap must serialise its writer).
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ps); i += 4 {
				l := Link(ta)
				if i%2 == 1 {
					l = tb
				}
				if err := l.WritePacket(context.Background(), ps[i]); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for range 50 {
		readOne(t, ta)
		readOne(t, tb)
	}
	if ta.MTU() != 1500 {
		t.Fatal("MTU")
	}
	if err := ta.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := fa.Write(nil); err != nil {
		t.Fatalf("Close closed the writer: %v", err)
	}
	fa.Close()
	fb.Close()
	if ta.Packets() != 100 || tb.Packets() != 100 || ta.Err() != nil {
		t.Fatalf("packets %d %d, err %v", ta.Packets(), tb.Packets(), ta.Err())
	}
	// Each capture holds every packet once as written and once as read.
	want := map[string]int{}
	for _, p := range ps {
		want[string(p)] = 1
	}
	for _, name := range []string{"a.pcap", "b.pcap"} {
		path := filepath.Join(dir, name)
		got := readPcap(t, path)
		if len(got) != 100 {
			t.Fatalf("%s: %d packets, want 100", name, len(got))
		}
		seen := map[string]int{}
		for _, p := range got {
			if want[string(p)] != 1 {
				t.Fatalf("%s: unexpected packet %s", name, Summary(p))
			}
			seen[string(p)]++
		}
		if len(seen) != 100 {
			t.Fatalf("%s: %d distinct packets, want 100", name, len(seen))
		}
		if _, err := exec.LookPath("tshark"); err != nil {
			t.Logf("tshark not installed: skipping the tshark check of %s", name)
			continue
		}
		cmd := exec.Command("tshark", "-r", path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark -r %s: %v\n%s%s", name, err, out, stderr.Bytes())
		}
		if n := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; n != 100 {
			t.Fatalf("tshark shows %d lines, want 100:\n%s", n, out)
		}
	}
}

func TestTapRecordsWritesAsPassed(t *testing.T) {
	// Corruption happens on the wire: the tap on the writer records the
	// packet as passed, the tap on the reader what arrived.
	a, b := Pipe(PipeConfig{AtoB: Impairment{Corrupt: 1}})
	var wa, wb bytes.Buffer
	ta, _ := NewTap(a, &wa)
	tb, _ := NewTap(b, &wb)
	p := tcpPacket(9, 100)
	write(t, ta, p)
	readOne(t, tb)
	ta.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), wa.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "b"), wb.Bytes(), 0o644)
	ga := readPcap(t, filepath.Join(dir, "a"))
	gb := readPcap(t, filepath.Join(dir, "b"))
	if len(ga) != 1 || len(gb) != 1 || !bytes.Equal(ga[0], p) || bytes.Equal(gb[0], p) {
		t.Fatalf("captures: %d %d packets", len(ga), len(gb))
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

func TestTapWriteError(t *testing.T) {
	a, b := Pipe(PipeConfig{})
	defer a.Close()
	ta, err := NewTap(a, &failWriter{n: 1}) // header only
	if err != nil {
		t.Fatal(err)
	}
	p := tcpPacket(1, 10)
	write(t, ta, p) // the link keeps working
	if got := readOne(t, b); !bytes.Equal(got, p) {
		t.Fatal("differs")
	}
	if ta.Err() == nil || ta.Packets() != 0 {
		t.Fatalf("err %v packets %d", ta.Err(), ta.Packets())
	}
	if _, err := NewTap(a, &failWriter{}); err == nil {
		t.Fatal("NewTap ignored a header write error")
	}
}

func TestEventLog(t *testing.T) {
	var buf bytes.Buffer
	log := NewEventLog(&buf)
	var mu sync.Mutex
	var evs []Event
	a, b := Pipe(PipeConfig{Seed: 9, QueueLen: 2000, Names: [2]string{"client", "server"},
		AtoB: Impairment{Loss: 0.1, Dup: 0.1, Reorder: 0.1, Corrupt: 0.1},
		Events: func(e Event) {
			log.Record(e)
			mu.Lock()
			evs = append(evs, e)
			mu.Unlock()
		}})
	defer b.Close()
	for _, p := range makePackets(300) {
		write(t, a, p)
	}
	if log.Err() != nil {
		t.Fatal(log.Err())
	}
	sc := bufio.NewScanner(&buf)
	i := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, sc.Bytes())
		}
		for _, k := range []string{"time", "dir", "kind", "index", "len", "detail", "packet"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("line %d lacks %q: %s", i+1, k, sc.Bytes())
			}
		}
		ts, err := time.Parse(time.RFC3339Nano, m["time"].(string))
		if err != nil {
			t.Fatal(err)
		}
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		want := evs[i]
		if !ts.Equal(want.Time) || !e.Time.Equal(want.Time) {
			t.Fatalf("line %d: time %v, want %v", i+1, ts, want.Time)
		}
		e.Time, want.Time = time.Time{}, time.Time{}
		if e != want {
			t.Fatalf("line %d: %+v, want %+v", i+1, e, want)
		}
		if e.Dir != "client->server" || e.Packet == "" {
			t.Fatalf("line %d: %+v", i+1, e)
		}
		i++
	}
	if i != len(evs) || i < 50 {
		t.Fatalf("%d lines for %d events", i, len(evs))
	}
	// Errors stick.
	bad := NewEventLog(&failWriter{})
	bad.Record(evs[0])
	bad.Record(evs[1])
	if bad.Err() == nil {
		t.Fatal("no error")
	}
}
