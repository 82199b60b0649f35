package main

import (
	"os/exec"
	"strings"
	"testing"
)

// forbiddenInFunctions are module prefixes a Lambda binary must never link:
// the CDK and jsii (they grow a bootstrap from ~6 MB to ~70 MB and start a
// node child) and cdk-nag.
var forbiddenInFunctions = []string{
	"github.com/aws/aws-cdk-go/",
	"github.com/aws/jsii-runtime-go",
	"github.com/aws/constructs-go/",
	"github.com/cdklabs/",
}

// TestFunctionsDoNotImportCDK checks every main package under functions/ with
// `go list -deps`.
func TestFunctionsDoNotImportCDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{if eq .Name \"main\"}}{{.ImportPath}}{{end}}", "../functions/...").Output()
	if err != nil {
		t.Fatalf("go list ../functions/...: %v", err)
	}
	mains := strings.Fields(string(out))
	if len(mains) == 0 {
		t.Fatal("no main package under functions/: the test would pass vacuously")
	}
	for _, pkg := range mains {
		t.Run(strings.TrimPrefix(pkg, "github.com/streamproc/streamproc/"), func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", pkg)
			cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
			deps, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			for _, dep := range strings.Fields(string(deps)) {
				for _, bad := range forbiddenInFunctions {
					if strings.HasPrefix(dep, bad) {
						t.Errorf("%s depends on %s", pkg, dep)
					}
				}
			}
		})
	}
}
