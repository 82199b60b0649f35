package producer_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/processor/sensor"
	"github.com/streamproc/streamproc/internal/producer"
)

func TestGeneratorIsDeterministic(t *testing.T) {
	opts := producer.GenOptions{Seed: 7, Start: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), OutOfOrder: 0.2, Duplicates: 0.1, Invalid: 0.05}
	a := producer.Generate(producer.NewGenerator(opts), 2000)
	b := producer.Generate(producer.NewGenerator(opts), 2000)
	for i := range a {
		if !bytes.Equal(a[i].Data, b[i].Data) || a[i].PartitionKey != b[i].PartitionKey || a[i].Kind != b[i].Kind {
			t.Fatalf("record %d differs between two runs with the same seed", i)
		}
	}
	opts.Seed = 8
	c := producer.Generate(producer.NewGenerator(opts), 10)
	if bytes.Equal(a[0].Data, c[0].Data) && bytes.Equal(a[1].Data, c[1].Data) {
		t.Fatal("different seeds gave the same records")
	}
}

// The generated records honour the processor's input contract: valid ones
// decode with the processor's own decoder to exactly the generated values,
// invalid ones are rejected by it.
func TestGeneratorMatchesTheProcessorContract(t *testing.T) {
	start := time.Now().Add(-time.Hour).Truncate(time.Minute)
	g := producer.NewGenerator(producer.GenOptions{Seed: 1, Sensors: 20, Start: start, Step: 500 * time.Millisecond,
		OutOfOrder: 0.3, Duplicates: 0.1, Invalid: 0.1})
	dec := sensor.NewDecoder(sensor.Limits{})
	now := time.Now().UnixMilli()
	counts := map[producer.Kind]int{}
	late := 0
	seen := map[string]bool{}
	sensors := map[string]bool{}
	const n = 5000
	for _, r := range producer.Generate(g, n) {
		counts[r.Kind]++
		got, err := dec.Decode(r.Data, now)
		switch r.Kind {
		case producer.Invalid:
			if err == nil {
				t.Fatalf("invalid record (%s) accepted by the processor's decoder: %s", r.Reason, r.Data)
			}
			continue
		case producer.Valid:
			if seen[r.Reading.EventID] {
				t.Fatalf("valid record reuses event id %s", r.Reading.EventID)
			}
			seen[r.Reading.EventID] = true
			if r.Late {
				late++
			}
		case producer.Duplicate:
			if !seen[r.Reading.EventID] {
				t.Fatalf("duplicate of an event id never sent: %s", r.Reading.EventID)
			}
		}
		if err != nil {
			t.Fatalf("valid record rejected: %v: %s", err, r.Data)
		}
		rd := r.Reading
		sensors[rd.SensorID] = true
		if got.SensorID != rd.SensorID || got.EventTime != rd.TS || got.EventIDHash != sensor.HashEventID([]byte(rd.EventID)) ||
			int64(got.Temperature) != rd.TempCenti*sensor.Scale/100 || got.HasHumidity != rd.HasHumidity ||
			(rd.HasHumidity && int64(got.Humidity) != rd.HumDeci*sensor.Scale/10) {
			t.Fatalf("decoded %+v, generated %+v from %s", got, rd, r.Data)
		}
		if r.PartitionKey != rd.SensorID {
			t.Fatalf("partition key %q, want the sensor id %q", r.PartitionKey, rd.SensorID)
		}
		var m map[string]any
		if err := json.Unmarshal(r.Data, &m); err != nil || math.Abs(m["temperature"].(float64)-rd.Temperature) > 1e-9 {
			t.Fatalf("payload %s does not match %+v", r.Data, rd)
		}
	}
	within := func(k producer.Kind, frac float64) {
		if got := float64(counts[k]) / n; math.Abs(got-frac) > 0.03 {
			t.Errorf("%v fraction %.3f, want about %.2f", k, got, frac)
		}
	}
	within(producer.Duplicate, 0.1)
	within(producer.Invalid, 0.1)
	if f := float64(late) / float64(counts[producer.Valid]); math.Abs(f-0.3) > 0.03 {
		t.Errorf("late fraction %.3f, want about 0.3", f)
	}
	if len(sensors) != 20 {
		t.Errorf("%d sensors used, want 20", len(sensors))
	}
}

func TestNDJSONSource(t *testing.T) {
	in := "{\"sensor_id\":\"s-1\",\"x\":1}\n\n  \n{\"no\":\"key\"}\r\nnot json\n"
	src := producer.NDJSONSource(strings.NewReader(in))
	var got []producer.Entry
	for {
		e, err := src.Next()
		if err != nil {
			break
		}
		got = append(got, e)
	}
	if len(got) != 3 {
		t.Fatalf("got %d entries, want 3: %+v", len(got), got)
	}
	if got[0].PartitionKey != "s-1" || string(got[0].Data) != `{"sensor_id":"s-1","x":1}` {
		t.Errorf("first entry %+v", got[0])
	}
	if len(got[1].PartitionKey) != 32 || string(got[1].Data) != `{"no":"key"}` {
		t.Errorf("second entry %+v: want an MD5 partition key and the line without CR", got[1])
	}
	long := strings.Repeat("x", producer.MaxRecordBytes+10) + "\n"
	if _, err := producer.NDJSONSource(strings.NewReader("{}\n" + long)).Next(); err != nil {
		t.Fatalf("first line: %v", err)
	}
	s := producer.NDJSONSource(strings.NewReader("{}\n" + long))
	_, _ = s.Next()
	if _, err := s.Next(); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("over-long line: %v, want an error naming line 2", err)
	}
}

func TestExpectedWindows(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	g := producer.NewGenerator(producer.GenOptions{Seed: 2, Sensors: 3, Start: start, Step: time.Second, Duplicates: 0.2, Invalid: 0.1, OutOfOrder: 0.2})
	recs := producer.Generate(g, 600)
	ws := producer.ExpectedWindows(recs, time.Minute)
	var count int64
	valid := 0
	for _, r := range recs {
		if r.Kind == producer.Valid {
			valid++
		}
	}
	for k, w := range ws {
		count += w.Count
		if k.Start.Second() != 0 || k.Start.Nanosecond() != 0 || w.MinCenti > w.MaxCenti || w.FirstEventMs < k.Start.UnixMilli() || w.LastEventMs >= k.Start.Add(time.Minute).UnixMilli() {
			t.Fatalf("window %+v %+v", k, w)
		}
	}
	if count != int64(valid) {
		t.Fatalf("windows hold %d readings, %d valid ones were generated", count, valid)
	}
	// Re-sending everything (a replay) changes nothing.
	again := producer.ExpectedWindows(append(recs, recs...), time.Minute)
	for k, w := range ws {
		if again[k] != w {
			t.Fatalf("a replay changed window %+v", k)
		}
	}
}
