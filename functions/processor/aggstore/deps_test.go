package aggstore_test

import (
	"testing"

	"github.com/streamproc/streamproc/internal/depcheck"
)

// TestNoAWSSDKDependency keeps the processor's INIT short: the package
// initialisation of aws-sdk-go-v2's service packages costs ~9 ms of its
// 15 ms budget, so the store and its fake speak DynamoDB's JSON protocol
// through functions/awsjson instead. Tests may use the SDK; the packages may
// not, directly or through any dependency.
func TestNoAWSSDKDependency(t *testing.T) {
	depcheck.Forbid(t, ". ./fakedb", "github.com/aws/aws-sdk-go", "github.com/aws/smithy-go")
}
