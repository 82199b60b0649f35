package kinesisbatch

import (
	"os/exec"
	"strings"
	"testing"
)

// goListDeps returns the packages the toolkit links (its non-test files).
func goListDeps(t *testing.T) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go list")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// TestNoCDKDependency keeps the toolkit light: a Lambda binary that imports
// aws-cdk-go or jsii grows from ~6 MB to ~70 MB and starts slowly.
func TestNoCDKDependency(t *testing.T) {
	for _, pkg := range goListDeps(t) {
		if strings.Contains(pkg, "aws-cdk-go") || strings.Contains(pkg, "jsii-runtime-go") || strings.Contains(pkg, "constructs-go") {
			t.Errorf("kinesisbatch depends on %s", pkg)
		}
	}
}

// TestNoAWSSDKDependency keeps every toolkit user's INIT short: the package
// initialisation of aws-sdk-go-v2 (service packages, config's SSO and STS
// clients) costs ~9 ms of a 15 ms budget. The quarantine talks to SQS through
// functions/awsjson instead; aws-lambda-go is fine.
func TestNoAWSSDKDependency(t *testing.T) {
	for _, pkg := range goListDeps(t) {
		if strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go") || strings.HasPrefix(pkg, "github.com/aws/smithy-go") || strings.Contains(pkg, "smithy") {
			t.Errorf("kinesisbatch depends on %s", pkg)
		}
	}
}
