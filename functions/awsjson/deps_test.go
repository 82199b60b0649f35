package awsjson

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly keeps the reason for this package: linking
// aws-sdk-go-v2 or smithy-go (even indirectly) brings back their init cost.
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, std, _ := strings.Cut(line, " ")
		switch {
		case strings.Contains(pkg, "github.com/aws/") || strings.Contains(pkg, "smithy"):
			t.Errorf("awsjson depends on %s", pkg)
		case std != "true" && pkg != "github.com/streamproc/streamproc/functions/awsjson":
			t.Errorf("awsjson depends on %s, which is not in the standard library", pkg)
		}
	}
}
