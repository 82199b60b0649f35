// Package sensor is the example pipeline's domain: it decodes and validates
// sensor readings from Kinesis record payloads into what the event-time
// engine keys, times and aggregates (functions/eventtime).
//
// It has no AWS dependencies. The hot path (Decoder.Decode) does not
// allocate per record once warm: the reading parser is hand-written for
// the flat reading object, numbers become fixed-point integers (Micro), event
// ids are reduced to a 64-bit hash, and sensor ids are interned.
package sensor

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/streamproc/streamproc/functions/eventtime"
)

// Reading is one decoded, validated sensor reading. Its input is a JSON object
//
//	{"event_id": "...", "sensor_id": "...", "ts": 1764065223123, "temperature": 21.4, "humidity": 40.5}
//
// where ts is the event time in epoch milliseconds (a JSON number, fractions
// truncated) or an RFC 3339 string, humidity is optional (null or absent), and
// unknown fields are ignored.
type Reading struct {
	SensorID    string // interned: equal ids share one string
	EventIDHash uint64 // HashEventID of event_id; the id itself is not kept
	EventTime   int64  // event time, Unix milliseconds
	Temperature Micro  // micro-degrees Celsius
	Humidity    Micro  // micro-percent relative humidity, if HasHumidity
	HasHumidity bool
}

// Limits bound what a valid reading looks like. The zero value of a field
// means its default.
type Limits struct {
	// MaxPayloadBytes bounds the record payload.
	// Default: 16384
	MaxPayloadBytes int
	// MaxIDBytes bounds event_id and sensor_id (after unescaping).
	// Default: 256
	MaxIDBytes int
	// MinTemperature and MaxTemperature are the plausible range, inclusive.
	// Default: -100 °C and 150 °C
	MinTemperature, MaxTemperature *Micro
	// MaxFuture is how far past the processing time an event time may be
	// (clock skew allowance).
	// Default: 5 minutes
	MaxFuture time.Duration
	// MinEventTime is the earliest plausible event time.
	// Default: 2000-01-01T00:00:00Z
	MinEventTime time.Time
}

// DefaultLimits returns the limits the processor uses.
func DefaultLimits() Limits {
	minT, maxT := Micro(-100*Scale), Micro(150*Scale)
	return Limits{
		MaxPayloadBytes: 16 << 10,
		MaxIDBytes:      256,
		MinTemperature:  &minT,
		MaxTemperature:  &maxT,
		MaxFuture:       5 * time.Minute,
		MinEventTime:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxPayloadBytes > 0 {
		d.MaxPayloadBytes = l.MaxPayloadBytes
	}
	if l.MaxIDBytes > 0 {
		d.MaxIDBytes = l.MaxIDBytes
	}
	if l.MinTemperature != nil {
		d.MinTemperature = l.MinTemperature
	}
	if l.MaxTemperature != nil {
		d.MaxTemperature = l.MaxTemperature
	}
	if l.MaxFuture > 0 {
		d.MaxFuture = l.MaxFuture
	}
	if !l.MinEventTime.IsZero() {
		d.MinEventTime = l.MinEventTime
	}
	return d
}

// InvalidError says why a payload is not a valid reading. It is a permanent
// failure: the record is quarantined with Reason and never retried.
type InvalidError struct {
	Field  string // the offending field, or "" for the payload as a whole
	Reason string // human-readable, names the bad value where that is safe
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return "invalid reading: " + e.Reason
	}
	return "invalid reading: " + e.Field + ": " + e.Reason
}

func invalid(field, reason string) error { return &InvalidError{Field: field, Reason: reason} }

// maxInterned bounds the sensor-id intern table; beyond it ids are simply
// allocated.
const maxInterned = 1 << 16

// Decoder decodes and validates readings. It keeps an intern table and a
// scratch buffer, so reuse one per goroutine; it is not safe for concurrent
// use.
type Decoder struct {
	limits   Limits
	minMs    int64
	interned map[string]string
	recent   *[1 << internBits]internEntry // direct-mapped cache in front of interned
	scratch  []byte
}

// internBits sizes Decoder.recent (64 KiB): a thousand sensors mostly hit it.
const internBits = 11

