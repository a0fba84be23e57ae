//go:build !linux

package rawlink

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// sysLink has no socket off Linux.
type sysLink struct{}

// Open is implemented on Linux only: AF_PACKET is a Linux socket family.
func Open(cfg Config) (*Link, error) {
	return nil, fmt.Errorf("rawlink: AF_PACKET is Linux only; not implemented on %s", runtime.GOOS)
}

func (sysLink) recv(l *Link, ctx context.Context, buf []byte) ([]byte, int, rxMeta, error) {
	return nil, 0, rxMeta{}, l.errClosed()
}

func (sysLink) setReadDeadline(time.Time) error { return nil }
func (sysLink) pollKernelDrops(*Link)           {}
func (sysLink) close(*Link) error               { return nil }
