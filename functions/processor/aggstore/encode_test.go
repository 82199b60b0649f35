package aggstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/streamproc/streamproc/functions/processor/config"
	"github.com/streamproc/streamproc/functions/processor/sensor"
)

// trickyStrings need every escaping rule of encoding/json.
var trickyStrings = []string{
	"",
	"plain sensor-01",
	`quote " and backslash \ and slash /`,
	"\x00\x01\x02\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x20\x7f",
	"\b\f\n\r\t",
	"html <script>&amp;</script>",
	"unicode é ü ß 温度 🌡️ \u00a0",
	"line and paragraph separators \u2028 \u2029 and \u2027 \u202a",
	"invalid \xff byte",
	"truncated \xe6\xb8 rune",
	"\xc0\xaf overlong slash",
	"\xed\xa0\x80 surrogate half",
	"\xf4\x90\x80\x80 past U+10FFFF",
	"trailing lone \xe2",
	"\xff\xfe\xfd",
	"\\u0041 is not unescaped",
	"replacement char itself \ufffd",
	strings.Repeat("long ", 300) + "\n",
}

// encodingJSON is encoding/json's encoding of v with HTML escaping off (the
// reference appendString must match byte for byte).
func encodingJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range trickyStrings {
		got := appendString([]byte("prefix"), s)
		if want := encodingJSON(t, s); !bytes.Equal(got[len("prefix"):], want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got[len("prefix"):], want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		if want := encodingJSON(t, s); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, got, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q decodes back as %q", s, back)
		}
	})
}

// refPut is a PutItem request document as encoding/json sees it.
type refPut struct {
	TableName                           string
	Item                                map[string]map[string]json.RawMessage
	ConditionExpression                 *string
	ExpressionAttributeNames            map[string]string
	ExpressionAttributeValues           map[string]map[string]json.RawMessage
	ReturnValuesOnConditionCheckFailure *string
}

