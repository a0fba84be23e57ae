package wire

import (
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	ok := []struct {
		in   string
		want uint64
	}{
		{"100Mbit", 100_000_000},
		{"1Gbit", 1_000_000_000},
		{"500kbit", 500_000},
		{"2.5Gbit", 2_500_000_000},
		{"1000000", 1_000_000},
		{"64bit", 64},
		{"100mbit", 100_000_000},
		{"100MBIT", 100_000_000},
		{" 10 Mbit ", 10_000_000},
		{"1.5kbit", 1500},
		{".5Mbit", 500_000},
		{"2Tbit", 2_000_000_000_000},
		{"0", 0},
		{"1.250Mbit", 1_250_000},
		{"18446744073709551615", 1<<64 - 1},
	}
	for _, c := range ok {
		got, err := ParseRate(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "Mbit", "fast", "100MB", "100Mbps", "-1Mbit", "1.5bit", "1.Mbit",
		"1e9", "0x10", "NaN", "inf", "1,5Mbit", "20000000000Gbit", "18446744073709551616", "1.2.3Gbit",
		"0.0000000000001Tbit"} {
		got, err := ParseRate(in)
		if err == nil {
			t.Errorf("ParseRate(%q) = %d, want an error", in, got)
			continue
		}
		if !strings.Contains(err.Error(), "Mbit") || !strings.Contains(err.Error(), "kbit") {
			t.Errorf("ParseRate(%q): error %q does not name the accepted units", in, err)
		}
	}
}

func TestFormatRate(t *testing.T) {
	for _, c := range []struct {
		in   uint64
		want string
	}{
		{0, "0bit"}, {1, "1bit"}, {999, "999bit"}, {1000, "1kbit"}, {1500, "1.5kbit"},
		{100_000_000, "100Mbit"}, {2_500_000_000, "2.5Gbit"}, {1_000_000_001, "1.000000001Gbit"},
		{3_000_000_000_000, "3Tbit"},
	} {
		if got := FormatRate(c.in); got != c.want {
			t.Errorf("FormatRate(%d) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, v := range []uint64{0, 1, 7, 1234, 1_000_001, 999_999_999_999, 1<<64 - 1, 123_456_789_012_345} {
		back, err := ParseRate(FormatRate(v))
		if err != nil || back != v {
			t.Errorf("round trip %d -> %q -> %d, %v", v, FormatRate(v), back, err)
		}
	}
}

func TestImpairmentString(t *testing.T) {
	if s := (Impairment{}).String(); s != "clean" {
		t.Fatalf("zero: %q", s)
	}
	im := Impairment{Loss: 0.05, Dup: 0.01, Delay: 10 * time.Millisecond, Jitter: 2 * time.Millisecond, Rate: 100_000_000}
	if got, want := im.String(), "loss=5% dup=1% delay=10ms jitter=2ms rate=100Mbit"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	im = Impairment{Reorder: 0.07, Corrupt: 0.001}
	if got, want := im.String(), "reorder=7% corrupt=0.1%"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if im.IsZero() || !(Impairment{}).IsZero() {
		t.Fatal("IsZero")
	}
	for _, bad := range []Impairment{{Loss: -0.1}, {Dup: 2}, {Delay: -1}, {Jitter: -1}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}
