// Package interop holds the tests that run the hand-built stack against
// gVisor's netstack, its reference. They live apart from package handmade
// so that handmade's own test binary imports nothing from gVisor.
package interop
