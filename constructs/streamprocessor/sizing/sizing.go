// Package sizing holds the formulas that size a Kinesis stream and its
// Lambda event source mapping for a load. The StreamProcessor construct
// (ExpectedLoad) and `streamctl plan` both use them, so a synthesized stack
// and a plan agree. Standard library only.
package sizing

import "math"

// AWS limits (Kinesis Data Streams quotas; Lambda event source mappings for
// Kinesis).
const (
	ShardWriteRecords = 1000    // records/s into one shard
	ShardWriteBytes   = 1 << 20 // bytes/s into one shard
	MaxBatchSize      = 10_000  // Kinesis records per batch
	MaxPayloadBytes   = 6 << 20 // a synchronous invocation's payload
	MaxFactor         = 10      // ParallelizationFactor
	// DefaultUtilization is the share of a shard's write limits a sized
	// stream fills at peak: headroom for uneven keys and bursts.
	DefaultUtilization = 0.8
	// MaxBusy is the share of time a sized lane (one concurrent batch of a
	// shard) may spend in invocations at peak: headroom to catch up.
	MaxBusy = 0.7
	// EventBytesPerRecord is a Lambda Kinesis event's envelope per record
	// besides its base64 data (eventID, ARNs, sequence number, ...), measured.
	EventBytesPerRecord = 540
	eventOverhead       = len(`{"Records":[]}`)
)

// KinesisRecordBytes is one Kinesis record carrying aggregation user records
// of recordBytes (KPL framing: about 8 bytes a record and a 20-byte header).
func KinesisRecordBytes(recordBytes, aggregation float64) float64 {
	if aggregation <= 1 {
		return recordBytes
	}
	return aggregation*(recordBytes+8) + 20
}

// Shards is the shard count that carries peak user records/s of
// recordBytes, aggregation to a Kinesis record, with each shard filled to
// utilization of its 1,000 records/s and 1 MiB/s; bytesBound tells which
// limit decided.
func Shards(peak, recordBytes, aggregation, utilization float64) (shards int, bytesBound bool) {
	if aggregation < 1 {
		aggregation = 1
	}
	kr := peak / aggregation
	byRecords := math.Ceil(kr / (ShardWriteRecords * utilization))
	byBytes := math.Ceil(kr * KinesisRecordBytes(recordBytes, aggregation) / (ShardWriteBytes * utilization))
	if byBytes > byRecords {
		return max(1, int(byBytes)), true
	}
	return max(1, int(byRecords)), false
}

// ShardCapacity is the user records/s shards carry at utilization.
func ShardCapacity(shards int, recordBytes, aggregation, utilization float64) float64 {
	if aggregation < 1 {
		aggregation = 1
	}
	kr := math.Min(ShardWriteRecords, ShardWriteBytes/KinesisRecordBytes(recordBytes, aggregation))
	return float64(shards) * kr * aggregation * utilization
}

// MaxBatch is the most Kinesis records one invocation can carry: at most
// 10,000, and a 6 MB payload of base64 data plus the event envelope.
func MaxBatch(kinesisRecordBytes float64) int {
	per := math.Ceil(kinesisRecordBytes/3)*4 + EventBytesPerRecord
	return min(MaxBatchSize, max(1, int(float64(MaxPayloadBytes-eventOverhead)/per)))
}

// LaneCapacity is the user records/s one lane (one concurrent batch of a
// shard) carries when every batch is full: batch records per invocation of
// perInvocation + batch × perRecord seconds.
func LaneCapacity(batch, perRecord, perInvocation float64) float64 {
	return batch / (perInvocation + batch*perRecord)
}

// Factor is the smallest ParallelizationFactor whose lanes carry peak
// user records/s over shards with each lane at most MaxBusy busy, given a
// lane's capacity at a number of lanes (capacity may depend on it: fewer
// keys per lane). ok is false when even MaxFactor does not.
func Factor(peak float64, shards int, capacity func(lanes int) float64) (factor int, ok bool) {
	for f := 1; f <= MaxFactor; f++ {
		lanes := shards * f
		if peak/float64(lanes) <= MaxBusy*capacity(lanes) {
			return f, true
		}
	}
	return MaxFactor, false
}
