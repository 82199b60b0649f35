package redrive

import (
	"strings"
	"testing"
	"time"
)

// TestInvokeLimitIsOneRule: a record whose event is exactly Lambda's invoke
// limit is chunked and sent; one byte more is refused, by the same size the
// S3 redrive judges records by.
func TestInvokeLimitIsOneRule(t *testing.T) {
	rec := Record{StreamARN: "arn:aws:kinesis:us-east-1:123456789012:stream/s", Region: "us-east-1", ShardID: "shardId-000000000000",
		SequenceNumber: "1", PartitionKey: "k", Arrival: time.Unix(1, 0), Data: make([]byte, (InvokeLimit-1000)/4*3)}
	n, err := rec.aloneBytes()
	if err != nil || n > InvokeLimit {
		t.Fatalf("%d bytes, %v", n, err)
	}
	at := rec
	at.event, at.PartitionKey = nil, rec.PartitionKey+strings.Repeat("k", InvokeLimit-n)
	if n, _ := at.aloneBytes(); n != InvokeLimit {
		t.Fatalf("%d bytes, want exactly %d", n, InvokeLimit)
	}
	parts, err := chunks([]Record{at}, InvokeLimit)
	if err != nil || len(parts) != 1 {
		t.Fatalf("at the limit: %d parts, %v; want it sent alone", len(parts), err)
	}
	over := at
	over.event, over.PartitionKey = nil, at.PartitionKey+"k"
	if _, err := chunks([]Record{over}, InvokeLimit); err == nil || !strings.Contains(err.Error(), "over Lambda's") {
		t.Fatalf("one byte over: %v, want refused", err)
	}
}
