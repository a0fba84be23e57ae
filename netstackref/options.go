// Package netstackref runs gVisor's netstack on a wire.Link as the reference
// TCP peer of tcplab: a stack whose settings are pinned explicitly, whose
// checksum checks are on (no offload), and whose counters are read out after
// a run.
package netstackref

import (
	"fmt"
	"runtime/debug"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// gvisorModule is the module path Version looks up in the build info.
const gvisorModule = "gvisor.dev/gvisor"

// Options are the netstack settings tcplab pins so that a run is
// reproducible. Every field is applied to the stack by New, even when it
// equals gVisor's library default, and read back to check it took.
type Options struct {
	// SACK enables selective acknowledgements (tcpip.TCPSACKEnabled).
	SACK bool
	// CongestionControl is "reno" or "cubic" (tcpip.CongestionControlOption).
	CongestionControl string
	// Recovery is the loss detection algorithm bitmask (tcpip.TCPRecovery);
	// tcpip.TCPRACKLossDetection is RACK, 0 is classic dupack-only.
	Recovery tcpip.TCPRecovery
	// ModerateReceiveBuffer enables receive-buffer auto-tuning
	// (tcpip.TCPModerateReceiveBufferOption).
	ModerateReceiveBuffer bool
	// Nagle enables Nagle's algorithm (tcpip.TCPDelayEnabled).
	Nagle bool
	// SendBufferMin, SendBufferDefault, SendBufferMax are the send buffer
	// sizes in bytes (tcpip.TCPSendBufferSizeRangeOption).
	SendBufferMin, SendBufferDefault, SendBufferMax int
	// ReceiveBufferMin, ReceiveBufferDefault, ReceiveBufferMax are the
	// receive buffer sizes in bytes (tcpip.TCPReceiveBufferSizeRangeOption).
	ReceiveBufferMin, ReceiveBufferDefault, ReceiveBufferMax int
	// TimeWait is the TIME_WAIT duration (tcpip.TCPTimeWaitTimeoutOption).
	TimeWait time.Duration
	// FinWait2 is the FIN_WAIT_2 timeout of an orphaned socket
	// (tcpip.TCPLingerTimeoutOption).
	FinWait2 time.Duration
	// MinRTO and MaxRTO bound the retransmission timeout
	// (tcpip.TCPMinRTOOption, tcpip.TCPMaxRTOOption).
	MinRTO, MaxRTO time.Duration
	// SynRetries is the number of SYN retransmissions before a connect
	// fails (tcpip.TCPSynRetriesOption), 1..255.
	SynRetries int
	// MaxRetries is the number of data retransmissions before a connection
	// is aborted (tcpip.TCPMaxRetriesOption).
	MaxRetries int
	// MTU is the IP MTU the stack uses; 0 means the link's MTU. It must not
	// exceed the link's MTU.
	MTU int

	// Clock is the stack's clock; nil is the real one. A test or the
	// compare bench passes gVisor's faketime.ManualClock to run timers
	// (RTO, keepalive, TIME-WAIT) in virtual time. Not a TCP setting:
	// String leaves it out.
	Clock tcpip.Clock

	// RecordState keeps a copy of each TCP endpoint's internal state after
	// every segment it processes (a gVisor TCP probe), for Stack.DebugDump.
	// A diagnostic aid: it costs a copy per segment and changes no setting.
	RecordState bool
}

// DefaultOptions returns gVisor's own library defaults of the pinned
// version, written out (checked against pkg/tcpip/transport/tcp/protocol.go
// newProtocol and snd.go of gvisor.dev/gvisor v0.0.0-20260905035102-160fafc42237).
// The initial RTO (1 s, tcp.InitialRTO) is a constant there and not settable.
func DefaultOptions() Options {
	return Options{
		SACK:                  true,
		CongestionControl:     "reno",
		Recovery:              tcpip.TCPRACKLossDetection,
		ModerateReceiveBuffer: true,
		Nagle:                 false,
		SendBufferMin:         4 << 10,
		SendBufferDefault:     1 << 20,
		SendBufferMax:         4 << 20,
		ReceiveBufferMin:      4 << 10,
		ReceiveBufferDefault:  1 << 20,
		ReceiveBufferMax:      4 << 20,
		TimeWait:              60 * time.Second,
		FinWait2:              60 * time.Second,
		MinRTO:                200 * time.Millisecond,
		MaxRTO:                120 * time.Second,
		SynRetries:            6,
		MaxRetries:            15,
		MTU:                   0,
	}
}

// String prints the options on one line as "key=value ...".
func (o Options) String() string {
	return fmt.Sprintf("sack=%t cc=%s recovery=%s moderate_rcvbuf=%t nagle=%t "+
		"sndbuf=%d/%d/%d rcvbuf=%d/%d/%d time_wait=%s fin_wait2=%s "+
		"min_rto=%s max_rto=%s syn_retries=%d max_retries=%d mtu=%s",
		o.SACK, o.CongestionControl, recoveryString(o.Recovery), o.ModerateReceiveBuffer, o.Nagle,
		o.SendBufferMin, o.SendBufferDefault, o.SendBufferMax,
		o.ReceiveBufferMin, o.ReceiveBufferDefault, o.ReceiveBufferMax,
		o.TimeWait, o.FinWait2, o.MinRTO, o.MaxRTO, o.SynRetries, o.MaxRetries, mtuString(o.MTU))
}

func mtuString(m int) string {
	if m == 0 {
		return "link"
	}
	return fmt.Sprint(m)
}

func recoveryString(r tcpip.TCPRecovery) string {
	if r == 0 {
		return "none"
	}
	s := ""
	add := func(name string) {
		if s != "" {
			s += "+"
		}
		s += name
	}
	if r&tcpip.TCPRACKLossDetection != 0 {
		add("rack")
	}
	if r&tcpip.TCPRACKStaticReoWnd != 0 {
		add("static_reownd")
	}
	if r&tcpip.TCPRACKNoDupTh != 0 {
		add("no_dupthresh")
	}
	if rest := r &^ (tcpip.TCPRACKLossDetection | tcpip.TCPRACKStaticReoWnd | tcpip.TCPRACKNoDupTh); rest != 0 {
		add(fmt.Sprintf("%#x", int32(rest)))
	}
	return s
}

// PinnedVersion is the gvisor.dev/gvisor version go.mod pins (a test keeps
// the two equal). Version falls back to it where the binary carries no
// dependency list, as `go test` binaries do.
const PinnedVersion = "v0.0.0-20260905035102-160fafc42237"

// Version returns the gvisor.dev/gvisor module version this binary was
// built with, from runtime/debug.ReadBuildInfo, or PinnedVersion marked
// "(go.mod)" when the build info lists no dependencies.
func Version() string {
	if v := versionFrom(debug.ReadBuildInfo()); v != "unknown" {
		return v
	}
	return PinnedVersion + " (go.mod)"
}

func versionFrom(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "unknown"
	}
	for _, m := range bi.Deps {
		if m.Path != gvisorModule {
			continue
		}
		if r := m.Replace; r != nil {
			if r.Version == "" {
				return m.Version + " => " + r.Path
			}
			return m.Version + " => " + r.Path + " " + r.Version
		}
		return m.Version
	}
	return "unknown"
}

