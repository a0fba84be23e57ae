package main

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	"tcplab/netstackref"
	"tcplab/wire"
)

// benchConfig is the demo's configuration for a benchmark: 8 MiB each way.
func benchConfig(profile string, im wire.Impairment) demoConfig {
	return demoConfig{
		Seed: 1, Impairment: im, Payload: makePayload(8<<20, 1), ChunkSize: 1400,
		Client: netip.MustParseAddr(defaultClientAddr), Server: netip.MustParseAddrPort(defaultServerAddr + ":12345"),
		Timeout: 5 * time.Minute, Narration: io.Discard, Netstack: netstackref.DefaultOptions(), Profile: profile,
	}
}

// BenchmarkDemoProfiles runs the demo's two directions with 8 MiB each
// way, full profile then seed profile, and reports the ratio of their
// transfer times measured in the same iteration: the full profile should
// need at most a fifth of the seed profile's time on the demo's default
// wire (lanDelay each way, the article's two VMs on one LAN). On an ideal
// wire with no delay stop-and-wait costs only CPU, and the ratio is
// reported for comparison.
func BenchmarkDemoProfiles(b *testing.B) {
	for _, wc := range []struct {
		name string
		im   wire.Impairment
	}{{"lan-default", wire.Impairment{Delay: lanDelay}}, {"ideal", wire.Impairment{}}} {
		b.Run(wc.name, func(b *testing.B) {
			b.SetBytes(2 * 8 << 20)
			b.ReportAllocs()
			var full, seed time.Duration
			for b.Loop() {
				for _, p := range []struct {
					profile string
					total   *time.Duration
				}{{"full", &full}, {"seed", &seed}} {
					cfg := benchConfig(p.profile, wc.im)
					for _, name := range []string{runHandmadeToNetstack, runNetstackToHandmade} {
						r := runDirection(context.Background(), cfg, name)
						if !r.OK {
							b.Fatalf("%s %s: %s", p.profile, name, r.Error)
						}
						*p.total += time.Duration(r.DurationS * float64(time.Second))
					}
				}
			}
			b.ReportMetric(seed.Seconds()/full.Seconds(), "seed/full")
			b.ReportMetric(full.Seconds()/float64(b.N), "full-s/op")
			b.ReportMetric(seed.Seconds()/float64(b.N), "seed-s/op")
		})
	}
}
