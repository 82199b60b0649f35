package kinesisbatch_test

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
)

// sdkSQS adapts an aws-sdk-go-v2 *sqs.Client to kinesisbatch.SQSSender, for
// a function that links the SDK anyway. (The toolkit does not, to keep
// Lambda INIT short: kinesisbatch.NewSQSClient needs only the standard
// library.)
type sdkSQS struct{ c *sqs.Client }

func (c sdkSQS) SendMessageBatch(ctx context.Context, in *kinesisbatch.SendMessageBatchInput) (*kinesisbatch.SendMessageBatchOutput, error) {
	req := &sqs.SendMessageBatchInput{QueueUrl: aws.String(in.QueueUrl)}
	for _, e := range in.Entries {
		attrs := make(map[string]types.MessageAttributeValue, len(e.MessageAttributes))
		for k, v := range e.MessageAttributes {
			attrs[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
		req.Entries = append(req.Entries, types.SendMessageBatchRequestEntry{Id: aws.String(e.Id), MessageBody: aws.String(e.MessageBody), MessageAttributes: attrs})
	}
	out, err := c.c.SendMessageBatch(ctx, req)
	if err != nil {
		return nil, err
	}
	res := &kinesisbatch.SendMessageBatchOutput{}
	for _, s := range out.Successful {
		res.Successful = append(res.Successful, kinesisbatch.SendMessageBatchResultEntry{Id: aws.ToString(s.Id), MessageId: aws.ToString(s.MessageId)})
	}
	for _, f := range out.Failed {
		res.Failed = append(res.Failed, kinesisbatch.BatchResultErrorEntry{Id: aws.ToString(f.Id), Code: aws.ToString(f.Code), Message: aws.ToString(f.Message), SenderFault: f.SenderFault})
	}
	return res, nil
}

// A team that already holds an aws-sdk-go-v2 SQS client wraps it in an
// adapter; everyone else uses kinesisbatch.NewSQSClient (or ConfigFromEnv).
func ExampleSQSSender() {
	ctx := context.Background()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	q := kinesisbatch.NewSQSQuarantine(sdkSQS{c: sqs.NewFromConfig(awsCfg)}, os.Getenv("STREAMPROC_QUARANTINE_QUEUE_URL"), os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
	_ = kinesisbatch.Config{Quarantine: q}
}
