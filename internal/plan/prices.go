package plan

import (
	"encoding/json"
	"fmt"
	"os"
)

// Price is one list price with the page it comes from.
type Price struct {
	USD    float64 `json:"usd"`
	Unit   string  `json:"unit"`
	Source string  `json:"source"`
}

// Prices is a dated price table for one region. Every field is a list price
// (no free tier, no Savings Plans, no volume tiers beyond the first).
type Prices struct {
	Region string `json:"region"`
	// AsOf is the date the prices were read from their pages.
	AsOf string `json:"as_of"`

	KinesisShardHour          Price `json:"kinesis_shard_hour"`
	KinesisPutPayloadUnit     Price `json:"kinesis_put_payload_unit_per_million"`
	KinesisExtendedRetention  Price `json:"kinesis_extended_retention_shard_hour"`
	KinesisLongTermRetention  Price `json:"kinesis_long_term_retention_gb_month"`
	KinesisEFOShardHour       Price `json:"kinesis_efo_consumer_shard_hour"`
	KinesisEFORetrievalGB     Price `json:"kinesis_efo_retrieval_gb"`
	KinesisOnDemandStreamHour Price `json:"kinesis_on_demand_stream_hour"`
	KinesisOnDemandInGB       Price `json:"kinesis_on_demand_in_gb"`
	KinesisOnDemandOutGB      Price `json:"kinesis_on_demand_out_gb"`

	LambdaGBSecondArm Price `json:"lambda_gb_second_arm64"`
	LambdaRequests    Price `json:"lambda_requests_per_million"`

	DynamoDBWriteRequestUnits Price `json:"dynamodb_write_request_units_per_million"`
	DynamoDBReadRequestUnits  Price `json:"dynamodb_read_request_units_per_million"`
	DynamoDBStorageGBMonth    Price `json:"dynamodb_storage_gb_month"`

	CloudWatchMetricMonth Price `json:"cloudwatch_custom_metric_month"`
	CloudWatchAlarmMonth  Price `json:"cloudwatch_alarm_month"`
	CloudWatchLogsGB      Price `json:"cloudwatch_logs_ingested_gb"`

	SQSRequests   Price `json:"sqs_requests_per_million"`
	S3PutRequests Price `json:"s3_put_requests_per_thousand"`
	S3StorageGB   Price `json:"s3_storage_gb_month"`
}

const (
	kinesisPage    = "https://aws.amazon.com/kinesis/data-streams/pricing/"
	lambdaPage     = "https://aws.amazon.com/lambda/pricing/"
	dynamoPage     = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
	cloudwatchPage = "https://aws.amazon.com/cloudwatch/pricing/"
	sqsPage        = "https://aws.amazon.com/sqs/pricing/"
	s3Page         = "https://aws.amazon.com/s3/pricing/"
)

// DefaultPrices is the us-east-1 list-price table the planner uses unless
// --prices gives another. Kept in code (not a data file) so a binary carries
// it; docs/scale.md shows the same table.
func DefaultPrices() Prices {
	return Prices{
		Region: "us-east-1",
		AsOf:   "2026-12-06",

		KinesisShardHour:          Price{0.015, "per shard-hour (provisioned)", kinesisPage},
		KinesisPutPayloadUnit:     Price{0.014, "per million PUT payload units (25 KB each, provisioned)", kinesisPage},
		KinesisExtendedRetention:  Price{0.02, "per shard-hour, retention 24 h to 7 days (provisioned)", kinesisPage},
		KinesisLongTermRetention:  Price{0.023, "per GB-month stored beyond 7 days", kinesisPage},
		KinesisEFOShardHour:       Price{0.015, "per consumer-shard-hour, enhanced fan-out", kinesisPage},
		KinesisEFORetrievalGB:     Price{0.013, "per GB retrieved, enhanced fan-out", kinesisPage},
		KinesisOnDemandStreamHour: Price{0.04, "per stream-hour (on-demand)", kinesisPage},
		KinesisOnDemandInGB:       Price{0.08, "per GB written, records rounded up to 1 KB (on-demand)", kinesisPage},
		KinesisOnDemandOutGB:      Price{0.04, "per GB read (on-demand)", kinesisPage},

		LambdaGBSecondArm: Price{0.0000133334, "per GB-second, Arm, first 7.5 billion GB-s a month", lambdaPage},
		LambdaRequests:    Price{0.20, "per million requests", lambdaPage},

		DynamoDBWriteRequestUnits: Price{0.625, "per million write request units (on-demand)", dynamoPage},
		DynamoDBReadRequestUnits:  Price{0.125, "per million read request units (on-demand)", dynamoPage},
		DynamoDBStorageGBMonth:    Price{0.25, "per GB-month, Standard table class", dynamoPage},

		CloudWatchMetricMonth: Price{0.30, "per custom metric-month, first 10,000", cloudwatchPage},
		CloudWatchAlarmMonth:  Price{0.10, "per standard-resolution alarm metric-month", cloudwatchPage},
		CloudWatchLogsGB:      Price{0.50, "per GB of logs ingested (Standard, incl. EMF)", cloudwatchPage},

		SQSRequests:   Price{0.40, "per million requests, standard queue (64 KB chunks)", sqsPage},
		S3PutRequests: Price{0.005, "per 1,000 PUT requests, S3 Standard", s3Page},
		S3StorageGB:   Price{0.023, "per GB-month, S3 Standard, first 50 TB", s3Page},
	}
}

// LoadPrices reads a JSON price table (the layout of DefaultPrices, as
// `streamctl plan --print-prices` shows it) over the defaults: a field the
// file leaves out keeps its us-east-1 value.
func LoadPrices(path string) (Prices, error) {
	p := DefaultPrices()
	b, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("read prices %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("prices %s is not a price table: %w (start from `streamctl plan --print-prices`)", path, err)
	}
	return p, nil
}
