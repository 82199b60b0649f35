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

// KPLPerRecord is how many readings the benchmark's KPL event packs per
// Kinesis record: ~20 KB records, well under the KPL's default 50 KB
// aggregation limit.
const KPLPerRecord = 100

// AggregatedEvent is the benchmark's KPL event: the workload of o (more
// readings than o.Readings if needed) packed perRecord readings per Kinesis
// record, as many as fit in an event of at most maxBytes. Its first readings
// are the same as Records(o)'s. It returns the event and its readings.
func AggregatedEvent(o Options, perRecord, maxBytes int) ([]byte, []Record) {
	o = o.withDefaults()
	// ~290 event bytes per aggregated ~200-byte reading: generate enough.
	o.Readings = max(o.Readings, maxBytes/200)
	readings := Records(o)
	kin := Aggregate(readings, perRecord, NewSequence(o.Seed+1))
	for n := len(kin); n > 0; n-- {
		if ev := Event(kin[:n]); len(ev) <= maxBytes {
			return ev, readings[:min(n*perRecord, len(readings))]
		}
	}
	return Event(nil), nil
}
