package tun

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"tcplab/wire"
)

// seqpacketDevice is a Device whose file is one end of a SOCK_SEQPACKET
// socket pair instead of a TUN: it keeps packet boundaries, is pollable
// like the TUN file, and needs no privilege. The other end is returned.
func seqpacketDevice(t *testing.T) (*Device, *os.File) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	d := &Device{name: "seqpacket", mtu: DefaultMTU, f: os.NewFile(uintptr(fds[0]), "seqpacket-dev")}
	peer := os.NewFile(uintptr(fds[1]), "seqpacket-peer")
	t.Cleanup(func() { d.Close(); peer.Close() })
	return d, peer
}

func TestReadPacketSkipsAndTruncates(t *testing.T) {
	d, peer := seqpacketDevice(t)
	v6 := make([]byte, 48)
	v6[0] = 0x60
	v4 := make([]byte, 60)
	v4[0] = 0x45
	for _, p := range [][]byte{v6, v4, v6, v4} {
		if _, err := peer.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b := make([]byte, 1500)
	if n, err := d.ReadPacket(ctx, b); err != nil || n != 60 || b[0] != 0x45 {
		t.Fatalf("ReadPacket = %d, %v, first byte %#x; want 60, nil, 0x45", n, err, b[0])
	}
	if n, err := d.ReadPacket(ctx, b[:20]); !errors.Is(err, wire.ErrTruncated) || n != 20 {
		t.Fatalf("ReadPacket into 20 bytes = %d, %v; want 20, ErrTruncated", n, err)
	}
	if got := d.Skipped(); got != 2 {
		t.Errorf("Skipped() = %d; want 2", got)
	}
	big := make([]byte, maxPacket) // read directly into the caller's buffer
	peer.Write(v4)
	if n, err := d.ReadPacket(ctx, big); err != nil || n != 60 {
		t.Fatalf("ReadPacket into %d bytes = %d, %v; want 60, nil", len(big), n, err)
	}
}

func TestReadPacketCancelThenRead(t *testing.T) {
	d, peer := seqpacketDevice(t)
	b := make([]byte, 1500)
	for i := range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%5)*time.Millisecond)
		_, err := d.ReadPacket(ctx, b)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("idle read %d: %v; want DeadlineExceeded", i, err)
		}
	}
	// No stale deadline: a read with a live context waits (nothing for
	// 100 ms), then takes the packet.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type res struct {
		n   int
		err error
	}
	got := make(chan res, 1)
	go func() {
		n, err := d.ReadPacket(ctx, b)
		got <- res{n, err}
	}()
	select {
	case r := <-got:
		t.Fatalf("ReadPacket after cancelled reads returned at once: %d, %v", r.n, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	peer.Write([]byte{0x45, 0, 0, 20})
	if r := <-got; r.err != nil || r.n != 4 {
		t.Fatalf("ReadPacket after cancelled reads = %d, %v; want 4, nil", r.n, r.err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadPacket(ctx, b); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadPacket after Close: %v; want net.ErrClosed", err)
	}
}
