package redrive

// Redrive from an S3 on-failure destination. Each object the event source
// mapping wrote (contract.FailedBatchObject) holds the failed batch's records,
// so nothing is read from the stream: this works after the stream's retention
// has passed, and after the stream itself is gone.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/streamproc/streamproc/functions/contract"
)

// S3API is the part of the S3 client redrive uses.
type S3API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error)
	PutObjectTagging(ctx context.Context, in *s3.PutObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.PutObjectTaggingOutput, error)
}

// InvokeLimit is Lambda's synchronous invocation payload limit (6 MB). A
// record whose event alone is larger can never be handed to a function; the
// event source mapping sends it to the on-failure destination, and redrive
// reports it and keeps its object.
// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
const InvokeLimit = 6 * 1024 * 1024

// TagRedriven is the object tag redrive sets with Config.TagDone instead of
// deleting an object whose records were all applied; objects carrying it are
// skipped by later runs.
const TagRedriven = "streamproc-redriven"

// Outcomes of a failed-batch object.
const (
	// KeptTooLarge: records over the invoke limit are in the object (every
	// other record of it was applied): object kept, the records named.
	KeptTooLarge Outcome = "kept-too-large"
	// AlreadyRedriven: the object carries TagRedriven from an earlier run.
	AlreadyRedriven Outcome = "already-redriven"
)

// NewS3 returns a Redriver for the failed-batch objects in cfg.Bucket under
// cfg.Prefix. Run it with RunS3.
func NewS3(sc S3API, lc LambdaAPI, cfg Config) *Redriver {
	return &Redriver{s3: sc, lambda: lc, cfg: cfg.withDefaults()}
}

// s3Object is one listed object.
type s3Object struct {
	key  string
	size int64
	info contract.FailedBatchKeyInfo
}

// RunS3 lists up to MaxMessages objects under Bucket/Prefix, replays the
// records of each and deletes (or, with TagDone, tags) the objects whose
// records were all applied. Objects are handled one at a time, in key order:
// by mapping, shard and time. The error is for failures of the run itself
// (the bucket cannot be listed); per-object problems are in the report.
func (r *Redriver) RunS3(ctx context.Context) (Report, error) {
	rep := Report{DryRun: r.cfg.DryRun}
	objs, err := r.listObjects(ctx)
	rep.Received = len(objs)
	if err != nil && len(objs) == 0 {
		return rep, err
	}
	done := 0
	for _, o := range objs {
		if ctx.Err() != nil {
			break
		}
		res := r.handleObject(ctx, o)
		switch res.Outcome {
		case Replayed:
			rep.Replayed += res.Records
			if r.cfg.TagDone {
				rep.Tagged++
			} else {
				rep.Deleted++
			}
		case KeptTooLarge:
			rep.Replayed += res.Records - len(res.TooLarge)
		}
		rep.Results = append(rep.Results, res)
		done++
		r.progress(done, len(objs))
	}
	rep.Invokes = r.stats.invokes.Load()
	if ctx.Err() != nil {
		return rep, fmt.Errorf("interrupted after %d of %d objects: the objects not handled stay in the bucket", done, len(objs))
	}
	return rep, err
}

