// Package gobuild builds a Go main package into a Lambda `bootstrap` for the
// provided.al2023 runtime. The construct's bundling, `make build`, streamctl
// local and the tests all build through here, so the flags live in one place.
package gobuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Options describe one build.
type Options struct {
	// Package is the main package to build, as `go build` takes it
	// ("./functions/processor" or a full import path).
	Package string
	// Dir is the directory to run `go build` in: inside the module that holds
	// Package. Empty means the current directory.
	Dir string
	// OutDir receives the binary, always named "bootstrap".
	OutDir string
	// Arch is the GOARCH: "arm64" (default) or "amd64". Use runtime.GOARCH to
	// run the binary on this machine (under aws-lambda-rie).
	Arch string
	// ExtraEnv is added to the build environment (e.g. GOFLAGS).
	ExtraEnv []string
}

// Flags returns the `go build` arguments that make a small, reproducible
// bootstrap: no RPC shim, no local paths, no symbol table, no build id. The
// same source then gives the same bytes, so the CDK asset hash is stable.
func Flags(out string) []string {
	return []string{"build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid=", "-o", out}
}

// Host is the GOARCH of this machine, for binaries run locally.
func Host() string { return runtime.GOARCH }

// Bootstrap builds opts.Package and returns the path of the bootstrap binary.
func Bootstrap(ctx context.Context, opts Options) (string, error) {
	arch := opts.Arch
	if arch == "" {
		arch = "arm64"
	}
	if arch != "arm64" && arch != "amd64" {
		return "", fmt.Errorf("gobuild: architecture %q is not supported: use arm64 or amd64", arch)
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return "", err
	}
	out, err := filepath.Abs(filepath.Join(opts.OutDir, "bootstrap"))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", append(Flags(out), opts.Package)...)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
	cmd.Env = append(cmd.Env, opts.ExtraEnv...)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", &BuildError{Package: opts.Package, Dir: opts.Dir, Arch: arch, Output: strings.TrimSpace(stderr.String()), Err: err}
	}
	return out, nil
}

// BuildError is a failed `go build`: Output is what the go command printed
// (the compiler's messages), so callers can show it first.
type BuildError struct {
	Package, Dir, Arch string
	Output             string
	Err                error
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("gobuild: go build %s (GOARCH=%s) in %q failed: %v\n%s", e.Package, e.Arch, e.Dir, e.Err, e.Output)
}

func (e *BuildError) Unwrap() error { return e.Err }
