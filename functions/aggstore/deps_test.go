package aggstore_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoAWSSDKDependency keeps the processor's INIT short: the package
// initialisation of aws-sdk-go-v2's service packages costs ~9 ms of its
// 15 ms budget, so the store and its fake speak DynamoDB's JSON protocol
// through functions/awsjson (standard library only) instead. Tests may use
// the SDK; the packages may not, directly or through any dependency.
func TestNoAWSSDKDependency(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	out, err := exec.Command("go", "list", "-deps", ".", "./fakedb").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 10 || !strings.Contains(string(out), "github.com/streamproc/streamproc/functions/awsjson") {
		t.Fatalf("go list -deps printed an unexpected list:\n%s", out)
	}
	for _, pkg := range pkgs {
		if strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2") || strings.Contains(pkg, "smithy") {
			t.Errorf("aggstore depends on %s", pkg)
		}
	}
}
