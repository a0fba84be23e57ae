package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"tcplab/compare"
	"tcplab/handmade"
)

// transferResult is one upload, seen from the side that reports it.
type transferResult struct {
	Local           string `json:"local"`
	Peer            string `json:"peer"`
	Bytes           int64  `json:"bytes"`
	SHA256          string `json:"sha256"`
	Retransmissions uint64 `json:"retransmissions"`
	// RetransmissionsStackWide is set when the stack only counts
	// retransmissions for all its connections together (netstack).
	RetransmissionsStackWide bool    `json:"retransmissions_stack_wide,omitempty"`
	DurationS                float64 `json:"duration_s"`
	GoodputMbps              float64 `json:"goodput_mbps"`
	FinalState               string  `json:"final_state,omitempty"`
	Saved                    string  `json:"saved,omitempty"`
	// Conversation is the upload judged from the server's capture
	// (server --check).
	Conversation *compare.Conversation `json:"conversation,omitempty"`
	OK           bool                  `json:"ok"`
	Error        string                `json:"error,omitempty"`
}

func (r *transferResult) finish(n int64, sum []byte, d time.Duration) {
	r.Bytes = n
	r.SHA256 = hex.EncodeToString(sum)
	r.DurationS = d.Seconds()
	if d > 0 {
		r.GoodputMbps = float64(n) * 8 / d.Seconds() / 1e6
	}
}

func (r transferResult) verdict() string {
	if !r.OK {
		return "FAILED: " + r.Error
	}
	rt := fmt.Sprint(r.Retransmissions)
	if r.RetransmissionsStackWide {
		rt += " (stack-wide)"
	}
	return fmt.Sprintf("%s in %.3fs, %.1f Mbit/s, %s retransmissions, sha256 %s", formatSize(r.Bytes), r.DurationS, r.GoodputMbps, rt, r.SHA256)
}

// sendUpload writes src to c, half-closes (our FIN), and reads until the
// peer's FIN: the article's upload, done once both FINs are exchanged.
func sendUpload(ctx context.Context, ep *endpoint, c net.Conn, src io.Reader) (res transferResult) {
	res.Local, res.Peer = c.LocalAddr().String(), c.RemoteAddr().String()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	h := sha256.New()
	start := time.Now()
	n, err := io.Copy(c, io.TeeReader(src, h))
	if err == nil {
		err = closeWrite(c)
	}
	if err == nil {
		// The server answers with its FIN once it has read everything.
		var extra int64
		extra, err = io.Copy(io.Discard, c)
		if err == nil && extra > 0 {
			err = fmt.Errorf("the server sent %d bytes back; an upload server sends none", extra)
		}
	}
	res.finish(n, h.Sum(nil), time.Since(start))
	res.Retransmissions, res.RetransmissionsStackWide = ep.retransmissions(c)
	res.FinalState = ep.state(c)
	if err != nil {
		res.Error = transferError(ctx, err, res.FinalState, n)
		c.Close()
		return res
	}
	if err := c.Close(); err != nil {
		res.Error = fmt.Sprintf("close: %v", err)
		return res
	}
	res.OK = true
	return res
}

// receiveUpload reads c to its FIN into dst, then closes (our FIN).
func receiveUpload(ctx context.Context, ep *endpoint, c net.Conn, dst io.Writer, count *countingWriter) (res transferResult) {
	res.Local, res.Peer = c.LocalAddr().String(), c.RemoteAddr().String()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	h := sha256.New()
	count.w = io.MultiWriter(h, dst)
	start := time.Now()
	n, err := io.Copy(count, c)
	d := time.Since(start)
	if err == nil {
		err = c.Close()
	} else {
		c.Close()
	}
	res.finish(n, h.Sum(nil), d)
	res.Retransmissions, res.RetransmissionsStackWide = ep.retransmissions(c)
	res.FinalState = ep.state(c)
	if err != nil {
		res.Error = transferError(ctx, err, res.FinalState, n)
		return res
	}
	res.OK = true
	return res
}

func closeWrite(c net.Conn) error {
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok {
		return fmt.Errorf("%T cannot half-close", c)
	}
	return cw.CloseWrite()
}

// transferError explains a failed transfer: interrupted, timed out, reset
// by the peer, or the peer stopped answering, with the TCP state.
func transferError(ctx context.Context, err error, state string, n int64) string {
	in := ""
	if state != "" {
		in = " in " + state
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("no end within --timeout after %s%s: the peer stopped answering or is too slow (%v)", formatSize(n), in, err)
	case ctx.Err() != nil:
		return fmt.Sprintf("interrupted after %s%s", formatSize(n), in)
	case errors.Is(err, syscall.ECONNRESET):
		return fmt.Sprintf("the peer reset the connection after %s%s: %v", formatSize(n), in, err)
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Sprintf("the peer stopped answering after %s%s (retransmissions exhausted): %v", formatSize(n), in, err)
	}
	return fmt.Sprintf("after %s%s: %v", formatSize(n), in, err)
}

// dialError explains a failed handshake.
func dialError(ctx context.Context, err error, ep *endpoint, to string, timeout time.Duration) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("interrupted while connecting to %s", to)
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, handmade.ErrRefused):
		return fmt.Errorf("%s refused the connection (a RST answered our SYN): nothing listens on that port; start the server first (tcplab server ...): %w", to, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT), errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("no answer from %s within %v, still in SYN-SENT (our SYN got no SYN-ACK): is the server running, and does a route lead to it? (%s stack)", to, timeout, ep.name)
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return fmt.Errorf("no route to %s: %w", to, err)
	}
	return fmt.Errorf("connecting to %s: %w", to, err)
}