// NewDecoder returns a Decoder enforcing l (zero fields take their defaults).
func NewDecoder(l Limits) *Decoder {
	l = l.withDefaults()
	return &Decoder{limits: l, minMs: l.MinEventTime.UnixMilli(), interned: make(map[string]string, 256), recent: new([1 << internBits]internEntry)}
}

// Limits returns the effective limits.
func (d *Decoder) Limits() Limits { return d.limits }

// field bits, to detect missing and duplicate fields.
const (
	fEventID = 1 << iota
	fSensorID
	fTS
	fTemperature
	fHumidity
)

// Decode parses and validates one payload. now is the processing time in Unix
// milliseconds, for the future-timestamp check. Every input either yields a
// Reading or an *InvalidError; Decode never panics.
//
// Compact payloads with plain strings (what encoding/json writes) take
// decodeFast; anything else, including every invalid payload, is decided by
// decodeGeneral from the start, so both give the same results.
func (d *Decoder) Decode(data []byte, now int64) (Reading, error) {
	var r Reading
	if seen, eventID, ok := d.decodeFast(data, &r); ok {
		return r, d.validate(&r, seen, eventID, now)
	}
	return d.decodeGeneral(data, now)
}

// decodeGeneral is Decode for any input: it accepts all JSON and decides
// every error.
func (d *Decoder) decodeGeneral(data []byte, now int64) (Reading, error) {
	var r Reading
	if len(data) > d.limits.MaxPayloadBytes {
		return r, invalid("", fmt.Sprintf("payload is %d bytes, more than the %d allowed", len(data), d.limits.MaxPayloadBytes))
	}
	s := scanner{b: data, scratch: d.scratch}
	defer func() { d.scratch = s.scratch }()
	s.ws()
	if !s.consume('{') {
		if len(data) == 0 {
			return r, invalid("", "empty payload")
		}
		return r, invalid("", "payload is not a JSON object")
	}
	var seen int
	var eventID []byte
	s.ws()
	if !s.consume('}') {
		for {
			s.ws()
			bit, key := s.knownKey()
			if bit == 0 {
				var esc bool
				var err error
				key, esc, err = s.str()
				if err != nil {
					return r, invalid("", "bad object key: "+err.Error())
				}
				if esc {
					// Rare: unescape into the scratch buffer, then copy out so
					// a later string can reuse it.
					key = append([]byte(nil), key...)
				}
				switch string(key) {
				case "event_id":
					bit = fEventID
				case "sensor_id":
					bit = fSensorID
				case "ts":
					bit = fTS
				case "temperature":
					bit = fTemperature
				case "humidity":
					bit = fHumidity
				}
			}
			s.ws()
			if !s.consume(':') {
				return r, invalid("", "expected ':' after key at byte "+itoa(s.i))
			}
			s.ws()
			if bit != 0 && seen&bit != 0 {
				return r, invalid(string(key), "field appears more than once")
			}
			seen |= bit
			switch bit {
			case fEventID:
				if s.peek() != '"' {
					return r, invalid("event_id", "must be a string")
				}
				v, esc, err := s.str()
				if err != nil {
					return r, invalid("event_id", err.Error())
				}
				if esc {
					v = append([]byte(nil), v...) // scratch is reused by sensor_id
				}
				eventID = v
			case fSensorID:
				if s.peek() != '"' {
					return r, invalid("sensor_id", "must be a string")
				}
				v, _, err := s.str()
				if err != nil {
					return r, invalid("sensor_id", err.Error())
				}
				if err := checkSensorID(v, d.limits.MaxIDBytes); err != nil {
					return r, err
				}
				r.SensorID = d.intern(v)
			case fTS:
				ts, err := d.ts(&s)
				if err != nil {
					return r, err
				}
				r.EventTime = ts
			case fTemperature:
				m, err := number(&s, "temperature")
				if err != nil {
					return r, err
				}
				r.Temperature = m
			case fHumidity:
				if s.lit("null") {
					break
				}
				m, err := number(&s, "humidity")
				if err != nil {
					return r, err
				}
				r.Humidity, r.HasHumidity = m, true
			default:
				if err := s.skip(0); err != nil {
					return r, invalid("", "bad value for field "+quoteShort(key)+": "+err.Error())
				}
			}
			s.ws()
			if s.consume(',') {
				continue
			}
			if s.consume('}') {
				break
			}
			return r, invalid("", "expected ',' or '}' at byte "+itoa(s.i))
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return r, invalid("", "unexpected data after the JSON object at byte "+itoa(s.i))
	}
	return r, d.validate(&r, seen, eventID, now)
}

// knownKey recognises the reading's own keys written plainly (the common
// case) without the general string scan. It returns 0 and no key otherwise,
// leaving s unchanged.
func (s *scanner) knownKey() (int, []byte) {
	b, i := s.b, s.i
	if i+3 >= len(b) || b[i] != '"' {
		return 0, nil
	}
	var name string
	var bit int
	switch b[i+1] {
	case 'e':
		name, bit = "event_id\"", fEventID
	case 's':
		name, bit = "sensor_id\"", fSensorID
	case 't':
		if b[i+2] == 's' {
			name, bit = "ts\"", fTS
		} else {
			name, bit = "temperature\"", fTemperature
		}
	case 'h':
		name, bit = "humidity\"", fHumidity
	default:
		return 0, nil
	}
	end := i + 1 + len(name)
	if end > len(b) || string(b[i+1:end]) != name {
		return 0, nil
	}
	s.i = end
	return bit, b[i+1 : end-1]
}

func (d *Decoder) validate(r *Reading, seen int, eventID []byte, now int64) error {
	switch {
	case seen&fEventID == 0:
		return invalid("event_id", "missing")
	case seen&fSensorID == 0:
		return invalid("sensor_id", "missing")
	case seen&fTS == 0:
		return invalid("ts", "missing")
	case seen&fTemperature == 0:
		return invalid("temperature", "missing")
	}
	if len(eventID) == 0 {
		return invalid("event_id", "empty")
	}
	if len(eventID) > d.limits.MaxIDBytes {
		return invalid("event_id", fmt.Sprintf("%d bytes, more than the %d allowed", len(eventID), d.limits.MaxIDBytes))
	}
	r.EventIDHash = HashEventID(eventID)
	if r.EventTime < d.minMs {
		if r.EventTime >= d.minMs/1000 && r.EventTime < now/1000+86400 {
			return invalid("ts", fmt.Sprintf("%d looks like epoch seconds: ts must be epoch milliseconds", r.EventTime))
		}
		return invalid("ts", fmt.Sprintf("%d is before %s", r.EventTime, d.limits.MinEventTime.UTC().Format(time.RFC3339)))
	}
	if r.EventTime > now+d.limits.MaxFuture.Milliseconds() {
		return invalid("ts", fmt.Sprintf("%s is more than %s in the future", time.UnixMilli(r.EventTime).UTC().Format(time.RFC3339Nano), d.limits.MaxFuture))
	}
	if r.Temperature < *d.limits.MinTemperature || r.Temperature > *d.limits.MaxTemperature {
		return invalid("temperature", fmt.Sprintf("%s °C is outside the plausible range [%s, %s]", r.Temperature, *d.limits.MinTemperature, *d.limits.MaxTemperature))
	}
	if r.HasHumidity && (r.Humidity < 0 || r.Humidity > 100*Scale) {
		return invalid("humidity", fmt.Sprintf("%s %% is outside [0, 100]", r.Humidity))
	}
	return nil
}

// intern returns the interned copy of b. The recent cache answers the common
// case, an id seen lately, without hashing all of b or touching the interned
// string: an entry is picked by, and keeps, the length and the first and last
// eight bytes, which for ids of up to 16 bytes are the whole id.
func (d *Decoder) intern(b []byte) string {
	var first, last uint64
	if len(b) >= 8 {
		first, last = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[len(b)-8:])
	} else {
		for _, c := range b {
			first = first<<8 | uint64(c)
		}
	}
	h := (first ^ bits.RotateLeft64(last, 29) ^ uint64(len(b))) * internMul
	e := &d.recent[h>>(64-internBits)]
	if len(e.s) == len(b) && e.first == first && e.last == last && (len(b) <= 16 || e.s == string(b)) {
		return e.s
	}
	s, ok := d.interned[string(b)]
	if !ok {
		s = string(b)
		if len(d.interned) >= maxInterned {
			return s
		}
		d.interned[s] = s
	}
	*e = internEntry{first, last, s}
	return s
}

