// Command fn is redrive's test function: a Kinesis handler run under
// aws-lambda-rie that appends every record it receives, as it received it, to
// the file FN_LOG (one JSON line per record), and reports as batch item
// failures the records whose payload contains one of the comma-separated
// strings in FN_FAIL. Tests read FN_LOG to check that replays carry the
// original shard, sequence numbers, event ids and payloads.
package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// Seen is one FN_LOG line.
type Seen struct {
	EventID        string  `json:"eventID"`
	EventSourceARN string  `json:"eventSourceARN"`
	AwsRegion      string  `json:"awsRegion"`
	Shard          string  `json:"shard"`
	Seq            string  `json:"seq"`
	PartitionKey   string  `json:"partitionKey"`
	Data           string  `json:"data"`
	Arrival        float64 `json:"arrival"` // seconds
	Failed         bool    `json:"failed"`
}

func handle(_ context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	var fail []string
	if v := os.Getenv("FN_FAIL"); v != "" {
		fail = strings.Split(v, ",")
	}
	var resp events.KinesisEventResponse
	f, err := os.OpenFile(os.Getenv("FN_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return resp, err
	}
	defer f.Close()
	for _, r := range ev.Records {
		shard, _, _ := strings.Cut(r.EventID, ":")
		s := Seen{EventID: r.EventID, EventSourceARN: r.EventSourceArn, AwsRegion: r.AwsRegion, Shard: shard,
			Seq: r.Kinesis.SequenceNumber, PartitionKey: r.Kinesis.PartitionKey, Data: string(r.Kinesis.Data),
			// Kinesis arrival times have millisecond precision; aws-lambda-go
			// reads them back through a float and can land a few ns short, so
			// round instead of truncating.
			Arrival: float64(r.Kinesis.ApproximateArrivalTimestamp.Round(time.Millisecond).UnixMilli()) / 1000}
		for _, x := range fail {
			if x != "" && strings.Contains(s.Data, x) {
				s.Failed = true
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: r.Kinesis.SequenceNumber})
				break
			}
		}
		b, _ := json.Marshal(s)
		if _, err := f.Write(append(b, '\n')); err != nil {
			return resp, err
		}
	}
	return resp, nil
}

func main() { lambda.Start(handle) }
