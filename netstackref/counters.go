package netstackref

import "fmt"

// Counters is a snapshot of the stack's counters.
type Counters struct {
	// ChecksumErrors is Stats().TCP.ChecksumErrors: segments dropped for a
	// bad TCP checksum (counted once a segment reaches an endpoint,
	// listening ones included).
	ChecksumErrors uint64
	// InvalidSegments is Stats().TCP.InvalidSegmentsReceived: segments that
	// failed to parse (bad data offset, too short).
	InvalidSegments uint64
	// L4Malformed is Stats().NICs.MalformedL4RcvdPackets: transport
	// packets too short to carry ports, and TCP segments to a port with no
	// endpoint that fail to parse or have a bad checksum. gVisor checks
	// those checksums too (and sends no RST), but does not count them in
	// TCP.ChecksumErrors.
	L4Malformed uint64
	// ResetsSent is Stats().TCP.ResetsSent.
	ResetsSent uint64
	// ResetsReceived is Stats().TCP.ResetsReceived.
	ResetsReceived uint64
	// Retransmits is Stats().TCP.Retransmits: all retransmitted segments.
	Retransmits uint64
	// SegmentsSent is Stats().TCP.SegmentsSent (retransmits included).
	SegmentsSent uint64
	// SegmentsReceived is Stats().TCP.ValidSegmentsReceived: segments that
	// parsed and passed the checksum.
	SegmentsReceived uint64
	// FastRetransmits is Stats().TCP.FastRetransmit.
	FastRetransmits uint64
	// Timeouts is Stats().TCP.Timeouts: RTO expiries.
	Timeouts uint64
	// FastRecovery, SACKRecovery and TLPRecovery are Stats().TCP's counts
	// of how losses were recovered: NewReno's fast recovery, SACK-based
	// recovery, and a tail loss probe. SpuriousRecovery and
	// SpuriousRTORecovery count recoveries gVisor found unnecessary (it
	// detects them, RFC 3522, and undoes no window); DSACKSegments is
	// SegmentsAckedWithDSACK. They let a sender's recovery be compared
	// with handmade's Counters (FastRetransmits, Timeouts, Undos, ...).
	FastRecovery, SACKRecovery, TLPRecovery uint64
	SpuriousRecovery, SpuriousRTORecovery   uint64
	DSACKSegments                           uint64

	// IPMalformed is Stats().IP.MalformedPacketsReceived.
	IPMalformed uint64
	// IPInvalidDestination is Stats().IP.InvalidDestinationAddressesReceived:
	// packets for an address the stack does not own.
	IPInvalidDestination uint64

	// LinkDrops is outbound packets lost between gVisor and the link:
	// packets channel.Endpoint could not queue (it reports them only
	// through a short WritePackets count, which we count), plus
	// Stats().NICs.TxPacketsDroppedNoBufferSpace (0 with channel.Endpoint
	// of this version, kept in case that changes), plus packets the
	// outbound pump failed to write to the link.
	LinkDrops uint64
	// InboundNonIPv4 is packets from the link not injected because they
	// were empty or their version nibble was not 4.
	InboundNonIPv4 uint64
	// InboundTruncated is packets the link reported as truncated
	// (wire.ErrTruncated); not injected.
	InboundTruncated uint64
}

// Counters returns a snapshot of the stack's counters.
func (s *Stack) Counters() Counters {
	st := s.st.Stats()
	return Counters{
		ChecksumErrors:       st.TCP.ChecksumErrors.Value(),
		InvalidSegments:      st.TCP.InvalidSegmentsReceived.Value(),
		L4Malformed:          st.NICs.MalformedL4RcvdPackets.Value(),
		ResetsSent:           st.TCP.ResetsSent.Value(),
		ResetsReceived:       st.TCP.ResetsReceived.Value(),
		Retransmits:          st.TCP.Retransmits.Value(),
		SegmentsSent:         st.TCP.SegmentsSent.Value(),
		SegmentsReceived:     st.TCP.ValidSegmentsReceived.Value(),
		FastRetransmits:      st.TCP.FastRetransmit.Value(),
		Timeouts:             st.TCP.Timeouts.Value(),
		FastRecovery:         st.TCP.FastRecovery.Value(),
		SACKRecovery:         st.TCP.SACKRecovery.Value(),
		TLPRecovery:          st.TCP.TLPRecovery.Value(),
		SpuriousRecovery:     st.TCP.SpuriousRecovery.Value(),
		SpuriousRTORecovery:  st.TCP.SpuriousRTORecovery.Value(),
		DSACKSegments:        st.TCP.SegmentsAckedWithDSACK.Value(),
		IPMalformed:          st.IP.MalformedPacketsReceived.Value(),
		IPInvalidDestination: st.IP.InvalidDestinationAddressesReceived.Value(),
		LinkDrops:            s.queueDrops.Load() + st.NICs.TxPacketsDroppedNoBufferSpace.Value() + s.writeFailures.Load(),
		InboundNonIPv4:       s.inboundNonIPv4.Load(),
		InboundTruncated:     s.inboundTruncated.Load(),
	}
}

// String prints the counters on one line as "key=value ...", in field
// order.
func (c Counters) String() string {
	return fmt.Sprintf("checksum_errors=%d invalid_segments=%d l4_malformed=%d resets_sent=%d resets_received=%d "+
		"retransmits=%d segments_sent=%d segments_received=%d fast_retransmits=%d timeouts=%d "+
		"fast_recovery=%d sack_recovery=%d tlp_recovery=%d spurious_recovery=%d spurious_rto_recovery=%d dsack_segments=%d "+
		"ip_malformed=%d ip_invalid_destination=%d link_drops=%d inbound_non_ipv4=%d inbound_truncated=%d",
		c.ChecksumErrors, c.InvalidSegments, c.L4Malformed, c.ResetsSent, c.ResetsReceived,
		c.Retransmits, c.SegmentsSent, c.SegmentsReceived, c.FastRetransmits, c.Timeouts,
		c.FastRecovery, c.SACKRecovery, c.TLPRecovery, c.SpuriousRecovery, c.SpuriousRTORecovery, c.DSACKSegments,
		c.IPMalformed, c.IPInvalidDestination, c.LinkDrops, c.InboundNonIPv4, c.InboundTruncated)
}
