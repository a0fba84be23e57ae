package netstackref

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
)

// SendAll writes all of payload to conn, then half-closes it (CloseWrite if
// conn has it, as gonet.TCPConn and *net.TCPConn do; otherwise Close), then
// reads until the peer's FIN (io.EOF), discarding anything read, so the
// run ends after a full close. It then closes conn. It works on any
// net.Conn.
func SendAll(conn net.Conn, payload []byte) (err error) {
	defer func() {
		if cerr := conn.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("send: close: %w", cerr)
		}
	}()
	for len(payload) > 0 {
		n, werr := conn.Write(payload)
		payload = payload[n:]
		if werr != nil {
			return fmt.Errorf("send: write (%d bytes left): %w", len(payload), werr)
		}
	}
	cw, ok := conn.(interface{ CloseWrite() error })
	if !ok {
		// No half-close: a full close sends our FIN; there is no FIN of
		// the peer's to wait for through a closed conn.
		return conn.Close()
	}
	if err := cw.CloseWrite(); err != nil {
		return fmt.Errorf("send: close write: %w", err)
	}
	if _, err := io.Copy(io.Discard, conn); err != nil {
		return fmt.Errorf("send: waiting for peer FIN: %w", err)
	}
	return nil
}

// ReceiveAll reads conn to EOF, streaming it through SHA-256, then closes
// conn. It returns the byte count and the digest.
func ReceiveAll(conn net.Conn) (n int64, sum [32]byte, err error) {
	h := sha256.New()
	n, err = io.Copy(h, conn)
	cerr := conn.Close()
	if err != nil {
		return n, sum, fmt.Errorf("receive: after %d bytes: %w", n, err)
	}
	if cerr != nil {
		return n, sum, fmt.Errorf("receive: close: %w", cerr)
	}
	copy(sum[:], h.Sum(nil))
	return n, sum, nil
}
