package wire

import (
	"context"
	"testing"
	"time"
)

func benchPipe(b *testing.B, cfg PipeConfig, size int) {
	a, z := Pipe(cfg)
	defer a.Close()
	p := tcpPacket(1, size-40)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			if err := a.WritePacket(ctx, p); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	buf := make([]byte, 1500)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		if _, err := z.ReadPacket(ctx, buf); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.ReportMetric(float64(b.N)*float64(size)*8/b.Elapsed().Seconds()/1e9, "Gbit/s")
}

func BenchmarkPipeClean1500(b *testing.B) { benchPipe(b, PipeConfig{}, 1500) }

func BenchmarkPipeImpaired1500(b *testing.B) {
	benchPipe(b, PipeConfig{AtoB: Impairment{Corrupt: 0.001, Jitter: 1}}, 1500)
}

// BenchmarkPipeDelayPingPong sends one packet at a time through a wire
// with a LAN's delay and waits for it, as stop-and-wait does; it reports
// how late, on average, the wire handed each packet over (late-µs), which
// is what the runtime's timer granularity would add without the spinning
// reader (about 1000 µs on an idle Linux process).
func BenchmarkPipeDelayPingPong(b *testing.B) {
	for _, d := range []time.Duration{100 * time.Microsecond, 5 * time.Millisecond} {
		b.Run(d.String(), func(b *testing.B) {
			a, z := Pipe(PipeConfig{AtoB: Impairment{Delay: d}})
			defer a.Close()
			p := tcpPacket(1, 100)
			buf := make([]byte, 1500)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := a.WritePacket(ctx, p); err != nil {
					b.Fatal(err)
				}
				if _, err := z.ReadPacket(ctx, buf); err != nil {
					b.Fatal(err)
				}
			}
			st := a.Stats()
			b.ReportMetric(float64(st.LateTotal.Microseconds())/float64(st.Delivered), "late-µs")
		})
	}
}
