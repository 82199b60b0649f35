package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/processor/config"
	"github.com/streamproc/streamproc/internal/localesm"
)

// Aggregate is one stored (sensor, window) item.
type Aggregate struct {
	SensorID, WindowStart string
	Count                 int64
	Sum, Min, Max         *big.Rat
}

// Aggregates reads every aggregate item straight from dynalite.
func (p *Pipeline) Aggregates(ctx context.Context) ([]Aggregate, error) {
	var out []Aggregate
	var start map[string]ddbtypes.AttributeValue
	for {
		res, err := p.DynamoDB.Scan(ctx, &dynamodb.ScanInput{
			TableName: aws.String(p.TableName), ExclusiveStartKey: start, ConsistentRead: aws.Bool(true),
			ProjectionExpression:     aws.String("#s, #w, #c, #sum, #min, #max"),
			ExpressionAttributeNames: map[string]string{"#s": config.TablePartitionKey, "#w": config.TableSortKey, "#c": "count", "#sum": "sum", "#min": "min", "#max": "max"},
		})
		if err != nil {
			return nil, fmt.Errorf("localrun: scan %s: %w", p.TableName, err)
		}
		for _, it := range res.Items {
			a := Aggregate{SensorID: str(it[config.TablePartitionKey]), WindowStart: str(it[config.TableSortKey])}
			if c := num(it["count"]); c != nil {
				a.Count = c.Num().Int64()
			}
			a.Sum, a.Min, a.Max = num(it["sum"]), num(it["min"]), num(it["max"])
			out = append(out, a)
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = res.LastEvaluatedKey
	}
}

func str(v ddbtypes.AttributeValue) string {
	if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func num(v ddbtypes.AttributeValue) *big.Rat {
	if n, ok := v.(*ddbtypes.AttributeValueMemberN); ok {
		r, ok := new(big.Rat).SetString(n.Value)
		if ok {
			return r
		}
	}
	return nil
}

// DLQContents are the messages in the on-failure queue, by kind, and the
// objects of an S3 on-failure destination.
type DLQContents struct {
	Quarantined []contract.QuarantinedRecord // one per message (a big payload spans several)
	// BatchInfo describes every failed batch: the SQS destination's messages,
	// or the descriptions of the S3 destination's objects.
	BatchInfo []contract.OnFailureMessage
	// Objects are the S3 destination's failed-batch objects, by key.
	Objects map[string]contract.FailedBatchObject
	Other   int
}

// KeptRecords returns the data of every record the failed-batch objects
// hold, by "<shardId>/<sequenceNumber>".
func (d DLQContents) KeptRecords() map[string][]byte {
	out := map[string][]byte{}
	for _, o := range d.Objects {
		ev, err := o.Event()
		if err != nil {
			continue
		}
		for _, r := range ev.Records {
			out[r.ShardID()+"/"+r.Kinesis.SequenceNumber] = r.Kinesis.Data
		}
	}
	return out
}

// QuarantinedRecords counts distinct quarantined records.
func (d DLQContents) QuarantinedRecords() int {
	ids := map[string]bool{}
	for _, q := range d.Quarantined {
		ids[q.RecordID] = true
	}
	return len(ids)
}

// BatchRecords is the number of records the on-failure messages describe.
func (d DLQContents) BatchRecords() int {
	n := 0
	for _, m := range d.BatchInfo {
		n += m.KinesisBatchInfo.BatchSize
	}
	return n
}

// DLQ reads the on-failure queue and the failed-batch bucket without
// consuming them.
func (p *Pipeline) DLQ() DLQContents {
	var d DLQContents
	if p.FailedBucket != "" {
		d.Objects = p.failedObjects()
		keys := make([]string, 0, len(d.Objects))
		for k := range d.Objects {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.BatchInfo = append(d.BatchInfo, d.Objects[k].OnFailureMessage)
		}
	}
	if p.DLQName == "" {
		return d
	}
	for _, m := range p.SQSFake.Peek(p.DLQName) {
		if a, ok := m.MessageAttributes[contract.AttrKind]; ok && a.StringValue != nil && *a.StringValue == contract.KindQuarantined {
			var q contract.QuarantinedRecord
			if json.Unmarshal([]byte(m.Body), &q) == nil {
				d.Quarantined = append(d.Quarantined, q)
				continue
			}
		}
		var of contract.OnFailureMessage
		if json.Unmarshal([]byte(m.Body), &of) == nil && of.KinesisBatchInfo.ShardID != "" {
			d.BatchInfo = append(d.BatchInfo, of)
			continue
		}
		d.Other++
	}
	return d
}

// Summary is the end-of-run report of `streamctl local`.
type Summary struct {
	Produced          int64
	Applied           int64 // readings counted in the stored aggregates
	Windows           int   // aggregate items
	Quarantined       int   // distinct records quarantined by the processor
	DLQBatches        int   // on-failure messages from the mapping
	DLQBatchRecords   int   // records those describe
	DuplicatesSkipped int64 // from the function's metrics
	Elapsed           time.Duration
	Poller            localesm.Stats
}

// Summarize collects a Summary.
func (p *Pipeline) Summarize(ctx context.Context, produced int64, elapsed time.Duration) (Summary, error) {
	aggs, err := p.Aggregates(ctx)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{Produced: produced, Windows: len(aggs), Elapsed: elapsed, Poller: p.Poller.Stats()}
	for _, a := range aggs {
		s.Applied += a.Count
	}
	d := p.DLQ()
	s.Quarantined, s.DLQBatches, s.DLQBatchRecords = d.QuarantinedRecords(), len(d.BatchInfo), d.BatchRecords()
	s.DuplicatesSkipped = int64(p.Metrics()[config.MetricDuplicatesSkipped])
	return s, nil
}

// Print writes the summary as a small table.
func (s Summary) Print(w io.Writer) {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Poller.AcknowledgedRecords+s.Poller.DroppedRecords) / s.Elapsed.Seconds()
	}
	rows := [][2]string{
		{"produced", fmt.Sprint(s.Produced)},
		{"applied (in the table)", fmt.Sprintf("%d readings in %d (sensor, minute) windows", s.Applied, s.Windows)},
		{"quarantined", fmt.Sprint(s.Quarantined)},
		{"at the failure destination", fmt.Sprintf("%d failed batches (DLQ messages or S3 objects) covering %d records", s.DLQBatches, s.DLQBatchRecords)},
		{"duplicates suppressed", fmt.Sprint(s.DuplicatesSkipped)},
		{"records/s (end to end)", fmt.Sprintf("%.0f", rate)},
		{"iterator age", fmt.Sprintf("max %s, last %s", s.Poller.IteratorAgeMax.Round(time.Millisecond), s.Poller.IteratorAgeLast.Round(time.Millisecond))},
		{"invocations", fmt.Sprintf("%d (%d failed, %d timed out, %d partial, %d bisections, %d retries)", s.Poller.Invocations, s.Poller.FailedInvocations, s.Poller.Timeouts, s.Poller.PartialFailures, s.Poller.Bisections, s.Poller.Retries)},
		{"elapsed", s.Elapsed.Round(100 * time.Millisecond).String()},
	}
	accounted := s.Applied + int64(s.Quarantined) + int64(s.DLQBatchRecords) + s.DuplicatesSkipped
	verdict := "every produced record is applied, quarantined, a suppressed duplicate or described in the DLQ"
	if accounted != s.Produced {
		verdict = "does not add up: records in flight, or redeliveries counted as duplicates; `make e2e` checks this exactly"
	}
	rows = append(rows, [2]string{"accounted for", fmt.Sprintf("%d of %d: %s", accounted, s.Produced, verdict)})
	if left := s.Produced - s.Poller.PolledRecords + s.Poller.Pending; left > 0 {
		rows = append(rows, [2]string{"not processed at stop", fmt.Sprintf("%d (stopped before the pipeline drained)", left)})
	}
	fmt.Fprintln(w, "\nsummary")
	for _, r := range rows {
		fmt.Fprintf(w, "  %-26s %s\n", r[0], r[1])
	}
}

// failedObjects reads every object of the failed-batch bucket. An object that
// is not a failed-batch object is kept with an empty description, so that it
// is seen (and fails a conservation check) rather than ignored.
func (p *Pipeline) failedObjects() map[string]contract.FailedBatchObject {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := map[string]contract.FailedBatchObject{}
	var token *string
	for {
		list, err := p.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(p.FailedBucket), ContinuationToken: token})
		if err != nil {
			return out
		}
		for _, o := range list.Contents {
			var obj contract.FailedBatchObject
			got, err := p.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(p.FailedBucket), Key: o.Key})
			if err == nil {
				body, _ := io.ReadAll(got.Body)
				_ = got.Body.Close()
				_ = json.Unmarshal(body, &obj)
			}
			out[aws.ToString(o.Key)] = obj
		}
		if !aws.ToBool(list.IsTruncated) {
			return out
		}
		token = list.NextContinuationToken
	}
}
