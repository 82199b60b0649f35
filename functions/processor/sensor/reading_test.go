package sensor

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/streamproc/streamproc/functions/eventtime"
)

var testNow = time.Date(2026, 11, 25, 10, 8, 0, 0, time.UTC).UnixMilli()

var validCases = []struct {
	name string
	in   string
	want Reading
}{
	{"epoch ms", `{"event_id":"e1","sensor_id":"s-1","ts":1764065223123,"temperature":21.374,"humidity":40.5}`,
		Reading{SensorID: "s-1", EventIDHash: HashEventID([]byte("e1")), EventTime: 1764065223123, Temperature: 21374000, Humidity: 40500000, HasHumidity: true}},
	{"rfc3339 and spaces", " {\n \"sensor_id\" : \"s-1\", \"event_id\":\"e1\",\t\"ts\":\"2025-11-25T10:07:03.123Z\",\"temperature\":-5} ",
		Reading{SensorID: "s-1", EventIDHash: HashEventID([]byte("e1")), EventTime: 1764065223123, Temperature: -5000000}},
	{"rfc3339 offset", `{"event_id":"e1","sensor_id":"s","ts":"2025-11-25T11:07:03.123+01:00","temperature":0}`,
		Reading{SensorID: "s", EventIDHash: HashEventID([]byte("e1")), EventTime: 1764065223123}},
	{"fractional ms truncated, exponent temp, null humidity, unknown fields", `{"event_id":"e1","sensor_id":"s","ts":1764065223123.9,"temperature":2.1374e1,"humidity":null,"extra":{"a":[1,2,{"b":null}],"c":"x\"y"},"n":true}`,
		Reading{SensorID: "s", EventIDHash: HashEventID([]byte("e1")), EventTime: 1764065223123, Temperature: 21374000}},
	{"escapes", `{"event_id":"e\u0031","sensor_id":"caf\u00e9 \ud83d\ude00","ts":1764065223123,"temperature":1.0000005}`,
		Reading{SensorID: "café 😀", EventIDHash: HashEventID([]byte("e1")), EventTime: 1764065223123, Temperature: 1000001}},
	{"rounding", `{"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":-1.23456749}`,
		Reading{SensorID: "s", EventIDHash: HashEventID([]byte("e")), EventTime: 1764065223123, Temperature: -1234567}},
}

func TestDecodeValid(t *testing.T) {
	d := NewDecoder(Limits{})
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Decode([]byte(tc.in), testNow)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

const okFields = `"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":20`

var invalidCases = []struct{ in, field, reason string }{
	{``, "", "empty payload"},
	{`[1]`, "", "not a JSON object"},
	{`{` + okFields, "", "expected ',' or '}'"},
	{`{` + okFields + `}x`, "", "unexpected data after"},
	{`{` + okFields + `,"event_id":"f"}`, "event_id", "more than once"},
	{`{"sensor_id":"s","ts":1764065223123,"temperature":20}`, "event_id", "missing"},
	{`{"event_id":"e","ts":1764065223123,"temperature":20}`, "sensor_id", "missing"},
	{`{"event_id":"e","sensor_id":"s","temperature":20}`, "ts", "missing"},
	{`{"event_id":"e","sensor_id":"s","ts":1764065223123}`, "temperature", "missing"},
	{`{"event_id":1,"sensor_id":"s","ts":1764065223123,"temperature":20}`, "event_id", "must be a string"},
	{`{"event_id":"","sensor_id":"s","ts":1764065223123,"temperature":20}`, "event_id", "empty"},
	{`{"event_id":"e","sensor_id":"a\u0007b","ts":1764065223123,"temperature":20}`, "sensor_id", "control character"},
	// A control character after a non-ASCII one is still refused.
	{`{"event_id":"e","sensor_id":"é\u0001","ts":1764065223123,"temperature":20}`, "sensor_id", "control character"},
	{"{\"event_id\":\"e\",\"sensor_id\":\"é\x7f\",\"ts\":1764065223123,\"temperature\":20}", "sensor_id", "control character"},
	{`{"event_id":"e","sensor_id":"café-\u0085","ts":1764065223123,"temperature":20}`, "sensor_id", "control character"}, // C1 (NEL)
	{"{\"event_id\":\"e\",\"sensor_id\":\"\xff\",\"ts\":1764065223123,\"temperature\":20}", "sensor_id", "UTF-8"},
	{`{"event_id":"e","sensor_id":"s","ts":1764065223,"temperature":20}`, "ts", "looks like epoch seconds"},
	{`{"event_id":"e","sensor_id":"s","ts":5,"temperature":20}`, "ts", "is before 2000"},
	{`{"event_id":"e","sensor_id":"s","ts":-5,"temperature":20}`, "ts", "not a plausible"},
	{`{"event_id":"e","sensor_id":"s","ts":1864065223123,"temperature":20}`, "ts", "in the future"},
	{`{"event_id":"e","sensor_id":"s","ts":"yesterday","temperature":20}`, "ts", "not an RFC 3339 time"},
	{`{"event_id":"e","sensor_id":"s","ts":true,"temperature":20}`, "ts", "must be a number"},
	{`{"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":"20"}`, "temperature", "must be a number"},
	{`{"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":1e999}`, "temperature", "out of range"},
	{`{"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":NaN}`, "temperature", "must be a number"},
	{`{"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":200}`, "temperature", "plausible range"},
	{`{"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":20,"humidity":101}`, "humidity", "outside [0, 100]"},
	{`{"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":01}`, "temperature", "expected ',' or '}'"},
	{`{"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":20,"x":[1,}`, "", "bad value for field"},
	{`{` + okFields + `,"pad":"` + strings.Repeat("x", 17000) + `"}`, "", "more than the 16384 allowed"},
}

func TestDecodeInvalidReasons(t *testing.T) {
	d := NewDecoder(Limits{})
	for _, tc := range invalidCases {
		_, err := d.Decode([]byte(tc.in), testNow)
		var ie *InvalidError
		if !errors.As(err, &ie) {
			t.Errorf("%.60s: want *InvalidError, got %v", tc.in, err)
			continue
		}
		if !strings.Contains(ie.Reason, tc.reason) && !(tc.field == "" && strings.Contains(err.Error(), tc.reason)) {
			t.Errorf("%.60s: reason %q does not mention %q", tc.in, ie.Reason, tc.reason)
		}
		if tc.field != "" && tc.field != "temperature" && ie.Field != tc.field && !strings.Contains(ie.Reason, tc.reason) {
			t.Errorf("%.60s: field %q, want %q", tc.in, ie.Field, tc.field)
		}
	}
}

func TestDecodeDoesNotAllocateWhenWarm(t *testing.T) {
	d := NewDecoder(Limits{})
	in := []byte(`{"event_id":"0b7e4f0c-3f7a-4f53-9d0e-7f1a3c9b2e11","sensor_id":"sensor-0042","ts":1764065223123,"temperature":21.37,"humidity":40.1,"site":"plant-7","fw":"1.4.2"}`)
	if _, err := d.Decode(in, testNow); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = d.Decode(in, testNow) }); n != 0 {
		t.Fatalf("Decode allocates %v times per reading, want 0", n)
	}
}

