// Package compare is tcplab's differential conformance bench, in the
// manner of gVisor's packetimpact: a test bench (Bench) owns one end of a
// wire.Link and crafts and checks segments with gopacket, a device under
// test (DUT) on the other end is driven through a socket-like API, and
// each Scenario of ../shared/CONFORMANCE.md puts the DUT in a state, sends
// a stimulus and judges the answer against its RFC section. Run executes
// the scenarios against several stacks and returns a Matrix: pass, allowed
// (a legitimate difference the scenario names), fail, n/a, or error (the
// bench itself failed).
//
// The bench shares no code with the stacks it checks: packets are built
// and parsed with gopacket, sequence arithmetic and checksums are its own.
// Sequence numbers are tracked and rendered relative to each side's ISN,
// options compared as sets, and "expect nothing" waits a window that
// belongs to the DUT (Timing), so every scenario runs on its own wire and
// DUT, in parallel with the others.
//
// The stacks are handmade and gVisor's netstack in process, and the Linux
// kernel (Linux) in a network namespace of its own, over a TUN device,
// with the sysctls that change its answers pinned (LinuxSysctls). The
// bench reaches the in-process stacks over an in-memory wire (Handmade,
// Netstack) or over TUN devices (HandmadeOverTUN, NetstackOverTUN): the
// stack on a TUN device of its own, the bench on another, and the kernel
// of a namespace made for the run forwarding between them, so every
// stack is reached through a kernel's TUN, as CI runs it.
//
// External is a stack tcplab does not run, reached on an Ethernet
// interface (rawlink) from an address of the bench's own: tcplab cannot
// call listen or connect inside it, so the user declares what its
// application does (ExternalConfig.Capabilities: listen, sink,
// closed-port), scenarios declare what they ask of the application
// (Scenario.Needs), and a scenario needing what the device did not
// declare is n/a, naming it. Its DUT reads the state of its connections
// from the wire: Accept returns once the bench's handshake completes,
// Recv returns what the device acknowledged.
//
// Timers (RTO backoff, loss recovery, zero-window probes, keep-alive, the
// user timeout, FIN-WAIT-2, TIME-WAIT) run on virtual time on the
// in-process stacks: a scenario with Setup.VirtualClock gets one
// VirtualClock per run (gVisor's faketime.ManualClock, taken by netstack
// as its tcpip.Clock and by handmade through an adapter to
// handmade.Clock), shared by the stack and the bench, which stamps the
// segments it reads with it; T.Advance moves it and T.NextSegment steps
// it until the DUT sends, so a scenario measures a 4 s backoff or a 60 s
// TIME-WAIT to a few percent in milliseconds of real time. What a timer
// sends, and what the bench sends, is still carried and processed on
// the stacks' goroutines in real time: expectations after an Advance
// wait Timing.Reply as usual, and T.Settle lets a stack take a segment
// before the clock moves. Linux runs in real time: its timer scenarios
// run beside the worker pool (they wait rather than compute), short
// timers are set per socket or per namespace (keep-alive and user
// timeout options, net.ipv4.tcp_fin_timeout), every wait stays a few
// seconds (T.Advance refuses more than 10 s: n/a), and what Linux has no
// setting for, TIME-WAIT and the default keep-alive time, is read from
// the kernel (inet_diag, as ss -tano shows it) instead of waited out.
package compare
