package awsjson

import (
	"testing"

	"github.com/streamproc/streamproc/internal/depcheck"
)

// TestStandardLibraryOnly keeps the reason for this package: linking
// aws-sdk-go-v2 or smithy-go (even indirectly) brings back their init cost,
// so nothing outside the standard library but two stdlib-only helpers of
// this module.
func TestStandardLibraryOnly(t *testing.T) {
	depcheck.StdlibOnly(t, ".",
		"github.com/streamproc/streamproc/internal/backoff",
		"github.com/streamproc/streamproc/internal/ctxsleep")
}
