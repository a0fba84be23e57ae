package compare

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Requirement is one row of RFC 9293 Appendix B (Table 8, "TCP
// Requirements Summary"), with what the bench does about it.
type Requirement struct {
	ID      string // "MUST-57"
	Feature string // the table's words
	Level   string // MUST, SHOULD, MAY, SHOULD NOT, MUST NOT
	// OffWire says why no scenario can check it from the wire (an API
	// call, a permission, the host's insides); empty when a scenario
	// does, or should.
	OffWire string
	// Gap is set for a rule that is observable on the wire but no
	// scenario checks yet: what a scenario would need.
	Gap string
}

// Status is how the bench stands to r: "checked by ..." (the scenarios
// whose Requirements name it), "off the wire", or "not checked yet".
func (r Requirement) Status(scenarios []Scenario) (status string, by []string) {
	for _, s := range scenarios {
		if slices.Contains(s.Requirements, r.ID) {
			by = append(by, s.ID)
		}
	}
	switch {
	case len(by) > 0:
		return "checked", by
	case r.OffWire != "":
		return "off the wire", nil
	}
	return "not checked yet", nil
}

// AppendixB is RFC 9293 Appendix B, row by row in the RFC's order (a
// requirement listed twice there, MUST-15 and MUST-46 for example,
// appears once). TestAppendixB holds it to the catalogue: every ID a
// scenario names is here, every row is checked by a scenario, or says
// why it cannot be, or names the gap.
var AppendixB = []Requirement{
	// PUSH flag
	{ID: "MAY-16", Feature: "Aggregate or queue un-pushed data", Level: "MAY", OffWire: "a permission: any packetization is allowed, so there is nothing to fail"},
	{ID: "SHLD-27", Feature: "Sender collapse successive PSH bits", Level: "SHOULD"},
	{ID: "MAY-15", Feature: "SEND call can specify PUSH", Level: "MAY", OffWire: "an API choice (no socket API has it)"},
	{ID: "MUST-60", Feature: "If cannot [specify PUSH]: sender MUST NOT buffer indefinitely", Level: "MUST NOT"},
	{ID: "MUST-61", Feature: "If cannot: PSH last segment", Level: "MUST"},
	{ID: "MAY-17", Feature: "Notify receiving ALP of PSH", Level: "MAY", OffWire: "between the stack and its application"},
	{ID: "SHLD-28", Feature: "Send max size segment when possible", Level: "SHOULD"},
	// Window
	{ID: "MUST-1", Feature: "Treat window as unsigned number", Level: "MUST"},
	{ID: "REC-1", Feature: "Handle window as 32-bit number", Level: "SHOULD", OffWire: "how the stack stores the window; the wire carries 16 bits and a shift, which OP-05a checks"},
	{ID: "SHLD-14", Feature: "Shrink window from right", Level: "SHOULD NOT"},
	{ID: "SHLD-15", Feature: "Send new data when window shrinks", Level: "SHOULD NOT"},
	{ID: "SHLD-16", Feature: "Retransmit old unacked data within window", Level: "SHOULD"},
	{ID: "SHLD-17", Feature: "Time out conn for data past right edge", Level: "SHOULD NOT"},
	{ID: "MUST-34", Feature: "Robust against shrinking window", Level: "MUST"},
	{ID: "MAY-8", Feature: "Receiver's window closed indefinitely", Level: "MAY", OffWire: "a permission of the receiver"},
	{ID: "MUST-35", Feature: "Use standard probing logic", Level: "MUST"},
	{ID: "MUST-36", Feature: "Sender probe zero window", Level: "MUST"},
	{ID: "SHLD-29", Feature: "First probe after RTO", Level: "SHOULD"},
	{ID: "SHLD-30", Feature: "Exponential backoff", Level: "SHOULD"},
	{ID: "MUST-37", Feature: "Allow window stay zero indefinitely", Level: "MUST"},
	{ID: "MAY-7", Feature: "Retransmit old data beyond SND.UNA+SND.WND", Level: "MAY"},
	{ID: "MUST-66", Feature: "Process RST and URG even with zero window", Level: "MUST"},
	// Urgent data
	{ID: "MUST-30", Feature: "Include support for urgent pointer", Level: "MUST"},
	{ID: "MUST-62", Feature: "Pointer indicates first non-urgent octet", Level: "MUST"},
	{ID: "MUST-31", Feature: "Arbitrary length urgent data sequence", Level: "MUST"},
	{ID: "MUST-32", Feature: "Inform ALP asynchronously of urgent data", Level: "MUST", OffWire: "between the stack and its application"},
	{ID: "MUST-33", Feature: "ALP can learn if/how much urgent data Q'd", Level: "MUST", OffWire: "between the stack and its application"},
	{ID: "SHLD-13", Feature: "ALP employ the urgent mechanism", Level: "SHOULD NOT", OffWire: "advice to applications"},
	// TCP options
	{ID: "MUST-4", Feature: "Support the mandatory option set", Level: "MUST"},
	{ID: "MUST-5", Feature: "Receive TCP option in any segment", Level: "MUST"},
	{ID: "MUST-6", Feature: "Ignore unsupported options", Level: "MUST"},
	{ID: "MUST-68", Feature: "Include length for all options except EOL+NOP", Level: "MUST"},
	{ID: "MUST-7", Feature: "Cope with illegal option length", Level: "MUST"},
	{ID: "MUST-64", Feature: "Process options regardless of word alignment", Level: "MUST"},
	{ID: "MUST-14", Feature: "Implement sending & receiving MSS option", Level: "MUST"},
	{ID: "SHLD-5", Feature: "Send MSS option unless 536 (IPv4) or 1220 (IPv6)", Level: "SHOULD"},
	{ID: "MAY-3", Feature: "Send MSS option always", Level: "MAY", OffWire: "a permission: sending it or not are both right"},
	{ID: "MUST-15", Feature: "Send-MSS default is 536 (IPv4), 1220 (IPv6)", Level: "MUST"},
	{ID: "MUST-16", Feature: "Calculate effective send seg size", Level: "MUST"},
	{ID: "SHLD-6", Feature: "MSS accounts for varying MTU", Level: "SHOULD"},
	{ID: "MUST-65", Feature: "MSS not sent on non-SYN segments", Level: "MUST NOT"},
	{ID: "MUST-67", Feature: "MSS value based on MMS_R", Level: "MUST"},
	{ID: "MUST-69", Feature: "Pad with zero", Level: "MUST"},
	// TCP checksums
	{ID: "MUST-2", Feature: "Sender compute checksum", Level: "MUST"},
	{ID: "MUST-3", Feature: "Receiver check checksum", Level: "MUST"},
	// ISN selection
	{ID: "MUST-8", Feature: "Include a clock-driven ISN generator component", Level: "MUST"},
	{ID: "SHLD-1", Feature: "Secure ISN generator with a PRF component", Level: "SHOULD"},
	{ID: "MUST-9", Feature: "PRF computable from outside the host", Level: "MUST NOT", OffWire: "a secret's secrecy: no finite sample of ISNs proves it; IS-01b checks the ISNs are not a clock alone"},
	// Opening connections
	{ID: "MUST-10", Feature: "Support simultaneous open attempts", Level: "MUST"},
	{ID: "MUST-11", Feature: "SYN-RECEIVED remembers last state", Level: "MUST"},
	{ID: "MUST-41", Feature: "Passive OPEN call interfere with others", Level: "MUST NOT", OffWire: "the semantics of the OPEN call: which passive OPENs may coexist is an API property"},
	{ID: "MUST-42", Feature: "Function: simultaneously LISTENs for same port", Level: "MUST", OffWire: "the semantics of the OPEN call (several passive OPENs on one port with different foreign sockets)"},
	{ID: "MUST-44", Feature: "Ask IP for src address for SYN if necessary", Level: "MUST"},
	{ID: "MUST-45", Feature: "Otherwise, use local addr of connection", Level: "MUST"},
	{ID: "MUST-46", Feature: "OPEN to broadcast/multicast IP address (reject OPEN call to invalid IP address)", Level: "MUST NOT"},
	{ID: "MUST-57", Feature: "Silently discard seg to bcast/mcast addr", Level: "MUST"},
	// Closing connections
	{ID: "SHLD-2", Feature: "RST can contain data", Level: "SHOULD"},
	{ID: "MUST-12", Feature: "Inform application of aborted conn", Level: "MUST"},
	{ID: "MAY-1", Feature: "Half-duplex close connections", Level: "MAY"},
	{ID: "SHLD-3", Feature: "Send RST to indicate data lost", Level: "SHOULD"},
	{ID: "MUST-13", Feature: "In TIME-WAIT state for 2MSL seconds", Level: "MUST"},
	{ID: "MAY-2", Feature: "Accept SYN from TIME-WAIT state", Level: "MAY"},
	{ID: "SHLD-4", Feature: "Use timestamps to reduce TIME-WAIT", Level: "SHOULD"},
	// Retransmissions
	{ID: "MUST-19", Feature: "Implement exponential backoff, slow start, and congestion avoidance", Level: "MUST"},
	{ID: "MAY-4", Feature: "Retransmit with same IP identity", Level: "MAY", OffWire: "a permission of the IP layer"},
	{ID: "MUST-18", Feature: "Karn's algorithm", Level: "MUST"},
	// Generating ACKs
	{ID: "MUST-58", Feature: "Aggregate ACKs whenever possible", Level: "MUST"},
	{ID: "SHLD-31", Feature: "Queue out-of-order segments", Level: "SHOULD"},
	{ID: "MUST-59", Feature: "Process all Q'd before send ACK", Level: "MUST"},
	{ID: "MAY-13", Feature: "Send ACK for out-of-order segment", Level: "MAY"},
	{ID: "SHLD-18", Feature: "Delayed ACKs", Level: "SHOULD"},
	{ID: "MUST-40", Feature: "Delay < 0.5 seconds", Level: "MUST"},
	{ID: "SHLD-19", Feature: "Every 2nd full-sized segment or 2*RMSS ACK'd", Level: "SHOULD"},
	{ID: "MUST-39", Feature: "Receiver SWS-avoidance algorithm", Level: "MUST"},
	// Sending data
	{ID: "MUST-49", Feature: "Configurable TTL", Level: "MUST"},
	{ID: "MUST-38", Feature: "Sender SWS-avoidance algorithm", Level: "MUST"},
	{ID: "SHLD-7", Feature: "Nagle algorithm", Level: "SHOULD"},
	{ID: "MUST-17", Feature: "Application can disable Nagle algorithm", Level: "MUST"},
	// Connection failures
	{ID: "MUST-20", Feature: "Negative advice to IP on R1 retransmissions; close connection on R2", Level: "MUST"},
	{ID: "MUST-21", Feature: "ALP can set R2", Level: "MUST"},
	{ID: "SHLD-9", Feature: "Inform ALP of R1<=retxs<R2", Level: "SHOULD", OffWire: "between the stack and its application"},
	{ID: "SHLD-10", Feature: "Recommended value for R1 (at least 3 retransmissions)", Level: "SHOULD", OffWire: "R1 is when TCP gives IP negative advice (a route or neighbour check); on the bench's point-to-point links that leaves nothing on the wire to see"},
	{ID: "SHLD-11", Feature: "Recommended value for R2 (at least 100 seconds)", Level: "SHOULD"},
	{ID: "MUST-22", Feature: "Same mechanism for SYNs", Level: "MUST"},
	{ID: "MUST-23", Feature: "R2 at least 3 minutes for SYN", Level: "MUST"},
	// Keep-alive
	{ID: "MAY-5", Feature: "Send keep-alive packets", Level: "MAY"},
	{ID: "MUST-24", Feature: "Application can request keep-alives", Level: "MUST"},
	{ID: "MUST-25", Feature: "Keep-alive default is off", Level: "MUST"},
	{ID: "MUST-26", Feature: "Only send if idle for interval", Level: "MUST"},
	{ID: "MUST-27", Feature: "Interval configurable", Level: "MUST"},
	{ID: "MUST-28", Feature: "Default at least 2 hrs.", Level: "MUST"},
	{ID: "MUST-29", Feature: "Tolerant of lost ACKs", Level: "MUST"},
	{ID: "SHLD-12", Feature: "Send with no data", Level: "SHOULD"},
	{ID: "MAY-6", Feature: "Configurable to send garbage octet", Level: "MAY", OffWire: "a configuration knob none of the stacks offers"},
	// IP options
	{ID: "MUST-50", Feature: "Ignore IP options TCP doesn't understand", Level: "MUST"},
	{ID: "MAY-10", Feature: "IP Timestamp support", Level: "MAY", OffWire: "a permission of the IP layer"},
	{ID: "MAY-11", Feature: "IP Record Route support", Level: "MAY", OffWire: "a permission of the IP layer"},
	{ID: "MUST-51", Feature: "Source route: ALP can specify", Level: "MUST"},
	{ID: "MUST-52", Feature: "Source route: overrides src route in datagram", Level: "MUST"},
	{ID: "MUST-53", Feature: "Build return route from src route", Level: "MUST"},
	{ID: "SHLD-24", Feature: "Later src route overrides", Level: "SHOULD"},
	// Receiving ICMP messages from IP
	{ID: "MUST-54", Feature: "Receiving ICMP messages from IP", Level: "MUST"},
	{ID: "SHLD-25", Feature: "Dest Unreach (0,1,5) => inform ALP", Level: "SHOULD", OffWire: "between the stack and its application (the wire shows only that the connection lives: MUST-56; handmade reports it in Info.SoftError)"},
	{ID: "MUST-56", Feature: "Abort on Dest Unreach (0,1,5), Time Exceeded, Param Problem", Level: "MUST NOT"},
	{ID: "SHLD-26", Feature: "Dest Unreach (2-4) => abort conn", Level: "SHOULD"},
	{ID: "MUST-55", Feature: "Source Quench => silent discard", Level: "MUST"},
	// Address validation
	{ID: "MUST-63", Feature: "Reject SYN from invalid IP address", Level: "MUST"},
	// TCP/ALP interface services
	{ID: "MUST-47", Feature: "Error report mechanism", Level: "MUST", OffWire: "between the stack and its application"},
	{ID: "SHLD-20", Feature: "ALP can disable error report routine", Level: "SHOULD", OffWire: "between the stack and its application"},
	{ID: "MUST-48", Feature: "ALP can specify Diffserv field for sending", Level: "MUST"},
	{ID: "SHLD-22", Feature: "Diffserv passed unchanged to IP", Level: "SHOULD"},
	{ID: "SHLD-21", Feature: "ALP can change Diffserv field during connection", Level: "SHOULD"},
	{ID: "SHLD-23", Feature: "ALP generally changing Diffserv during conn.", Level: "SHOULD NOT", OffWire: "advice to applications"},
	{ID: "MAY-9", Feature: "Pass received Diffserv field up to ALP", Level: "MAY", OffWire: "between the stack and its application"},
	{ID: "MAY-14", Feature: "FLUSH call", Level: "MAY", OffWire: "an API call"},
	{ID: "MUST-43", Feature: "Optional local IP addr param in OPEN", Level: "MUST", OffWire: "a parameter of the OPEN call (the wire shows the address used: MUST-45)"},
	// RFC 5961, ECN, congestion control
	{ID: "MAY-12", Feature: "Implement data injection protection (RFC 5961)", Level: "MAY"},
	{ID: "SHLD-8", Feature: "Support ECN", Level: "SHOULD"},
	{ID: "MAY-18", Feature: "Implement alternative conformant algorithm(s)", Level: "MAY", OffWire: "which congestion control runs is not a wire rule; tcplab bench compares them"},
}

// WriteAppendixB renders the audit as Markdown: one row per requirement,
// with the scenarios that check it, or why none can, or what one would
// need; a summary first.
func WriteAppendixB(w io.Writer, scenarios []Scenario) error {
	var checked, off, gaps int
	var b strings.Builder
	b.WriteString("| requirement | feature | level | status | scenarios, reason or plan |\n|---|---|---|---|---|\n")
	for _, r := range AppendixB {
		status, by := r.Status(scenarios)
		what := strings.Join(by, ", ")
		switch status {
		case "checked":
			checked++
		case "off the wire":
			off++
			what = r.OffWire
		default:
			gaps++
			what = r.Gap
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.ID, r.Feature, r.Level, status, what)
	}
	_, err := fmt.Fprintf(w, `# RFC 9293 Appendix B against the conformance bench

Every row of RFC 9293 Appendix B ("TCP Requirements Summary"), with the
scenarios of `+"`tcplab compare`"+` that check it, or why no scenario can check it
from the wire, or what a scenario would need. Generated from
compare/appendixb.go and the catalogue (`+"`go test ./compare -run TestAppendixB -update`"+`);
TestAppendixB fails when they disagree.

%d requirements: %d checked by a scenario, %d off the wire, %d observable and not checked yet.

%s`, len(AppendixB), checked, off, gaps, b.String())
	return err
}
