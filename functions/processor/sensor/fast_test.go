package sensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

func TestKeyWords(t *testing.T) {
	for _, tc := range []struct {
		w uint64
		s string
	}{
		{wEventID, "event_id"}, {wHumidity, "humidity"}, {wSensorI, "sensor_i"}, {wTemperat, "temperat"},
		{wTsQ, `ts"`}, {wDQ, `d"`}, {wUreQ, `ure"`},
	} {
		var b [8]byte
		copy(b[:], tc.s)
		if got := binary.LittleEndian.Uint64(b[:]); got != tc.w {
			t.Errorf("%q is %#x, the constant %#x", tc.s, got, tc.w)
		}
	}
}

func TestUintAtAndEightDigits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		digits := make([]byte, rng.IntN(20))
		for i := range digits {
			digits[i] = byte('0' + rng.IntN(10))
		}
		tail := []string{"", ",", "}", ".5", "e1", "x1234567", "/", ":"}[rng.IntN(8)]
		in := append(append([]byte(`:`), digits...), tail...)
		v, end := uintAt(in, 1, 0)
		w, _ := strconv.ParseUint("0"+string(digits), 10, 64)
		if end != 1+len(digits) || v != w {
			t.Fatalf("uintAt(%q) = %d, %d; want %d, %d", in, v, end, w, 1+len(digits))
		}
		if len(digits) >= 8 {
			w, _ := strconv.ParseUint(string(digits[:8]), 10, 64)
			if v := eightDigits(binary.LittleEndian.Uint64(digits) ^ (lsb * '0')); v != w {
				t.Fatalf("eightDigits(%s) = %d", digits[:8], v)
			}
		}
	}
}

// TestFastPathTakesWorkload: the workload's payloads all take the fast path
// (else the benchmarks measure the wrong thing), with the general path's
// results.
func TestFastPathTakesWorkload(t *testing.T) {
	fast, general := NewDecoder(Limits{}), NewDecoder(Limits{})
	for _, p := range workloadPayloads() {
		var r Reading
		if _, _, ok := fast.decodeFast(p, &r); !ok {
			t.Fatalf("%s: not on the fast path", p)
		}
		checkSame(t, fast, general, p)
	}
}

// TestInternSharesStrings: intern returns the id, and equal ids as the same
// string whether the cache or the map answers (the engine groups by key).
func TestInternSharesStrings(t *testing.T) {
	d := NewDecoder(Limits{})
	first := map[string]*byte{}
	for round := range 2 {
		for i := range 3 << internBits {
			// Ids below 8, up to 16 and above 16 bytes.
			in := fmt.Appendf(nil, []string{"s%d", "sensor-%05d", "plant-07/sensor-%05d"}[i%3], i)
			id := d.intern(in)
			if id != string(in) {
				t.Fatalf("intern(%s) = %s", in, id)
			}
			if round == 0 {
				first[id] = unsafe.StringData(id)
			} else if unsafe.StringData(id) != first[id] {
				t.Fatalf("%s: a second copy", id)
			}
		}
	}
}

// checkSame requires Decode (fast path first) and the general path alone to
// give the same reading and the same error.
func checkSame(t *testing.T, fast, general *Decoder, in []byte) {
	t.Helper()
	r1, err1 := fast.Decode(in, testNow)
	r2, err2 := general.decodeGeneral(in, testNow)
	if r1 != r2 || fmt.Sprint(err1) != fmt.Sprint(err2) {
		t.Fatalf("%q:\nDecode        %+v, %v\ndecodeGeneral %+v, %v", in, r1, err1, r2, err2)
	}
	if err1 != nil {
		var e1, e2 *InvalidError
		if !errors.As(err1, &e1) || !errors.As(err2, &e2) || *e1 != *e2 {
			t.Fatalf("%q: errors %#v and %#v", in, err1, err2)
		}
	}
}

// fuzzTemplates put a short fuzzed fragment (for "@") where the fast path
// parses on its own: each known field's value, a key, an unknown value.
var fuzzTemplates = []string{
	`{"event_id":@,"sensor_id":"s","ts":1764065223123,"temperature":20}`,
	`{"event_id":"e","sensor_id":@,"ts":1764065223123,"temperature":20}`,
	`{"event_id":"e","sensor_id":"s","ts":@,"temperature":20}`,
	`{"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":@}`,
	`{"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":20,"humidity":@}`,
	`{"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":20,@:1}`,
	`{"event_id":"e","sensor_id":"s","ts":1764065223123,"temperature":20,"x":@}`,
	`{"event_id":"e","sensor_id":"s","ts":1764065223123,@:20}`,
	`{"event_id":"e","sensor_id":"s","temperature":20,"ts":@}`,
}

// FuzzFastEqualsGeneral: Decode, which tries the fast path first, gives
// exactly what the general path gives, for the input itself and for it
// embedded in a reading, under the default limits and tight ones.
func FuzzFastEqualsGeneral(f *testing.F) {
	for _, s := range fastSeeds() {
		f.Add(s)
	}
	type pair struct{ fast, general *Decoder }
	var pairs []pair
	for _, l := range []Limits{{}, {MaxPayloadBytes: 200, MaxIDBytes: 12}} {
		pairs = append(pairs, pair{NewDecoder(l), NewDecoder(l)})
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, p := range pairs {
			checkSame(t, p.fast, p.general, in)
			if len(in) > 64 {
				continue
			}
			for _, tpl := range fuzzTemplates {
				checkSame(t, p.fast, p.general, []byte(strings.Replace(tpl, "@", string(in), 1)))
			}
		}
	})
}

