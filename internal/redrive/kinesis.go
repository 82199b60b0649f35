package redrive

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/streamproc/streamproc/functions/contract"
)

// KinesisAPI is the part of the Kinesis client redrive uses (read only).
type KinesisAPI interface {
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// UnreadableError says the records of a range cannot all be read back: they
// expired (past the stream's retention), the shard or stream is gone, or the
// range is not where the message says. The message is kept.
type UnreadableError struct {
	Reason string
}

func (e *UnreadableError) Error() string { return e.Reason }

// StreamNameFromARN returns NAME from arn:aws:kinesis:REGION:ACCOUNT:stream/NAME.
func StreamNameFromARN(arn string) (name, region string, err error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kinesis" || !strings.HasPrefix(parts[5], "stream/") {
		return "", "", fmt.Errorf("%q is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)", arn)
	}
	name = strings.TrimPrefix(parts[5], "stream/")
	if name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("%q is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)", arn)
	}
	return name, parts[3], nil
}

// readRange returns the records of one shard from start to end sequence
// number inclusive, or an *UnreadableError when they cannot all be read.
// pause is the wait between GetRecords calls that returned nothing while
// behind the tip (a shard allows 5 reads a second).
func readRange(ctx context.Context, kc KinesisAPI, stream, shard, start, end string, pause time.Duration) ([]types.Record, error) {
	if contract.CompareSequenceNumbers(start, end) > 0 {
		return nil, &UnreadableError{fmt.Sprintf("start sequence number %s is after end sequence number %s", start, end)}
	}
	iterIn := &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard),
		ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String(start)}
	it, err := kc.GetShardIterator(ctx, iterIn)
	if err != nil {
		return nil, iteratorError(stream, shard, start, err)
	}
	iter := it.ShardIterator
	var out []types.Record
	renewed := 0
	for {
		if iter == nil {
			return nil, &UnreadableError{fmt.Sprintf("shard %s ended (closed by a reshard) before end sequence number %s; read %d records", shard, end, len(out))}
		}
		got, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
		if err != nil {
			var expired *types.ExpiredIteratorException
			if errors.As(err, &expired) && renewed < 3 {
				renewed++
				in := *iterIn
				if len(out) > 0 {
					in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
					in.StartingSequenceNumber = out[len(out)-1].SequenceNumber
				}
				if it, err = kc.GetShardIterator(ctx, &in); err != nil {
					return nil, iteratorError(stream, shard, start, err)
				}
				iter = it.ShardIterator
				continue
			}
			return nil, fmt.Errorf("GetRecords on %s %s: %w", stream, shard, err)
		}
		for _, r := range got.Records {
			seq := aws.ToString(r.SequenceNumber)
			if len(out) == 0 && contract.CompareSequenceNumbers(seq, start) != 0 {
				if contract.CompareSequenceNumbers(seq, start) > 0 {
					return nil, &UnreadableError{fmt.Sprintf("records expired: the oldest record left in shard %s is %s, after the batch start %s (past the stream's retention period)", shard, seq, start)}
				}
				return nil, &UnreadableError{fmt.Sprintf("shard %s returned %s before the batch start %s", shard, seq, start)}
			}
			if contract.CompareSequenceNumbers(seq, end) > 0 {
				return out, endCheck(out, shard, end)
			}
			out = append(out, r)
			if contract.CompareSequenceNumbers(seq, end) == 0 {
				return out, nil
			}
		}
		if len(got.Records) == 0 && aws.ToInt64(got.MillisBehindLatest) == 0 {
			if len(out) == 0 {
				return nil, &UnreadableError{fmt.Sprintf("no record at or after %s in shard %s: the range has expired or the sequence numbers are not from this shard", start, shard)}
			}
			return nil, &UnreadableError{fmt.Sprintf("reached the end of shard %s without finding end sequence number %s; read %d records", shard, end, len(out))}
		}
		iter = got.NextShardIterator
		if len(got.Records) == 0 && pause > 0 {
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
}

func endCheck(out []types.Record, shard, end string) error {
	return &UnreadableError{fmt.Sprintf("end sequence number %s is not in shard %s (the records jump from %s past it)", end, shard, aws.ToString(out[len(out)-1].SequenceNumber))}
}

func iteratorError(stream, shard, start string, err error) error {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return &UnreadableError{fmt.Sprintf("stream %s or shard %s no longer exists (%s): its records cannot be read", stream, shard, aws.ToString(nf.Message))}
	}
	var ia *types.InvalidArgumentException
	if errors.As(err, &ia) {
		return &UnreadableError{fmt.Sprintf("Kinesis does not accept start sequence number %s for shard %s (%s): usually the records are past the retention period", start, shard, aws.ToString(ia.Message))}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "InvalidArgumentException" {
		return &UnreadableError{fmt.Sprintf("Kinesis does not accept start sequence number %s for shard %s (%s)", start, shard, ae.ErrorMessage())}
	}
	return fmt.Errorf("GetShardIterator on %s %s at %s: %w", stream, shard, start, err)
}
