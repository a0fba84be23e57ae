package handmade

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The scoreboard on its own: RFC 6675 §4's Update(), IsLost() and
// SetPipe() octet by octet. Sequence numbers start just below 2^32 so
// every range crosses the wrap.

const sbBase Seq = 0xfffff000

// at is the sequence number of segment i of 1000 octets from sbBase.
func at(i int) Seq { return sbBase.Add(uint32(i * 1000)) }

func blk(from, to int) SACKBlock { return SACKBlock{at(from), at(to)} }

// RFC 6675 §4 Update(): "the scoreboard MUST be updated ... marking each
// octet covered by a SACK block": ranges merge when they overlap or touch;
// what was SACKed already is not counted again; a D-SACK block below the
// cumulative ACK (RFC 2883 §4) and a block beyond SND.NXT change nothing.
func TestScoreboard_Update(t *testing.T) {
	var sb scoreboard
	una, nxt := at(0), at(20)
	steps := []struct {
		b     SACKBlock
		newly int
		want  []SACKBlock
	}{
		{blk(5, 6), 1000, []SACKBlock{blk(5, 6)}},
		{blk(8, 9), 1000, []SACKBlock{blk(5, 6), blk(8, 9)}},
		{blk(5, 6), 0, []SACKBlock{blk(5, 6), blk(8, 9)}},    // again
		{blk(6, 7), 1000, []SACKBlock{blk(5, 7), blk(8, 9)}}, // touches
		{blk(4, 10), 3000, []SACKBlock{blk(4, 10)}},          // covers both and the hole
		{blk(12, 14), 2000, []SACKBlock{blk(4, 10), blk(12, 14)}},
		{blk(1, 2), 1000, []SACKBlock{blk(1, 2), blk(4, 10), blk(12, 14)}},
		{SACKBlock{at(0).Add(^uint32(999)), at(0)}, 0, nil},                               // D-SACK below SND.UNA
		{blk(19, 21), 0, nil},                                                             // past SND.NXT
		{SACKBlock{at(9), at(3)}, 0, nil},                                                 // reversed
		{SACKBlock{at(-1), at(1)}, 1000, []SACKBlock{blk(0, 2), blk(4, 10), blk(12, 14)}}, // clipped at SND.UNA
	}
	for i, s := range steps {
		if got := sb.update(s.b, una, nxt, epoch); got != s.newly {
			t.Fatalf("step %d: %d octets newly SACKed, want %d", i, got, s.newly)
		}
		if s.want != nil && !slices.Equal(sb.sacked, s.want) {
			t.Fatalf("step %d: scoreboard %v, want %v", i, sb.sacked, s.want)
		}
	}
	// A cumulative ACK forgets what it covers, and trims a range it
	// splits.
	sb.advance(at(5))
	if want := []SACKBlock{{at(5), at(10)}, blk(12, 14)}; !slices.Equal(sb.sacked, want) {
		t.Fatalf("after ACK: %v, want %v", sb.sacked, want)
	}
	sb.advance(at(14))
	if !sb.empty() {
		t.Fatalf("after ACK of everything: %v", sb.sacked)
	}
}

// RFC 6675 §4 IsLost(SeqNum): "returns true when either DupThresh
// discontiguous SACKed sequences have arrived above 'SeqNum' or more than
// (DupThresh - 1) * SMSS bytes with sequence numbers greater than 'SeqNum'
// have been SACKed."
func TestScoreboard_IsLost(t *testing.T) {
	const smss = 1000
	var sb scoreboard
	una, nxt := at(0), at(30)
	sb.update(blk(1, 3), una, nxt, epoch) // two segments above 0: 2000 octets, not more than 2*SMSS
	if sb.isLost(at(0), 3, smss) {
		t.Fatal("lost with 2*SMSS SACKed above")
	}
	sb.update(SACKBlock{at(3), at(3).Add(1)}, una, nxt, epoch) // one octet more
	if !sb.isLost(at(0), 3, smss) {
		t.Fatal("not lost with 2*SMSS+1 SACKed above")
	}
	// Three discontiguous sequences of 100 octets each: lost by count.
	sb.reset()
	for _, i := range []int{2, 4, 6} {
		sb.update(SACKBlock{at(i), at(i).Add(100)}, una, nxt, epoch)
	}
	if !sb.isLost(at(0), 3, smss) || sb.isLost(at(3), 3, smss) {
		t.Fatal("three discontiguous sequences above: lost below the first only")
	}
	// Early Retransmit's smaller threshold (RFC 5827 §3.2).
	if !sb.isLost(at(5), 1, smss) {
		t.Fatal("DupThresh 1: one SACKed sequence above makes it lost")
	}
}

// lostBelow answers IsLost for every unSACKed octet: a brute-force check
// over random scoreboards, octet by octet.
func TestScoreboard_LostBelowIsIsLost(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 300; trial++ {
		var sb scoreboard
		una, nxt := sbBase, sbBase.Add(4000)
		for n := rng.IntN(6); n > 0; n-- {
			l := rng.IntN(4000)
			sb.update(SACKBlock{una.Add(uint32(l)), una.Add(uint32(l + 1 + rng.IntN(700)))}, una, nxt, epoch)
		}
		dt, smss := 1+rng.IntN(3), 100+rng.IntN(500)
		edge := sb.lostBelow(una, dt, smss)
		for s := una; s.LessThan(nxt); s = s.Add(1) {
			if sb.isSACKed(s) {
				continue
			}
			if got, want := s.LessThan(edge), sb.isLost(s, dt, smss); got != want {
				t.Fatalf("%v dt=%d smss=%d: octet +%d lost by lostBelow %v, by IsLost %v", sb.sacked, dt, smss, s.Sub(una), got, want)
			}
		}
	}
}

