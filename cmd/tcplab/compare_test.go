package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"tcplab/compare"
)

func TestCompareJSONAndMarkdown(t *testing.T) {
	md := filepath.Join(t.TempDir(), "m.md")
	stdout, stderr, err := runCLI(t, "compare", "--run", "^RS-0", "--json", "--markdown", md)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var m compare.Matrix
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&m); err != nil || dec.More() {
		t.Fatalf("stdout is not one JSON document (%v):\n%s", err, stdout)
	}
	if len(m.Scenarios) < 3 || len(m.Stacks) != 2 {
		t.Fatalf("%d scenarios on %v", len(m.Scenarios), m.Stacks)
	}
	for _, r := range m.Scenarios {
		if !strings.HasPrefix(r.ID, "RS-0") || r.RFC == "" || len(r.Results) != 2 {
			t.Errorf("row %+v", r)
		}
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "| ID | scenario | RFC | handmade | netstack |") || !strings.Contains(string(b), "| RS-01") {
		t.Errorf("markdown:\n%s", b)
	}
}

func TestCompareRejectsWhatItCannotRun(t *testing.T) {
	for _, args := range [][]string{
		{"compare", "--stacks", "linux"},
		{"compare", "--link", "tun"},
		{"compare", "--run", "NO-SUCH-SCENARIO"},
		{"compare", "--run", "("},
	} {
		_, _, err := runCLI(t, args...)
		var ec cli.ExitCoder
		if !errors.As(err, &ec) || ec.ExitCode() != 2 {
			t.Errorf("%v: err %v, want exit status 2", args, err)
		}
	}
}