// wantString is what encoding/json decodes from its own encoding of s (s
// with each invalid UTF-8 byte replaced by U+FFFD).
func wantString(t testing.TB, s string) string {
	t.Helper()
	var out string
	if err := json.Unmarshal(encodingJSON(t, s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkRefItem compares a decoded item with the one encoded.
func checkRefItem(t *testing.T, what string, got map[string]map[string]json.RawMessage, want Item) {
	t.Helper()
	wantKeys := map[string]AttributeValue{}
	for k, v := range want {
		wantKeys[wantString(t, k)] = v
	}
	if len(got) != len(wantKeys) {
		t.Fatalf("%s: %d attributes, want %d: %v", what, len(got), len(wantKeys), got)
	}
	for k, v := range wantKeys {
		g, ok := got[k]
		if !ok {
			t.Fatalf("%s: attribute %q missing", what, k)
		}
		if len(g) != 1 {
			t.Fatalf("%s: attribute %q has %d type keys: %v", what, k, len(g), g)
		}
		var tag string
		var raw json.RawMessage
		for tag, raw = range g {
		}
		if tag != v.Type.String() {
			t.Fatalf("%s: attribute %q is %s, want %s", what, k, tag, v.Type)
		}
		switch v.Type {
		case TypeS, TypeN:
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			if w := wantString(t, v.S+v.N); s != w {
				t.Fatalf("%s: attribute %q is %q, want %q", what, k, s, w)
			}
		case TypeB:
			var b []byte
			if err := json.Unmarshal(raw, &b); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, v.B) {
				t.Fatalf("%s: attribute %q is %x, want %x", what, k, b, v.B)
			}
		}
	}
}

func TestPutItemEncodingIsWhatEncodingJSONReads(t *testing.T) {
	item := Item{"sensor_id": StringValue("s-1"), "n": NumberValue("-12.5"), "b": BinaryValue([]byte{0, 1, 2, 0xff, 0xfe}), "empty-b": BinaryValue(nil), "empty-s": StringValue("")}
	for i, s := range trickyStrings {
		item["s"+string(rune('a'+i))] = StringValue(s)
		item[s] = NumberValue("1")
	}
	inputs := []*PutItemInput{
		{TableName: "aggs", Item: item},
		{
			TableName: `ta"ble\` + "\n", Item: item,
			ConditionExpression: "attribute_not_exists(#k)", ExpressionAttributeNames: map[string]string{"#k": "sensor_id", "#\x00": "\u2028"},
			ReturnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailureAllOld,
		},
		{
			TableName: "aggs", Item: EncodeItem(sensor.Key{SensorID: "quo\"te\xff", WindowStart: 60000}, sensor.Aggregate{Count: 2, Sum: 3, Min: 1, Max: 2, First: 60001, Last: 60002, IDs: []uint64{1, 2}}, 7, time.UnixMilli(99)),
			ConditionExpression: "#v = :v", ExpressionAttributeNames: map[string]string{"#v": "version"},
			ExpressionAttributeValues:           map[string]AttributeValue{":v": NumberValue("6")},
			ReturnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailureAllOld,
		},
	}
	for i, in := range inputs {
		body, err := appendPutItem(make([]byte, 0, putItemJSONSize(in)), in)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(body) {
			t.Fatalf("input %d: invalid JSON %s", i, body)
		}
		var ref refPut
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ref); err != nil {
			t.Fatalf("input %d: %v\n%s", i, err, body)
		}
		if ref.TableName != wantString(t, in.TableName) {
			t.Errorf("input %d: table %q", i, ref.TableName)
		}
		checkRefItem(t, "Item", ref.Item, in.Item)
		if in.ConditionExpression == "" {
			if ref.ConditionExpression != nil {
				t.Errorf("input %d: empty ConditionExpression sent", i)
			}
		} else if ref.ConditionExpression == nil || *ref.ConditionExpression != in.ConditionExpression {
			t.Errorf("input %d: ConditionExpression %v", i, ref.ConditionExpression)
		}
		wantNames := map[string]string{}
		for k, v := range in.ExpressionAttributeNames {
			wantNames[wantString(t, k)] = wantString(t, v)
		}
		if len(in.ExpressionAttributeNames) == 0 {
			wantNames = nil
		}
		if !maps.Equal(ref.ExpressionAttributeNames, wantNames) || (wantNames == nil) != (ref.ExpressionAttributeNames == nil) {
			t.Errorf("input %d: names %v, want %v", i, ref.ExpressionAttributeNames, wantNames)
		}
		if len(in.ExpressionAttributeValues) > 0 {
			checkRefItem(t, "ExpressionAttributeValues", ref.ExpressionAttributeValues, in.ExpressionAttributeValues)
		} else if ref.ExpressionAttributeValues != nil {
			t.Errorf("input %d: empty ExpressionAttributeValues sent", i)
		}
		if in.ReturnValuesOnConditionCheckFailure == "" {
			if ref.ReturnValuesOnConditionCheckFailure != nil {
				t.Errorf("input %d: empty ReturnValuesOnConditionCheckFailure sent", i)
			}
		} else if ref.ReturnValuesOnConditionCheckFailure == nil || *ref.ReturnValuesOnConditionCheckFailure != "ALL_OLD" {
			t.Errorf("input %d: ReturnValuesOnConditionCheckFailure %v", i, ref.ReturnValuesOnConditionCheckFailure)
		}
		// And the same document as encoding/json's view of the input (the
		// Marshal of the struct, through AttributeValue.MarshalJSON).
		viaJSON, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(viaJSON, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("input %d: hand encoding\n%s\ndiffers from encoding/json's\n%s", i, body, viaJSON)
		}
	}
}

func TestPutItemSizeEstimateIsExactWithoutEscapes(t *testing.T) {
	in := &PutItemInput{
		TableName: "aggregates", Item: EncodeItem(sensor.Key{SensorID: "sensor-0042", WindowStart: 1764065220000}, sensor.Aggregate{Count: 3, Sum: 3, Min: 1, Max: 1, First: 1764065220001, Last: 1764065220003, IDs: []uint64{1, 2, 3}}, 9, time.Now()),
		ConditionExpression: "#v = :v", ExpressionAttributeNames: map[string]string{"#v": AttrVersion},
		ExpressionAttributeValues:           map[string]AttributeValue{":v": NumberValue("8")},
		ReturnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailureAllOld,
	}
	est := putItemJSONSize(in)
	body, err := appendPutItem(make([]byte, 0, est), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > est {
		t.Fatalf("estimate %d for a %d-byte body: encoding reallocates", est, len(body))
	}
	if est > len(body)+256 {
		t.Fatalf("estimate %d for a %d-byte body: wasteful", est, len(body))
	}
}

func TestUnencodableValuesAreAnError(t *testing.T) {
	for _, v := range []AttributeValue{{}, {Type: TypeOther}, {Type: 99, S: "x"}} {
		if _, err := appendPutItem(nil, &PutItemInput{TableName: "t", Item: Item{"a": v}}); err == nil || !strings.Contains(err.Error(), `"a"`) {
			t.Errorf("%+v: err %v", v, err)
		}
		if _, err := json.Marshal(v); err == nil {
			t.Errorf("%+v: MarshalJSON accepted it", v)
		}
	}
}

func TestAttributeValueDecoding(t *testing.T) {
	cases := []struct {
		in   string
		want AttributeValue
	}{
		{`{"S":"abc"}`, StringValue("abc")},
		{`{"S":""}`, StringValue("")},
		{`{"N":"-1.5e3"}`, NumberValue("-1.5e3")},
		{`{"B":"AAEC/w=="}`, BinaryValue([]byte{0, 1, 2, 0xff})},
		{`{"B":""}`, BinaryValue([]byte{})},
		{` { "S" : "spaced" } `, StringValue("spaced")},
		{`{"S":"esc\"aped\\ \u00e9 \n"}`, StringValue("esc\"aped\\ é \n")},
		{`{"S":"\ud83c\udf21"}`, StringValue("🌡")},
		{"{\"S\":\"bad \xff utf8\"}", StringValue("bad \ufffd utf8")},
		{`{"N":"\u0031"}`, NumberValue("1")},
		{`{"B":"AAEC\/w=="}`, BinaryValue([]byte{0, 1, 2, 0xff})},
		{`{"BOOL":true}`, AttributeValue{Type: TypeOther}},
		{`{"NULL":true}`, AttributeValue{Type: TypeOther}},
		{`{"SS":["a","b"]}`, AttributeValue{Type: TypeOther}},
		{`{"NS":["1"]}`, AttributeValue{Type: TypeOther}},
		{`{"BS":["AA=="]}`, AttributeValue{Type: TypeOther}},
		{`{"M":{"S":{"S":"x"}}}`, AttributeValue{Type: TypeOther}},
		{`{"L":[{"S":"x"}]}`, AttributeValue{Type: TypeOther}},
	}
	for _, c := range cases {
		var got AttributeValue
		if err := json.Unmarshal([]byte(c.in), &got); err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) && !(got.Type == TypeB && c.want.Type == TypeB && bytes.Equal(got.B, c.want.B)) {
			t.Errorf("%s: got %+v, want %+v", c.in, got, c.want)
		}
	}
	for _, bad := range []string{`{"B":"not base64!"}`, `{"S":1}`, `{"N":"1"`, `[]`} {
		var v AttributeValue
		if err := v.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("%s: decoded as %+v", bad, v)
		}
	}
	v := StringValue("kept")
	if err := json.Unmarshal([]byte(`null`), &v); err != nil || !reflect.DeepEqual(v, StringValue("kept")) {
		t.Errorf("null: %+v %v", v, err)
	}
}

// FuzzAttributeValueRoundTrip: what the encoder writes, the decoder (fast
// path or encoding/json) reads back as encoding/json would.
func FuzzAttributeValueRoundTrip(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s, []byte(s))
	}
	f.Fuzz(func(t *testing.T, s string, b []byte) {
		for _, v := range []AttributeValue{StringValue(s), NumberValue(s), BinaryValue(b)} {
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var got AttributeValue
			if err := json.Unmarshal(enc, &got); err != nil {
				t.Fatalf("%s: %v", enc, err)
			}
			if got.Type != v.Type || got.S != wantString(t, v.S) || got.N != wantString(t, v.N) || !bytes.Equal(got.B, v.B) {
				t.Fatalf("%+v -> %s -> %+v", v, enc, got)
			}
		}
	})
}

func TestItemRoundTripsThroughJSON(t *testing.T) {
	k := sensor.Key{SensorID: "s\"1\n", WindowStart: time.Date(2026, 11, 25, 10, 7, 0, 0, time.UTC).UnixMilli()}
	a := sensor.Aggregate{Count: 3, Sum: 1_500_000, Min: -2_000_000, Max: 3_000_000, First: k.WindowStart + 1, Last: k.WindowStart + 59_999, IDs: []uint64{1, 1 << 40, 1<<64 - 1}}
	item := EncodeItem(k, a, 4, time.UnixMilli(k.WindowStart+70_000))
	body, err := appendItem(nil, item)
	if err != nil {
		t.Fatal(err)
	}
	var back Item
	if err := json.Unmarshal(body, &back); err != nil {
		t.Fatal(err)
	}
	gk, ga, gv, err := DecodeItem(back)
	if err != nil {
		t.Fatal(err)
	}
	if gk != k || gv != 4 || ga.Count != a.Count || ga.Sum != a.Sum || ga.Min != a.Min || ga.Max != a.Max || ga.First != a.First || ga.Last != a.Last || !reflect.DeepEqual(ga.IDs, a.IDs) {
		t.Fatalf("got %v %+v %d, want %v %+v", gk, ga, gv, k, a)
	}
	if got := base64.StdEncoding.EncodeToString(back[AttrEventIDs].B); got != "AAAAAAAAAAEAAAEAAAAAAP//////////" {
		t.Fatalf("ids %s", got)
	}
}

func TestEncodeItemAllocations(t *testing.T) {
	k := sensor.Key{SensorID: "sensor-0042", WindowStart: 1764065220000}
	a := sensor.Aggregate{Count: 3, Sum: 3, Min: 1, Max: 1, First: 1764065220001, Last: 1764065220003, IDs: []uint64{1, 2, 3}}
	now := time.Now()
	// The map (4 allocations for 12 entries with Go's swiss tables) and one
	// buffer for the text values and the ids.
	if n := testing.AllocsPerRun(100, func() { _ = EncodeItem(k, a, 1, now) }); n > 5 {
		t.Fatalf("EncodeItem makes %v allocations, want at most 5", n)
	}
}

func TestEncodeItemValuesSurviveLaterEncodes(t *testing.T) {
	// The text values share one buffer per item: items must not alias each
	// other, and changing B must not change the strings.
	k := sensor.Key{SensorID: "s", WindowStart: 60000}
	a := sensor.Aggregate{Count: 1, Sum: 1, Min: 1, Max: 1, First: 60001, Last: 60001, IDs: []uint64{7}}
	first := EncodeItem(k, a, 1, time.UnixMilli(1))
	want := maps.Clone(first)
	wantWS, wantUpdated := first[config.TableSortKey].S, first[AttrUpdatedAt].S
	for i := range 100 {
		a2 := a
		a2.Count, a2.IDs = int64(i), make([]uint64, i)
		_ = EncodeItem(sensor.Key{SensorID: "t", WindowStart: 120000}, a2, int64(i), time.UnixMilli(int64(i)))
	}
	ids := first[AttrEventIDs].B
	for i := range ids {
		ids[i] = 0xee
	}
	_ = append(ids, 1, 2, 3) // capacity ends at the buffer's end: no write past it
	if first[config.TableSortKey].S != wantWS || first[AttrUpdatedAt].S != wantUpdated {
		t.Fatalf("strings changed: %q %q", first[config.TableSortKey].S, first[AttrUpdatedAt].S)
	}
	for name, v := range want {
		if v.Type != TypeB && !reflect.DeepEqual(first[name], v) {
			t.Fatalf("%s changed: %+v -> %+v", name, v, first[name])
		}
	}
}

// BenchmarkPutItemEncoding is the request body of one typical aggregate
// write (hand-encoded), against encoding/json's Marshal of the same input.
func BenchmarkPutItemEncoding(b *testing.B) {
	ids := make([]uint64, 20)
	for i := range ids {
		ids[i] = uint64(i) * 0x9e3779b97f4a7c15
	}
	in := &PutItemInput{
		TableName: "aggregates", Item: EncodeItem(sensor.Key{SensorID: "sensor-0042", WindowStart: 1764065220000}, sensor.Aggregate{Count: 20, Sum: 400_000_000, Min: 19_000_000, Max: 21_000_000, First: 1764065220001, Last: 1764065279003, IDs: ids}, 3, time.Now()),
		ConditionExpression: "#v = :v", ExpressionAttributeNames: map[string]string{"#v": AttrVersion},
		ExpressionAttributeValues:           map[string]AttributeValue{":v": NumberValue("2")},
		ReturnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailureAllOld,
	}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := appendPutItem(make([]byte, 0, putItemJSONSize(in)), in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
