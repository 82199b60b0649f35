package kinesisbatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// compareWithStdlib decodes payload with the Decoder and with encoding/json
// into events.KinesisEvent and reports any disagreement.
func compareWithStdlib(t testing.TB, d *Decoder, payload []byte) {
	t.Helper()
	recs, err := d.Decode(payload)
	var ev events.KinesisEvent
	stdErr := json.Unmarshal(payload, &ev)
	if err != nil {
		var se *SyntaxError
		if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(payload) || se.Msg == "" {
			t.Fatalf("error without an offset and reason: %v", err)
		}
		if stdErr == nil && isObject(payload) {
			t.Fatalf("Decoder rejected what encoding/json accepts: %v\npayload: %q", err, payload)
		}
		return
	}
	if stdErr != nil {
		t.Fatalf("Decoder accepted what encoding/json rejects (%v)\npayload: %q", stdErr, payload)
	}
	if len(recs) != len(ev.Records) {
		t.Fatalf("got %d records, encoding/json %d\npayload: %q", len(recs), len(ev.Records), payload)
	}
	for i, e := range ev.Records {
		r := recs[i]
		if diff := diffRecord(r, e); diff != "" {
			t.Fatalf("record %d: %s\npayload: %q", i, diff, payload)
		}
	}
}

func isObject(p []byte) bool {
	p = bytes.TrimLeft(p, " \t\r\n")
	return len(p) > 0 && p[0] == '{'
}

func diffRecord(r Record, e events.KinesisEventRecord) string {
	var b strings.Builder
	cmp := func(name, got, want string) {
		if got != want {
			fmt.Fprintf(&b, "%s: got %q, want %q; ", name, got, want)
		}
	}
	cmp("eventID", r.EventID, e.EventID)
	cmp("eventName", r.EventName, e.EventName)
	cmp("eventSource", r.EventSource, e.EventSource)
	cmp("eventVersion", r.EventVersion, e.EventVersion)
	cmp("eventSourceARN", r.EventSourceARN, e.EventSourceArn)
	cmp("awsRegion", r.AWSRegion, e.AwsRegion)
	cmp("invokeIdentityArn", r.InvokeIdentityARN, e.InvokeIdentityArn)
	cmp("partitionKey", r.PartitionKey, e.Kinesis.PartitionKey)
	cmp("sequenceNumber", r.SequenceNumber, e.Kinesis.SequenceNumber)
	cmp("kinesisSchemaVersion", r.KinesisSchemaVersion, e.Kinesis.KinesisSchemaVersion)
	cmp("encryptionType", r.EncryptionType, e.Kinesis.EncryptionType)
	if !bytes.Equal(r.Data, e.Kinesis.Data) || (r.Data == nil) != (e.Kinesis.Data == nil) {
		fmt.Fprintf(&b, "data: got %q (nil %v), want %q (nil %v); ", r.Data, r.Data == nil, e.Kinesis.Data, e.Kinesis.Data == nil)
	}
	got, want := r.ApproximateArrivalTimestamp, e.Kinesis.ApproximateArrivalTimestamp.Time
	if got.IsZero() != want.IsZero() {
		fmt.Fprintf(&b, "timestamp: got %v, want %v; ", got, want)
	} else if !got.IsZero() {
		d := got.Sub(want)
		// encoding/json goes through float64; the Decoder reads the decimal
		// text exactly. Compare where float64 still resolves microseconds.
		if abs := max(got.Unix(), -got.Unix()); abs < 1<<33 && (d > time.Microsecond || d < -time.Microsecond) {
			fmt.Fprintf(&b, "timestamp: got %v, want %v; ", got, want)
		}
	}
	return b.String()
}

func TestDecodeTestdata(t *testing.T) {
	payload, err := os.ReadFile("testdata/kinesis-event.json")
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	compareWithStdlib(t, &d, payload)
	recs, err := d.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d records", len(recs))
	}
	r := recs[1]
	if r.ShardID() != "shardId-000000000006" || r.Index != 1 {
		t.Errorf("ShardID %q Index %d", r.ShardID(), r.Index)
	}
	if want := time.Unix(1764065252, 456000000); !r.ApproximateArrivalTimestamp.Equal(want) {
		t.Errorf("timestamp %v, want %v exactly", r.ApproximateArrivalTimestamp, want)
	}
	if !bytes.HasPrefix(r.Data, []byte(`{"event_id":"e2"`)) {
		t.Errorf("data %q", r.Data)
	}
}

