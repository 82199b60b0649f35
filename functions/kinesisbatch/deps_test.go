package kinesisbatch

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoCDKDependency keeps the toolkit light: a Lambda binary that imports
// aws-cdk-go or jsii grows from ~6 MB to ~70 MB and starts slowly.
func TestNoCDKDependency(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list unavailable: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "aws-cdk-go") || strings.Contains(pkg, "jsii-runtime-go") || strings.Contains(pkg, "constructs-go") {
			t.Errorf("kinesisbatch depends on %s", pkg)
		}
	}
}
