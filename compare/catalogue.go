package compare

// Scenarios is the catalogue, in CONFORMANCE.md's order of sections.
func Scenarios() []Scenario {
	var all []Scenario
	for _, part := range [][]Scenario{handshakeScenarios, dataScenarios, windowScenarios, resetScenarios, closeScenarios, timerScenarios, checksumScenarios} {
		all = append(all, part...)
	}
	return all
}
