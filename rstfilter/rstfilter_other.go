//go:build !linux

package rstfilter

import "errors"

var errLinux = errors.New("rstfilter: nftables needs Linux")

// Filter is only available on Linux.
type Filter struct{}

// Install fails: nftables is a Linux feature.
func Install(r Rule, opts ...Option) (*Filter, error) { return nil, errLinux }

// Sweep fails off Linux.
func Sweep(opts ...Option) ([]string, error) { return nil, errLinux }

// Dropped is never reached: Install fails off Linux.
func (f *Filter) Dropped() (uint64, error) { return 0, errLinux }

// Remove does nothing off Linux.
func (f *Filter) Remove() error { return nil }

// Describe is empty off Linux.
func (f *Filter) Describe() string { return "" }

// Table is empty off Linux.
func (f *Filter) Table() string { return "" }

// Owned is false off Linux.
func (f *Filter) Owned() bool { return false }

// Rule is empty off Linux.
func (f *Filter) Rule() Rule { return Rule{} }
