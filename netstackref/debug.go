package netstackref

import (
	"fmt"
	"sort"
	"strings"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// endpointState is what Options.RecordState keeps of a TCP endpoint: the
// parts of tcp.TCPEndpointState that can be copied.
type endpointState struct {
	id         tcp.TCPEndpointID
	segTime    tcpip.MonotonicTime
	inner      tcp.TCPEndpointStateInner
	rcvBuf     tcp.TCPRcvBufState
	sndBufSize int
	sndBufUsed int
	sndClosed  bool
	sack       tcp.TCPSACKInfo
	rcv        tcp.TCPReceiverState
	snd        tcp.TCPSenderState
}

// record is the TCP probe of Options.RecordState: it keeps the newest
// state of each endpoint.
func (s *Stack) record(st *tcp.TCPEndpointState) {
	c := &endpointState{
		id: st.ID, segTime: st.SegTime, inner: st.TCPEndpointStateInner, rcvBuf: st.RcvBufState,
		sndBufSize: st.SndBufState.SndBufSize, sndBufUsed: st.SndBufState.SndBufUsed, sndClosed: st.SndBufState.SndClosed,
		sack: st.SACK, rcv: st.Receiver, snd: st.Sender,
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if s.states == nil {
		s.states = map[tcp.TCPEndpointID]*endpointState{}
	}
	s.states[st.ID] = c
}

// DebugDump describes the stack for a post-mortem: its counters, the
// outbound queue, and, with Options.RecordState, each TCP endpoint's state
// as it was after the last segment it processed.
func (s *Stack) DebugDump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "netstack %v: outbound queue %d/%d; %v\n", s.addr, s.ep.NumQueued(), QueueLen, s.Counters())
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if s.states == nil {
		b.WriteString("  (no endpoint state: Options.RecordState is off)\n")
		return b.String()
	}
	var ids []tcp.TCPEndpointID
	for id := range s.states {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].LocalPort < ids[j].LocalPort })
	for _, id := range ids {
		st := s.states[id]
		snd, rcv := &st.snd, &st.rcv
		fmt.Fprintf(&b, "endpoint %v:%d->%v:%d as of the last segment it processed (%v):\n", id.LocalAddress, id.LocalPort, id.RemoteAddress, id.RemotePort, st.segTime)
		fmt.Fprintf(&b, "  snd: UNA=%d NXT=%d WND=%d scale=%d cwnd=%d ssthresh=%d outstanding=%d sackedOut=%d dupAcks=%d RTO=%v srtt=%v closed=%v maxSentAck=%d lastSend=%v\n",
			snd.SndUna, snd.SndNxt, snd.SndWnd, snd.SndWndScale, snd.SndCwnd, snd.Ssthresh, snd.Outstanding, snd.SackedOut, snd.DupAckCount,
			snd.RTO, snd.RTTState.SRTT, snd.Closed, snd.MaxSentAck, snd.LastSendTime)
		fmt.Fprintf(&b, "  fast recovery: %+v\n  rack: %+v\n", snd.FastRecovery, snd.RACKState)
		fmt.Fprintf(&b, "  rcv: NXT=%d ACC=%d scale=%d pending=%d; rcvbuf %+v\n", rcv.RcvNxt, rcv.RcvAcc, rcv.RcvWndScale, rcv.PendingBufUsed, st.rcvBuf)
		fmt.Fprintf(&b, "  sndbuf: size=%d used=%d closed=%v\n  sack: sent %v received %v maxSACKed %d\n", st.sndBufSize, st.sndBufUsed, st.sndClosed, st.sack.Blocks, st.sack.ReceivedBlocks, st.sack.MaxSACKED)
		fmt.Fprintf(&b, "  inner: %+v\n", st.inner)
	}
	return b.String()
}
