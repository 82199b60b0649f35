package depcheck

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/streamproc/streamproc/"

// product are the packages other teams import. They must stand without the
// example application and the tools around it.
var product = []string{
	module + "constructs/...",
	module + "functions/contract/...",
	module + "functions/kinesisbatch/...",
	module + "functions/awsjson/...",
	module + "functions/eventtime/...",
}

// productInternal are the internal helpers the product may use: each is
// standard-library-only and has one job (backoff, a context-aware sleep, the
// Go build of a Lambda bootstrap).
var productInternal = []string{"internal/backoff", "internal/ctxsleep", "internal/gobuild"}

// TestProductDoesNotImportExample keeps the two layers apart: nothing the
// product links may come from the example (infra/, functions/processor/...,
// examples/) or the tools (cmd/, internal/ other than productInternal).
func TestProductDoesNotImportExample(t *testing.T) {
	out, err := exec.Command("go", "list", module+"internal/...").Output()
	if err != nil {
		t.Fatalf("go list ./internal/...: %v", err)
	}
	forbidden := []string{module + "infra", module + "functions/processor", module + "examples", module + "cmd"}
	for _, p := range strings.Fields(string(out)) {
		if !slices.Contains(productInternal, strings.TrimPrefix(p, module)) {
			forbidden = append(forbidden, p)
		}
	}
	if len(forbidden) < 8 {
		t.Fatalf("only %d forbidden packages found: the test would pass vacuously", len(forbidden))
	}
	for _, pkg := range product {
		Forbid(t, pkg, forbidden...)
	}
}