type internEntry struct {
	first, last uint64 // of s, as intern computes them
	s           string // "" in an unused entry
}

// checkSensorID: the id becomes a DynamoDB string key, which must be valid
// UTF-8; control characters are refused so ids stay printable in logs.
func checkSensorID(v []byte, max int) error {
	if len(v) == 0 {
		return invalid("sensor_id", "empty")
	}
	if len(v) > max {
		return invalid("sensor_id", fmt.Sprintf("%d bytes, more than the %d allowed", len(v), max))
	}
	// Eight bytes at a time while all are printable ASCII (0x20-0x7e), as
	// ids usually are; from the first word that is not, byte by byte.
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := binary.LittleEndian.Uint64(v[i:])
		if ((w-lsb*0x20)&^w|(w&^msb+lsb)|w)&msb != 0 {
			break
		}
	}
	for j, c := range v[i:] {
		if c < 0x20 || c == 0x7f {
			return invalid("sensor_id", "contains a control character")
		}
		if c >= utf8.RuneSelf {
			// The rest rune by rune: valid UTF-8 and no control character,
			// C1 controls (U+0080-U+009F) included, up to the end.
			rest := v[i+j:]
			if !utf8.Valid(rest) {
				return invalid("sensor_id", "is not valid UTF-8")
			}
			for len(rest) > 0 {
				r, n := utf8.DecodeRune(rest)
				if r < 0x20 || 0x7f <= r && r <= 0x9f {
					return invalid("sensor_id", "contains a control character")
				}
				rest = rest[n:]
			}
			break
		}
	}
	return nil
}

