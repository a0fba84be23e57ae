package rawlink

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// FuzzFrame feeds arbitrary frames, with arbitrary packet types, auxdata
// status and reader buffer sizes, through the read path (Ethernet, ARP,
// IPv4 checks, checksum completion): it must never panic, deliver only
// what is an IPv4 packet to Addr, and send only well-formed ARP frames.
func FuzzFrame(f *testing.F) {
	add := func(pkttype, status byte, bufLen uint16, frame []byte) {
		f.Add(append([]byte{pkttype, status, byte(bufLen >> 8), byte(bufLen)}, frame...))
	}
	add(packetBroadcast, 0, 1500, arpIn(arpOpRequest, peerMAC, testPeer, testAddr, broadcastHW))
	add(packetHost, 0, 1500, arpIn(arpOpReply, peerMAC, testPeer, testAddr, testMAC))
	add(packetHost, 0, 1500, arpIn(arpOpReply, peerMAC, testAddr, testAddr, testMAC))
	add(packetHost, 0, 1500, ethFrame(testMAC, peerMAC, etherTypeIPv4, tcpPacket(testPeer, testAddr, 10)))
	add(packetHost, tpStatusCsumNotReady, 65535, ethFrame(testMAC, peerMAC, etherTypeIPv4, tcpPacket(testPeer, testAddr, 3000)))
	add(packetHost, tpStatusCsumNotReady, 1500, ethFrame(testMAC, peerMAC, etherTypeIPv4, udpPacket(testPeer, testAddr, 3)))
	add(packetHost, 0, 30, ethFrame(testMAC, peerMAC, etherTypeIPv4, tcpPacket(testPeer, testAddr, 100)))
	add(packetOutgoing, 0, 1500, ethFrame(peerMAC, testMAC, etherTypeIPv4, tcpPacket(testAddr, testPeer, 0)))
	add(packetHost, 0, 1500, []byte{1, 2, 3})

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 4 {
			return
		}
		l, rec := testLink(t, data[1]&0x80 != 0)
		l.log = nil
		m := rxMeta{pkttype: data[0] % 6, status: uint32(data[1] & 0x7f)}
		bufLen := int(binary.BigEndian.Uint16(data[2:4]))
		frame := data[4:]
		// A packet queued for the peer, so that ARP input has a
		// resolution to complete.
		l.WritePacket(t.Context(), udpPacket(testAddr, testPeer, 5))
		rec.take()

		p, ok, trunc := feed(l, frame, m, bufLen)
		if ok {
			if len(p) > bufLen {
				t.Fatalf("delivered %d octets into a %d-octet buffer", len(p), bufLen)
			}
			if !trunc {
				if len(p) < 20 || p[0]>>4 != 4 || int(binary.BigEndian.Uint16(p[2:4])) != len(p) {
					t.Fatalf("delivered a packet that is not whole IPv4: %x", p)
				}
				if netip.AddrFrom4([4]byte(p[16:20])) != testAddr {
					t.Fatalf("delivered a packet for %v", netip.AddrFrom4([4]byte(p[16:20])))
				}
			}
		}
		l.mu.Lock()
		l.arpTickLocked(time.Now().Add(time.Duration(data[1]) * 100 * time.Millisecond))
		l.mu.Unlock()
		for _, out := range rec.take() {
			if !bytes.Equal(out[6:12], testMAC[:]) {
				t.Fatalf("sent a frame from %x", out[6:12])
			}
			switch binary.BigEndian.Uint16(out[12:14]) {
			case etherTypeARP:
				a, err := parseARP(out[ethHdrLen:])
				if err != nil || len(out) != minFrame || a.sha != testMAC || a.spa != testAddr.As4() {
					t.Fatalf("sent a bad ARP frame %x (%v)", out, err)
				}
			case etherTypeIPv4:
				if !bytes.Equal(out[ethHdrLen:], udpPacket(testAddr, testPeer, 5)) {
					t.Fatalf("sent an IPv4 frame that was not written: %x", out)
				}
			default:
				t.Fatalf("sent a frame of EtherType %x", out[12:14])
			}
		}
	})
}