func (r *Redriver) listObjects(ctx context.Context) ([]s3Object, error) {
	var out []s3Object
	var token *string
	for len(out) < r.cfg.MaxMessages {
		resp, err := r.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(r.cfg.Bucket), Prefix: aws.String(r.cfg.Prefix),
			ContinuationToken: token, MaxKeys: aws.Int32(int32(min(1000, r.cfg.MaxMessages-len(out))))})
		if err != nil {
			return out, fmt.Errorf("listing s3://%s/%s: %w", r.cfg.Bucket, r.cfg.Prefix, err)
		}
		for _, o := range resp.Contents {
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue // a "folder" placeholder
			}
			info, _ := contract.ParseFailedBatchKey(key)
			out = append(out, s3Object{key: key, size: aws.ToInt64(o.Size), info: info})
		}
		if !aws.ToBool(resp.IsTruncated) || resp.NextContinuationToken == nil {
			break
		}
		token = resp.NextContinuationToken
	}
	if len(out) > r.cfg.MaxMessages {
		out = out[:r.cfg.MaxMessages]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

func (r *Redriver) handleObject(ctx context.Context, o s3Object) Result {
	res := Result{Kind: "object", Key: o.key, ShardID: o.info.ShardID, Size: int(o.size)}
	if r.cfg.TagDone {
		tags, err := r.s3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(o.key)})
		if err != nil {
			res.Outcome, res.Detail = KeptError, "reading the object's tags: "+err.Error()
			return res
		}
		for _, t := range tags.TagSet {
			if aws.ToString(t.Key) == TagRedriven {
				res.Outcome, res.Detail = AlreadyRedriven, "tagged "+TagRedriven+"="+aws.ToString(t.Value)+" by an earlier run; left alone"
				return res
			}
		}
	}
	got, err := r.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(o.key)})
	if err != nil {
		res.Outcome, res.Detail = KeptError, "reading the object: "+err.Error()
		return res
	}
	body, err := io.ReadAll(got.Body)
	_ = got.Body.Close()
	if err != nil {
		res.Outcome, res.Detail = KeptError, "reading the object: "+err.Error()
		return res
	}
	var obj contract.FailedBatchObject
	if err := json.Unmarshal(body, &obj); err != nil {
		res.Outcome, res.Detail, res.Preview = KeptUnknown, "not a failed-batch object (JSON): "+err.Error(), truncate(string(body), 200)
		return res
	}
	k := obj.KinesisBatchInfo
	res.StreamARN, res.Start, res.End, res.BatchSize, res.Condition = k.StreamARN, k.StartSequenceNumber, k.EndSequenceNumber, k.BatchSize, obj.RequestContext.Condition
	if k.ShardID != "" {
		res.ShardID = k.ShardID
	}
	ev, err := obj.Event()
	switch {
	case errors.Is(err, contract.ErrNoPayload):
		res.Outcome, res.Detail = KeptUnknown, "the object has no payload (only the batch description): redrive it from the stream while the records are retained (the SQS form: put the object's body on a queue and run redrive --queue), or restore it from the stream's archive"
		return res
	case err != nil:
		res.Outcome, res.Detail = KeptUnknown, err.Error()
		return res
	case len(ev.Records) == 0:
		res.Outcome, res.Detail = KeptUnknown, "the object's payload holds no records"
		return res
	}
	_, region, _ := StreamNameFromARN(k.StreamARN)
	recs := make([]Record, 0, len(ev.Records))
	for _, er := range ev.Records {
		shard := er.ShardID()
		if shard == "" {
			shard = k.ShardID
		}
		arn := er.EventSourceARN
		if arn == "" {
			arn = k.StreamARN
		}
		reg := er.AWSRegion
		if reg == "" {
			reg = region
		}
		recs = append(recs, Record{StreamARN: arn, Region: reg, ShardID: shard, SequenceNumber: er.Kinesis.SequenceNumber,
			PartitionKey: er.Kinesis.PartitionKey, Arrival: er.Kinesis.ApproximateArrivalTimestamp.Time,
			EncryptionType: er.Kinesis.EncryptionType, Data: er.Kinesis.Data})
		if er.Kinesis.SequenceNumber == "" {
			res.Outcome, res.Detail = KeptUnknown, "a record of the payload has no sequence number"
			return res
		}
	}
	res.Records = len(recs)
	if res.ShardID == "" {
		res.ShardID = recs[0].ShardID
	}
	// Records the function can never take: their event alone is over the
	// invoke limit. They stay in the object; the others are replayed.
	var fit []Record
	for i := range recs {
		rec := &recs[i]
		if n, err := rec.aloneBytes(); err != nil || n > InvokeLimit {
			res.TooLarge = append(res.TooLarge, TooLargeRecord{RecordID: rec.ShardID + "/" + rec.SequenceNumber, Size: len(rec.Data), EventBytes: n})
			continue
		}
		fit = append(fit, *rec)
	}
	function := r.cfg.Function
	if function == "" {
		function = obj.RequestContext.FunctionARN
	}
	if function == "" && len(fit) > 0 {
		res.Outcome, res.Detail = KeptError, "the object names no function (requestContext.functionArn): give one with --function"
		return res
	}
	tooLargeNote := ""
	if len(res.TooLarge) > 0 {
		tooLargeNote = fmt.Sprintf("; %d record(s) over Lambda's %d-byte invoke limit kept in the object (see docs/redrive.md, records too large to invoke)", len(res.TooLarge), InvokeLimit)
	}
	if r.cfg.DryRun {
		res.Outcome = WouldReplay
		res.Detail = fmt.Sprintf("%d records in the object; would invoke %s with %d%s", len(recs), orDash(function), len(fit), tooLargeNote)
		return res
	}
	if len(fit) > 0 {
		if err := r.replay(ctx, function, fit); err != nil {
			var ie *invokeError
			if errors.As(err, &ie) {
				res.Outcome, res.Detail, res.FailedSeqs = KeptFailed, ie.Reason, ie.Failed
			} else {
				res.Outcome, res.Detail = KeptError, err.Error()
			}
			return res
		}
	}
	if len(res.TooLarge) > 0 {
		res.Outcome = KeptTooLarge
		res.Detail = fmt.Sprintf("%d of %d records applied by %s%s", len(fit), len(recs), orDash(function), tooLargeNote)
		return res
	}
	res.Outcome = Replayed
	res.Detail = fmt.Sprintf("%d records applied by %s", len(recs), function)
	if err := r.finishObject(ctx, o.key); err != nil {
		res.Outcome = ReplayedNotDeleted
		res.Detail += "; " + err.Error() + " (the object stays; replaying it again is safe)"
	} else if r.cfg.TagDone {
		res.Detail += "; object tagged " + TagRedriven
	}
	return res
}

// finishObject deletes the object, or tags it with TagDone.
func (r *Redriver) finishObject(ctx context.Context, key string) error {
	ctx = context.WithoutCancel(ctx)
	if r.cfg.TagDone {
		// PutObjectTagging replaces the tag set: keep the object's other tags.
		cur, err := r.s3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key)})
		if err != nil {
			return fmt.Errorf("tagging the object: %w", err)
		}
		tags := append(cur.TagSet, s3types.Tag{Key: aws.String(TagRedriven), Value: aws.String(time.Now().UTC().Format(time.RFC3339))})
		if _, err := r.s3.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key),
			Tagging: &s3types.Tagging{TagSet: tags}}); err != nil {
			return fmt.Errorf("tagging the object: %w", err)
		}
		return nil
	}
	if _, err := r.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("deleting the object: %w", err)
	}
	return nil
}

// TooLargeRecord is a record over Lambda's invoke limit, kept in its object.
type TooLargeRecord struct {
	RecordID   string `json:"recordId"`   // "<shardId>/<sequenceNumber>"
	Size       int    `json:"size"`       // data bytes
	EventBytes int    `json:"eventBytes"` // the record alone as a Kinesis event
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
