package streamprocessor

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/internal/gobuild"
)

// bundlingImage is required by awscdk.BundlingOptions but never used: the
// local bundler always builds (or fails with a clear error), so CDK never
// falls back to Docker.
const bundlingImage = "public.ecr.aws/docker/library/golang:1.26"

// GoCode returns Lambda code built from the Go main package in directory entry
// (relative to the working directory, or absolute) for the given architecture
// (nil means arm64), ready for provided.al2023: a single `bootstrap` built by
// the local go toolchain with internal/gobuild's reproducible flags. The asset
// hash is computed from the built binary, so the same source gives the same
// hash and an unchanged function is not redeployed.
//
// The build runs when the stack is synthesized, and only for stacks that need
// bundling (`cdk synth`/`deploy` of that stack).
func GoCode(entry *string, architecture awslambda.Architecture) awslambda.Code {
	if architecture == nil {
		architecture = awslambda.Architecture_ARM_64()
	}
	dir, err := filepath.Abs(*entry)
	if err != nil {
		panic(fmt.Errorf("streamprocessor: entry %q: %w", *entry, err))
	}
	goarch := goArch(*architecture.Name())
	return awslambda.Code_FromAsset(jsii.String(dir), &awss3assets.AssetOptions{
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Bundling: &awscdk.BundlingOptions{
			Image: awscdk.DockerImage_FromRegistry(jsii.String(bundlingImage)),
			Local: &goBundler{dir: dir, arch: goarch},
			// Part of CDK's in-process asset cache key, so arm64 and amd64
			// builds of the same directory are not confused.
			Environment: &map[string]*string{"GOARCH": jsii.String(goarch)},
		},
	})
}

// goArch maps a Lambda architecture name to GOARCH.
func goArch(lambdaArch string) string {
	if lambdaArch == "x86_64" {
		return "amd64"
	}
	return "arm64"
}

// goBundler implements awscdk.ILocalBundling with `go build`.
type goBundler struct {
	dir  string
	arch string
}

// TryBundle builds the bootstrap into outputDir. It never returns false (that
// would make CDK try Docker); a failed build panics with the compiler output,
// which CDK reports as the synth error.
func (b *goBundler) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	if err := requireGo(); err != nil {
		panic(err)
	}
	if _, err := gobuild.Bootstrap(context.Background(), gobuild.Options{
		Package: ".",
		Dir:     b.dir,
		OutDir:  *outputDir,
		Arch:    b.arch,
	}); err != nil {
		panic(fmt.Errorf("streamprocessor: bundling %s: %w", b.dir, err))
	}
	return jsii.Bool(true)
}

// requireGo reports a clear error when the go toolchain is not on PATH.
func requireGo() error {
	if _, err := exec.LookPath("go"); err != nil {
		return errors.New("streamprocessor: the go toolchain was not found on PATH; it builds Entry into the Lambda bootstrap: install Go 1.26 or later (https://go.dev/dl/), or pass a prebuilt bootstrap as Code instead of Entry")
	}
	return nil
}

// checkEntry returns a problem with the Entry directory, or "".
func checkEntry(entry string) string {
	info, err := os.Stat(entry)
	if err != nil {
		wd, _ := os.Getwd()
		return fmt.Sprintf("Entry %q does not exist (relative paths are resolved against %q): point Entry at the directory of a Go main package, e.g. \"./functions/processor\"", entry, wd)
	}
	if !info.IsDir() {
		return fmt.Sprintf("Entry %q is a file: point Entry at the directory of the Go main package (%q)", entry, filepath.Dir(entry))
	}
	files, _ := filepath.Glob(filepath.Join(entry, "*.go"))
	var pkgs []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
		if err != nil {
			continue
		}
		if ast.Name.Name == "main" {
			return ""
		}
		pkgs = append(pkgs, ast.Name.Name)
	}
	if len(pkgs) == 0 {
		return fmt.Sprintf("Entry %q holds no Go files: point Entry at the directory of a Go main package", entry)
	}
	return fmt.Sprintf("Entry %q is package %s, not a main package: point Entry at a directory whose package is main and calls lambda.Start", entry, pkgs[0])
}
