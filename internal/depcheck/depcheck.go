// Package depcheck lets a test state what a package may link: the rules that
// keep a Lambda's INIT short (no aws-sdk-go-v2) and its binary small (no
// CDK). It asks `go list -deps`, so it sees indirect dependencies too, and
// only non-test files.
package depcheck

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

type dep struct {
	path   string
	std    bool
	target bool // one of the packages asked about, not only a dependency
}

// list returns the packages that pkgs link, themselves included. pkgs is
// go list's arguments separated by spaces: packages and build flags, e.g.
// "." or "-tags=lambda.norpc . ./fakedb".
func list(t testing.TB, pkgs string) []dep {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{.DepOnly}}"}, strings.Fields(pkgs)...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var deps []dep
	targets := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("go list printed %q", line)
		}
		d := dep{path: f[0], std: f[1] == "true", target: f[2] == "false"}
		if d.target {
			targets++
		}
		deps = append(deps, d)
	}
	if targets == 0 { // an empty answer must not pass every rule
		t.Fatalf("go list -deps %s listed none of the packages themselves:\n%s", pkgs, out)
	}
	return deps
}

// Forbid fails t for every package that pkgs (go list arguments, see above)
// link, directly or not, whose import path starts with one of prefixes.
func Forbid(t testing.TB, pkgs string, prefixes ...string) {
	t.Helper()
	for _, d := range list(t, pkgs) {
		for _, p := range prefixes {
			if strings.HasPrefix(d.path, p) {
				t.Errorf("%s links %s (forbidden: %s...)", pkgs, d.path, p)
			}
		}
	}
}

// StdlibOnly fails t for every package that pkgs link, directly or not,
// that is not in the standard library, other than pkgs themselves and the
// allowed import paths (which must be standard-library-only too: their
// dependencies are checked with the rest).
func StdlibOnly(t testing.TB, pkgs string, allowed ...string) {
	t.Helper()
	for _, d := range list(t, pkgs) {
		if !d.std && !d.target && !slices.Contains(allowed, d.path) {
			t.Errorf("%s links %s, which is not in the standard library", pkgs, d.path)
		}
	}
}
