package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kinesistypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/processor/config"
	"github.com/streamproc/streamproc/internal/localesm"
)

// Aggregate is one stored (sensor, window) item.
type Aggregate struct {
	SensorID, WindowStart string
	Count                 int64
	Sum, Min, Max         *big.Rat
	// Stats: the aggregate is the example's eventtime.Stats. Another
	// application's own aggregate type leaves Count, Sum, Min and Max zero.
	Stats bool
}

// Aggregates reads every window of the event-time engine's state table
// straight from dynalite (items pk "w#<key>", the aggregate in "agg" as the
// engine's JSON: eventtime.Stats for the example), decoded here with
// encoding/json, not through the engine.
func (p *Pipeline) Aggregates(ctx context.Context) ([]Aggregate, error) {
	var out []Aggregate
	var start map[string]ddbtypes.AttributeValue
	for {
		res, err := p.DynamoDB.Scan(ctx, &dynamodb.ScanInput{
			TableName: aws.String(p.TableName), ExclusiveStartKey: start, ConsistentRead: aws.Bool(true),
			FilterExpression:          aws.String("begins_with(pk, :w)"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":w": &ddbtypes.AttributeValueMemberS{Value: "w#"}},
		})
		if err != nil {
			return nil, fmt.Errorf("localrun: scan %s: %w", p.TableName, err)
		}
		for _, it := range res.Items {
			a := Aggregate{SensorID: str(it["key"])}
			if ws := num(it["ws"]); ws != nil {
				a.WindowStart = time.UnixMilli(ws.Num().Int64()).UTC().Format(time.RFC3339)
			}
			if b, ok := it["agg"].(*ddbtypes.AttributeValueMemberB); ok && len(b.Value) > 0 {
				var v struct {
					Count         *int64      `json:"count"`
					Sum, Min, Max json.Number `json:",omitempty"`
				}
				if err := json.Unmarshal(b.Value, &v); err != nil {
					return nil, fmt.Errorf("localrun: window %s %s: aggregate %q: %w", a.SensorID, a.WindowStart, b.Value, err)
				}
				if a.Stats = v.Count != nil && v.Sum != ""; a.Stats {
					a.Count = *v.Count
					a.Sum, a.Min, a.Max = rat(v.Sum), rat(v.Min), rat(v.Max)
				}
			}
			out = append(out, a)
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = res.LastEvaluatedKey
	}
}

func rat(n json.Number) *big.Rat {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return nil
	}
	return r
}

// Results reads every message of the event-time engine's results stream
// (final results and corrections), all shards from their start, with the
// example's aggregate (eventtime.Stats).
func (p *Pipeline) Results(ctx context.Context) ([]eventtime.ResultMessage[eventtime.Stats], error) {
	raw, err := p.ResultMessages(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]eventtime.ResultMessage[eventtime.Stats], len(raw))
	for i, r := range raw {
		out[i] = eventtime.ResultMessage[eventtime.Stats]{ID: r.ID, Key: r.Key, WindowStart: r.WindowStart, WindowEnd: r.WindowEnd, Revision: r.Revision, Last: r.Last}
		if err := json.Unmarshal(r.Value, &out[i].Value); err != nil {
			return nil, fmt.Errorf("localrun: result %s: value %s: %w", r.ID, r.Value, err)
		}
	}
	return out, nil
}

// ResultMessages reads every message of the event-time engine's results
// stream like Results, with the value as published: any application's own
// aggregate type.
func (p *Pipeline) ResultMessages(ctx context.Context) ([]eventtime.ResultMessage[json.RawMessage], error) {
	if p.ResultsStream == "" {
		return nil, nil
	}
	var out []eventtime.ResultMessage[json.RawMessage]
	shards, err := p.Kinesis.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(p.ResultsStream)})
	if err != nil {
		return nil, fmt.Errorf("localrun: list shards of %s: %w", p.ResultsStream, err)
	}
	for _, sh := range shards.Shards {
		it, err := p.Kinesis.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(p.ResultsStream), ShardId: sh.ShardId, ShardIteratorType: kinesistypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			return nil, fmt.Errorf("localrun: read %s: %w", p.ResultsStream, err)
		}
		iter := it.ShardIterator
		for iter != nil {
			got, err := p.Kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				return nil, fmt.Errorf("localrun: read %s: %w", p.ResultsStream, err)
			}
			for _, r := range got.Records {
				var m eventtime.ResultMessage[json.RawMessage]
				if err := json.Unmarshal(r.Data, &m); err != nil {
					return nil, fmt.Errorf("localrun: result %s on %s: %w", aws.ToString(r.SequenceNumber), p.ResultsStream, err)
				}
				out = append(out, m)
			}
			if len(got.Records) == 0 || aws.ToInt64(got.MillisBehindLatest) == 0 {
				break
			}
			iter = got.NextShardIterator
		}
	}
	return out, nil
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
	// Late are the event-time engine's late output (kind "late"), one per
	// message.
	Late []contract.QuarantinedRecord
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