func (d *Decoder) ts(s *scanner) (int64, error) {
	switch c := s.peek(); {
	case c == '"':
		v, _, err := s.str()
		if err != nil {
			return 0, invalid("ts", err.Error())
		}
		t, err := time.Parse(time.RFC3339Nano, string(v))
		if err != nil {
			return 0, invalid("ts", "string "+quoteShort(v)+" is not an RFC 3339 time")
		}
		return t.UnixMilli(), nil
	case c == '-' || (c >= '0' && c <= '9'):
		num, err := s.num()
		if err != nil {
			return 0, invalid("ts", err.Error())
		}
		ms, ok := parseMillis(num)
		if !ok {
			return 0, invalid("ts", quoteShort(num)+" is not a plausible epoch-milliseconds time")
		}
		return ms, nil
	default:
		return 0, invalid("ts", "must be a number (epoch milliseconds) or an RFC 3339 string")
	}
}

func number(s *scanner, field string) (Micro, error) {
	c := s.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, invalid(field, "must be a number")
	}
	num, err := s.num()
	if err != nil {
		return 0, invalid(field, err.Error())
	}
	m, err := eventtime.ParseFixed(string(num))
	if err != nil {
		return 0, invalid(field, quoteShort(num)+" is out of range")
	}
	return m, nil
}

// parseMillis reads an epoch-milliseconds JSON number; a fraction is
// truncated. Negative values and values past year 9999 are refused.
func parseMillis(num []byte) (int64, bool) {
	const maxMs = 253402300799999 // 9999-12-31T23:59:59.999Z
	var v int64
	i := 0
	for ; i < len(num) && num[i] >= '0' && num[i] <= '9'; i++ {
		if i >= 15 {
			return 0, false
		}
		v = v*10 + int64(num[i]-'0')
	}
	if i == len(num) || num[i] == '.' {
		if i < len(num) {
			for j := i + 1; j < len(num); j++ {
				if num[j] < '0' || num[j] > '9' {
					return parseMillisSlow(num)
				}
			}
		}
		return v, i > 0 && v <= maxMs
	}
	return parseMillisSlow(num)
}

func parseMillisSlow(num []byte) (int64, bool) {
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil || !(f >= 0 && f <= 253402300799999) { // also refuses NaN
		return 0, false
	}
	return int64(f), true
}

func quoteShort(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q...", b[:40])
	}
	return fmt.Sprintf("%q", b)
}

func itoa(i int) string { return strconv.Itoa(i) }
