package sizing

import (
	"testing"

	"github.com/streamproc/streamproc/internal/depcheck"
)

// TestStandardLibraryOnly: the construct and `streamctl plan` both import
// this package, so it links neither CDK nor anything of the tools.
func TestStandardLibraryOnly(t *testing.T) {
	depcheck.StdlibOnly(t, ".")
}