// fastSeeds are the decoder tests' inputs, workload payloads, and variants
// of a workload payload that stress where the fast path must hand over.
func fastSeeds() [][]byte {
	var seeds []string
	for _, tc := range validCases {
		seeds = append(seeds, tc.in)
	}
	for _, tc := range invalidCases {
		seeds = append(seeds, tc.in)
	}
	ps := workloadPayloads()
	for _, p := range ps[:20] {
		seeds = append(seeds, string(p))
	}
	p := string(ps[0]) // {"event_id":"…","sensor_id":"sensor-0000","ts":…,"temperature":…,"humidity":…,"site":"plant-00","fw":"2.14.3","battery_v":…}
	fields := strings.Split(p[1:len(p)-1], ",")
	obj := func(fs ...string) string { return "{" + strings.Join(fs, ",") + "}" }
	with := func(key, val string) string { // p with key's value replaced
		out := append([]string(nil), fields...)
		for i, f := range out {
			if strings.HasPrefix(f, `"`+key+`":`) {
				out[i] = `"` + key + `":` + val
			}
		}
		return obj(out...)
	}
	// Whitespace, escapes, odd keys, trailing bytes.
	for _, r := range [][2]string{
		{`{`, "{ "}, {`{`, "\n{"}, {`}`, "} "}, {`}`, " }"}, {`:`, ": "}, {`:`, " :"}, {`,`, ", "}, {`,`, "\t,"},
		{`sensor-`, `sensor\u002d`}, {`"site"`, `"s\u0069te"`}, {`"ts"`, `"t\u0073"`}, {`"event_id"`, `"event\u005fid"`},
		{`2.14.3`, `2.14\/3`}, {`plant-`, `plant\"`}, {`plant-`, "plant\x01"}, {`plant-`, "plant\x7f\xff"},
		{`sensor-`, "sensor\x7f"}, {`sensor-`, "sensor\xc3\xa9"}, {`sensor-`, "sensor\xff"}, {`sensor-`, "sensor\x1f"},
		{`"site"`, `"event_idx"`}, {`"site"`, `"ts2"`}, {`"site"`, `"t"`}, {`"site"`, `"temperatures"`},
		{`"site"`, `"humidity_"`}, {`"site"`, `"sensor_i"`}, {`"site"`, `"Event_id"`}, {`"site"`, `"a_key_of_sixteen_or_more_bytes"`},
		{`"site"`, `""`}, {`"fw"`, `"temperatur"`}, {`"fw"`, `"humidit"`},
		{`"battery_v"`, `"humidity"`}, {`"battery_v"`, `"ts"`}, {`"battery_v"`, `"x"`},
	} {
		seeds = append(seeds, strings.Replace(p, r[0], r[1], 1))
	}
	for _, junk := range []string{"x", " ", "}", ",", "\x00", "\n", "{}", `"`} {
		seeds = append(seeds, p+junk)
	}
	for n := 0; n < len(p); n += 7 {
		seeds = append(seeds, p[:n])
	}
	// Reordered and duplicate fields.
	rev := append([]string(nil), fields...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	seeds = append(seeds, obj(rev...), obj(slices.Concat(fields[3:], fields[:3])...), obj(), "{}", "{ }")
	for _, f := range fields {
		seeds = append(seeds, obj(slices.Concat(fields, []string{f})...))
	}
	// Numbers, strings and literals in every field.
	nums := []string{"0", "-0", "00", "01", "1.", ".5", "-", "-.5", "+1", "1e2", "1E+2", "1e-2", "20.29", "-20.29",
		"21.4000005", "21.4000004999", "0.0000005", "-0.0000005", "0.00000049", "99.9999995", "-99.99999951",
		"123456789012", "1234567890123", "123456789012.9999995", "1.00000000000000000000001", "12345678.12345678",
		"1764065223123", "1764065223123.999", "1764065223123.", "17640652231230", "253402300799999",
		"253402300800000", "9999999999999999", "99999999999999999999", "1764065223123e0", "-1764065223123",
		"true", "false", "null", "nul", `"20"`, `""`, "NaN", "[]", "{}", `{"a":[1]}`, `"2025-11-25T10:07:03.123Z"`,
		`"2025-11-25T10:07:03Z"`, `"2025-11-25T11:07:03.123456789+01:00"`, `"2025-11-25 10:07:03"`, `"2025-11-25T10:07:03\u002e1Z"`}
	for _, key := range []string{"event_id", "sensor_id", "ts", "temperature", "humidity", "battery_v", "site"} {
		for _, n := range nums {
			seeds = append(seeds, with(key, n))
		}
	}
	// Humidity absent; ids empty, long, odd.
	seeds = append(seeds, obj(slices.Concat(fields[:4], fields[5:])...),
		with("event_id", `""`), with("sensor_id", `""`), with("event_id", `"`+strings.Repeat("e", 300)+`"`),
		with("sensor_id", `"`+strings.Repeat("s", 300)+`"`), with("sensor_id", `"s"`), with("sensor_id", `"sensor-00000000"`))
	out := make([][]byte, len(seeds))
	for i, s := range seeds {
		out[i] = []byte(s)
	}
	return out
}
