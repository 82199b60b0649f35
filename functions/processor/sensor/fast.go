package sensor

import (
	"encoding/binary"
	"math/bits"
)

// decodeFast is Decode for the common payload: compact JSON, as encoding/json
// writes it, with escape-free strings and flat values. It walks the object
// once, recognising keys by comparing 8-byte words and parsing the numbers it
// needs in the same pass as it checks them. On anything else (whitespace,
// escapes, nesting, exponents, duplicate keys, any error) it reports !ok and
// has changed nothing but *r, and Decode starts over with decodeGeneral, which
// therefore alone decides every error and edge case. FuzzFastEqualsGeneral
// holds the two to the same results.
func (d *Decoder) decodeFast(b []byte, r *Reading) (seen int, eventID []byte, ok bool) {
	if len(b) > d.limits.MaxPayloadBytes || len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return 0, nil, false
	}
	var sensorID []byte
	i := 1
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, nil, false
		}
		bit, v := fastKey(b, i)
		if v < 0 || v >= len(b) || seen&bit != 0 {
			return 0, nil, false
		}
		seen |= bit
		i = v
		switch bit {
		case fEventID, fSensorID:
			if b[i] != '"' {
				return 0, nil, false
			}
			e := plainEnd(b, i+1)
			if e < 0 {
				return 0, nil, false
			}
			if bit == fEventID {
				eventID = b[i+1 : e]
			} else {
				sensorID = b[i+1 : e]
				if checkSensorID(sensorID, d.limits.MaxIDBytes) != nil {
					return 0, nil, false
				}
			}
			i = e + 1
		case fTS:
			if b[i] == '"' {
				if plainEnd(b, i+1) < 0 {
					return 0, nil, false
				}
				s := scanner{b: b, i: i}
				ts, err := d.ts(&s)
				if err != nil {
					return 0, nil, false
				}
				r.EventTime, i = ts, s.i
				break
			}
			ts, e, ok := plainMillis(b, i)
			if !ok {
				return 0, nil, false
			}
			r.EventTime, i = ts, e
		case fTemperature:
			m, e, ok := plainMicro(b, i)
			if !ok {
				return 0, nil, false
			}
			r.Temperature, i = m, e
		case fHumidity:
			if b[i] == 'n' {
				if !hasAt(b, i, "null") {
					return 0, nil, false
				}
				i += len("null")
				break
			}
			m, e, ok := plainMicro(b, i)
			if !ok {
				return 0, nil, false
			}
			r.Humidity, r.HasHumidity, i = m, true, e
		default:
			if i = skipFlat(b, i); i < 0 {
				return 0, nil, false
			}
		}
		if i >= len(b) {
			return 0, nil, false
		}
		if b[i] == ',' {
			i++
			continue
		}
		if b[i] != '}' || i != len(b)-1 {
			return 0, nil, false
		}
		break
	}
	// Interned only now, so that a fallback leaves the Decoder as it was.
	if sensorID != nil {
		r.SensorID = d.intern(sensorID)
	}
	return seen, eventID, true
}

// The known keys' first eight bytes and the rest with the closing quote, as
// little-endian words (TestKeyWords checks them).
const (
	wEventID  = 0x64695f746e657665 // event_id
	wHumidity = 0x79746964696d7568 // humidity
	wSensorI  = 0x695f726f736e6573 // sensor_i
	wTemperat = 0x74617265706d6574 // temperat
	wTsQ      = 0x227374           // ts"
	wDQ       = 0x2264             // d"
	wUreQ     = 0x22657275         // ure"
)

// fastKey reads the escape-free key whose opening quote is b[i], and the
// colon after it. It returns the key's field bit (0 for other keys) and the
// index after the colon, or next -1. A known key is recognised by comparing
// its first eight bytes and the rest as words, with no scan; other keys are
// scanned for their end.
func fastKey(b []byte, i int) (bit, next int) {
	var end int // the closing quote
	if i+13 > len(b) {
		// Too near the end for the loads below.
		s := scanner{b: b, i: i}
		if bit, _ = s.knownKey(); bit != 0 {
			end = s.i - 1
		} else if end = plainEnd(b, i+1); end < 0 {
			return 0, -1
		}
	} else {
		k := b[i+1 : i+13] // constant indexes below: no bounds checks
		w := binary.LittleEndian.Uint64(k)
		n := 0 // the key's length
		switch {
		case w == wEventID && k[8] == '"':
			bit, n = fEventID, 8
		case w == wHumidity && k[8] == '"':
			bit, n = fHumidity, 8
		case w == wSensorI && binary.LittleEndian.Uint16(k[8:]) == wDQ:
			bit, n = fSensorID, 9
		case w == wTemperat && binary.LittleEndian.Uint32(k[8:]) == wUreQ:
			bit, n = fTemperature, 11
		case w&0xffffff == wTsQ:
			bit, n = fTS, 2
		case specialMask(w) != 0: // another key, shorter than eight bytes
			n = bits.TrailingZeros64(specialMask(w)) / 8
		default: // another key
			e := plainEnd(b, i+9)
			if e < 0 {
				return 0, -1
			}
			n = e - (i + 1)
		}
		end = i + 1 + n
	}
	if b[end] != '"' || end+1 >= len(b) || b[end+1] != ':' {
		return 0, -1
	}
	return bit, end + 2
}

