package eventtime

import (
	"encoding/json"
	"strconv"
)

// Aggregate is the state of one (key, window), as a value: Add returns the
// aggregate with one more record, Merge the aggregate of both operands'
// records. Merge must be associative and commutative, and Add(t, v) must
// equal Merge with the aggregate of that record alone, so that the result
// does not depend on batch boundaries or delivery order. The zero value of A
// is the empty aggregate.
//
// The engine stores aggregates with encoding/json (see Codec): give A
// exported fields or MarshalJSON/UnmarshalJSON.
type Aggregate[A any, V any] interface {
	Add(eventTime int64, v V) A
	Merge(other A) A
}

// Stats is the ready-made aggregate of fixed-point values: count, sum, min,
// max, average and the values at the earliest and latest event time, all
// exact. Ties in event time pick the smaller value for First and the larger
// for Last, so the result does not depend on arrival order.
type Stats struct {
	Count     int64 `json:"count"`
	Sum       Fixed `json:"sum"`
	Min       Fixed `json:"min"`
	Max       Fixed `json:"max"`
	FirstTime int64 `json:"first_time"` // Unix ms
	First     Fixed `json:"first"`
	LastTime  int64 `json:"last_time"` // Unix ms
	Last      Fixed `json:"last"`
}

// Avg is Sum/Count rounded half away from zero to the Fixed unit.
func (s Stats) Avg() Fixed { return DivRound(s.Sum, s.Count) }

// Add implements Aggregate. It is Merge with the aggregate of one record,
// written out: the engine calls it once per record and window.
func (s Stats) Add(t int64, v Fixed) Stats {
	if s.Count == 0 {
		return Stats{Count: 1, Sum: v, Min: v, Max: v, FirstTime: t, First: v, LastTime: t, Last: v}
	}
	s.Count++
	s.Sum += v
	s.Min, s.Max = min(s.Min, v), max(s.Max, v)
	if t < s.FirstTime || (t == s.FirstTime && v < s.First) {
		s.FirstTime, s.First = t, v
	}
	if t > s.LastTime || (t == s.LastTime && v > s.Last) {
		s.LastTime, s.Last = t, v
	}
	return s
}

// Merge implements Aggregate.
func (s Stats) Merge(o Stats) Stats {
	switch {
	case o.Count == 0:
		return s
	case s.Count == 0:
		return o
	}
	r := Stats{Count: s.Count + o.Count, Sum: s.Sum + o.Sum, Min: min(s.Min, o.Min), Max: max(s.Max, o.Max)}
	r.FirstTime, r.First = s.FirstTime, s.First
	if o.FirstTime < r.FirstTime || (o.FirstTime == r.FirstTime && o.First < r.First) {
		r.FirstTime, r.First = o.FirstTime, o.First
	}
	r.LastTime, r.Last = s.LastTime, s.Last
	if o.LastTime > r.LastTime || (o.LastTime == r.LastTime && o.Last > r.Last) {
		r.LastTime, r.Last = o.LastTime, o.Last
	}
	return r
}

// MarshalJSON writes the fields and the average ("avg"). It is written out
// by hand: the engine encodes a window's aggregate on every write.
func (s Stats) MarshalJSON() ([]byte, error) { return s.AppendJSON(make([]byte, 0, 192)), nil }

// AppendJSON appends the MarshalJSON form of s to b.
func (s Stats) AppendJSON(b []byte) []byte {
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, s.Count, 10)
	b = append(b, `,"sum":`...)
	b = s.Sum.AppendDecimal(b)
	b = append(b, `,"min":`...)
	b = s.Min.AppendDecimal(b)
	b = append(b, `,"max":`...)
	b = s.Max.AppendDecimal(b)
	b = append(b, `,"first_time":`...)
	b = strconv.AppendInt(b, s.FirstTime, 10)
	b = append(b, `,"first":`...)
	b = s.First.AppendDecimal(b)
	b = append(b, `,"last_time":`...)
	b = strconv.AppendInt(b, s.LastTime, 10)
	b = append(b, `,"last":`...)
	b = s.Last.AppendDecimal(b)
	b = append(b, `,"avg":`...)
	b = s.Avg().AppendDecimal(b)
	return append(b, '}')
}

// Count is the ready-made aggregate that counts records of any value type.
type Count[V any] int64

// Add implements Aggregate.
func (c Count[V]) Add(int64, V) Count[V] { return c + 1 }

// Merge implements Aggregate.
func (c Count[V]) Merge(o Count[V]) Count[V] { return c + o }

// Codec turns aggregates into bytes for a Store and back.
type Codec[A any] interface {
	Encode(A) ([]byte, error)
	Decode([]byte) (A, error)
}

// JSONCodec is the default Codec: encoding/json. An empty input decodes to
// the zero A.
type JSONCodec[A any] struct{}

// Encode implements Codec. A type with an AppendJSON method (Stats) is
// encoded through it, skipping encoding/json's validation of MarshalJSON's
// output.
func (JSONCodec[A]) Encode(a A) ([]byte, error) {
	if f, ok := any(a).(interface{ AppendJSON([]byte) []byte }); ok {
		return f.AppendJSON(make([]byte, 0, 192)), nil // Stats: ~120-190 bytes, one allocation
	}
	return json.Marshal(a)
}

// Decode implements Codec.
func (JSONCodec[A]) Decode(b []byte) (A, error) {
	if len(b) == 0 {
		var zero A // no allocation for a new window
		return zero, nil
	}
	a := new(A)
	err := json.Unmarshal(b, a)
	return *a, err
}
