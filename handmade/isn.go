package handmade

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"
)

// isnGenerator picks initial sequence numbers per RFC 6528 §3:
// ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where
// M is a clock ticking every 4 microseconds (RFC 9293 §3.4.1) and F a keyed
// hash. SHA-256 stands in for the MD5 the RFC suggests.
type isnGenerator struct {
	key   [32]byte
	epoch time.Time
}

func newISNGenerator(key []byte, epoch time.Time) *isnGenerator {
	g := &isnGenerator{epoch: epoch}
	if len(key) > 0 {
		g.key = sha256.Sum256(key)
	} else {
		rand.Read(g.key[:])
	}
	return g
}

func (g *isnGenerator) ISN(local, remote netip.AddrPort, now time.Time) Seq {
	m := uint32(now.Sub(g.epoch) / (4 * time.Microsecond))
	return Seq(m + g.hash(local, remote, 0))
}

// tsClock is the timestamp clock of a connection: RFC 7323 §5.4 asks for
// a random offset per connection and RECOMMENDS one from a keyed hash of
// the 4-tuple, like RFC 6528's ISNs, with one clock under them all: then
// every incarnation of a 4-tuple sends later TSvals than the one before,
// which is what lets a SYN reopen a connection from TIME-WAIT (RFC 6191).
func (g *isnGenerator) tsClock(local, remote netip.AddrPort) (offset uint32, epoch time.Time) {
	return g.hash(local, remote, 1), g.epoch
}

// hash is F(localip, localport, remoteip, remoteport, secretkey), one per
// domain (0 ISNs, 1 timestamp offsets).
func (g *isnGenerator) hash(local, remote netip.AddrPort, domain byte) uint32 {
	h := sha256.New()
	h.Write([]byte{domain})
	h.Write(g.key[:])
	la, ra := local.Addr().As16(), remote.Addr().As16()
	h.Write(la[:])
	h.Write(ra[:])
	var ports [4]byte
	binary.BigEndian.PutUint16(ports[:], local.Port())
	binary.BigEndian.PutUint16(ports[2:], remote.Port())
	h.Write(ports[:])
	var sum [32]byte
	return binary.BigEndian.Uint32(h.Sum(sum[:0]))
}
