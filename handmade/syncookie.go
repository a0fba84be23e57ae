package handmade

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"
)

// SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, the
// SYN-ACK carries all the state the connection needs in its ISS, and the
// stack keeps nothing until a valid ACK returns it. Layout of the ISS:
//
//	bits 31-27: t mod 32, t = now / cookiePeriod
//	bits 26-24: index of the MSS in cookieMSS
//	bits 23-0:  keyed hash of (t, 4-tuple, the client's ISN)
//
// Like Linux's, such a connection has no window scaling, timestamps or
// SACK: they cannot be encoded (RFC 4987 §3.6 names the limitation).
const cookiePeriod = 64 * time.Second

var cookieMSS = [8]uint16{216, 536, 1200, 1360, 1400, 1440, 1460, 8960}

func (g *isnGenerator) cookieHash(local, remote netip.AddrPort, clientISN Seq, t uint32) uint32 {
	h := sha256.New()
	h.Write(g.key[:])
	h.Write([]byte("syncookie"))
	la, ra := local.Addr().As16(), remote.Addr().As16()
	h.Write(la[:])
	h.Write(ra[:])
	var b [12]byte
	binary.BigEndian.PutUint16(b[0:], local.Port())
	binary.BigEndian.PutUint16(b[2:], remote.Port())
	binary.BigEndian.PutUint32(b[4:], uint32(clientISN))
	binary.BigEndian.PutUint32(b[8:], t)
	h.Write(b[:])
	var sum [32]byte
	return binary.BigEndian.Uint32(h.Sum(sum[:0])) & 0xffffff
}

func (g *isnGenerator) cookieTick(now time.Time) uint32 {
	return uint32(now.Sub(g.epoch) / cookiePeriod)
}

// cookie makes the ISS of a stateless SYN-ACK for syn.
func (g *isnGenerator) cookie(syn *Segment, now time.Time) Seq {
	mss := uint16(536) // RFC 9293 §3.7.1: the default when the SYN has none
	if syn.Options.HasMSS {
		mss = syn.Options.MSS
	}
	idx := 0
	for i, m := range cookieMSS {
		if m <= mss {
			idx = i
		}
	}
	t := g.cookieTick(now)
	return Seq(t%32<<27 | uint32(idx)<<24 | g.cookieHash(syn.Dst, syn.Src, syn.SEQ, t))
}

// checkCookie validates the ACK that completes a cookie handshake: SEG.ACK-1
// must be a cookie made for this 4-tuple and SEG.SEQ-1 within the last two
// periods. It returns the MSS the cookie encoded.
func (g *isnGenerator) checkCookie(ack *Segment, now time.Time) (mss uint16, ok bool) {
	c := uint32(ack.ACK.Add(^uint32(0)))
	cur := g.cookieTick(now)
	for age := uint32(0); age < 2 && age <= cur; age++ {
		t := cur - age
		if c>>27 != t%32 {
			continue
		}
		if c&0xffffff == g.cookieHash(ack.Dst, ack.Src, ack.SEQ.Add(^uint32(0)), t) {
			return cookieMSS[c>>24&7], true
		}
	}
	return 0, false
}

// sendCookieSYNACK answers syn statelessly (RFC 4987 §3.6).
func (s *Stack) sendCookieSYNACK(syn *Segment, now time.Time) {
	iss := s.isn.cookie(syn, now)
	r := Segment{Src: syn.Dst, Dst: syn.Src, SEQ: iss, ACK: syn.SEQ.Add(1), Flags: SYN | ACK,
		WND: uint16(min(s.cfg.RecvBuffer, 65535)), Options: Options{MSS: uint16(min(s.cfg.MSS, 65535)), HasMSS: true},
		Route: syn.Route.Return(syn.Src.Addr().As4(), syn.Dst.Addr().As4())} // RFC 9293 §3.9.2.1 (MUST-53)
	s.counters.SYNCookiesSent++
	s.sendStateless(&r)
}

// openFromCookie makes the TCB of a connection whose cookie came back: it
// starts in ESTABLISHED with what the cookie and the ACK say.
func openFromCookie(cfg *Config, ack *Segment, mss uint16, now time.Time) *TCB {
	t := newTCB(cfg, ack.Dst, ack.Src, ack.ACK.Add(^uint32(0)), now)
	t.passive = true
	t.takeRoute(ack) // RFC 9293 §3.9.2.1 (MUST-53): the SYN's route is not kept; the ACK's is
	t.IRS = ack.SEQ.Add(^uint32(0))
	t.RCV.NXT = ack.SEQ
	t.RCV.UP = ack.SEQ
	t.RCV.edge = t.RCV.NXT.Add(uint32(min(cfg.RecvBuffer, 65535)))
	t.peerMSS = int(mss)
	t.sndMSS = max(min(t.peerMSS, cfg.MSS)-t.ipOptionSpace(), 1)
	t.cc = t.newCC()
	t.SND.UNA = ack.ACK
	t.SND.NXT, t.retxNext = ack.ACK, ack.ACK
	t.SND.WND = uint32(ack.WND)
	t.SND.maxWND = t.SND.WND
	t.SND.WL1, t.SND.WL2 = ack.SEQ, ack.ACK
	t.State = Established
	t.established = true
	t.lastACKSent = t.RCV.NXT
	return t
}
