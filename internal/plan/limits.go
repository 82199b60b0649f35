package plan

import "github.com/streamproc/streamproc/constructs/streamprocessor/sizing"

// AWS limits the model checks against. Sources: Kinesis Data Streams quotas
// (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html),
// Lambda event source mappings and quotas
// (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html,
// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html),
// DynamoDB quotas and partitions
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html,
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html).
const (
	shardWriteRecords  = sizing.ShardWriteRecords // records/s into one shard
	shardWriteBytes    = sizing.ShardWriteBytes   // bytes/s into one shard
	shardReadBytes     = 2 << 20                  // bytes/s out of one shard, shared by polling consumers
	shardReadCalls     = 5                        // GetRecords/s per shard, shared by polling consumers
	putPayloadUnit     = 25 * 1024                // bytes per PUT payload unit
	onDemandRoundUp    = 1024                     // on-demand bills each record rounded up to 1 KB
	onDemandMaxBytes   = 200 << 20                // default on-demand write capacity per stream
	onDemandMaxRecs    = 200_000                  // default on-demand records/s per stream
	maxBatchRecords    = sizing.MaxBatchSize      // event source mapping BatchSize
	maxBatchingWindow  = 300                      // seconds
	maxFactor          = sizing.MaxFactor         // ParallelizationFactor
	basePollSeconds    = 1.0                      // Lambda polls a shard once a second at base rate
	fullVCPUMemoryMB   = 1769                     // memory at which a function has one vCPU
	defaultMemoryMB    = 256                      // the construct's default
	accountConcurrency = 1000                     // default Lambda concurrent executions per region
	partitionWCU       = 1000                     // DynamoDB per-partition write units/s
	partitionRCU       = 3000                     // DynamoDB per-partition read units/s
	tableQuotaWRU      = 40_000                   // DynamoDB on-demand default per-table throughput
	tableQuotaRRU      = 40_000
	newTableWRU        = 4000 // a new on-demand table serves this much at once
	batchGetKeys       = 100  // keys per BatchGetItem
	hoursPerMonth      = 730
	secondsPerMonth    = hoursPerMonth * 3600
	gib                = 1 << 30
)

// shardQuota is the default open-shard quota of an account in region.
func shardQuota(region string) int {
	switch region {
	case "us-east-1", "us-west-2", "eu-west-1":
		return 500
	}
	return 200
}
