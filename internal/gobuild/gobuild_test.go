package gobuild

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildError: a package that does not compile gives a *BuildError whose
// Output is the compiler's message, and no bootstrap.
func TestBuildError(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module broken\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	_, err := Bootstrap(context.Background(), Options{Package: ".", Dir: src, OutDir: out, ExtraEnv: []string{"GOFLAGS=-mod=mod", "GOWORK=off"}})
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v (%T), want *BuildError", err, err)
	}
	if !strings.Contains(be.Output, "undefined: undefinedThing") || strings.Contains(be.Output, "gobuild:") {
		t.Errorf("Output = %q, want only the compiler's message", be.Output)
	}
	if _, statErr := os.Stat(filepath.Join(out, "bootstrap")); statErr == nil {
		t.Error("a bootstrap exists after a failed build")
	}
}
