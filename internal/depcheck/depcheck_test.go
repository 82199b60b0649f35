package depcheck

import (
	"fmt"
	"strings"
	"testing"
)

// errs records Errorf calls; anything else goes to the real test.
type errs struct {
	testing.TB
	got []string
}

func (e *errs) Errorf(format string, args ...any) {
	e.got = append(e.got, fmt.Sprintf(format, args...))
}

const kinesisbatch = "github.com/streamproc/streamproc/functions/kinesisbatch"

func TestForbid(t *testing.T) {
	e := &errs{TB: t}
	Forbid(e, ".", "os/", "github.com/aws/")
	if len(e.got) != 1 || !strings.Contains(e.got[0], ". links os/exec (forbidden: os/...)") {
		t.Errorf("got %q, want os/exec reported", e.got)
	}
	e.got = nil
	Forbid(e, "-tags=lambda.norpc "+kinesisbatch, "github.com/aws/aws-lambda-go/lambda")
	if len(e.got) == 0 || !strings.Contains(e.got[0], "links github.com/aws/aws-lambda-go/lambda") {
		t.Errorf("got %q, want the lambda package reported", e.got)
	}
}

func TestStdlibOnly(t *testing.T) {
	e := &errs{TB: t}
	StdlibOnly(e, ".")
	if len(e.got) != 0 {
		t.Errorf("depcheck itself: %q", e.got)
	}
	StdlibOnly(e, kinesisbatch, "github.com/streamproc/streamproc/functions/awsjson")
	var lambda, awsjson bool
	for _, s := range e.got {
		lambda = lambda || strings.Contains(s, "links github.com/aws/aws-lambda-go/events, which is not in the standard library")
		awsjson = awsjson || strings.Contains(s, "functions/awsjson,")
	}
	if !lambda || awsjson {
		t.Errorf("got %q, want aws-lambda-go reported and the allowed awsjson not", e.got)
	}
}
