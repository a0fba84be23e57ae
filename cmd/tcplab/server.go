package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"tcplab/compare"
	"tcplab/handmade"
	"tcplab/netstackref"
	"tcplab/wire"
)

func serverCommand() *cli.Command {
	flags := append(endpointFlags("server"),
		&cli.UintFlag{Name: "port", Value: defaultPort, Usage: "port to listen on (the article's 12345)"},
		&cli.IntFlag{Name: "count", Value: 1, Usage: "exit after this many uploads; 0 serves until Ctrl-C"},
		&cli.StringFlag{Name: "save-dir", Usage: "write each upload to `DIR`/upload-N.bin"},
		&cli.BoolFlag{Name: "check", Usage: "judge each upload's conversation from the server's capture: handshake, sequence and acknowledgement arithmetic each way, no RST, both FINs acknowledged (for an external client: any TCP that uploads)"},
	)
	return &cli.Command{
		Name:  "server",
		Usage: "receive uploads from tcplab client (or any TCP client), one after another or at once",
		Description: `Listens, reads each connection to the client's FIN, answers with its own
FIN, and prints per upload: bytes, SHA-256, retransmissions, duration and
goodput. Uploads are served at once (the seed profile serves them one after
another). Ctrl-C stops it: the listener and the connections close, the TUN
device goes, and the uploads so far are reported.

On --link tun the server's TUN device gets 198.18.0.0/24: the kernel at .1,
the userspace stack at .2 (--addr). --stack linux listens with the kernel's
own sockets, by default on 198.18.1.1, the kernel side of a client's TUN;
the address may appear later (IP_FREEBIND).

Examples (as root for tun):
   tcplab server                                   # handmade on a TUN, 198.18.0.2:12345, one upload
   tcplab server --stack netstack --count 0        # gVisor, serve until Ctrl-C
   tcplab server --cc cubic                        # handmade, CUBIC for what it sends
   tcplab server --profile seed -v                 # the article's server, every segment narrated
   tcplab server --stack linux --count 3           # the kernel, for: tcplab client --server 198.18.1.1
   tcplab server --link iface:ens224 --addr 10.0.0.2 --save-dir uploads
   tcplab server --json --pcap-dir caps | jq '.uploads[].sha256'
   tcplab server --stack netstack --check --count 0  # judge each client's conversation, e.g. a hand-built one`,
		Flags:  flags,
		Action: serverAction,
	}
}

// serverReport is the JSON document of server --json.
type serverReport struct {
	Command       string           `json:"command"`
	Stack         string           `json:"stack"`
	Link          string           `json:"link"`
	LinkDetail    string           `json:"link_detail,omitempty"`
	Profile       string           `json:"profile,omitempty"`
	Listen        string           `json:"listen"`
	GVisorVersion string           `json:"gvisor_version,omitempty"`
	Uploads       []transferResult `json:"uploads"`
	Captures      []string         `json:"captures,omitempty"`
	FlowGraphs    []string         `json:"flow_graphs,omitempty"`
	Interrupted   bool             `json:"interrupted,omitempty"`
	Error         string           `json:"error,omitempty"`
	OK            bool             `json:"ok"`

	checkCapture string // --check: the capture the conversations are judged from
	checkTmp     string // --check without --pcap-dir: a directory to remove
}

func serverAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return cli.Exit(fmt.Sprintf("server takes no arguments (got %q)", c.Args().Slice()), 2)
	}
	o := outputsFrom(c)
	rep := serverReport{Command: "server", Stack: c.String("stack"), Profile: c.String("profile"), Uploads: []transferResult{}}
	var mu sync.Mutex // guards rep.Uploads while uploads run at once
	err := runServer(c, o, &rep, &mu)
	if rep.checkTmp != "" {
		defer os.RemoveAll(rep.checkTmp)
	}
	rep.Interrupted = c.Context.Err() != nil
	if err == nil && c.Bool("check") {
		err = checkUploads(&rep, o)
	}
	var ferr error
	rep.FlowGraphs, ferr = drawCaptures(c, rep.Captures)
	if err == nil {
		err = ferr
	}
	if err != nil {
		rep.Error = err.Error()
	}
	rep.OK = err == nil && !rep.Interrupted
	for _, u := range rep.Uploads {
		rep.OK = rep.OK && u.OK
	}
	if o.json {
		enc := json.NewEncoder(o.out)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(rep); jerr != nil {
			return jerr
		}
	} else if len(rep.Uploads) > 0 {
		fmt.Fprintf(o.out, "%d upload(s) on %s (%s)\n", len(rep.Uploads), rep.Listen, rep.Stack)
		for _, f := range rep.Captures {
			fmt.Fprintf(o.out, "wrote %s\n", f)
		}
		for _, f := range rep.FlowGraphs {
			fmt.Fprintf(o.out, "drew  %s\n", f)
		}
	}
	if err != nil {
		return cli.Exit(err.Error(), exitCode(err))
	}
	if rep.Interrupted {
		return c.Context.Err()
	}
	if !rep.OK {
		return cli.Exit("an upload failed; see above", 1)
	}
	return nil
}

