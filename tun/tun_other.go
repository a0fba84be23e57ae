//go:build !linux

package tun

import (
	"fmt"
	"runtime"
)

// Open is implemented on Linux only.
func Open(cfg Config) (*Device, error) {
	return nil, fmt.Errorf("tun: not implemented on %s", runtime.GOOS)
}
