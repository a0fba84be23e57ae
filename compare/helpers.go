package compare

import (
	"context"
	"time"
)

// Handshake is the bench's active open to a DUT listener (RFC 9293 §3.5,
// Figure 7): SYN with SYNOptions, the DUT's SYN-ACK (ack ISS+1), ACK. It
// returns the SYN-ACK. A *Mismatch means the DUT did not answer as a
// listener must.
func (c *Conn) Handshake(ctx context.Context, timeout time.Duration) (*Segment, error) {
	if _, err := c.Send(ctx, TCP{Flags: Ptr(SYN)}); err != nil {
		return nil, err
	}
	synAck, err := c.Expect(TCP{Flags: Ptr(SYN | ACK), Ack: Ptr(c.ISS() + 1)}, timeout)
	if err != nil {
		return nil, err
	}
	if _, err := c.Send(ctx, TCP{Flags: Ptr(ACK)}); err != nil {
		return nil, err
	}
	return synAck, nil
}

// AcceptFrom answers the DUT's active open on a listening bench connection
// (Bench.Listen): it waits for the DUT's SYN, sends a SYN-ACK whose
// options are SYNOptions less those the SYN did not offer (RFC 7323 §2.2,
// §3.2; RFC 2018 §2), and waits for the DUT's ACK of it. It returns the
// SYN and the ACK.
func (c *Conn) AcceptFrom(ctx context.Context, timeout time.Duration) (syn, ack *Segment, err error) {
	syn, err = c.Expect(TCP{Flags: Ptr(SYN)}, timeout)
	if err != nil {
		return nil, nil, err
	}
	opts := c.SYNOptions
	if syn.Options.WS == nil {
		opts.WS = nil
	}
	if syn.Options.TS == nil {
		opts.TS = nil
	}
	if !syn.Options.SACKOK {
		opts.SACKOK = false
	}
	if opts.TS != nil {
		c.b.mu.Lock()
		opts.TS = &Timestamps{Val: c.tsVal(), Ecr: syn.Options.TS.Val}
		c.b.mu.Unlock()
	}
	if _, err := c.Send(ctx, TCP{Flags: Ptr(SYN | ACK), Options: &opts}); err != nil {
		return nil, nil, err
	}
	ack, err = c.Expect(TCP{Flags: Ptr(ACK), Seq: Ptr(syn.Seq + 1), Ack: Ptr(c.ISS() + 1)}, timeout)
	if err != nil {
		return syn, nil, err
	}
	return syn, ack, nil
}

// OutOfWindowSeq is a sequence number k octets beyond the right edge of
// the DUT's receive window (RCV.NXT+RCV.WND+k, from its latest ACK); k = 0
// is the edge itself, the first octet the window does not cover.
func (c *Conn) OutOfWindowSeq(k uint32) uint32 { return c.DUTWindowEdge() + k }

// InWindowSeq is SND.NXT+k: in the DUT's window for 0 < k < its window,
// and not exactly RCV.NXT.
func (c *Conn) InWindowSeq(k uint32) uint32 { return c.SndNxt() + k }

// UnacceptableAck acknowledges k octets the DUT never sent
// (SND.NXT+k in the DUT's terms).
func (c *Conn) UnacceptableAck(k uint32) uint32 { return c.RcvNxt() + k }

// RelSeq renders v relative to the bench's ISN, RelIRS relative to the
// DUT's: for detail text.
func (c *Conn) RelSeq(v uint32) uint32 { return v - c.ISS() }

// RelIRS renders v relative to the DUT's ISN.
func (c *Conn) RelIRS(v uint32) uint32 { return v - c.IRS() }
