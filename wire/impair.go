package wire

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Impairment describes what the in-memory wire does to the packets of one
// direction. The zero value is a clean wire.
type Impairment struct {
	Loss, Dup, Reorder, Corrupt float64       // fractions 0..1 of packets in this direction
	Delay, Jitter               time.Duration // fixed delay plus uniform jitter in [0, Jitter)
	Rate                        uint64        // bits per second, 0 = unlimited
}

// IsZero reports whether i leaves packets untouched (a clean wire).
func (i Impairment) IsZero() bool { return i == Impairment{} }

// Validate reports fractions outside [0, 1] and negative durations.
func (i Impairment) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"loss", i.Loss}, {"dup", i.Dup}, {"reorder", i.Reorder}, {"corrupt", i.Corrupt}} {
		if !(f.v >= 0 && f.v <= 1) { // also catches NaN
			return fmt.Errorf("wire: impairment %s=%v: want a fraction in [0, 1]", f.name, f.v)
		}
	}
	if i.Delay < 0 {
		return fmt.Errorf("wire: impairment delay=%v: must not be negative", i.Delay)
	}
	if i.Jitter < 0 {
		return fmt.Errorf("wire: impairment jitter=%v: must not be negative", i.Jitter)
	}
	return nil
}

// String renders i like "loss=5% dup=1% delay=10ms jitter=2ms rate=100Mbit";
// a clean impairment is "clean".
func (i Impairment) String() string {
	if i.IsZero() {
		return "clean"
	}
	var parts []string
	pct := func(name string, f float64) {
		if f != 0 {
			parts = append(parts, name+"="+strconv.FormatFloat(f*100, 'g', 6, 64)+"%")
		}
	}
	pct("loss", i.Loss)
	pct("dup", i.Dup)
	pct("reorder", i.Reorder)
	pct("corrupt", i.Corrupt)
	if i.Delay != 0 {
		parts = append(parts, "delay="+i.Delay.String())
	}
	if i.Jitter != 0 {
		parts = append(parts, "jitter="+i.Jitter.String())
	}
	if i.Rate != 0 {
		parts = append(parts, "rate="+FormatRate(i.Rate))
	}
	return strings.Join(parts, " ")
}

var rateUnits = []struct {
	name string
	mult uint64
}{
	{"tbit", 1e12},
	{"gbit", 1e9},
	{"mbit", 1e6},
	{"kbit", 1e3},
	{"bit", 1},
}

const rateUnitsHelp = `accepted units (decimal, case-insensitive): bit, kbit, Mbit, Gbit, Tbit; a plain number is bits per second (e.g. "100Mbit", "2.5Gbit", "1000000")`

// ParseRate parses a rate in bits per second: "100Mbit", "1Gbit", "500kbit",
// "2.5Gbit", "64bit" or a plain "1000000". Units are decimal (k = 1000) and
// case-insensitive. The result must be a whole number of bits per second.
func ParseRate(s string) (uint64, error) {
	bad := func(why string) (uint64, error) {
		return 0, fmt.Errorf("wire: bad rate %q: %s; %s", s, why, rateUnitsHelp)
	}
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return bad("empty")
	}
	mult := uint64(1)
	for _, u := range rateUnits {
		if strings.HasSuffix(t, u.name) {
			mult = u.mult
			t = strings.TrimSpace(strings.TrimSuffix(t, u.name))
			break
		}
	}
	intPart, fracPart, hasDot := strings.Cut(t, ".")
	if intPart == "" && fracPart == "" {
		return bad("missing number")
	}
	if !allDigits(intPart) || !allDigits(fracPart) || (hasDot && fracPart == "") {
		return bad("not a number with a known unit")
	}
	fracPart = strings.TrimRight(fracPart, "0")
	var whole uint64
	if intPart != "" {
		v, err := strconv.ParseUint(intPart, 10, 64)
		if err != nil {
			return bad("too large")
		}
		whole = v
	}
	hi, total := bits.Mul64(whole, mult)
	if hi != 0 {
		return bad("too large")
	}
	if fracPart != "" {
		// value = frac * mult / 10^len(frac), which must be whole.
		if len(fracPart) > 12 {
			return bad("not a whole number of bits per second")
		}
		f, _ := strconv.ParseUint(fracPart, 10, 64)
		den := uint64(math.Pow10(len(fracPart)))
		fh, fl := bits.Mul64(f, mult)
		if fh >= den { // cannot happen for f < den, kept for safety
			return bad("too large")
		}
		q, r := bits.Div64(fh, fl, den)
		if r != 0 {
			return bad("not a whole number of bits per second")
		}
		var carry uint64
		total, carry = bits.Add64(total, q, 0)
		if carry != 0 {
			return bad("too large")
		}
	}
	return total, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatRate renders bps exactly with the largest unit it reaches:
// 100000000 is "100Mbit", 2500000000 is "2.5Gbit", 999 is "999bit".
// ParseRate(FormatRate(x)) == x.
func FormatRate(bps uint64) string {
	names := map[uint64]string{1e12: "Tbit", 1e9: "Gbit", 1e6: "Mbit", 1e3: "kbit", 1: "bit"}
	for _, u := range rateUnits {
		if bps < u.mult && u.mult != 1 {
			continue
		}
		s := strconv.FormatUint(bps/u.mult, 10)
		if frac := bps % u.mult; frac != 0 {
			digits := len(strconv.FormatUint(u.mult, 10)) - 1
			fs := strconv.FormatUint(frac, 10)
			fs = strings.Repeat("0", digits-len(fs)) + fs
			s += "." + strings.TrimRight(fs, "0")
		}
		return s + names[u.mult]
	}
	return "0bit" // unreachable
}