// apply sets every option on the TCP protocol of st and reads each back.
func (o Options) apply(set func(tcpip.SettableTransportProtocolOption) tcpip.Error, get func(tcpip.GettableTransportProtocolOption) tcpip.Error) error {
	if o.SynRetries < 1 || o.SynRetries > 255 {
		return fmt.Errorf("netstackref: SynRetries %d out of range 1..255", o.SynRetries)
	}
	if o.MaxRetries < 0 {
		return fmt.Errorf("netstackref: MaxRetries %d negative", o.MaxRetries)
	}
	if o.MinRTO <= 0 || o.MaxRTO < o.MinRTO {
		return fmt.Errorf("netstackref: need 0 < MinRTO <= MaxRTO, have %s, %s", o.MinRTO, o.MaxRTO)
	}
	if o.TimeWait < 0 || o.FinWait2 < 0 {
		return fmt.Errorf("netstackref: negative TimeWait or FinWait2")
	}
	sack := tcpip.TCPSACKEnabled(o.SACK)
	cc := tcpip.CongestionControlOption(o.CongestionControl)
	rec := o.Recovery
	mod := tcpip.TCPModerateReceiveBufferOption(o.ModerateReceiveBuffer)
	delay := tcpip.TCPDelayEnabled(o.Nagle)
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: o.SendBufferMin, Default: o.SendBufferDefault, Max: o.SendBufferMax}
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: o.ReceiveBufferMin, Default: o.ReceiveBufferDefault, Max: o.ReceiveBufferMax}
	tw := tcpip.TCPTimeWaitTimeoutOption(o.TimeWait)
	fw2 := tcpip.TCPLingerTimeoutOption(o.FinWait2)
	minRTO := tcpip.TCPMinRTOOption(o.MinRTO)
	maxRTO := tcpip.TCPMaxRTOOption(o.MaxRTO)
	syn := tcpip.TCPSynRetriesOption(o.SynRetries)
	maxRetries := tcpip.TCPMaxRetriesOption(o.MaxRetries)

	// gVisor requires min <= max at every step: widen first.
	rtoOrder := []tcpip.SettableTransportProtocolOption{&minRTO, &maxRTO}
	if o.MinRTO > tcp.MaxRTO {
		rtoOrder = []tcpip.SettableTransportProtocolOption{&maxRTO, &minRTO}
	}
	sets := append([]tcpip.SettableTransportProtocolOption{&sack, &cc, &rec, &mod, &delay, &snd, &rcv, &tw, &fw2, &syn, &maxRetries}, rtoOrder...)
	for _, opt := range sets {
		if err := set(opt); err != nil {
			return fmt.Errorf("netstackref: setting TCP option %T=%v: %s", opt, opt, err)
		}
	}

	got, err := readOptions(get)
	if err != nil {
		return err
	}
	got.MTU, got.RecordState, got.Clock = o.MTU, o.RecordState, o.Clock
	if got != o {
		return fmt.Errorf("netstackref: stack did not take the options:\n want %s\n have %s", o, got)
	}
	return nil
}

