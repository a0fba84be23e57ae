// Package leakcheck fails a test that leaves goroutines running: a stack,
// a link or a wire whose Close does not stop every goroutine it started.
package leakcheck

import (
	"runtime"
	"testing"
	"time"
)

// Goroutines counts the goroutines running now. The check it returns
// fails t, with every goroutine's stack, if more are running when it is
// called; it first gives goroutines that have returned up to 5 s to be
// reaped, polling, so a passing check costs no wait.
func Goroutines(t testing.TB) (check func()) {
	base := runtime.NumGoroutine()
	return func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Fatalf("goroutine leak: %d running, %d before\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
			}
			runtime.Gosched()
			time.Sleep(time.Millisecond)
		}
	}
}