// LateRecords counts distinct records in the late output.
func (d DLQContents) LateRecords() int {
	ids := map[string]bool{}
	for _, q := range d.Late {
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
		if a, ok := m.MessageAttributes[contract.AttrKind]; ok && a.StringValue != nil && (*a.StringValue == contract.KindQuarantined || *a.StringValue == contract.KindLate) {
			var q contract.QuarantinedRecord
			if json.Unmarshal([]byte(m.Body), &q) == nil {
				if *a.StringValue == contract.KindLate {
					d.Late = append(d.Late, q)
				} else {
					d.Quarantined = append(d.Quarantined, q)
				}
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
	Produced int64
	// EventTime reports that the function runs the event-time engine (its
	// table is the engine's state table): Windows, the results and the late
	// output are read.
	EventTime bool
	// Aggregates reports that the state table holds the example's aggregate
	// (eventtime.Stats over tumbling windows), so Applied counts readings.
	// For another application's table or aggregate the run is judged by
	// TableItems and the function's toolkit metrics.
	Aggregates bool
	Applied    int64 // readings counted in the stored windows
	Windows    int   // windows in the state table
	// Results on the results stream, distinct by id: final results
	// (revision 0), numbered corrections, and the windows they cover;
	// ResultMessages counts the messages, a result delivered twice (a
	// firing retried or overlapping another) counting again.
	FinalResults, Corrections, ResultWindows, ResultMessages int
	// Late is the distinct records in the late output (LateRecords counts
	// what the function reported, a redelivery counting again).
	Late, LateMetric int64
	// Fires and FireErrors count the schedule's invocations.
	Fires, FireErrors int64
	// LastFireError is the latest failed fire request's error, if any.
	LastFireError string
	TableItems    int   // items in the first table of the template
	Succeeded     int64 // the toolkit's RecordsSucceeded metric, summed (a redelivered record counts again)
	// AppMetrics are the sums of the function's own EMF metrics (those that
	// are not the toolkit's), for an application other than the example.
	AppMetrics        map[string]float64
	Quarantined       int   // distinct records quarantined by the processor
	DLQBatches        int   // on-failure messages from the mapping
	DLQBatchRecords   int   // records those describe
	DuplicatesSkipped int64 // from the function's metrics
	Elapsed           time.Duration
	Poller            localesm.Stats

	// ProducedKinesisRecords is the Kinesis records the readings went in:
	// fewer than Produced when the producer aggregates (KPL); 0 means Produced.
	ProducedKinesisRecords int64
	// Where the time went: in DynamoDB calls (the sink, through dynalite),
	// summed over concurrent calls; and the configuration that shaped it.
	SinkCalls  int64
	SinkTime   time.Duration
	Shards     int
	Factor     int
	BatchSize  int
	MemoryMB   int
	KinesisEmu string
}

// IsAggregateTable reports whether the pipeline's table is the event-time
// engine's state table (named by STREAMPROC_EVENTTIME_TABLE, keyed pk, sk).
func (p *Pipeline) IsAggregateTable() bool {
	if _, ok := p.Stack.Func.Env[contract.EnvEventTimeTable]; !ok {
		return false
	}
	for _, tb := range p.Stack.Tables {
		if tb.Name == p.TableName {
			return len(tb.Keys) == 2 && tb.Keys[0].Name == eventtime.DynamoPartitionKey && tb.Keys[1].Name == eventtime.DynamoSortKey
		}
	}
	return false
}

// countItems counts the items of the pipeline's table.
func (p *Pipeline) countItems(ctx context.Context) (int, error) {
	n := 0
	var start map[string]ddbtypes.AttributeValue
	for {
		res, err := p.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(p.TableName), ExclusiveStartKey: start, Select: ddbtypes.SelectCount})
		if err != nil {
			return 0, fmt.Errorf("localrun: scan %s: %w", p.TableName, err)
		}
		n += int(res.Count)
		if len(res.LastEvaluatedKey) == 0 {
			return n, nil
		}
		start = res.LastEvaluatedKey
	}
}

// toolkitMetrics are the product's metrics, reported in rows of their own
// rather than as the function's own.
var toolkitMetrics = map[string]bool{
	contract.MetricRecordsReceived: true, contract.MetricRecordsSucceeded: true, contract.MetricRecordsQuarantined: true,
	contract.MetricRecordsRetried: true, contract.MetricRecordsFailed: true, contract.MetricBatchDuration: true,
	contract.MetricLateRecords: true, contract.MetricResultsPublished: true, contract.MetricPublishFailures: true,
	contract.MetricWatermarkLag: true,
}

// Summarize collects a Summary.
func (p *Pipeline) Summarize(ctx context.Context, produced int64, elapsed time.Duration) (Summary, error) {
	s := Summary{Produced: produced, Elapsed: elapsed, Poller: p.Poller.Stats(), EventTime: p.IsAggregateTable()}
	if s.EventTime {
		aggs, err := p.Aggregates(ctx)
		if err != nil {
			return Summary{}, err
		}
		s.Windows, s.TableItems = len(aggs), len(aggs)
		s.Aggregates = true // every window holds eventtime.Stats (none stored: the example's view)
		for _, a := range aggs {
			s.Applied += a.Count
			s.Aggregates = s.Aggregates && a.Stats
		}
		if !s.Aggregates {
			s.Applied = 0
		}
		rs, err := p.ResultMessages(ctx)
		if err != nil {
			return Summary{}, err
		}
		windows, ids := map[string]bool{}, map[string]bool{}
		s.ResultMessages = len(rs)
		for _, r := range rs {
			if ids[r.ID] {
				continue // delivered again (the sinks are at least once)
			}
			ids[r.ID] = true
			if r.Revision == 0 {
				s.FinalResults++
			} else {
				s.Corrections++
			}
			windows[r.Key+"|"+r.WindowStart.String()] = true
		}
		s.ResultWindows = len(windows)
	} else if p.TableName != "" {
		n, err := p.countItems(ctx)
		if err != nil {
			return Summary{}, err
		}
		s.TableItems = n
	}
	ms := p.Metrics()
	s.Succeeded = int64(ms[contract.MetricRecordsSucceeded])
	if !s.Aggregates {
		s.AppMetrics = map[string]float64{}
		for name, v := range ms {
			if !toolkitMetrics[name] {
				s.AppMetrics[name] = v
			}
		}
	}
	d := p.DLQ()
	s.Quarantined, s.DLQBatches, s.DLQBatchRecords = d.QuarantinedRecords(), len(d.BatchInfo), d.BatchRecords()
	s.Late = int64(d.LateRecords())
	m := p.Metrics()
	s.DuplicatesSkipped = int64(m[config.MetricDuplicatesSkipped])
	s.LateMetric = int64(m[config.MetricLateRecords])
	s.Fires, s.FireErrors = p.Fires.Load(), p.FireErrors.Load()
	if e, ok := p.lastFireError.Load().(string); ok {
		s.LastFireError = e
	}
	s.SinkCalls, s.SinkTime = p.Sink.Calls.Load(), time.Duration(p.Sink.Busy.Load())
	cfg := p.Poller.Config()
	s.Shards, s.Factor, s.BatchSize = p.Stack.Stream.ShardCount, cfg.ParallelizationFactor, cfg.BatchSize
	s.MemoryMB, s.KinesisEmu = p.Stack.Func.MemoryMB, p.kin.Name
	return s, nil
}

// rateText is the end-to-end rate of Kinesis records, in readings when the
// producer aggregated them.
func (s Summary) rateText(kinesisPerSec float64) string {
	if s.ProducedKinesisRecords <= 0 || s.ProducedKinesisRecords == s.Produced {
		return fmt.Sprintf("%.0f", kinesisPerSec)
	}
	perRecord := float64(s.Produced) / float64(s.ProducedKinesisRecords)
	return fmt.Sprintf("%.0f readings/s (%.0f KPL-aggregated Kinesis records/s, %.1f readings each)", kinesisPerSec*perRecord, kinesisPerSec, perRecord)
}

// Print writes the summary as a small table.
func (s Summary) Print(w io.Writer) {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Poller.AcknowledgedRecords+s.Poller.DroppedRecords) / s.Elapsed.Seconds()
	}
	rows := [][2]string{{"produced", fmt.Sprint(s.Produced)}}
	published := fmt.Sprintf("%d final results and %d corrections for %d windows (the rest wait for the watermark)", s.FinalResults, s.Corrections, s.ResultWindows)
	if again := s.ResultMessages - s.FinalResults - s.Corrections; again > 0 {
		published += fmt.Sprintf("; %d delivered twice (at least once: consumers keep the first of each id)", again)
	}
	results := [][2]string{
		{"results published", published},
		{"late (side output)", fmt.Sprintf("%d records", s.Late)},
		{"schedule", fireText(s)},
	}
	if s.Aggregates {
		rows = append(rows, [2]string{"applied (state table)", fmt.Sprintf("%d readings in %d (sensor, minute) windows", s.Applied, s.Windows)})
		rows = append(rows, results...)
	} else {
		rows = append(rows,
			[2]string{"succeeded (function)", fmt.Sprintf("%d records (the toolkit's %s metric)", s.Succeeded, contract.MetricRecordsSucceeded)},
			[2]string{"items in the table", fmt.Sprint(s.TableItems)})
		if s.EventTime {
			rows[len(rows)-1] = [2]string{"windows (state table)", fmt.Sprintf("%d (key, window) windows of the function's own aggregate", s.Windows)}
			rows = append(rows, results...)
		}
		if len(s.AppMetrics) > 0 {
			names := make([]string, 0, len(s.AppMetrics))
			for n := range s.AppMetrics {
				names = append(names, n)
			}
			sort.Strings(names)
			var b strings.Builder
			for i, n := range names {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%s %s", n, strconv.FormatFloat(s.AppMetrics[n], 'f', -1, 64))
			}
			rows = append(rows, [2]string{"function's own metrics", b.String()})
		}
	}
	rows = append(rows,
		[2]string{"quarantined", fmt.Sprint(s.Quarantined)},
		[2]string{"at the failure destination", fmt.Sprintf("%d failed batches (DLQ messages or S3 objects) covering %d records", s.DLQBatches, s.DLQBatchRecords)})
	if s.Aggregates {
		rows = append(rows, [2]string{"duplicates suppressed", fmt.Sprint(s.DuplicatesSkipped)})
	}
	rows = append(rows, [][2]string{
		{"records/s (end to end)", s.rateText(rate)},
		{"iterator age", fmt.Sprintf("max %s, last %s", s.Poller.IteratorAgeMax.Round(time.Millisecond), s.Poller.IteratorAgeLast.Round(time.Millisecond))},
		{"invocations", fmt.Sprintf("%d (%d failed, %d timed out, %d partial, %d bisections, %d retries)", s.Poller.Invocations, s.Poller.FailedInvocations, s.Poller.Timeouts, s.Poller.PartialFailures, s.Poller.Bisections, s.Poller.Retries)},
		{"elapsed", s.Elapsed.Round(100 * time.Millisecond).String()},
	}...)
	rows = append(rows, [2]string{"accounted for", s.accounting()})
	kinesisRecords := s.Produced
	if s.ProducedKinesisRecords > 0 {
		kinesisRecords = s.ProducedKinesisRecords
	}
	if left := kinesisRecords - s.Poller.PolledRecords + s.Poller.Pending; left > 0 {
		rows = append(rows, [2]string{"not processed at stop", fmt.Sprintf("%d (stopped before the pipeline drained)", left)})
	}
	fmt.Fprintln(w, "\nsummary")
	for _, r := range rows {
		fmt.Fprintf(w, "  %-26s %s\n", r[0], r[1])
	}
	s.printLoad(w)
}

