//go:build !linux

package netns

import "errors"

// Namespace is only available on Linux.
type Namespace struct{}

// New fails: network namespaces are a Linux feature.
func New() (*Namespace, error) { return nil, errors.New("network namespaces need Linux") }

// Do is never reached: New fails off Linux.
func (ns *Namespace) Do(f func()) {}

// Close does nothing off Linux.
func (ns *Namespace) Close() {}

// CanBuild says why devices cannot be built here.
func CanBuild() error { return errors.New("needs Linux with root: TUN devices and network namespaces") }

// DevName returns prefix unchanged off Linux.
func DevName(prefix string) string { return prefix }