func TestMicroFormatting(t *testing.T) {
	for _, tc := range []struct {
		m    Micro
		want string
	}{{0, "0"}, {21374000, "21.374"}, {-500000, "-0.5"}, {3 * Scale, "3"}, {-1, "-0.000001"}, {-123456789012500000, "-123456789012.5"}} {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("%d: %q, want %q", int64(tc.m), got, tc.want)
		}
		back, err := eventtime.ParseFixed(tc.want)
		if err != nil || back != tc.m {
			t.Errorf("ParseFixed(%q) = %d, %v", tc.want, back, err)
		}
	}
	if got := eventtime.DivRound(10, 4); got != 3 { // 2.5 -> 3
		t.Errorf("DivRound(10,4)=%d", got)
	}
	if got := eventtime.DivRound(-10, 4); got != -3 {
		t.Errorf("DivRound(-10,4)=%d", got)
	}
}

// FuzzDecode: Decode never panics; every input is either a reading or an
// *InvalidError with a reason; and an accepted input is valid JSON whose
// fields encoding/json reads the same way.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"event_id":"e1","sensor_id":"s-1","ts":1764065223123,"temperature":21.374,"humidity":40.5}`))
	f.Add([]byte(`{"event_id":"e\u0031","sensor_id":"caf\u00e9","ts":"2025-11-25T10:07:03.123Z","temperature":-2.5e1,"x":[{}]}`))
	f.Add([]byte(`{"event_id":"e","sensor_id":"s","ts":1764065223123.5,"temperature":0,"humidity":null}`))
	f.Add([]byte(`{"a":`))
	f.Add([]byte(`"\ud800"`))
	d := NewDecoder(Limits{})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := d.Decode(in, testNow)
		if err != nil {
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.Reason == "" {
				t.Fatalf("error without a reason: %#v", err)
			}
			return
		}
		if !json.Valid(in) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		// A map, not a struct: encoding/json matches struct fields without
		// regard to case, the reading contract is case-sensitive.
		var v map[string]any
		if err := json.Unmarshal(in, &v); err != nil {
			t.Fatalf("accepted %q but encoding/json says %v", in, err)
		}
		eid, _ := v["event_id"].(string)
		sid, _ := v["sensor_id"].(string)
		temp, _ := v["temperature"].(float64)
		if r.SensorID != sid {
			t.Fatalf("%q: sensor_id %q, encoding/json %q", in, r.SensorID, sid)
		}
		// encoding/json turns invalid UTF-8 into U+FFFD; the hash is of the raw bytes.
		if utf8.ValidString(eid) && !strings.ContainsRune(eid, utf8.RuneError) && r.EventIDHash != HashEventID([]byte(eid)) {
			t.Fatalf("%q: event_id hash differs from encoding/json's %q", in, eid)
		}
		if want, _ := eventtime.FixedFromFloat(temp); absDiff(r.Temperature, want) > 1 {
			t.Fatalf("%q: temperature %d, encoding/json %v", in, r.Temperature, temp)
		}
	})
}

func absDiff(a, b Micro) Micro {
	if a > b {
		return a - b
	}
	return b - a
}
