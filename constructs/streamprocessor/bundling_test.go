package streamprocessor_test

import (
	"archive/zip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	sp "github.com/streamproc/streamproc/constructs/streamprocessor"
)

// TestEntryDoesNotBuild: a main package that does not compile fails in
// NewStreamProcessor with the compiler's message first, and leaves nothing in
// the cloud assembly (no bundling-temp-* directory).
func TestEntryDoesNotBuild(t *testing.T) {
	out := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	stack := awscdk.NewStack(app, jsii.String("Broken"), nil)
	var got interface{}
	func() {
		defer func() { got = recover() }()
		sp.NewStreamProcessor(stack, jsii.String("Orders"), &sp.StreamProcessorProps{Entry: jsii.String(brokenEntry)})
	}()
	err, _ := got.(error)
	var be *sp.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("panicked with %T %v, want *BuildError", got, got)
	}
	msg := be.Error()
	if !strings.HasPrefix(msg, "# ") || !strings.Contains(strings.SplitN(msg, "\n", 3)[1], "undefined: undefinedThing") {
		t.Errorf("message should start with the compiler's:\n%s", msg)
	}
	if !strings.Contains(msg, `Entry "`+brokenEntry+`" does not build`) {
		t.Errorf("message does not name the entry:\n%s", msg)
	}
	if stack.Node().TryFindChild(jsii.String("Orders")) != nil {
		t.Error("the construct was added to the tree before the build failed")
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "bundling-temp-") {
			t.Errorf("left %s in the cloud assembly", e.Name())
		}
	}
}

// TestCodeWithoutBootstrap: Code whose asset has no executable bootstrap
// fails synthesis with a message that names the asset and the fix.
func TestCodeWithoutBootstrap(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "notexec")
	if err := os.MkdirAll(notExec, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notExec, "bootstrap"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(dir, "code.zip")
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("handler")
	fmt.Fprint(w, "x")
	zw.Close()
	f.Close()

	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	cases := []struct {
		name, path, want string
	}{
		{"Source", handlerEntry, "holds no `bootstrap` file"},
		{"NotExecutable", notExec, "is not executable: chmod +x it"},
		{"Zip", zipPath, "which has no `bootstrap` at its root"},
		{"Prebuilt", prebuiltCode, ""},
	}
	stacks := map[string]awscdk.Stack{}
	for _, c := range cases {
		stacks[c.name] = awscdk.NewStack(app, jsii.String(c.name), nil)
		sp.NewStreamProcessor(stacks[c.name], jsii.String("Orders"), &sp.StreamProcessorProps{
			Code: awslambda.Code_FromAsset(jsii.String(c.path), nil),
		})
	}
	var synthErr string
	func() {
		defer func() {
			if r := recover(); r != nil {
				synthErr = fmt.Sprint(r)
			}
		}()
		app.Synth(nil)
	}()
	for _, c := range cases {
		if c.want == "" {
			if strings.Contains(synthErr, "["+c.name+"/Orders]") {
				t.Errorf("%s: rejected: %s", c.name, synthErr)
			}
			continue
		}
		line := ""
		for _, l := range strings.Split(synthErr, "\n") {
			if strings.Contains(l, "["+c.name+"/Orders] ") {
				line = l
			}
		}
		if !strings.Contains(line, c.want) || !strings.Contains(line, c.path) {
			t.Errorf("%s: synthesis error %q has no line for it containing %q and the path %s", c.name, synthErr, c.want, c.path)
		}
	}
}
