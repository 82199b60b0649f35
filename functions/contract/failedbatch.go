package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// FailedBatchObject is the JSON body of an object the event source mapping
// writes to an S3 on-failure destination for a Kinesis source: the same
// description an SQS destination receives (OnFailureMessage) plus Payload,
// the invocation's whole event — the batch's records with their data — as an
// escaped JSON string. Unlike an SQS message, it keeps the records after the
// stream's retention has passed.
// https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
//
// Payload is kept raw: Lambda documents it as a JSON string holding the event;
// Event also accepts the event as a plain JSON object.
type FailedBatchObject struct {
	OnFailureMessage
	Payload json.RawMessage `json:"payload,omitempty"`
}

// NewFailedBatchObject returns the object for msg with event (the KinesisEvent
// JSON the function was, or would have been, invoked with) as Payload, in
// Lambda's form: an escaped JSON string.
func NewFailedBatchObject(msg OnFailureMessage, event []byte) (FailedBatchObject, error) {
	s, err := json.Marshal(string(event))
	if err != nil {
		return FailedBatchObject{}, err
	}
	return FailedBatchObject{OnFailureMessage: msg, Payload: s}, nil
}

// ErrNoPayload is returned by FailedBatchObject.Event for an object without
// a payload (an SQS or SNS style description): its records must be read back
// from the stream.
var ErrNoPayload = errors.New("the failed-batch object has no payload: it describes the batch without its records")

// Event decodes Payload.
func (o FailedBatchObject) Event() (KinesisEvent, error) {
	var ev KinesisEvent
	p := o.Payload
	if len(p) == 0 || string(p) == "null" || string(p) == `""` {
		return ev, ErrNoPayload
	}
	if p[0] == '"' {
		var s string
		if err := json.Unmarshal(p, &s); err != nil {
			return ev, fmt.Errorf("payload is not a JSON string: %w", err)
		}
		p = []byte(s)
	}
	if err := json.Unmarshal(p, &ev); err != nil {
		return ev, fmt.Errorf("payload is not a Kinesis event: %w", err)
	}
	return ev, nil
}

// KinesisEvent is the event Lambda invokes a function with for a Kinesis
// source, as carried in a FailedBatchObject's payload (the same JSON as
// aws-lambda-go's events.KinesisEvent; defined here to keep this package
// free of dependencies).
type KinesisEvent struct {
	Records []KinesisEventRecord `json:"Records"`
}

// KinesisEventRecord is one record of a KinesisEvent.
type KinesisEventRecord struct {
	AWSRegion         string        `json:"awsRegion,omitempty"`
	EventID           string        `json:"eventID"` // "<shardId>:<sequenceNumber>"
	EventName         string        `json:"eventName,omitempty"`
	EventSource       string        `json:"eventSource,omitempty"`
	EventSourceARN    string        `json:"eventSourceARN"`
	EventVersion      string        `json:"eventVersion,omitempty"`
	InvokeIdentityARN string        `json:"invokeIdentityArn,omitempty"`
	Kinesis           KinesisRecord `json:"kinesis"`
}

// ShardID is the shard part of EventID.
func (r KinesisEventRecord) ShardID() string {
	if i := strings.LastIndexByte(r.EventID, ':'); i > 0 {
		return r.EventID[:i]
	}
	return ""
}

// KinesisRecord is the record itself.
type KinesisRecord struct {
	ApproximateArrivalTimestamp EpochSeconds `json:"approximateArrivalTimestamp"`
	Data                        []byte       `json:"data"` // base64 in JSON
	EncryptionType              string       `json:"encryptionType,omitempty"`
	PartitionKey                string       `json:"partitionKey"`
	SequenceNumber              string       `json:"sequenceNumber"`
	KinesisSchemaVersion        string       `json:"kinesisSchemaVersion,omitempty"`
}

// EpochSeconds is a time written as seconds since the epoch with a fraction
// (1545084650.987), as Kinesis events carry arrival times.
type EpochSeconds struct{ time.Time }

// MarshalJSON writes seconds with millisecond precision.
func (t EpochSeconds) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	return []byte(fmt.Sprintf("%d.%03d", ms/1000, ms%1000)), nil
}

// UnmarshalJSON reads a number of seconds.
func (t *EpochSeconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("arrival timestamp %s is not a number of seconds: %w", b, err)
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
	return nil
}

// FailedBatchKeyPrefix starts the key of every object the event source
// mapping writes to an S3 on-failure destination:
//
//	aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>
const FailedBatchKeyPrefix = "aws/lambda/"

// keyTime is the layout of the time in a failed-batch object's name.
const keyTime = "2006-01-02T15.04.05"

// FailedBatchKey returns the key Lambda uses for a failed batch of mapping
// esmUUID and shard at t (UTC), with random as the final UUID.
func FailedBatchKey(esmUUID, shardID string, t time.Time, random string) string {
	t = t.UTC()
	return FailedBatchKeyPrefix + esmUUID + "/" + shardID + "/" + t.Format("2006/01/02/"+keyTime) + "-" + random
}

// FailedBatchKeyInfo is what a failed-batch object key tells.
type FailedBatchKeyInfo struct {
	MappingUUID string
	ShardID     string
	Time        time.Time // to the second, UTC
}

// ParseFailedBatchKey reads a key made by FailedBatchKey (with or without a
// prefix before "aws/lambda/"). ok is false for any other key.
func ParseFailedBatchKey(key string) (info FailedBatchKeyInfo, ok bool) {
	i := strings.Index(key, FailedBatchKeyPrefix)
	if i < 0 {
		return info, false
	}
	f := strings.Split(key[i+len(FailedBatchKeyPrefix):], "/")
	// uuid, shard, YYYY, MM, DD, name
	if len(f) != 6 || f[0] == "" || f[1] == "" || len(f[5]) < len(keyTime)+1 {
		return info, false
	}
	t, err := time.Parse(keyTime, f[5][:len(keyTime)])
	if err != nil || f[5][len(keyTime)] != '-' || t.Format("2006/01/02") != f[2]+"/"+f[3]+"/"+f[4] {
		return info, false
	}
	return FailedBatchKeyInfo{MappingUUID: f[0], ShardID: f[1], Time: t.UTC()}, true
}
