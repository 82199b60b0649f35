package producer

import (
	"time"

	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
)

// aggregate packs the entries of in into KPL aggregated entries of up to
// Config.Aggregate records each, the way KPL producers do, and closes the
// returned channel after in. An aggregated entry goes under the partition
// key of its first record (so all of its records land on that key's shard,
// like aws-kinesis-agg's RecordAggregator; the KPL itself groups by
// predicted shard) and stays within the 1 MiB record limit, data plus
// partition key. It is flushed when full, when the next record would not
// fit, or Linger after its first record. An entry of one record is sent
// plain, as the KPL does.
func (p *Producer) aggregate(in <-chan Entry) <-chan Entry {
	out := make(chan Entry, cap(in)/p.cfg.Aggregate+1)
	go func() {
		defer close(out)
		var a kpl.Aggregator
		var first Entry
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		flush := func() {
			timer.Stop()
			switch a.Len() {
			case 0:
				return
			case 1:
				out <- first
			default:
				data, err := a.Encode(nil)
				if err != nil { // only with nothing added
					panic(err)
				}
				out <- Entry{PartitionKey: a.PartitionKey(), Data: data, packed: int64(a.Len())}
			}
			a.Reset()
		}
		for {
			select {
			case e, ok := <-in:
				if !ok {
					flush()
					return
				}
				if a.Len() > 0 && a.SizeWith(e.PartitionKey, "", e.Data)+len(a.PartitionKey()) > MaxRecordBytes {
					flush()
				}
				if a.Len() == 0 {
					if kpl.Overhead+len(e.Data)+2*len(e.PartitionKey)+16 > MaxRecordBytes {
						out <- e // too big to wrap: plain
						continue
					}
					first = e
					timer.Reset(p.cfg.Linger)
				}
				_ = a.Add(e.PartitionKey, "", e.Data) // keys were checked non-empty
				if a.Len() >= p.cfg.Aggregate {
					flush()
				}
			case <-timer.C:
				flush()
			}
		}
	}()
	return out
}
