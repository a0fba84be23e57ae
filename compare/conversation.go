package compare

import (
	"fmt"
	"io"
	"net/netip"

	"github.com/google/gopacket/pcapgo"
)

// Conversation is one TCP connection as captured at one point, checked
// segment by segment: the handshake, sequence and acknowledgement
// arithmetic in each direction, unexpected RSTs, and the teardown. It is
// how paired runs (handmade client, netstack server and the reverse, each
// against Linux, an external stack's client) are judged from the capture
// alone, whatever the stacks report of themselves.
type Conversation struct {
	Client, Server netip.AddrPort
	Segments       int
	// Bytes carried each way: the text between the SYN and the FIN
	// (retransmissions counted once).
	BytesC2S, BytesS2C int64
	Retransmissions    int // segments whose text or FIN was sent before
	Handshake          bool
	// ClosedC2S and ClosedS2C are set when that direction's FIN was
	// sent and acknowledged.
	ClosedC2S, ClosedS2C bool
	RSTs                 int
	// Problems lists every departure found, in capture order, each
	// naming the segment (its index in the capture) and the rule.
	Problems []string
}

// Clean reports whether the conversation opened, carried data, and closed
// on both sides with no RST and no problem.
func (c *Conversation) Clean() bool {
	return c.Handshake && c.ClosedC2S && c.ClosedS2C && c.RSTs == 0 && len(c.Problems) == 0
}

func (c *Conversation) String() string {
	return fmt.Sprintf("%v -> %v: %d segments, %d bytes up, %d down, %d retransmitted, handshake %v, closed %v/%v, %d RSTs, %d problems",
		c.Client, c.Server, c.Segments, c.BytesC2S, c.BytesS2C, c.Retransmissions, c.Handshake, c.ClosedC2S, c.ClosedS2C, c.RSTs, len(c.Problems))
}

// half is one direction of the connection: what its sender has sent.
type half struct {
	started bool
	isn     uint32
	max     uint32 // highest SEG.SEQ+SEG.LEN sent: SND.MAX
	fin     bool
	finSeq  uint32
	acked   uint32 // highest ACK the other side sent for it
	hasAck  bool
}

