package localrun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A function in a nested module (an app with its own go.mod) is built in
// that module; one in the repository's module and an import path in root.
func TestBuildTarget(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"functions/processor", "examples/app/functions/fn", "examples/app/notes"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"go.mod", "examples/app/go.mod"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("module x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ pkg, dir, target string }{
		{"./functions/processor", root, "./functions/processor"},
		{"./examples/app/functions/fn", filepath.Join(root, "examples/app"), "./functions/fn"},
		{filepath.Join(root, "examples/app/functions/fn"), filepath.Join(root, "examples/app"), "./functions/fn"},
		{"./examples/app", filepath.Join(root, "examples/app"), "."},
		{"example.com/app/functions/fn", root, "example.com/app/functions/fn"},
	} {
		dir, target, err := BuildTarget(root, c.pkg)
		if err != nil || dir != c.dir || target != c.target {
			t.Errorf("BuildTarget(%s) = %q, %q, %v; want %q, %q", c.pkg, dir, target, err, c.dir, c.target)
		}
	}
	if _, _, err := BuildTarget(root, "./functions/missing"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("missing directory: %v", err)
	}
}
