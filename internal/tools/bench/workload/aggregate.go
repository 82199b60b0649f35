package workload

import (
	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
)

// Aggregate packs the readings of recs n at a time into KPL aggregated
// Kinesis records, as a KPL producer would: each record's partition key is
// its first reading's sensor, its arrival the last reading's, and it gets a
// new sequence number from seq (the readings' own are dropped). The
// aggregated record's EventID, Temperature and other reading fields are
// empty; keep recs for the expected values.
func Aggregate(recs []Record, n int, seq *Sequence) []Record {
	var out []Record
	var a kpl.Aggregator
	for start := 0; start < len(recs); start += n {
		a.Reset()
		end := min(start+n, len(recs))
		for _, r := range recs[start:end] {
			if err := a.Add(r.SensorID, "", r.Payload); err != nil {
				panic(err) // sensor ids are never empty
			}
		}
		payload, err := a.Encode(nil)
		if err != nil {
			panic(err)
		}
		out = append(out, Record{
			SensorID: recs[start].SensorID, Payload: payload, Sequence: seq.Next(),
			Arrival: recs[end-1].Arrival, Shard: recs[start].Shard,
		})
	}
	return out
}
