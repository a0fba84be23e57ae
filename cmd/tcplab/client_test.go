package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// clientJSON runs client --json and decodes stdout, which must be one
// JSON document and nothing else.
func clientJSON(t *testing.T, args ...string) (clientReport, string, error) {
	t.Helper()
	stdout, stderr, err := runCLI(t, append([]string{"client", "--json"}, args...)...)
	var rep clientReport
	dec := json.NewDecoder(strings.NewReader(stdout))
	if jerr := dec.Decode(&rep); jerr != nil {
		t.Fatalf("stdout is not a JSON document: %v\nstdout:\n%s\nstderr:\n%s", jerr, stdout, stderr)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", stdout)
	}
	return rep, stderr, err
}

func TestClientOnMemEveryPairing(t *testing.T) {
	const size = 700 << 10
	sum := sha256.Sum256(makePayload(size, 5))
	want := hex.EncodeToString(sum[:])
	for _, pair := range [][3]string{{"handmade", "netstack", "newreno"}, {"netstack", "handmade", "newreno"}, {"handmade", "handmade", "newreno"}, {"netstack", "netstack", "newreno"},
		{"handmade", "netstack", "cubic"}, {"netstack", "handmade", "cubic"}} {
		t.Run(pair[0]+"-to-"+pair[1]+"-"+pair[2], func(t *testing.T) {
			rep, stderr, err := clientJSON(t, "--link", "mem", "--stack", pair[0], "--peer", pair[1], "--size", "700KiB", "--seed", "5", "--cc", pair[2])
			if err != nil {
				t.Fatalf("client failed: %v\n%s", err, stderr)
			}
			u, p := rep.Upload, rep.PeerView
			if !rep.OK || !u.OK || p == nil || !p.OK || rep.PeerStack != pair[1] || rep.Stack != pair[0] {
				t.Fatalf("report %+v, peer view %+v", rep, p)
			}
			if u.Bytes != size || p.Bytes != size || u.SHA256 != want || p.SHA256 != want {
				t.Errorf("sent %d bytes sha %s, server got %d sha %s; want %d sha %s", u.Bytes, u.SHA256, p.Bytes, p.SHA256, size, want)
			}
			if u.Local != p.Peer || u.Peer != p.Local || u.Peer != "198.18.0.2:12345" {
				t.Errorf("addresses: client %s -> %s, server %s <- %s", u.Local, u.Peer, p.Local, p.Peer)
			}
		})
	}
}

func TestClientSeedProfileUploadsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file.txt")
	data := makePayload(50_000, 9)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, stderr, err := clientJSON(t, "--link", "mem", "--profile", "seed", "--file", file)
	if err != nil {
		t.Fatalf("client failed: %v\n%s", err, stderr)
	}
	sum := sha256.Sum256(data)
	if !rep.OK || rep.Upload.SHA256 != hex.EncodeToString(sum[:]) || rep.PeerView.SHA256 != rep.Upload.SHA256 || rep.Source != file {
		t.Fatalf("report %+v, peer %+v", rep, rep.PeerView)
	}
	// The narration (stderr under --json) tells the article's story.
	for _, s := range []string{"SYN", "PSH-ACK", "FIN"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("narration lacks %q:\n%s", s, stderr)
		}
	}
}

func TestPayloadReaderMatchesMakePayload(t *testing.T) {
	for _, n := range []int64{0, 1, 7, 8, 9, 4095, 100_003} {
		got, err := io.ReadAll(io.LimitReader(oddReader{newPayloadReader(n, 3)}, n+10))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, makePayload(n, 3)) {
			t.Errorf("size %d: the streamed payload differs from makePayload", n)
		}
	}
}

// oddReader reads in uneven pieces, to cross the generator's 8-byte words.
type oddReader struct{ r io.Reader }

func (o oddReader) Read(b []byte) (int, error) { return o.r.Read(b[:min(len(b), 5)]) }

func TestClientAndServerRejectBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"client", "--link", "wifi"}, "want mem, tun, tun:NAME or iface:NAME"},
		{[]string{"client", "--link", "tun:thisnameistoolong"}, "at most 15 bytes"},
		{[]string{"client", "--stack", "bsd", "--link", "mem"}, `--stack "bsd"`},
		{[]string{"client", "--stack", "linux", "--link", "mem"}, "--link does not apply"},
		{[]string{"client", "--link", "mem", "--profile", "seed", "--stack", "netstack"}, "needs --stack handmade"},
		{[]string{"client", "--link", "mem", "--server", "example.com"}, "want an IPv4 address"},
		{[]string{"client", "--link", "mem", "--file", "/nonexistent/file"}, "no such file"},
		{[]string{"client", "--link", "mem", "--file", "x", "--size", "1MiB"}, "both given"},
		{[]string{"client", "--link", "mem", "--peer", "linux"}, "cannot sit on an in-memory wire"},
		{[]string{"client", "extra"}, "takes no arguments"},
		{[]string{"client", "--link", "mem", "--cc", "reno"}, `--cc "reno": want newreno or cubic`},
		{[]string{"server", "--cc", "bbr"}, `--cc "bbr": want newreno or cubic`},
		{[]string{"server", "--link", "mem"}, "does not leave this process"},
		{[]string{"server", "--port", "0"}, "--port 0"},
		{[]string{"server", "--count", "-1"}, "--count -1"},
		{[]string{"server", "--profile", "fast"}, `--profile "fast"`},
		{[]string{"server", "--link", "tun", "--kernel-addr", "198.18.0.1/24", "--addr", "198.18.5.2"}, "not on the TUN's subnet"},
		{[]string{"server", "--link", "tun", "--kernel-addr", "198.18.0.1/24", "--addr", "198.18.0.1"}, "the kernel's own address"},
	} {
		_, _, err := runCLI(t, tc.args...)
		var ec cli.ExitCoder
		if err == nil || !errors.As(err, &ec) || ec.ExitCode() == 0 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tcplab %s: err %v, want a non-zero exit saying %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

func TestHelpShowsExamples(t *testing.T) {
	for _, cmd := range []string{"client", "server"} {
		out, _, err := runCLI(t, cmd, "--help")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "Examples") || !strings.Contains(out, "tcplab "+cmd+" ") || !strings.Contains(out, "--stack") {
			t.Errorf("%s --help lacks examples or flags:\n%s", cmd, out)
		}
	}
}
