package throughput

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestMeasureSummarises(t *testing.T) {
	res := Measure(context.Background(), Options{
		Pairings: []Pairing{{Netstack, Netstack}, {Handmade, Netstack}},
		Profiles: []Profile{Profiles[0], Profiles[1]},
		Runs:     3, Size: 1 << 20, Duration: time.Second, Seed: 1,
	})
	if len(res) != 4 {
		t.Fatalf("%d results, want 2 pairings x 2 profiles", len(res))
	}
	for _, r := range res {
		if !r.OK || len(r.Runs) != 3 {
			t.Fatalf("%s/%s: ok %v, %d runs: %+v", r.Pairing, r.Profile, r.OK, len(r.Runs), r.Runs)
		}
		for _, run := range r.Runs {
			if run.Bytes != 1<<20 || run.Mbps <= 0 || run.CPUSeconds <= 0 {
				t.Errorf("%s/%s: run %+v", r.Pairing, r.Profile, run)
			}
		}
		if !(r.MinMbps <= r.MedianMbps && r.MedianMbps <= r.MaxMbps) {
			t.Errorf("%s/%s: median %v outside [%v, %v]", r.Pairing, r.Profile, r.MedianMbps, r.MinMbps, r.MaxMbps)
		}
		if r.CC != NewReno {
			t.Errorf("%s/%s: cc %q, want the default newreno", r.Pairing, r.Profile, r.CC)
		}
		if r.Pairing == "netstack->netstack" && r.RatioVsNetstack != 1 {
			t.Errorf("the baseline's ratio is %v, want 1", r.RatioVsNetstack)
		}
		if r.RatioVsNetstack <= 0 {
			t.Errorf("%s/%s: no ratio to the baseline", r.Pairing, r.Profile)
		}
	}
	// The lossy profile lost segments, and the senders retransmitted.
	var rt uint64
	for _, r := range res {
		if r.Profile == "lossy" {
			for _, run := range r.Runs {
				rt += run.Retransmissions
			}
		}
	}
	if rt == 0 {
		t.Error("1% loss and no retransmission in any lossy run")
	}
}

// Each family runs every pairing, labelled with its family, and is
// compared with netstack->netstack running the same family (issue #6:
// "handmade NewReno against netstack Reno, CUBIC against CUBIC").
func TestMeasureEachFamily(t *testing.T) {
	res := Measure(context.Background(), Options{
		Pairings: []Pairing{{Netstack, Netstack}, {Handmade, Netstack}},
		Profiles: []Profile{Profiles[0]},
		CC:       []string{NewReno, CUBIC},
		Runs:     1, Size: 1 << 20, Duration: time.Second, Seed: 1,
	})
	var got []string
	for _, r := range res {
		got = append(got, r.CC+" "+r.Pairing)
		if !r.OK || r.Baseline != "netstack->netstack" || r.RatioVsNetstack <= 0 {
			t.Errorf("%s %s: ok %v baseline %q ratio %v", r.CC, r.Pairing, r.OK, r.Baseline, r.RatioVsNetstack)
		}
	}
	want := []string{"newreno netstack->netstack", "newreno handmade->netstack", "cubic netstack->netstack", "cubic handmade->netstack"}
	if !slices.Equal(got, want) {
		t.Fatalf("results %q, want %q", got, want)
	}
}

// The ratio is to the baseline of the same link, profile and family.
func TestSummariseRatioPerFamily(t *testing.T) {
	run := func(mbps float64) []Run { return []Run{{Bytes: 1e6, Mbps: mbps, CPUSeconds: 1}} }
	res := summarise([]Result{
		{Pairing: "netstack->netstack", Client: Netstack, Server: Netstack, Link: "mem", Profile: "lossy", CC: NewReno, Runs: run(100)},
		{Pairing: "netstack->netstack", Client: Netstack, Server: Netstack, Link: "mem", Profile: "lossy", CC: CUBIC, Runs: run(200)},
		{Pairing: "handmade->netstack", Client: Handmade, Server: Netstack, Link: "mem", Profile: "lossy", CC: NewReno, Runs: run(150)},
		{Pairing: "handmade->netstack", Client: Handmade, Server: Netstack, Link: "mem", Profile: "lossy", CC: CUBIC, Runs: run(300)},
		{Pairing: "linux->handmade", Client: Linux, Server: Handmade, Link: "tun", Profile: "clean", CC: Kernel, Runs: run(50)},
		{Pairing: "linux->netstack", Client: Linux, Server: Netstack, Link: "tun", Profile: "clean", CC: Kernel, Runs: run(100)},
	})
	for i, want := range []float64{1, 1, 1.5, 1.5, 0.5, 1} {
		if res[i].RatioVsNetstack != want {
			t.Errorf("%s %s: ratio %v, want %v", res[i].CC, res[i].Pairing, res[i].RatioVsNetstack, want)
		}
	}
}