// readOptions reads the TCP options of a stack (MTU left 0).
func readOptions(get func(tcpip.GettableTransportProtocolOption) tcpip.Error) (Options, error) {
	var (
		gSack   tcpip.TCPSACKEnabled
		gCC     tcpip.CongestionControlOption
		gRec    tcpip.TCPRecovery
		gMod    tcpip.TCPModerateReceiveBufferOption
		gDelay  tcpip.TCPDelayEnabled
		gSnd    tcpip.TCPSendBufferSizeRangeOption
		gRcv    tcpip.TCPReceiveBufferSizeRangeOption
		gTW     tcpip.TCPTimeWaitTimeoutOption
		gFW2    tcpip.TCPLingerTimeoutOption
		gMinRTO tcpip.TCPMinRTOOption
		gMaxRTO tcpip.TCPMaxRTOOption
		gSyn    tcpip.TCPSynRetriesOption
		gMaxR   tcpip.TCPMaxRetriesOption
	)
	for _, opt := range []tcpip.GettableTransportProtocolOption{&gSack, &gCC, &gRec, &gMod, &gDelay, &gSnd, &gRcv, &gTW, &gFW2, &gMinRTO, &gMaxRTO, &gSyn, &gMaxR} {
		if err := get(opt); err != nil {
			return Options{}, fmt.Errorf("netstackref: reading TCP option %T: %s", opt, err)
		}
	}
	return Options{
		SACK: bool(gSack), CongestionControl: string(gCC), Recovery: gRec,
		ModerateReceiveBuffer: bool(gMod), Nagle: bool(gDelay),
		SendBufferMin: gSnd.Min, SendBufferDefault: gSnd.Default, SendBufferMax: gSnd.Max,
		ReceiveBufferMin: gRcv.Min, ReceiveBufferDefault: gRcv.Default, ReceiveBufferMax: gRcv.Max,
		TimeWait: time.Duration(gTW), FinWait2: time.Duration(gFW2),
		MinRTO: time.Duration(gMinRTO), MaxRTO: time.Duration(gMaxRTO),
		SynRetries: int(gSyn), MaxRetries: int(gMaxR),
	}, nil
}
