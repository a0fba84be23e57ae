package wire

import (
	"context"
	"testing"
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