func runServer(c *cli.Context, o outputs, rep *serverReport, mu *sync.Mutex) error {
	ctx := c.Context
	stackName := rep.Stack
	spec, err := endpointLink(c, stackName, rep.Profile)
	if err != nil {
		return err
	}
	rep.Link = spec.String()
	cc, err := parseCC(c)
	if err != nil {
		return usageError{err}
	}
	port := c.Uint("port")
	if port < 1 || port > 65535 {
		return usagef("--port %d: want 1 to 65535", port)
	}
	count := c.Int("count")
	if count < 0 {
		return usagef("--count %d: want 0 (until Ctrl-C) or more", count)
	}
	saveDir := c.String("save-dir")
	if saveDir != "" {
		if err := os.MkdirAll(saveDir, 0o755); err != nil {
			return fmt.Errorf("--save-dir: %w", err)
		}
	}

	var (
		link *openedLink
		addr netip.Addr
	)
	switch spec.Kind {
	case "kernel":
		addr = clientTUNKernel.Addr()
		if s := c.String("addr"); s != "" {
			if addr, err = parseIPv4("--addr", s); err != nil {
				return usageError{err}
			}
		}
	case "mem":
		return usagef("--link mem: an in-memory wire does not leave this process, so no client could reach this server; use tcplab client --link mem (it serves in process) or tcplab demo")
	case "tun":
		kernel, err := netip.ParsePrefix(c.String("kernel-addr"))
		if err != nil || !kernel.Addr().Is4() {
			return usagef("--kernel-addr %q: want an IPv4 address with prefix, such as %s", c.String("kernel-addr"), serverTUNKernel)
		}
		addr = kernel.Masked().Addr().Next().Next()
		if s := c.String("addr"); s != "" {
			if addr, err = parseIPv4("--addr", s); err != nil {
				return usageError{err}
			}
		}
		if link, err = openTUN(spec, kernel, addr, c.Int("mtu")); err != nil {
			return err
		}
		defer link.Close()
	case "iface":
		if link, addr, _, err = openIface(c, spec, uint16(port), o); err != nil {
			return err
		}
		defer link.Close()
	}
	if link != nil {
		rep.LinkDetail = link.desc
		dir := captureDir(c)
		if dir == "" && c.Bool("check") {
			tmp, err := os.MkdirTemp("", "tcplab-check-")
			if err != nil {
				return err
			}
			rep.checkTmp, dir = tmp, tmp
		}
		var caps []string
		if err := link.tap(dir, "server-"+stackName, &caps); err != nil {
			return err
		}
		if len(caps) > 0 {
			rep.checkCapture = caps[0]
			if dir == captureDir(c) {
				rep.Captures = append(rep.Captures, caps...)
			}
		}
	}
	if stackName == stackNetstack {
		rep.GVisorVersion = netstackref.Version()
	}
	at := netip.AddrPortFrom(addr, uint16(port))
	rep.Listen = at.String()
	trace := handmade.NewTrace(o.narration, "handmade server", c.Bool("verbose"))
	where := "kernel sockets"
	if link != nil {
		where = link.desc
	}
	until := fmt.Sprintf("%d upload(s)", count)
	if count == 0 {
		until = "Ctrl-C"
	}
	record := func(n int, r transferResult) {
		mu.Lock()
		rep.Uploads = append(rep.Uploads, r)
		mu.Unlock()
		if !o.json {
			fmt.Fprintf(o.out, "upload %d from %s: %s\n", n, r.Peer, r.verdict())
		} else {
			o.say("upload %d from %s: %s", n, r.Peer, r.verdict())
		}
	}

	if rep.Profile == "seed" {
		o.say("tcplab server: handmade (seed profile) listening on %s, %s, until %s", at, where, until)
		for i := 0; count == 0 || i < count; i++ {
			r, err := handmade.Serve(ctx, link.link, at, handmade.SeedConfig{Trace: trace})
			if ctx.Err() != nil {
				return nil
			}
			var res transferResult
			if r != nil {
				res.Local, res.Peer = r.Local.String(), r.Remote.String()
				res.finish(r.Bytes, r.SHA256[:], r.Duration)
				res.Retransmissions, res.FinalState = r.Counters.Retransmissions, r.State.String()
			}
			res.OK = err == nil
			if err != nil {
				res.Error = err.Error()
			}
			record(i+1, res)
		}
		return nil
	}

	var wl wire.Link
	if link != nil {
		wl = link.link
	}
	ep, err := newEndpoint(stackName, wl, addr, trace, cc)
	if err != nil {
		return usageError{err}
	}
	defer ep.close()
	ln, err := ep.listen(uint16(port))
	if err != nil {
		return fmt.Errorf("listening on %s (%s): %w", at, stackName, err)
	}
	defer ln.Close()
	o.say("tcplab server: %s listening on %s, %s, until %s", stackName, at, where, until)

	stopAccept := context.AfterFunc(ctx, func() { ln.Close() })
	defer stopAccept()
	var (
		wg      sync.WaitGroup
		started int
		active  = map[*countingWriter]struct{}{}
	)
	bar := startProgress(o.progress, "receiving", 0, func() int64 {
		mu.Lock()
		defer mu.Unlock()
		var n int64
		for cw := range active {
			n += cw.n.Load()
		}
		return n
	})
	defer bar.Stop()
	var acceptErr error
	for count == 0 || started < count {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				acceptErr = fmt.Errorf("accept on %s: %w", at, err)
			}
			break
		}
		started++
		n := started
		o.say("upload %d: %s connected from %s", n, stackName, conn.RemoteAddr())
		cw := &countingWriter{}
		mu.Lock()
		active[cw] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst io.Writer = io.Discard
			var file *os.File
			if saveDir != "" {
				f, err := os.Create(filepath.Join(saveDir, fmt.Sprintf("upload-%d.bin", n)))
				if err != nil {
					conn.Close()
					record(n, transferResult{Peer: conn.RemoteAddr().String(), Error: fmt.Sprintf("--save-dir: %v", err)})
					return
				}
				file, dst = f, f
			}
			r := receiveUpload(ctx, ep, conn, dst, cw)
			if file != nil {
				if err := file.Close(); err != nil && r.OK {
					r.OK, r.Error = false, fmt.Sprintf("saving: %v", err)
				}
				r.Saved = file.Name()
			}
			if hc, ok := conn.(*handmade.Conn); ok {
				// Our FIN is out: wait for its ACK so the close completes
				// before the process, and the link, go.
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				hc.WaitClosed(wctx)
				cancel()
			}
			mu.Lock()
			delete(active, cw)
			mu.Unlock()
			record(n, r)
		}()
	}
	wg.Wait()
	return acceptErr
}

