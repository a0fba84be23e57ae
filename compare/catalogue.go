package compare

// Scenarios is the catalogue, in CONFORMANCE.md's order of sections.
func Scenarios() []Scenario {
	var all []Scenario
	for _, part := range [][]Scenario{handshakeScenarios, optionScenarios, dataScenarios, transferScenarios, windowScenarios, resetScenarios, closeScenarios, timerScenarios, zeroWindowScenarios, urgentScenarios, checksumScenarios, isnScenarios} {
		all = append(all, part...)
	}
	return all
}
