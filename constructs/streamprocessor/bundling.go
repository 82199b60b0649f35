package streamprocessor

import (
	"archive/zip"
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
// bundling (`cdk synth`/`deploy` of that stack), inside CDK's bundling
// callback: a failed build panics with the compiler's message, but the CDK's
// node process may report a broken pipe before it. StreamProcessorProps.Entry
// builds before CDK is involved instead, and reports only the compiler's
// message.
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
// would make CDK try Docker); a failed build removes outputDir (the process
// ends before CDK could clean it up) and panics with the compiler output.
// The panic crosses the jsii callback, so the CDK's node process reports a
// broken pipe before it: StreamProcessorProps.Entry builds before CDK is
// involved and reports only the compiler's message.
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
		_ = os.RemoveAll(*outputDir)
		panic(buildError(b.dir, err))
	}
	return jsii.Bool(true)
}

// BuildError is the panic value of NewStreamProcessor when Entry does not
// build. Its message starts with the compiler's.
type BuildError struct {
	// Entry is the directory that was built.
	Entry string
	// Output is what `go build` printed.
	Output string
	err    error
}

func (e *BuildError) Error() string {
	if e.Output == "" {
		return fmt.Sprintf("streamprocessor: Entry %q does not build: %v", e.Entry, e.err)
	}
	return fmt.Sprintf("%s\nstreamprocessor: Entry %q does not build (go build for linux, as above): fix the errors, then synthesize again", e.Output, e.Entry)
}

func (e *BuildError) Unwrap() error { return e.err }

func buildError(entry string, err error) *BuildError {
	be := &BuildError{Entry: entry, err: err}
	var gb *gobuild.BuildError
	if errors.As(err, &gb) {
		be.Output = gb.Output
	}
	return be
}

// prebuiltCode builds entry into a new temporary directory before CDK is
// involved, so a failed build panics in the caller's goroutine with the
// compiler's message and leaves nothing in the cloud assembly. The caller
// removes dir once the asset is staged (copied into the cloud assembly).
func prebuiltCode(entry string, architecture awslambda.Architecture) (code awslambda.Code, dir string, err error) {
	abs, err := filepath.Abs(entry)
	if err != nil {
		return nil, "", fmt.Errorf("streamprocessor: entry %q: %w", entry, err)
	}
	dir, err = os.MkdirTemp("", "streamprocessor-bootstrap-")
	if err != nil {
		return nil, "", err
	}
	if _, err := gobuild.Bootstrap(context.Background(), gobuild.Options{
		Package: ".",
		Dir:     abs,
		OutDir:  dir,
		Arch:    goArch(*architecture.Name()),
	}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", buildError(entry, err)
	}
	// The asset hash is the hash of the directory's only file, the
	// reproducible bootstrap: the same source gives the same hash.
	return awslambda.Code_FromAsset(jsii.String(dir), nil), dir, nil
}

// bootstrapProblem checks that the function's staged code asset (after CDK's
// bundling, if any) holds an executable `bootstrap`, which provided.al2023
// runs. It returns "" when it holds one, or when there is nothing on this
// machine to check (code in S3, inline code, an image, or a stack whose
// bundling is skipped).
func bootstrapProblem(fn awslambda.Function, code awslambda.Code) string {
	child := fn.Node().TryFindChild(jsii.String("Code"))
	asset, ok := child.(awss3assets.Asset)
	if !ok || asset == nil || asset.AssetPath() == nil {
		return ""
	}
	path := *asset.AssetPath()
	if !filepath.IsAbs(path) {
		path = filepath.Join(*awscdk.Stage_Of(fn).AssetOutdir(), path)
	}
	// Name the caller's path in messages, not the staged copy.
	source := path
	if ac, ok := code.(awslambda.AssetCode); ok && ac.Path() != nil {
		source = *ac.Path()
	}
	info, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if !info.IsDir() {
		if !strings.HasSuffix(strings.ToLower(path), ".zip") {
			return ""
		}
		return zipBootstrapProblem(path, source)
	}
	b, err := os.Stat(filepath.Join(path, "bootstrap"))
	switch {
	case err != nil || b.IsDir():
		return fmt.Sprintf("Code (%s) holds no `bootstrap` file: provided.al2023 runs the executable named bootstrap at the root of the code; build it with GOOS=linux go build -o <dir>/bootstrap, or set Entry to the Go main package instead of Code", source)
	case b.Mode()&0o111 == 0:
		return fmt.Sprintf("Code's bootstrap (%s) is not executable: chmod +x it, or set Entry to the Go main package instead of Code", filepath.Join(source, "bootstrap"))
	}
	return ""
}

func zipBootstrapProblem(path, source string) string {
	z, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Sprintf("Code is %s, which is not a readable zip file (%v): point Code at a directory or zip holding the bootstrap", source, err)
	}
	defer z.Close()
	for _, f := range z.File {
		if f.Name == "bootstrap" {
			return ""
		}
	}
	return fmt.Sprintf("Code is the zip %s, which has no `bootstrap` at its root: provided.al2023 runs the executable named bootstrap at the root of the code; zip the bootstrap at the root (zip -j code.zip bootstrap), or set Entry to the Go main package instead of Code", source)
}

// staticError is a validation that always reports msg.
type staticError struct{ msg string }

func (s *staticError) Validate() *[]*string { return &[]*string{jsii.String(s.msg)} }

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
