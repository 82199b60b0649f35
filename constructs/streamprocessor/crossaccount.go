package streamprocessor

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// streamAccount tells where the stream's own metrics (AWS/Kinesis) can be
// read from. CloudWatch keeps a stream's metrics in the stream's account, so
// an alarm in this stack's account on a stream of another account never gets
// data, unless this account is a cross-account observability monitoring
// account and the metric names the stream's account.
type streamAccount int

const (
	streamAccountSame    streamAccount = iota // a new stream, or an existing one in this stack's account
	streamAccountOther                        // the ARN names another account than the stack's
	streamAccountUnknown                      // the stack's account or the ARN's is not known at synth
)

// placeStreamAccount compares the account in the existing stream's ARN (its
// resource environment) with the stack's.
func placeStreamAccount(r *resolved, stack awscdk.Stack) (streamAccount, *string) {
	if r.newStream {
		return streamAccountSame, nil
	}
	streamAcct := r.Stream.Env().Account
	if streamAcct == nil || *awscdk.Token_IsUnresolved(streamAcct) || *awscdk.Token_IsUnresolved(stack.Account()) {
		// An ARN built from this stack's own account token resolves to the
		// same account: compare the unresolved strings too.
		if streamAcct != nil && *streamAcct == *stack.Account() {
			return streamAccountSame, nil
		}
		return streamAccountUnknown, streamAcct
	}
	if *streamAcct == *stack.Account() {
		return streamAccountSame, nil
	}
	return streamAccountOther, streamAcct
}

// applyStreamAccount sets what the monitoring may read of a stream outside
// this account: nothing by default; the stream's account's metrics with
// MonitoringProps.CrossAccountStreamMetrics. When the account cannot be told
// (an environment-agnostic stack), it warns and leaves the stream-side
// alarms out rather than make alarms that may never get data.
func (sp *StreamProcessor) applyStreamAccount(r *resolved, t *monitoringTargets) {
	stack := awscdk.Stack_Of(sp)
	where, acct := placeStreamAccount(r, stack)
	if where == streamAccountSame {
		return
	}
	if boolValue(r.Monitoring.CrossAccountStreamMetrics) {
		t.StreamAccount = acct
		return
	}
	t.NoStreamMetrics = true
	if where == streamAccountUnknown {
		awscdk.Annotations_Of(sp).AddWarningV2(jsii.String("streamprocessor:StreamAccountUnknown"), jsii.String(fmt.Sprintf(
			"cannot tell whether the stream %s is in this stack's account (the stack's env.account, or the ARN's account, is not known at synth): "+
				"its stream-side alarms (StreamIteratorAge, WriteThrottled, ReadThrottled) and graphs are left out. "+
				"Set the stack's Env.Account so the construct can compare them, or set Monitoring.CrossAccountStreamMetrics to read the "+
				"stream's metrics from its account through CloudWatch cross-account observability", strOr(r.Stream.StreamArn()))), nil)
	}
}
