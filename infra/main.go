// Command infra is the CDK app of the example pipeline: `npx cdk synth -c
// stage=dev` (or `make synth`) runs it through cdk.json.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()

	app := awscdk.NewApp(nil)
	stage, err := stageFromContext(app)
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(2)
	}
	NewPipelineStack(app, "StreamProc-"+stage.Name, &PipelineStackProps{
		StackProps: awscdk.StackProps{Env: env()},
		Stage:      stage,
		Entry:      "functions/processor",
	})
	addNagChecks(app)
	app.Synth(nil)
}

// env targets the account and region of the caller's credentials
// (CDK_DEFAULT_ACCOUNT/REGION, set by the CDK CLI). Without credentials the
// stack is environment-agnostic, which is enough to synthesize it.
func env() *awscdk.Environment {
	e := &awscdk.Environment{}
	if v := os.Getenv("CDK_DEFAULT_ACCOUNT"); v != "" {
		e.Account = jsii.String(v)
	}
	if v := os.Getenv("CDK_DEFAULT_REGION"); v != "" {
		e.Region = jsii.String(v)
	}
	return e
}
