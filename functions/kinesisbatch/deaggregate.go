package kinesisbatch

import (
	"slices"

	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
)

// AggregationError is the error of a Kinesis record that starts with the KPL
// magic but is not a valid aggregated record (MD5 digest mismatch, malformed
// protobuf, missing fields, no user records). The record never reaches the
// handler: it fails permanently as a whole and is quarantined with its
// payload. DefaultClassify sees it as permanent.
type AggregationError struct {
	Err *kpl.FormatError
}

func (e *AggregationError) Error() string { return "kinesisbatch: " + e.Err.Error() }

// Unwrap returns the format error.
func (e *AggregationError) Unwrap() error { return e.Err }

// A Deaggregator expands KPL aggregated records into user records, reusing
// its buffers from one call to the next. The Processor uses one per Decoder;
// use one directly only to decode events outside a Processor (benchmarks,
// tools). It is not safe for concurrent use; the zero value is ready.
type Deaggregator struct {
	recs  []Record
	users []kpl.UserRecord
	bad   []error
	dec   kpl.Decoder
}

// Expand returns recs with every KPL aggregated record replaced, in place
// and in order, by its user records (see Record.Aggregated), with Index set
// to each record's position in the new slice. When no record is aggregated
// it returns recs itself, untouched, and nil, after one 4-byte compare per
// record.
//
// bad, when not nil, is parallel to the returned records: a non-nil entry is
// the *AggregationError of a record that carries the KPL magic but could not
// be read; that record is returned whole (Aggregated false) so that it can
// be quarantined with its payload.
//
// A user record's Data aliases its Kinesis record's Data. The returned
// slices are valid until the next call to Expand.
func (d *Deaggregator) Expand(recs []Record) (out []Record, bad []error) {
	first := -1
	for i := range recs {
		if kpl.IsAggregated(recs[i].Data) && !recs[i].Aggregated {
			first = i
			break
		}
	}
	if first < 0 {
		return recs, nil
	}
	out = append(d.recs[:0], recs[:first]...)
	bad = d.bad[:0]
	anyBad := false
	for i := first; i < len(recs); i++ {
		r := &recs[i]
		if r.Aggregated || !kpl.IsAggregated(r.Data) {
			out = append(out, *r)
			if anyBad {
				bad = append(bad, nil)
			}
			continue
		}
		users, err := d.dec.Decode(d.users[:0], r.Data)
		d.users = users
		if err != nil {
			if !anyBad {
				anyBad = true
				bad = append(bad, make([]error, len(out))...)
			}
			out = append(out, *r)
			bad = append(bad, &AggregationError{Err: err.(*kpl.FormatError)})
			continue
		}
		out = slices.Grow(out, len(users))
		for _, u := range users {
			out = append(out, *r) // one copy of the envelope, then the user record's fields
			ur := &out[len(out)-1]
			ur.Aggregated = true
			ur.PartitionKey = u.PartitionKey
			ur.ExplicitHashKey = u.ExplicitHashKey
			ur.SubSequenceNumber = u.SubSequenceNumber
			ur.Data = u.Data
			if anyBad {
				bad = append(bad, nil)
			}
		}
	}
	clear(d.users)
	for i := range out {
		out[i].Index = i
	}
	d.recs, d.bad = out, bad
	if !anyBad {
		bad = nil
	}
	return out, bad
}
