package sensor

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/streamproc/streamproc/internal/tools/bench/workload"
)

var benchPayload = []byte(`{"event_id":"a08145ec-629d-4827-bb05-6d0fa27586b5","sensor_id":"sensor-0000","ts":1764065223123,"temperature":20.29,"humidity":60.74,"site":"plant-00","firmware":"2.14.3","battery_v":3.9}`)

func BenchmarkDecode(b *testing.B) {
	d := NewDecoder(Limits{})
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(benchPayload, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// workloadPayloads returns the pipeline benchmark's reading payloads, with
// event times shortly before testNow.
func workloadPayloads() [][]byte {
	recs := workload.Records(workload.Options{Start: time.UnixMilli(testNow).Add(-time.Minute)})
	ps := make([][]byte, len(recs))
	for i, r := range recs {
		ps[i] = r.Payload
	}
	return ps
}

// BenchmarkDecodeWorkload decodes the pipeline's 8,000 payloads in turn with a
// warm Decoder: Decode (the fast path) and, for comparison, the general path
// alone.
func BenchmarkDecodeWorkload(b *testing.B) {
	ps := workloadPayloads()
	n := 0
	for _, p := range ps {
		n += len(p)
	}
	for _, bc := range []struct {
		name   string
		decode func(*Decoder, []byte, int64) (Reading, error)
	}{{"Decode", (*Decoder).Decode}, {"general", (*Decoder).decodeGeneral}} {
		b.Run(bc.name, func(b *testing.B) {
			d := NewDecoder(Limits{})
			for _, p := range ps {
				if _, err := bc.decode(d, p, testNow); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(n / len(ps)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := bc.decode(d, ps[i], testNow); err != nil {
					b.Fatal(err)
				}
				if i++; i == len(ps) {
					i = 0
				}
			}
		})
	}
}

func BenchmarkDecodeEncodingJSON(b *testing.B) {
	var v struct {
		EventID     string  `json:"event_id"`
		SensorID    string  `json:"sensor_id"`
		TS          int64   `json:"ts"`
		Temperature float64 `json:"temperature"`
		Humidity    float64 `json:"humidity"`
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := json.Unmarshal(benchPayload, &v); err != nil {
			b.Fatal(err)
		}
	}
}
