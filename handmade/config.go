package handmade

import "time"

// Config tunes the full profile: a Stack and every connection on it. The
// zero value gives the defaults documented on each field; switches are
// phrased so that false is the default.
type Config struct {
	// MSS we advertise (RFC 9293 §3.7.1): default the link MTU less 40.
	MSS int
	// SendBuffer is each connection's send buffer in octets when it
	// opens (default 1 MiB): what Conn.Write queues before it blocks,
	// data in flight included (RFC 9293 §3.10.2 leaves the size to the
	// implementation). Send-buffer autotuning grows it while the buffer,
	// not the congestion window or the peer's window, is what holds the
	// sender back: to twice what those windows let be in flight
	// (sndtune.go, Linux's tcp_sndbuf_expand and gVisor's send buffer
	// sizing), at most MaxSendBuffer (default 4 MiB, Linux's
	// tcp_wmem[2]); it never shrinks. Memory is taken as data is
	// queued, not up front.
	//
	// DisableSendAutotune fixes the send buffer at SendBuffer, as Linux
	// does for a socket whose SO_SNDBUF was set; Conn.SetWriteBuffer
	// does the same for one connection.
	SendBuffer, MaxSendBuffer int
	DisableSendAutotune       bool
	// RecvBuffer is each connection's receive buffer in octets when it
	// opens (default 128 KiB, Linux's tcp_rmem[1]); the receive window
	// does not exceed the receive buffer (but for rounding a scaled
	// window up, which keeps its right edge: advertise, RFC 7323 §2.4).
	// Receive-buffer autotuning grows the buffer while the application
	// keeps up with a sender the window holds back: to about twice what
	// the application read in the last round trip (autotune.go, Linux's
	// tcp_rcv_space_adjust), at most MaxRecvBuffer (default 6 MiB,
	// Linux's tcp_rmem[2]). The window scale we offer is the smallest
	// that covers MaxRecvBuffer (RFC 7323 §2.3). Memory is taken as data
	// arrives, not up front.
	//
	// DisableRecvAutotune fixes the receive buffer at RecvBuffer (and the
	// window scale is sized from it), as Linux does for a socket whose
	// SO_RCVBUF was set; Conn.SetReadBuffer does the same for one
	// connection.
	RecvBuffer, MaxRecvBuffer int
	DisableRecvAutotune       bool

	// DisableWindowScale, DisableTimestamps and DisableSACK turn off the
	// RFC 7323 and RFC 2018 options we offer and accept.
	DisableWindowScale, DisableTimestamps, DisableSACK bool
	// DisableDelayedACK acknowledges every segment at once. Otherwise an
	// ACK waits at most DelayedACKTimeout (default 40 ms, Linux's minimum)
	// and every second full-sized segment is acknowledged at once (RFC
	// 9293 §3.8.6.3, RFC 1122 §4.2.3.2).
	DisableDelayedACK bool
	DelayedACKTimeout time.Duration
	// NoDelay turns Nagle's algorithm off for every connection
	// (TCP_NODELAY); Conn.SetNoDelay changes it per connection.
	NoDelay bool
	// CongestionControl names every connection's algorithm: NewReno
	// ("newreno", RFC 5681, the default) or CUBIC ("cubic", RFC 9438
	// with HyStart++); Conn.SetCongestionControl changes it per
	// connection, like Linux's TCP_CONGESTION.
	CongestionControl string

	// InitialRTO (default 1 s, RFC 6298 §2.1), MinRTO (default 200 ms,
	// Linux's) and MaxRTO (default 120 s) bound the retransmission timer.
	InitialRTO, MinRTO, MaxRTO time.Duration
	// MaxRetries is how many RTO expiries in a row end a synchronized
	// connection (default 15, Linux's tcp_retries2); SynRetries the same
	// for a SYN or SYN-ACK (default 7: with the default RTOs a SYN is
	// retried for 4 min 7 s, over RFC 9293 §3.8.3's "at least 3 minutes",
	// MUST-23; Linux's 6 gives 127 s).
	MaxRetries, SynRetries int
	// UserTimeout aborts a connection whose sent data stays
	// unacknowledged this long (RFC 9293 §3.8.3 R2, RFC 5482); 0 is off.
	UserTimeout time.Duration

	// TimeWait is the TIME-WAIT length (default 60 s, Linux's and gVisor's
	// value rather than 2 MSL) and FinWait2 how long an orphaned
	// connection waits in FIN-WAIT-2 for the peer's FIN (default 60 s).
	TimeWait, FinWait2 time.Duration

	// KeepAlive turns keep-alive probes on (RFC 9293 §3.8.4): after
	// KeepAliveIdle (default 2 h) without a segment from the peer, a
	// probe every KeepAliveInterval (default 75 s); KeepAliveCount
	// (default 9) unanswered probes end the connection.
	KeepAlive                        bool
	KeepAliveIdle, KeepAliveInterval time.Duration
	KeepAliveCount                   int
	// ChallengeACKLimit caps challenge ACKs per connection per second
	// (RFC 5961 §7): default 10.
	ChallengeACKLimit int

	// Backlog bounds each listener's queue of connections waiting for
	// Accept, SYNQueue its half-open connections (default 128 and 256).
	Backlog, SYNQueue int

	// ISNKey keys the RFC 6528 ISN hash; nil draws a random key.
	ISNKey []byte
	// Clock drives every timer; nil is the system clock.
	Clock Clock
	// Trace narrates segments; nil is silent.
	Trace *Trace
}

func (c Config) withDefaults(mtu int) Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(i *int, v int) {
		if *i <= 0 {
			*i = v
		}
	}
	if c.CongestionControl == "" {
		c.CongestionControl = NewReno
	}
	defInt(&c.MSS, max(mtu-40, 536))
	defInt(&c.SendBuffer, 1<<20)
	defInt(&c.MaxSendBuffer, 4<<20)
	if c.DisableSendAutotune || c.MaxSendBuffer < c.SendBuffer {
		c.MaxSendBuffer = c.SendBuffer
	}
	defInt(&c.RecvBuffer, 128<<10)
	defInt(&c.MaxRecvBuffer, 6<<20)
	if c.DisableRecvAutotune || c.MaxRecvBuffer < c.RecvBuffer {
		c.MaxRecvBuffer = c.RecvBuffer
	}
	def(&c.DelayedACKTimeout, 40*time.Millisecond)
	def(&c.InitialRTO, time.Second)
	def(&c.MinRTO, 200*time.Millisecond)
	def(&c.MaxRTO, 120*time.Second)
	defInt(&c.MaxRetries, 15)
	defInt(&c.SynRetries, 7) // RFC 9293 §3.8.3 (MUST-23): R2 for a SYN at least 3 minutes
	def(&c.TimeWait, 60*time.Second)
	def(&c.FinWait2, 60*time.Second)
	def(&c.KeepAliveIdle, 2*time.Hour)
	def(&c.KeepAliveInterval, 75*time.Second)
	defInt(&c.KeepAliveCount, 9)
	defInt(&c.ChallengeACKLimit, 10)
	defInt(&c.Backlog, 128)
	defInt(&c.SYNQueue, 256)
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	return c
}
