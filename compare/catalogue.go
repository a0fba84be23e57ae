package compare

// Scenarios is the catalogue, in CONFORMANCE.md's order of sections.
func Scenarios() []Scenario {
	var all []Scenario
	for _, part := range [][]Scenario{handshakeScenarios, optionScenarios, dataScenarios, transferScenarios, windowScenarios, resetScenarios, closeScenarios, timerScenarios, zeroWindowScenarios, urgentScenarios, checksumScenarios, isnScenarios} {
		all = append(all, part...)
	}
	for i := range all {
		all[i].Needs = scenarioNeeds[all[i].ID]
	}
	return all
}

// scenarioNeeds is what each scenario asks of the DUT's application
// (Scenario.Needs), beyond what its Setup implies (socket options for
// Setup.RecvBuffer and Setup.FinWait2). TestScenarioNeeds holds it to
// what the scenarios do on the in-process stacks (go test ./compare
// -run TestScenarioNeeds -print-needs prints it). NeedClosedPort and
// NeedEcho depend on the run (a port dialled before any Listen, octets
// the wire cannot attribute): they are found while the scenario runs.
var scenarioNeeds = map[string][]Capability{
	"HS-01a": {},
	"HS-01b": {NeedListener},
	"HS-01c": {NeedListener},
	"HS-02a": {NeedListener},
	"HS-02b": {NeedListener},
	"HS-03a": {NeedListener},
	"HS-03b": {NeedListener},
	"HS-04":  {NeedListener},
	"HS-05":  {NeedListener},
	"HS-06a": {NeedClient},
	"HS-06b": {NeedClient},
	"HS-06c": {NeedClient},
	"HS-06d": {NeedClient},
	"HS-07":  {NeedClient},
	"HS-08b": {NeedListener},
	"OP-01a": {NeedListener, NeedSend, NeedSocketOptions},
	"OP-01b": {NeedListener, NeedSend, NeedSocketOptions},
	"OP-02":  {NeedListener, NeedSend, NeedSocketOptions},
	"OP-03":  {NeedListener, NeedSink, NeedSend, NeedSocketOptions},
	"OP-05a": {NeedListener, NeedSend, NeedSocketOptions},
	"OP-05b": {NeedListener, NeedSend, NeedSocketOptions},
	"OP-05c": {NeedListener, NeedSend, NeedSocketOptions},
	"OP-06a": {NeedListener, NeedSink},
	"OP-06b": {NeedListener, NeedSink},
	"OP-07a": {NeedListener, NeedSink, NeedSend, NeedSocketOptions},
	"OP-07b": {NeedListener, NeedSink},
	"OP-07c": {NeedListener, NeedSink, NeedSend, NeedAppClose, NeedSocketOptions},
	"OP-07d": {NeedListener},
	"OP-07e": {NeedListener, NeedSink},
	"OP-08":  {NeedListener, NeedSink},
	"OP-10":  {NeedListener},
	"OP-11":  {NeedListener, NeedSink},
	"OP-12":  {NeedListener, NeedSink},
	"OP-13":  {NeedListener, NeedClient, NeedSend, NeedSocketOptions},
	"OP-14":  {NeedListener, NeedSink},
	"DT-06a": {NeedListener, NeedSink},
	"DT-01":  {NeedListener, NeedSink},
	"DT-01b": {NeedListener, NeedSink},
	"DT-02a": {NeedListener, NeedSink},
	"DT-02b": {NeedListener, NeedSink},
	"DT-02c": {NeedListener, NeedSink},
	"DT-03a": {NeedListener, NeedSink},
	"DT-03b": {NeedListener, NeedSink},
	"DT-03c": {NeedListener, NeedSink},
	"DT-04a": {NeedListener, NeedSend, NeedSocketOptions},
	"DT-04b": {NeedListener, NeedSend, NeedSocketOptions},
	"DT-05":  {NeedListener, NeedSink, NeedSend, NeedSocketOptions},
	"DT-07":  {NeedListener, NeedSink},
	"OW-01":  {NeedListener},
	"OW-02a": {NeedListener},
	"OW-02b": {NeedListener, NeedSink},
	"OW-03":  {NeedListener, NeedSink},
	"OW-04":  {NeedListener, NeedSink},
	"OW-05":  {NeedListener, NeedSink},
	"RS-01a": {NeedListener, NeedSink},
	"RS-01b": {NeedListener, NeedSink},
	"RS-02":  {NeedListener, NeedSink},
	"RS-03":  {NeedListener, NeedSink},
	"RS-04a": {NeedListener, NeedAppClose},
	"RS-04b": {NeedListener, NeedAppClose},
	"RS-05a": {NeedListener, NeedAppClose},
	"RS-05b": {NeedListener, NeedSink, NeedAppClose},
	"FC-01":  {NeedListener, NeedSink, NeedAppClose},
	"FC-02":  {NeedListener, NeedSink, NeedAppClose},
	"FC-03b": {NeedListener, NeedAppClose},
	"FC-04a": {NeedListener, NeedSink},
	"FC-04b": {NeedListener, NeedSink},
	"FC-06a": {NeedListener, NeedAppClose},
	"FC-07":  {NeedListener, NeedAppClose},
	"FC-09":  {NeedClient},
	"FC-05":  {NeedListener, NeedAppClose},
	"FC-06b": {NeedListener, NeedAppClose},
	"RT-01a": {NeedClient},
	"RT-01b": {NeedListener},
	"RT-02":  {NeedListener, NeedSend, NeedSocketOptions},
	"RT-03a": {NeedListener, NeedSend, NeedSocketOptions},
	"RT-03b": {NeedListener, NeedSend, NeedSocketOptions},
	"RT-04":  {NeedListener, NeedSink, NeedSend, NeedSocketOptions},
	"RT-05a": {NeedListener, NeedSink, NeedSocketOptions},
	"RT-05b": {NeedListener, NeedSocketOptions},
	"ZW-01":  {NeedListener, NeedSend, NeedSocketOptions},
	"ZW-02":  {NeedListener, NeedSend, NeedSocketOptions},
	"ZW-03a": {NeedListener, NeedSink},
	"ZW-03b": {NeedListener, NeedSink},
	"ZW-03c": {NeedListener},
	"UR-01a": {NeedListener},
	"UR-01b": {NeedListener},
	"UR-02":  {NeedListener, NeedSink},
	"CK-02a": {NeedListener},
	"CK-02b": {NeedListener, NeedSink},
	"CK-02c": {NeedListener},
	"CK-03":  {NeedListener, NeedSend, NeedAppClose, NeedSocketOptions},
	"IS-01a": {NeedListener},
	"IS-01b": {NeedListener},
}
