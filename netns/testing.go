package netns

import "testing"

// ForTest skips t with the reason when devices cannot be built here, and
// otherwise returns a new namespace that t's Cleanup closes (registered
// first, so it runs after the cleanups that close devices in it).
func ForTest(t testing.TB) *Namespace {
	t.Helper()
	if err := CanBuild(); err != nil {
		t.Skip(err)
	}
	ns, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	return ns
}