func TestForCC(t *testing.T) {
	o := Options{}.withDefaults().ForCC(CUBIC)
	if o.Handmade.CongestionControl != "cubic" || o.Netstack.CongestionControl != "cubic" {
		t.Errorf("cubic: handmade %q netstack %q", o.Handmade.CongestionControl, o.Netstack.CongestionControl)
	}
	o = o.ForCC(NewReno)
	if o.Handmade.CongestionControl != "newreno" || o.Netstack.CongestionControl != "reno" {
		t.Errorf("newreno: handmade %q netstack %q, want newreno and reno", o.Handmade.CongestionControl, o.Netstack.CongestionControl)
	}
	if k := o.ForCC(Kernel); k.Handmade.CongestionControl != "newreno" || k.Netstack != o.Netstack {
		t.Error("the kernel's family changed the in-process stacks'")
	}
}

// The lfn profile is found by name but is not run by default, and it
// leaves both stacks' send buffers at their defaults: what it measures
// is their own sizing.
func TestExtraProfiles(t *testing.T) {
	p, ok := LookupProfile("lfn")
	if !ok || p.Wire.Delay != 50*time.Millisecond || p.QueueLen == 0 || p.Buffers != 0 {
		t.Fatalf("lfn: %+v, %v", p, ok)
	}
	for _, d := range Profiles {
		if d.Name == "lfn" {
			t.Error("lfn is in the default profiles")
		}
	}
	def := Options{}.withDefaults()
	if opt := p.sized(def); opt.Handmade.SendBuffer != def.Handmade.SendBuffer || opt.Netstack != def.Netstack {
		t.Errorf("lfn changed the send buffers: handmade %d, netstack %+v", opt.Handmade.SendBuffer, opt.Netstack)
	}
}

// A profile's Buffers applies to both senders alike.
func TestProfileBuffers(t *testing.T) {
	p := Profile{Name: "big", Buffers: 8 << 20}
	opt := p.sized(Options{}.withDefaults())
	if opt.Handmade.SendBuffer != p.Buffers || opt.Netstack.SendBufferDefault != p.Buffers || opt.Netstack.SendBufferMax < p.Buffers {
		t.Errorf("buffers not applied alike: handmade %d, netstack %d/%d", opt.Handmade.SendBuffer, opt.Netstack.SendBufferDefault, opt.Netstack.SendBufferMax)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{[]float64{1}, 1}, {[]float64{1, 3}, 2}, {[]float64{1, 2, 9}, 2}, {[]float64{1, 2, 3, 10}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// BenchmarkPairings measures every pairing under every profile for
// benchstat: go test -bench Pairings -count 5 ./throughput | benchstat -
func BenchmarkPairings(b *testing.B) {
	for _, prof := range Profiles {
		for _, p := range Pairings {
			b.Run(prof.Name+"/"+p.Client+"-to-"+p.Server, func(b *testing.B) {
				const size = 8 << 20
				b.SetBytes(size)
				b.ReportAllocs()
				opt := Options{Size: size, Duration: time.Minute}.withDefaults()
				var rt uint64
				for i := 0; b.Loop(); i++ {
					run := transfer(context.Background(), p, prof, opt, int64(i), nil)
					if run.Error != "" {
						b.Fatal(run.Error)
					}
					rt += run.Retransmissions
				}
				b.ReportMetric(float64(rt)/float64(b.N), "retrans/op")
			})
		}
	}
}

// BenchmarkLFNPairings measures every pairing on the lfn profile (100
// ms RTT), where a receiver whose window does not grow past 1 MiB is
// held to 84 Mbit/s: go test -bench LFN -benchtime 1x ./throughput.
// Each transfer is 128 MiB, so slow start's first second weighs less.
func BenchmarkLFNPairings(b *testing.B) {
	prof, _ := LookupProfile("lfn")
	for _, p := range Pairings {
		b.Run(prof.Name+"/"+p.Client+"-to-"+p.Server, func(b *testing.B) {
			const size = 128 << 20
			b.SetBytes(size)
			b.ReportAllocs()
			opt := Options{Size: size, Duration: time.Minute}.withDefaults()
			for i := 0; b.Loop(); i++ {
				if run := transfer(context.Background(), p, prof, opt, int64(i), nil); run.Error != "" {
					b.Fatal(run.Error)
				}
			}
		})
	}
}

// BenchmarkTUNPairings measures the pairings against the Linux kernel over
// a TUN device (root only): go test -bench TUNPairings ./throughput.
func BenchmarkTUNPairings(b *testing.B) {
	if err := TUNAvailable(); err != nil {
		b.Skip("needs root and /dev/net/tun: ", err)
	}
	for _, p := range TUNPairings {
		b.Run("tun/"+p.Client+"-to-"+p.Server, func(b *testing.B) {
			const size = 8 << 20
			b.SetBytes(size)
			b.ReportAllocs()
			opt := Options{Size: size, Duration: time.Minute}.withDefaults()
			for b.Loop() {
				if run := transferTUN(context.Background(), p, opt, nil); run.Error != "" {
					b.Fatal(run.Error)
				}
			}
		})
	}
}