// TestDecodeTestdataFiles checks every event in testdata against
// encoding/json: pretty-printed, escaped, reordered, with unknown fields and
// the tumbling-window envelope.
func TestDecodeTestdataFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) < 3 {
		t.Fatalf("testdata events: %v", files)
	}
	for _, f := range files {
		payload, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d Decoder
		if _, err := d.Decode(payload); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		compareWithStdlib(t, &d, payload)
	}
	recs, _ := DecodeEvent(mustRead(t, "testdata/time-window-event.json"))
	r := recs[0]
	if r.PartitionKey != "sensor-é☃" || r.EncryptionType != "KMS" || r.EventSourceARN != "arn:aws:kinesis:us-east-1:123456789012:stream/readings" ||
		!r.ApproximateArrivalTimestamp.Equal(time.Unix(1764065251, 123000000)) || r.ShardID() != "shardId-000000000001" {
		t.Errorf("decoded %+v", r)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeAcceptsWhatEncodingJSONAccepts(t *testing.T) {
	cases := map[string]string{
		"empty object":        `{}`,
		"empty records":       `{"Records":[]}`,
		"null records":        `{"Records":null}`,
		"null record":         `{"Records":[null]}`,
		"whitespace":          " \t\r\n{ \"Records\" : [ { \"kinesis\" : { \"data\" : \"aGk=\" , \"sequenceNumber\" : \"1\" } } ] } \n",
		"field order":         `{"Records":[{"eventID":"s:1","kinesis":{"sequenceNumber":"1","partitionKey":"k","data":"aGk="}}]}`,
		"unknown fields":      `{"window":{"start":"x"},"Records":[{"x":[1,2.5e-3,{"a":null}],"kinesis":{"y":true,"data":"","sequenceNumber":"1"}}],"isFinalInvokeForWindow":false}`,
		"escapes":             `{"Records":[{"eventID":"sh\u0061rd\/x:\"1\"","kinesis":{"partitionKey":"\ud83d\ude00 \u00e9\n\t","data":"aG\u006b=","sequenceNumber":"1"}}]}`,
		"bad surrogate":       `{"Records":[{"kinesis":{"partitionKey":"\ud83d x \udc00","sequenceNumber":"1"}}]}`,
		"invalid utf8":        "{\"Records\":[{\"kinesis\":{\"partitionKey\":\"a\xffb\xc3\",\"sequenceNumber\":\"1\"}}]}",
		"raw utf8":            `{"Records":[{"kinesis":{"partitionKey":"Grüße ☃ 😀","sequenceNumber":"1"}}]}`,
		"case-insensitive":    `{"records":[{"KINESIS":{"Data":"aGk=","SEQUENCENUMBER":"1"},"EventId":"a:1"}]}`,
		"escaped key":         `{"R\u0065cords":[{"kinesis":{"d\u0061ta":"aGk=","sequenceNumber":"1"}}]}`,
		"kelvin fold":         "{\"Records\":[{\"\u212aINESIS\":{\"sequenceNumber\":\"1\"}}]}",
		"duplicate keys":      `{"Records":[{"kinesis":{"data":"aGk=","sequenceNumber":"1"},"kinesis":{"partitionKey":"p"}}]}`,
		"duplicate records":   `{"Records":[{"eventID":"a:1"},{"eventID":"b:2"}],"Records":[{"awsRegion":"r"}]}`,
		"null fields":         `{"Records":[{"eventID":null,"kinesis":{"data":null,"approximateArrivalTimestamp":null,"sequenceNumber":"1"}}]}`,
		"null kinesis":        `{"Records":[{"kinesis":null}]}`,
		"timestamp int":       `{"Records":[{"kinesis":{"approximateArrivalTimestamp":1764065251}}]}`,
		"timestamp exponent":  `{"Records":[{"kinesis":{"approximateArrivalTimestamp":1.764065251123E9}}]}`,
		"timestamp negative":  `{"Records":[{"kinesis":{"approximateArrivalTimestamp":-1.5}}]}`,
		"escaped base64":      `{"Records":[{"kinesis":{"data":"aGk\u003d"}}]}`,
		"escaped newline b64": `{"Records":[{"kinesis":{"data":"aGVs\nbG8="}}]}`,
		"unicode in unknown":  "{\"Records\":[{\"note\":\"\xe2\x98\x83\\u2603\"}]}",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			var d Decoder
			if _, err := d.Decode([]byte(in)); err != nil {
				t.Fatalf("rejected: %v", err)
			}
			compareWithStdlib(t, &d, []byte(in))
		})
	}
}

