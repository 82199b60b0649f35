// Package workload generates the benchmark's sensor workload: Kinesis records
// of ~200-byte JSON readings from many sensors, out of order in event time,
// wrapped in the JSON event the Lambda service delivers. The benchmark, the
// baselines and the processor's tests all use it, so they measure and check
// the same thing.
package workload

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"time"
)

// Options shape a workload. Zero fields take the benchmark's values.
type Options struct {
	Readings int           // Default: 8000
	Sensors  int           // Default: 200
	Disorder time.Duration // event time precedes arrival by up to this. Default: 30s
	// Arrival of the first record. Default: now minus one minute.
	Start time.Time
	Seed  uint64 // Default: 1
	Shard string // Default: shardId-000000000000
}

func (o Options) withDefaults() Options {
	if o.Readings <= 0 {
		o.Readings = 8000
	}
	if o.Sensors <= 0 {
		o.Sensors = 200
	}
	if o.Disorder <= 0 {
		o.Disorder = 30 * time.Second
	}
	if o.Start.IsZero() {
		o.Start = time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Shard == "" {
		o.Shard = "shardId-000000000000"
	}
	return o
}

// Record is one Kinesis record of the workload.
type Record struct {
	EventID     string
	SensorID    string
	EventTime   time.Time
	Temperature float64 // °C, two decimals
	Humidity    float64
	Payload     []byte // the record data (JSON reading), before base64
	Sequence    string
	Arrival     time.Time
	Shard       string
}

// Reading is the JSON shape of a sensor reading.
type Reading struct {
	EventID     string  `json:"event_id"`
	SensorID    string  `json:"sensor_id"`
	TS          int64   `json:"ts"`
	Temperature float64 `json:"temperature"`
	Humidity    float64 `json:"humidity"`
	Site        string  `json:"site"`
	Firmware    string  `json:"fw"`
	Battery     float64 `json:"battery_v"`
}

// Records generates the workload: readings arrive 1/Readings of a sensor
// cadence apart, each sensor about once a second, and each reading's event
// time is its arrival minus a random delay up to Disorder, so the stream is
// out of order in event time.
func Records(o Options) []Record {
	o = o.withDefaults()
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	recs := make([]Record, o.Readings)
	step := time.Second / time.Duration(o.Sensors) // all sensors once a second
	seq := NewSequence(o.Seed)
	for i := range recs {
		s := i % o.Sensors
		arrival := o.Start.Add(time.Duration(i) * step)
		et := arrival.Add(-time.Duration(rng.Int64N(int64(o.Disorder)))).Truncate(time.Millisecond)
		temp := float64(int(1800+rng.IntN(800)+s%7*10)) / 100 // 18.00-26.60
		hum := float64(int(3000+rng.IntN(4000))) / 100
		r := Reading{
			EventID:     uuid(rng),
			SensorID:    fmt.Sprintf("sensor-%04d", s),
			TS:          et.UnixMilli(),
			Temperature: temp,
			Humidity:    hum,
			Site:        fmt.Sprintf("plant-%02d", s%12),
			Firmware:    "2.14.3",
			Battery:     float64(300+rng.IntN(120)) / 100,
		}
		payload, _ := json.Marshal(r)
		recs[i] = Record{
			EventID: r.EventID, SensorID: r.SensorID, EventTime: et, Temperature: temp, Humidity: hum,
			Payload: payload, Sequence: seq.Next(), Arrival: arrival.Truncate(time.Millisecond), Shard: o.Shard,
		}
	}
	return recs
}

func uuid(rng *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Sequence hands out increasing Kinesis-like sequence numbers (56 digits).
type Sequence struct{ n *big.Int }

// NewSequence starts a sequence; different seeds give different ranges.
func NewSequence(seed uint64) *Sequence {
	n, _ := new(big.Int).SetString("49590338271490256608559692538361571095921575989136588898", 10)
	return &Sequence{n: n.Add(n, new(big.Int).Lsh(new(big.Int).SetUint64(seed), 80))}
}

// Next returns the next sequence number.
func (s *Sequence) Next() string {
	s.n.Add(s.n, big.NewInt(1+1<<20))
	return s.n.String()
}

// Event returns the Lambda Kinesis event JSON for recs, shaped exactly as the
// Lambda service sends it.
func Event(recs []Record) []byte {
	b := make([]byte, 0, len(recs)*900)
	b = append(b, `{"Records":[`...)
	for i, r := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		shard := r.Shard
		if shard == "" {
			shard = "shardId-000000000000"
		}
		b = append(b, `{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":`...)
		b = strconv.AppendQuote(b, r.SensorID)
		b = append(b, `,"sequenceNumber":"`...)
		b = append(b, r.Sequence...)
		b = append(b, `","data":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.Payload)
		b = append(b, `","approximateArrivalTimestamp":`...)
		b = strconv.AppendFloat(b, float64(r.Arrival.UnixMilli())/1000, 'f', 3, 64)
		b = append(b, `},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"`...)
		b = append(b, shard...)
		b = append(b, ':')
		b = append(b, r.Sequence...)
		b = append(b, `","eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::123456789012:role/processor","awsRegion":"us-east-1","eventSourceARN":"arn:aws:kinesis:us-east-1:123456789012:stream/readings"}`...)
	}
	return append(b, "]}"...)
}