// skipFlat passes over the unknown field value at b[i] if it is an
// escape-free string, a number or a literal, and returns where it ends; -1
// for anything else.
func skipFlat(b []byte, i int) int {
	switch c := b[i]; {
	case c == '"':
		if e := plainEnd(b, i+1); e >= 0 {
			return e + 1
		}
	case c == '-' || c >= '0' && c <= '9':
		if _, e, ok := plainMicro(b, i); ok { // the common, short number
			return e
		}
		s := scanner{b: b, i: i}
		if _, err := s.num(); err == nil {
			return s.i
		}
	case c == 't' && hasAt(b, i, "true"), c == 'n' && hasAt(b, i, "null"):
		return i + 4
	case c == 'f' && hasAt(b, i, "false"):
		return i + 5
	}
	return -1
}

var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6}

// uintAt continues v with the decimal digits at b[i:]; v is exact for up to
// 19 digits in all (the callers allow fewer). Byte by byte: the fields' numbers
// are short, and this measured faster for them than whole words.
func uintAt(b []byte, i int, v uint64) (uint64, int) {
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		v = v*10 + uint64(c)
	}
	return v, i
}

// eightDigits returns the value of the eight digits 0-9 in x's bytes, the
// first (most significant) in the lowest byte.
func eightDigits(x uint64) uint64 {
	x = (x * (10<<8 + 1)) >> 8 & 0x00ff00ff00ff00ff
	x = (x * (100<<16 + 1)) >> 16 & 0x0000ffff0000ffff
	return (x * (10000<<32 + 1)) >> 32
}

// intOK reports whether the n digits at b[i:] are a JSON integer part of at
// most max digits (no leading zero).
func intOK(b []byte, i, n, max int) bool {
	return n > 0 && n <= max && (n == 1 || b[i] != '0')
}

// plainMillis is num+parseMillis in one pass for a plain non-negative
// number: the fraction is checked and truncated.
func plainMillis(b []byte, i int) (int64, int, bool) {
	const maxMs = 253402300799999 // as parseMillis
	// Epoch milliseconds have 13 digits: the first eight go as one word.
	v, end := uint64(0), i
	if i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:]) ^ (lsb * '0') // digits become 0-9
		if (x&^msb+lsb*0x76|x)&msb == 0 {                    // no byte above 9
			v, end = eightDigits(x), i+8
		}
	}
	v, end = uintAt(b, end, v)
	if !intOK(b, i, end-i, 15) || v > maxMs {
		return 0, 0, false
	}
	if end < len(b) && b[end] == '.' {
		f := end + 1
		if _, end = uintAt(b, f, 0); end == f {
			return 0, 0, false
		}
	}
	return int64(v), end, true
}

// plainMicro is num+parseFixed in one pass for a number without exponent and
// with at most 12 integer digits: it keeps six decimals and rounds half away
// from zero on the seventh, as parseFixed does.
func plainMicro(b []byte, i int) (Micro, int, bool) {
	neg := b[i] == '-'
	if neg {
		i++
	}
	v, end := uintAt(b, i, 0)
	if !intOK(b, i, end-i, 12) {
		return 0, 0, false
	}
	v *= Scale
	if end < len(b) && b[end] == '.' {
		f := end + 1
		frac, e := uintAt(b[:min(f+6, len(b))], f, 0)
		n := e - f
		if n == 0 {
			return 0, 0, false
		}
		frac *= pow10[6-n]
		if n == 6 && e < len(b) && b[e] >= '5' && b[e] <= '9' {
			frac++
		}
		v += frac
		_, end = uintAt(b, e, 0)
	}
	if neg {
		return Micro(-int64(v)), end, true
	}
	return Micro(v), end, true
}
