package upload

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"testing"
	"time"
)

func TestReceive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback TCP here: ", err)
	}
	defer ln.Close()
	got := Receive(context.Background(), ln, true)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("the article's payload")
	c.Write(data)
	c.(*net.TCPConn).CloseWrite()
	r := <-got
	c.Close()
	if r.Err != nil || r.N != int64(len(data)) || r.Sum != sha256.Sum256(data) || r.Conn == nil || r.End.IsZero() {
		t.Fatalf("result %+v", r)
	}
}

// A context that ends closes the connection: the result says so.
func TestReceiveCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback TCP here: ", err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	got := Receive(ctx, ln, false)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("partial"))
	cancel()
	select {
	case r := <-got:
		if r.Err == nil || r.Sum != ([32]byte{}) {
			t.Fatalf("result %+v: want an error and no hash", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no result 10 s after the context ended")
	}
	ln.Close()
	if r := <-Receive(context.Background(), ln, false); !errors.Is(r.Err, net.ErrClosed) {
		t.Fatalf("accept on a closed listener: %v", r.Err)
	}
}
