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
// The stacks are handmade and gVisor's netstack in process, over an
// in-memory wire, and the Linux kernel (Linux) in a network namespace of
// its own, over a TUN device, with the sysctls that change its answers
// pinned (LinuxSysctls).
//
// Timers (RTO, zero-window probes, keep-alive, TIME-WAIT, FIN-WAIT-2) are
// not covered yet. The way in is virtual time on the in-process stacks:
// handmade.Config.Clock takes a manual clock, gVisor's stack.Options.Clock
// a tcpip.Clock (faketime.ManualClock); a Setup field would ask the
// backend for one and T would expose Advance(d), so a scenario advances
// time and expects the retransmission at the interval it measured. Linux
// runs in real time: short timers pinned by sysctl in the scenario's
// namespace, TIME-WAIT read from the kernel (inet_diag) instead of waited
// out.
package compare
