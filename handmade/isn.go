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
	h := sha256.New()
	h.Write(g.key[:])
	la, ra := local.Addr().As16(), remote.Addr().As16()
	h.Write(la[:])
	h.Write(ra[:])
	var ports [4]byte
	binary.BigEndian.PutUint16(ports[:], local.Port())
	binary.BigEndian.PutUint16(ports[2:], remote.Port())
	h.Write(ports[:])
	var sum [32]byte
	f := binary.BigEndian.Uint32(h.Sum(sum[:0]))
	m := uint32(now.Sub(g.epoch) / (4 * time.Microsecond))
	return Seq(m + f)
}