// lambdaArmGBSecond and lambdaRequest are us-east-1 list prices (the same
// as internal/plan's table, docs/scale.md) for the per-invocation cost.
const (
	lambdaArmGBSecond = 0.0000133334
	lambdaRequest     = 0.20 / 1e6
)

// printLoad reports the run as a sizing measurement: per-invocation figures
// and where the time went. Times are summed over concurrent readers,
// batches and calls, so they compare with each other, not with elapsed.
func (s Summary) printLoad(w io.Writer) {
	ps := s.Poller
	if ps.Invocations == 0 {
		return
	}
	inv := float64(ps.Invocations)
	perInv := ps.InvokeTime / time.Duration(ps.Invocations)
	records := float64(ps.InvokedRecords)
	cost := perInv.Seconds()*float64(s.MemoryMB)/1024*lambdaArmGBSecond + lambdaRequest
	fmt.Fprintf(w, "\nload (%s, %d shards x parallelization %d, batch size %d, %d MB)\n", s.KinesisEmu, s.Shards, s.Factor, s.BatchSize, s.MemoryMB)
	rows := [][2]string{
		{"records per invocation", fmt.Sprintf("%.1f", records/inv)},
		{"DynamoDB calls", fmt.Sprintf("%d: %.4f per record, %.1f per invocation", s.SinkCalls, float64(s.SinkCalls)/records, float64(s.SinkCalls)/inv)},
		{"invocation time", fmt.Sprintf("%s average; Lambda arm64 at %d MB would bill $%.3g per invocation, $%.3g per million records", perInv.Round(10*time.Microsecond), s.MemoryMB, cost, cost/(records/inv)*1e6)},
		{"time in GetRecords", fmt.Sprintf("%s in %d calls (%s each): the local Kinesis", ps.GetRecordsTime.Round(time.Millisecond), ps.GetRecordsCalls, (ps.GetRecordsTime / time.Duration(max(1, ps.GetRecordsCalls))).Round(10*time.Microsecond))},
		{"time in invocations", fmt.Sprintf("%s: the function under aws-lambda-rie, its sink included", ps.InvokeTime.Round(time.Millisecond))},
		{"  of which in DynamoDB", fmt.Sprintf("%s in %d calls (%s each, overlapping): dynalite", s.SinkTime.Round(time.Millisecond), s.SinkCalls, (s.SinkTime / time.Duration(max(1, s.SinkCalls))).Round(10*time.Microsecond))},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "  %-26s %s\n", r[0], r[1])
	}
}

