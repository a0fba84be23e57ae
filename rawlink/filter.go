package rawlink

import (
	"net/netip"

	"golang.org/x/net/bpf"
)

// snapLen is what the filter keeps of a frame it accepts: more than the
// largest IPv4 packet plus its Ethernet header, so a GRO-merged frame
// arrives whole.
const snapLen = 1 << 18

// Ethernet header fields and EtherTypes (IEEE 802.3, RFC 894).
const (
	ethHdrLen     = 14
	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
)

// filterProgram is the classic BPF program attached to the socket before it
// is bound: it keeps ARP frames, and IPv4 frames whose destination address
// is addr; it drops everything else, including frames too short to hold the
// fields it reads (a load beyond the frame ends the program with 0).
func filterProgram(addr netip.Addr) []bpf.Instruction {
	a := addr.As4()
	dst := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	const accept, reject = 8, 9
	return []bpf.Instruction{
		/* 0 */ bpf.LoadAbsolute{Off: 12, Size: 2}, // EtherType
		/* 1 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: etherTypeARP, SkipTrue: accept - 2},
		/* 2 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: etherTypeIPv4, SkipFalse: reject - 3},
		/* 3 */ bpf.LoadAbsolute{Off: ethHdrLen, Size: 1}, // version and IHL
		/* 4 */ bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		/* 5 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x40, SkipFalse: reject - 6},
		/* 6 */ bpf.LoadAbsolute{Off: ethHdrLen + 16, Size: 4}, // IPv4 destination
		/* 7 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: dst, SkipFalse: reject - 8},
		/* 8 */ bpf.RetConstant{Val: snapLen},
		/* 9 */ bpf.RetConstant{Val: 0},
	}
}
