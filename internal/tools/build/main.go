// Command build compiles every Lambda main package under functions/ into
// <out>/<name>/bootstrap through internal/gobuild, the same builder the
// construct's bundling uses, so `make build` cannot drift from what deploys.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/streamproc/streamproc/internal/gobuild"
)

func main() {
	out := flag.String("out", ".build", "output directory; each function goes to <out>/<name>/bootstrap")
	arch := flag.String("arch", "arm64", "GOARCH of the bootstraps: arm64 or amd64")
	flag.Parse()

	mains, err := filepath.Glob("functions/*/main.go")
	if err != nil || len(mains) == 0 {
		fmt.Fprintln(os.Stderr, "build: no functions/*/main.go found: run it from the repository root")
		os.Exit(1)
	}
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		bin, err := gobuild.Bootstrap(context.Background(), gobuild.Options{
			Package: "./" + filepath.Dir(m),
			OutDir:  filepath.Join(*out, name),
			Arch:    *arch,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			os.Exit(1)
		}
		st, err := os.Stat(bin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			os.Exit(1)
		}
		fmt.Printf("%-12s %s (%s, %.1f MB)\n", name, bin, *arch, float64(st.Size())/1e6)
	}
}
