package compare

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/appendix-b.md")

// TestAppendixB holds the audit to the catalogue: every requirement ID a
// scenario names is a row of AppendixB; every row appears once, is checked
// by a scenario or says why it is off the wire or what is missing (never
// both: a checked row needs no excuse); and docs/appendix-b.md is what
// WriteAppendixB makes of them.
func TestAppendixB(t *testing.T) {
	id := regexp.MustCompile(`^(MUST|SHLD|MAY|REC)-[0-9]+$`)
	rows := map[string]bool{}
	for _, r := range AppendixB {
		if !id.MatchString(r.ID) || rows[r.ID] {
			t.Errorf("row %q: malformed or repeated", r.ID)
		}
		rows[r.ID] = true
		if !slices.Contains([]string{"MUST", "SHOULD", "MAY", "SHOULD NOT", "MUST NOT"}, r.Level) || r.Feature == "" {
			t.Errorf("%s: level %q, feature %q", r.ID, r.Level, r.Feature)
		}
	}
	// RFC 9293 Appendix B: MUST-1..69, SHLD-1..31, MAY-1..18, REC-1.
	for prefix, n := range map[string]int{"MUST": 69, "SHLD": 31, "MAY": 18, "REC": 1} {
		for i := 1; i <= n; i++ {
			if id := prefix + "-" + strconv.Itoa(i); !rows[id] {
				t.Errorf("%s is in RFC 9293 Appendix B but not in AppendixB", id)
			}
		}
	}
	scenarios := Scenarios()
	for _, s := range scenarios {
		for _, req := range s.Requirements {
			if !rows[req] {
				t.Errorf("%s names %s, which is not a row of AppendixB", s.ID, req)
			}
		}
	}
	for _, r := range AppendixB {
		status, by := r.Status(scenarios)
		switch {
		case status == "checked" && (r.OffWire != "" || r.Gap != ""):
			t.Errorf("%s is checked by %v but still says off-wire %q / gap %q", r.ID, by, r.OffWire, r.Gap)
		case status != "checked" && (r.OffWire == "") == (r.Gap == ""):
			t.Errorf("%s is checked by no scenario: it needs exactly one of OffWire or Gap", r.ID)
		}
	}
	var b bytes.Buffer
	if err := WriteAppendixB(&b, scenarios); err != nil {
		t.Fatal(err)
	}
	const doc = "../docs/appendix-b.md"
	if *update {
		if err := os.WriteFile(doc, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile(doc); err != nil || !bytes.Equal(got, b.Bytes()) {
		t.Errorf("%s is out of date (%v): go test ./compare -run TestAppendixB -update", doc, err)
	}
}