// CheckConversation checks the first TCP connection in packets (raw IPv4
// packets in capture order; others are skipped): it opens with the
// client's SYN.
func CheckConversation(packets [][]byte) *Conversation {
	c := &Conversation{}
	var up, down half // up: client -> server
	problem := func(i int, format string, args ...any) {
		c.Problems = append(c.Problems, fmt.Sprintf("segment %d: ", i)+fmt.Sprintf(format, args...))
	}
	for i, p := range packets {
		s, err := parse(p)
		if err != nil {
			continue
		}
		if !c.Client.IsValid() {
			if s.Flags&(SYN|ACK) != SYN {
				continue // before the connection: not ours to judge
			}
			c.Client, c.Server = s.Src, s.Dst
		}
		var from, to *half
		switch {
		case s.Src == c.Client && s.Dst == c.Server:
			from, to = &up, &down
		case s.Src == c.Server && s.Dst == c.Client:
			from, to = &down, &up
		default:
			continue
		}
		c.Segments++
		if !s.ChecksumOK {
			problem(i, "bad TCP checksum (RFC 9293 §3.1, MUST-2): %s", s)
			continue
		}
		if s.Flags&RST != 0 {
			c.RSTs++
			problem(i, "RST: %s", s)
			continue
		}
		if s.Flags&SYN != 0 {
			if from.started && s.Seq != from.isn {
				problem(i, "a second SYN with another ISN (%d, was %d)", s.Seq, from.isn)
			}
			if !from.started {
				from.started, from.isn, from.max = true, s.Seq, s.Seq+1
			}
			if from == &down && (s.Flags&ACK == 0 || s.Ack != up.isn+1) {
				problem(i, "the SYN-ACK acknowledges %d, want the client's ISN+1 (RFC 9293 §3.5)", s.Ack-up.isn)
			}
		}
		if !from.started {
			problem(i, "a segment before this side's SYN: %s", s)
			continue
		}
		// Sequence space this segment occupies, relative to the ISN.
		end := s.Seq + s.Len()
		if s.Len() > 0 && s.Flags&SYN == 0 {
			if seqLT(s.Seq, from.isn+1) {
				problem(i, "text before the ISN+1 (seq %d relative)", int32(s.Seq-from.isn))
			}
			if seqLT(s.Seq, from.max) {
				c.Retransmissions++
			}
			if from.fin && seqLT(from.finSeq, end-1) {
				problem(i, "text beyond the FIN already sent at %d", from.finSeq-from.isn)
			}
		}
		if s.Flags&FIN != 0 {
			fs := end - 1
			if from.fin && fs != from.finSeq {
				problem(i, "FIN at %d, an earlier one was at %d", fs-from.isn, from.finSeq-from.isn)
			}
			from.fin, from.finSeq = true, fs
		}
		if seqLT(from.max, end) {
			from.max = end
		}
		if s.Flags&ACK != 0 {
			if !to.started {
				problem(i, "ACK before the other side's SYN")
			} else {
				if seqLT(to.max, s.Ack) {
					problem(i, "acknowledges %d, beyond what the other side sent (%d) (RFC 9293 §3.10.7.4, fifth check)", s.Ack-to.isn, to.max-to.isn)
				}
				if !to.hasAck || seqLT(to.acked, s.Ack) {
					to.acked, to.hasAck = s.Ack, true
				}
			}
		} else if s.Flags&SYN == 0 {
			problem(i, "no ACK flag after the handshake (RFC 9293 §3.10.7.4: every segment but the first SYN carries it)")
		}
		// Each SYN acknowledged by the other side.
		if up.started && down.started && up.hasAck && seqLE(up.isn+1, up.acked) && down.hasAck && seqLE(down.isn+1, down.acked) {
			c.Handshake = true
		}
	}
	count := func(h half) int64 {
		if !h.started {
			return 0
		}
		last := h.max
		if h.fin {
			last = h.finSeq
		}
		return int64(last - h.isn - 1)
	}
	c.BytesC2S, c.BytesS2C = count(up), count(down)
	c.ClosedC2S = up.fin && down.started && up.hasAck && seqLE(up.finSeq+1, up.acked)
	c.ClosedS2C = down.fin && up.started && down.hasAck && seqLE(down.finSeq+1, down.acked)
	if c.Client.IsValid() {
		if !c.Handshake {
			c.Problems = append(c.Problems, "the three-way handshake did not complete")
		}
		if !c.ClosedC2S || !c.ClosedS2C {
			c.Problems = append(c.Problems, fmt.Sprintf("the close is incomplete: client FIN sent and acknowledged %v, server FIN %v", c.ClosedC2S, c.ClosedS2C))
		}
	} else {
		c.Problems = append(c.Problems, "no SYN opens a connection in the capture")
	}
	return c
}

// CheckCapture reads a LINKTYPE_RAW pcap (as tcplab's taps write) and
// checks its first connection.
func CheckCapture(r io.Reader) (*Conversation, error) {
	pkts, err := ReadCapture(r)
	if err != nil {
		return nil, err
	}
	return CheckConversation(pkts), nil
}

// CheckConversations checks every connection in packets, in the order
// their first SYN appears: packets are grouped by their pair of
// endpoints (either direction), and each group is judged as
// CheckConversation judges one.
func CheckConversations(packets [][]byte) []*Conversation {
	type key [2]netip.AddrPort
	groups := map[key][][]byte{}
	var order []key
	for _, p := range packets {
		s, err := parse(p)
		if err != nil {
			continue
		}
		k := key{s.Src, s.Dst}
		if _, ok := groups[k]; !ok {
			if _, rev := groups[key{s.Dst, s.Src}]; rev {
				k = key{s.Dst, s.Src}
			} else if s.Flags&(SYN|ACK) != SYN {
				continue // a connection whose SYN was not captured
			} else {
				order = append(order, k)
			}
		}
		groups[k] = append(groups[k], p)
	}
	var out []*Conversation
	for _, k := range order {
		out = append(out, CheckConversation(groups[k]))
	}
	return out
}

// ReadCapture reads the IPv4 packets of a LINKTYPE_RAW pcap (as tcplab's
// taps write).
func ReadCapture(r io.Reader) ([][]byte, error) {
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		return nil, err
	}
	var pkts [][]byte
	for {
		data, _, err := pr.ReadPacketData()
		if err == io.EOF {
			return pkts, nil
		}
		if err != nil {
			return pkts, err
		}
		pkts = append(pkts, data)
	}
}