// Accounted reports whether every produced record is accounted for: applied,
// quarantined, a suppressed duplicate or described in the DLQ (the example
// pipeline), or succeeded in the function, quarantined or described in the DLQ
// (another application, judged by the toolkit's metrics).
func (s Summary) Accounted() bool { return s.accounted() == s.Produced }

func (s Summary) accounted() int64 {
	if s.Aggregates {
		return s.Applied + s.Late + int64(s.Quarantined) + s.failedRecords() + s.DuplicatesSkipped
	}
	return s.Succeeded + int64(s.Quarantined) + s.failedRecords()
}

// failedRecords is the records at the failure destination in the unit the
// producer counts: DLQBatchRecords counts Kinesis records, so with KPL
// aggregation the poller's count of the user records it sent there stands in.
func (s Summary) failedRecords() int64 {
	if s.ProducedKinesisRecords > 0 && s.ProducedKinesisRecords != s.Produced {
		return s.Poller.OnFailureUserRecords
	}
	return int64(s.DLQBatchRecords)
}

func (s Summary) accounting() string {
	verdict := "every produced record is applied, late (side output), quarantined, a suppressed duplicate or at the failure destination"
	if !s.Aggregates {
		verdict = "every produced record succeeded in the function, was quarantined or is described in the DLQ"
		if s.EventTime {
			verdict = "every produced record succeeded in the function (applied, late or a duplicate), was quarantined or is described in the DLQ"
		}
	}
	if !s.Accounted() {
		verdict = "does not add up: records in flight, or redeliveries counted as duplicates; `make e2e` checks this exactly"
		if !s.Aggregates {
			verdict = "does not add up: records in flight, or redelivered records that succeeded twice"
		}
	}
	return fmt.Sprintf("%d of %d: %s", s.accounted(), s.Produced, verdict)
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

// fireText reports the schedule's fire requests, with the last failure's
// reason so that a failing schedule says why.
func fireText(s Summary) string {
	t := fmt.Sprintf("%d fire requests (%d failed)", s.Fires, s.FireErrors)
	if s.LastFireError != "" {
		e := strings.TrimSpace(s.LastFireError)
		if len(e) > 300 {
			e = e[:300] + "..."
		}
		t += "; last failure: " + e
	}
	return t
}