func TestDecodeRejectsWithOffset(t *testing.T) {
	cases := []struct {
		in     string
		offset int
		msg    string
	}{
		{``, 0, "empty payload"},
		{`[]`, 0, "not an object"},
		{`null`, 0, "not an object"},
		{`{"Records":[}`, 12, "value"},
		{`{"Records":{}}`, 11, "Records must be array"},
		{`{"Records":[1]}`, 12, "Records[] must be object"},
		{`{"Records":[{"kinesis":{"data":"a"}}]}`, 31, "not base64"},
		{`{"Records":[{"kinesis":{"data":"aGk=` + "\n" + `"}}]}`, 36, "in string literal"},
		{`{"Records":[{"kinesis":{"data":"aGk=\x"}}]}`, 37, "escape"},
		{`{"Records":[{"kinesis":{"partitionKey":7}}]}`, 39, "partitionKey must be string"},
		{`{"Records":[{"kinesis":{"approximateArrivalTimestamp":"1"}}]}`, 54, "must be number"},
		{`{"Records":[{"kinesis":{"approximateArrivalTimestamp":1e999}}]}`, 54, "out of range"},
		{`{"Records":[]}x`, 14, "after top-level value"},
		{`{"Records":[]`, 13, "end of input"},
		{`{"Records":[{"x":01}]}`, 18, "'1'"},
		{`{"Records":[{"x":tru}]}`, 20, `"true"`},
		{`{"Records":[{"x":"\u12g4"}]}`, 22, "hexadecimal"},
		{`{"a" 1}`, 5, "':'"},
		// Invalid UTF-8 triples in size when unescaped (U+FFFD): found by FuzzDecode.
		{`{"Records":[{"kinesis":{"data":"\u0041` + strings.Repeat("\xa6", 100) + `"}}]}`, 31, "not base64"},
		{"\xef\xbb\xbf{}", 0, "expected value"},
		{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), 10000, "max nesting depth"},
		{`{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, 10004, "max nesting depth"},
	}
	for _, c := range cases {
		var d Decoder
		_, err := d.Decode([]byte(c.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%.60q: got %v, want a *SyntaxError", c.in, err)
			continue
		}
		if se.Offset != c.offset || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("%.60q: got offset %d %q, want offset %d containing %q", c.in, se.Offset, se.Msg, c.offset, c.msg)
		}
		var ev events.KinesisEvent
		if json.Unmarshal([]byte(c.in), &ev) == nil && isObject([]byte(c.in)) {
			t.Errorf("%.60q: encoding/json accepts it", c.in)
		}
	}
}

func TestDecoderReuse(t *testing.T) {
	var d Decoder
	first, err := d.Decode([]byte(`{"Records":[{"eventID":"s:1","kinesis":{"data":"aGk=","sequenceNumber":"1","partitionKey":"a"}},{"eventID":"s:2","kinesis":{"sequenceNumber":"2"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	id, pk := first[0].EventID, first[0].PartitionKey
	second, err := d.Decode([]byte(`{"Records":[{"kinesis":{"sequenceNumber":"3"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(second) != 1 || second[0].EventID != "" || second[0].Data != nil || second[0].SequenceNumber != "3" {
		t.Fatalf("state leaked from the previous decode: %+v", second[0])
	}
	if id != "s:1" || pk != "a" {
		t.Fatalf("strings from a previous decode changed: %q %q", id, pk)
	}
}

func TestParseEpochSecondsExact(t *testing.T) {
	cases := map[string]time.Time{
		"1764065251.123":     time.Unix(1764065251, 123000000),
		"1.764065251123E9":   time.Unix(1764065251, 123000000),
		"1764065251123e-3":   time.Unix(1764065251, 123000000),
		"0.000001e6":         time.Unix(1, 0),
		"-1.5":               time.Unix(-1, -500000000),
		"0":                  time.Unix(0, 0),
		"-0.0":               time.Unix(0, 0),
		"0.0000000001":       time.Unix(0, 0),
		"12.3456789129":      time.Unix(12, 345678912),
		"1E+2":               time.Unix(100, 0),
		"000":                time.Unix(0, 0),
		"123456789012345678": time.Unix(123456789012345678, 0),
	}
	for in, want := range cases {
		got, ok := parseEpochSeconds([]byte(in))
		if !ok || !got.Equal(want) {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}
	if _, ok := parseEpochSeconds([]byte("1e400")); ok {
		t.Error("1e400 accepted")
	}
}

func TestDecodeGeneratedEventMatchesEncodingJSON(t *testing.T) {
	var d Decoder
	// Twice through the same Decoder: the second decode reuses its buffers
	// and takes the compare-instead-of-scan paths from the first.
	compareWithStdlib(t, &d, genEvent(1000))
	if d.hits != 999 {
		t.Errorf("%d of 1000 records through the template, want all but the first", d.hits)
	}
	compareWithStdlib(t, &d, genEvent(1000))
	if d.hits != 1000 {
		t.Errorf("%d of 1000 records through the template, want all: it is kept between events", d.hits)
	}
}

// TestDecoderTemplateStaleState alternates events that take the template
// path and events that cannot (encryptionType, pretty-printed, another
// shard) through one Decoder: no value may leak from one into the other.
func TestDecoderTemplateStaleState(t *testing.T) {
	plain := genEvent(20)
	kms := bytes.ReplaceAll(plain, []byte(`"kinesisSchemaVersion":"1.0",`), []byte(`"kinesisSchemaVersion":"1.0","encryptionType":"KMS",`))
	otherShard := bytes.ReplaceAll(plain, []byte(`shardId-000000000006`), []byte(`shardId-000000000007`))
	otherRegion := bytes.ReplaceAll(plain, []byte(`eu-west-1`), []byte(`eu-central-1`))
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, plain, "", "  "); err != nil {
		t.Fatal(err)
	}
	var d Decoder
	for _, ev := range [][]byte{plain, kms, plain, otherShard, plain, pretty.Bytes(), otherRegion, plain, append(kms[:len(kms):len(kms)], ' ')} {
		compareWithStdlib(t, &d, ev)
	}
}