// RFC 6675 §4 SetPipe(), octet by octet: for each unSACKed octet S1
// between HighACK and HighData, "(a) If IsLost (S1) returns false: Pipe is
// incremented by 1 octet. (b) If S1 <= HighRxt: Pipe is incremented by 1
// octet."
func TestScoreboard_SetPipe(t *testing.T) {
	const smss = 1000
	var sb scoreboard
	una, nxt := at(0), at(10)
	// Segments 0..9 sent; 2, 3, 4 and 6 SACKed: 0 and 1 are lost (3 SACKed
	// segments above them), 5 is not (2 above: 6 is, and one range), 7..9
	// are in flight.
	for _, b := range []SACKBlock{blk(2, 5), blk(6, 7)} {
		sb.update(b, una, nxt, epoch)
	}
	// Nothing retransmitted (HighRxt = HighACK): segment 5 and 7..9.
	if p := sb.pipe(una, nxt, una, sb.lostBelow(una, 3, smss)); p != 4000 {
		t.Fatalf("pipe %d, want 4000", p)
	}
	// Segment 0 retransmitted (HighRxt = its last octet): +1000.
	if p := sb.pipe(una, nxt, at(1), sb.lostBelow(una, 3, smss)); p != 5000 {
		t.Fatalf("pipe %d, want 5000", p)
	}
	// Retransmitted up to 5, which was not lost: counted twice.
	if p := sb.pipe(una, nxt, at(6), sb.lostBelow(una, 3, smss)); p != 7000 {
		t.Fatalf("pipe %d, want 7000", p)
	}
	// The brute force definition agrees on random scoreboards.
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		sb.reset()
		una, nxt := sbBase, sbBase.Add(3000)
		for n := rng.IntN(5); n > 0; n-- {
			l := rng.IntN(3000)
			sb.update(SACKBlock{una.Add(uint32(l)), una.Add(uint32(l + 1 + rng.IntN(500)))}, una, nxt, epoch)
		}
		highRxt := una.Add(uint32(rng.IntN(3000)))
		want := 0
		for s := una; s.LessThan(nxt); s = s.Add(1) {
			if sb.isSACKed(s) {
				continue
			}
			if !sb.isLost(s, 3, 200) {
				want++
			}
			if s.LessThan(highRxt) {
				want++
			}
		}
		if got := sb.pipe(una, nxt, highRxt, sb.lostBelow(una, 3, 200)); got != want {
			t.Fatalf("%v highRxt +%d: pipe %d, want %d", sb.sacked, highRxt.Sub(una), got, want)
		}
	}
}

func TestScoreboard_Hole(t *testing.T) {
	var sb scoreboard
	una, nxt := at(0), at(10)
	sb.update(blk(2, 4), una, nxt, epoch)
	sb.update(blk(6, 10), una, nxt, epoch)
	for _, tc := range []struct {
		from       Seq
		start, end Seq
		ok         bool
	}{
		{at(0), at(0), at(2), true},
		{at(1), at(1), at(2), true},
		{at(2), at(4), at(6), true},
		{at(5), at(5), at(6), true},
		{at(6), 0, 0, false},
	} {
		s, e, ok := sb.hole(tc.from, nxt)
		if ok != tc.ok || ok && (s != tc.start || e != tc.end) {
			t.Errorf("hole from +%d: [+%d, +%d) %v, want [+%d, +%d) %v", tc.from.Sub(una), s.Sub(una), e.Sub(una), ok, tc.start.Sub(una), tc.end.Sub(una), tc.ok)
		}
	}
}

// RACK's rule (RFC 8985 §6.2) over the scoreboard: a hole is lost once a
// reordering window has passed since an octet above it was first SACKed;
// the edge moves up as the windows of higher ranges pass.
func TestScoreboard_LostByTime(t *testing.T) {
	var sb scoreboard
	una, nxt := at(0), at(20)
	reo := 5 * time.Millisecond
	sb.update(blk(2, 3), una, nxt, epoch)
	sb.update(blk(6, 7), una, nxt, epoch.Add(4*time.Millisecond))
	sb.update(blk(9, 10), una, nxt, epoch.Add(8*time.Millisecond))
	// Merging keeps the earliest time: [5, 7) was first SACKed at +4.
	sb.update(blk(5, 6), una, nxt, epoch.Add(8*time.Millisecond))
	for _, tc := range []struct {
		now  time.Duration
		edge Seq
		next time.Duration
	}{
		{0, una, 5 * time.Millisecond},
		{5 * time.Millisecond, at(2), 9 * time.Millisecond},
		{9 * time.Millisecond, at(5), 13 * time.Millisecond},
		{13 * time.Millisecond, at(9), 0},
	} {
		edge, next := sb.lostByTime(una, epoch.Add(tc.now), reo)
		wantNext := time.Time{}
		if tc.next != 0 {
			wantNext = epoch.Add(tc.next)
		}
		if edge != tc.edge || !next.Equal(wantNext) {
			t.Errorf("at +%v: edge +%d next %v, want +%d %v", tc.now, edge.Sub(una), next.Sub(epoch), tc.edge.Sub(una), tc.next)
		}
	}
}
