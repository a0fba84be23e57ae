// Package upload is the receiving end of a bulk upload: accept one
// connection on a net.Listener, read it to the peer's FIN, and say how
// many octets came, their SHA-256 and when the end came. The paired runs,
// the throughput bench and the tests over every link share it.
package upload

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"net"
	"time"
)

// Result is what one upload delivered.
type Result struct {
	// N octets were read, Sum their SHA-256 (zero when not hashed), End
	// when the end of the stream (EOF) or the error came.
	N   int64
	Sum [32]byte
	End time.Time
	// Err is why the upload did not end with the peer's FIN: accept's
	// error, a read error, or ctx ending.
	Err error
	// Conn is the accepted connection, already closed (nil if accept
	// failed): for what a stack can still say of it (handmade's
	// WaitClosed).
	Conn net.Conn
}

// Receive accepts one connection on ln and reads it to EOF in the
// background, hashing what it reads when hashed is set (a bench that
// measures speed leaves it off). ctx ending closes the connection, which
// ends the read with an error. The result comes on the channel once the
// connection is closed.
func Receive(ctx context.Context, ln net.Listener, hashed bool) <-chan Result {
	out := make(chan Result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			out <- Result{Err: fmt.Errorf("accept: %w", err), End: time.Now()}
			return
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
		var w io.Writer = io.Discard
		var h hash.Hash
		if hashed {
			h = sha256.New()
			w = h
		}
		n, err := io.Copy(w, c)
		r := Result{N: n, End: time.Now(), Conn: c}
		c.Close()
		if h != nil {
			copy(r.Sum[:], h.Sum(nil))
		}
		if err != nil {
			r.Err = fmt.Errorf("read after %d octets: %w", n, err)
		} else if ctx.Err() != nil {
			r.Err = ctx.Err()
		}
		out <- r
	}()
	return out
}
