// Command orders is the orders app's CDK app: `npx cdk synth` in this
// directory (cdk.json runs it) synthesizes the OrdersApp stack with the
// cdk-nag AwsSolutions and Serverless packs on; a finding fails the synth.
package main

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// StackName is the stack's name (and its template's: cdk.out/OrdersApp.template.json).
const StackName = "OrdersApp"

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	NewOrdersStack(app, StackName, &OrdersStackProps{
		StackProps: awscdk.StackProps{Env: env()},
	})
	addNagChecks(app)
	app.Synth(nil)
}

// addNagChecks applies the cdk-nag AwsSolutions and Serverless packs to every
// stack of the app: an unsuppressed finding is an error annotation, and the
// CDK CLI then exits non-zero.
func addNagChecks(app awscdk.App) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewServerlessChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// env targets the account and region of the caller's credentials when the
// CDK CLI knows them; without, the stack is environment-agnostic, which is
// enough to synthesize it.
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