// checkUploads judges each upload's conversation in the server's capture
// (compare.CheckConversations) and records it on the upload, which fails
// unless the conversation is clean.
func checkUploads(rep *serverReport, o outputs) error {
	if rep.checkCapture == "" {
		return usagef("--check judges uploads from the server's capture, and the %s stack writes none: use handmade or netstack", rep.Stack)
	}
	f, err := os.Open(rep.checkCapture)
	if err != nil {
		return fmt.Errorf("--check: %w", err)
	}
	defer f.Close()
	pkts, err := compare.ReadCapture(f)
	if err != nil {
		return fmt.Errorf("--check: reading %s: %w", rep.checkCapture, err)
	}
	convs := map[string]*compare.Conversation{}
	for _, cv := range compare.CheckConversations(pkts) {
		convs[cv.Client.String()] = cv
	}
	for i := range rep.Uploads {
		u := &rep.Uploads[i]
		cv := convs[u.Peer]
		if cv == nil {
			u.OK, u.Error = false, "--check: the capture holds no conversation from "+u.Peer
			continue
		}
		u.Conversation = cv
		verdict := "clean"
		if !cv.Clean() {
			verdict = "NOT clean: " + strings.Join(cv.Problems, "; ")
			if u.OK {
				u.OK, u.Error = false, "conversation not clean: "+strings.Join(cv.Problems, "; ")
			}
		}
		line := fmt.Sprintf("conversation with %s: %d segments, %d retransmitted; %s", u.Peer, cv.Segments, cv.Retransmissions, verdict)
		if o.json {
			o.say("%s", line)
		} else {
			fmt.Fprintln(o.out, line)
		}
	}
	return nil
}
