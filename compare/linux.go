package compare

import (
	"strings"
	"time"
)

// LinuxSysctl is one kernel setting the linux backend pins in the network
// namespace of every run, before the TUN device exists.
type LinuxSysctl struct {
	Key   string // as sysctl(8) names it: net.ipv4.tcp_sack
	Value string // as written to /proc/sys (tabs between the fields of a vector)
	Why   string
}

// LinuxSysctls is what the linux backend pins, packetdrill-style
// (defaults.sh) and as ../shared/CONFORMANCE.md asks: every setting that
// changes what a scenario sees. The values are Linux's documented
// defaults (Documentation/networking/ip-sysctl.rst), so the column shows
// the kernel as shipped, not as this host was tuned: a new namespace
// copies some of them from the host's (the congestion control and the
// buffer sizes). packetdrill pins the same keys but chooses production
// values (ECN off, TFO on for servers, five SYN retries); the scenarios
// compare against the RFC, and the defaults are the Linux people meet.
// Not pinned because a fresh namespace has no history: cached TCP
// metrics (packetdrill flushes them with ip tcp_metrics flush).
var LinuxSysctls = []LinuxSysctl{
	{"net.ipv4.tcp_timestamps", "1", "RFC 7323 timestamps, random offset per connection (HS-02, OP-07)"},
	{"net.ipv4.tcp_sack", "1", "RFC 2018 SACK (OP-06); gVisor's library default too"},
	{"net.ipv4.tcp_dsack", "1", "RFC 2883 D-SACK generation (DT-02b, a tolerated difference)"},
	{"net.ipv4.tcp_window_scaling", "1", "RFC 7323 window scale (HS-02, OP-05)"},
	{"net.ipv4.tcp_ecn", "2", "ECN when the peer's SYN asks for it, never on active opens (OP-10)"},
	{"net.ipv4.tcp_rfc1337", "0", "a RST ends TIME-WAIT, as RFC 9293 §3.10.7.4 says (FC-07)"},
	{"net.ipv4.tcp_syncookies", "1", "cookies only once the SYN queue overflows (HS-09)"},
	{"net.ipv4.tcp_invalid_ratelimit", "500", "at most one ACK per 500 ms for out-of-window segments (OW-02), as gVisor"},
	{"net.ipv4.tcp_challenge_ack_limit", "2147483647", "no namespace-wide challenge-ACK budget, only the per-socket rate limit (OW-07); the default since Linux 6.0"},
	{"net.ipv4.tcp_fin_timeout", "60", "FIN-WAIT-2 of an orphaned socket, 60 s as gVisor (FC-05)"},
	{"net.ipv4.tcp_syn_retries", "6", "SYN retransmissions before connect() gives up (RT-01); gVisor's 6 too"},
	{"net.ipv4.tcp_synack_retries", "5", "SYN-ACK retransmissions of a half-open connection (RT-01)"},
	{"net.ipv4.tcp_early_retrans", "3", "tail loss probes (RFC 8985) on (RT-03)"},
	{"net.ipv4.tcp_recovery", "1", "RACK loss detection (RT-03)"},
	{"net.ipv4.tcp_min_snd_mss", "48", "the smallest MSS a peer may impose (OP-01)"},
	{"net.ipv4.tcp_fastopen", "1", "TFO for clients only: a SYN with text to a listener is a plain SYN (HS-08b, RFC 7413)"},
	{"net.ipv4.tcp_rmem", "4096\t131072\t6291456", "receive buffers, hence windows and the window scale the SYN-ACK offers; copied from the host otherwise"},
	{"net.ipv4.tcp_wmem", "4096\t16384\t4194304", "send buffers; copied from the host otherwise"},
	{"net.ipv4.conf.all.accept_source_route", "1", "source-routed datagrams taken, not dropped (SR-01..03; RFC 1122 §3.2.1.8(c): a host MUST be able to be the final destination of a source route); Linux's default for a host is 0"},
	{"net.ipv4.conf.default.accept_source_route", "1", "and on the TUN made after: the kernel asks for both"},
	{"net.ipv6.conf.all.disable_ipv6", "1", "IPv6 off: the bench's wire carries IPv4 only"},
	{"net.ipv6.conf.default.disable_ipv6", "1", "IPv6 off on the TUN from its creation: no router solicitations"},
}

// LinuxCongestionControl is set on every socket of the linux backend
// (TCP_CONGESTION): the kernel's built-in default, which packetdrill pins
// too. It cannot be the namespace's net.ipv4.tcp_congestion_control: a
// namespace other than the host's may only pick an algorithm the host
// lists in tcp_allowed_congestion_control (EPERM otherwise), while a
// socket of a process with CAP_NET_ADMIN may pick any; and a namespace
// would otherwise inherit the host's choice (bbr on this machine).
const LinuxCongestionControl = "cubic"

// String renders the setting as sysctl -w takes it.
func (s LinuxSysctl) String() string {
	return s.Key + "=" + strings.ReplaceAll(s.Value, "\t", " ")
}

// LinuxTiming is the Timing of the Linux kernel behind a TUN device. It
// answers in microseconds, but it may delay an ACK by its delayed-ACK
// timer (40 ms at the least, 200 ms at the most; quick-ACK mode makes the
// first ones of a connection immediate), so a scenario expecting an ACK
// must wait more than 200 ms, and "expect none" must wait long enough to
// see a delayed ACK that should not come. Its first SYN-ACK
// retransmission comes after 1 s: Quiet must stay well below that, or
// a half-open connection's retransmission would fill the window.
var LinuxTiming = Timing{Reply: 1500 * time.Millisecond, Quiet: 300 * time.Millisecond}

// linuxLink is how the bench reaches the linux backend: always a TUN
// device, whatever the in-process stacks use.
const linuxLink = "tun"
