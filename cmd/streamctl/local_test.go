package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc/internal/localrun"
)

// TestLocalFlags runs the real binary with --help and bad flags: they must be
// answered (exit 0 and 2) before any emulator or build is started.
func TestLocalFlags(t *testing.T) {
	bin := buildCLI(t)
	_, stderr, code := runCLI(t, bin, nil, "", "local", "--help")
	if code != 0 || !strings.Contains(stderr, "usage: streamctl local") || strings.Contains(stderr, "help requested") {
		t.Fatalf("--help: exit %d\n%s", code, stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--count", "x"}, "invalid value"},
		{[]string{"--count", "0"}, "--count 0 is not valid"},
		{[]string{"--count", "-5"}, "--count -5 is not valid"},
		{[]string{"--rate", "NaN"}, "--rate NaN is not valid"},
		{[]string{"--rate", "-1"}, "--rate -1 is not valid"},
		{[]string{"--sensors", "0"}, "--sensors 0 is not valid"},
		{[]string{"--invalid", "1.5"}, "--invalid 1.5 is not valid"},
		{[]string{"--duplicates", "NaN"}, "--duplicates NaN is not valid"},
		{[]string{"--out-of-order", "-0.1"}, "--out-of-order -0.1 is not valid"},
		{[]string{"--settle", "-1s"}, "--settle -1s is not valid"},
		{[]string{"--aggregate", "-2"}, "--aggregate -2 is not valid"},
		{[]string{"--kinesis", "moto"}, `--kinesis "moto" is not valid`},
		{[]string{"--shards", "-1"}, "--shards -1 is not valid"},
		{[]string{"--parallelization-factor", "11"}, "--parallelization-factor 11 is not valid"},
		{[]string{"--batch-size", "20000"}, "--batch-size 20000 is not valid"},
		{[]string{"--batching-window", "301s"}, "--batching-window 5m1s is not valid"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--from", "/nonexistent.ndjson"}, "--from: stat /nonexistent.ndjson"},
		{[]string{"--from", "local_test.go", "--count", "5"}, "--count shapes generated readings and cannot be used with --from"},
	} {
		start := time.Now()
		stdout, stderr, code := runCLI(t, bin, nil, "", append([]string{"local"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Contains(stdout, "starting") {
			t.Errorf("%v: exit %d, want 2 with %q\nstdout: %s\nstderr: %s", c.args, code, c.want, stdout, stderr)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("%v: took %s: something was started before the flags were checked", c.args, el)
		}
	}
}

func TestValidateLocal(t *testing.T) {
	ok := localrun.LocalOptions{Count: 3000, Rate: 100, Sensors: 50, Duplicates: 0.02, Invalid: 0.01, OutOfOrder: 0.1, Settle: time.Minute}
	if err := validateLocal(ok); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	ok.Rate = 0
	if err := validateLocal(ok); err != nil {
		t.Fatalf("--rate 0 (as fast as possible) refused: %v", err)
	}
	ok.Settle = 0
	if err := validateLocal(ok); err != nil {
		t.Fatalf("--settle 0 (as long as the pipeline makes progress) refused: %v", err)
	}
	for name, set := range map[string]func(*localrun.LocalOptions){
		"rate +Inf":            func(o *localrun.LocalOptions) { o.Rate = math.Inf(1) },
		"invalid NaN":          func(o *localrun.LocalOptions) { o.Invalid = math.NaN() },
		"duplicates + invalid": func(o *localrun.LocalOptions) { o.Duplicates, o.Invalid = 0.7, 0.7 },
		"sensors over the max": func(o *localrun.LocalOptions) { o.Sensors = 2_000_000 },
		"negative settle":      func(o *localrun.LocalOptions) { o.Settle = -time.Second },
	} {
		o := ok
		set(&o)
		if err := validateLocal(o); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
