package kinesisbatch

import (
	"encoding/base64"
	"encoding/binary"
)

// b64pair decodes two base64 characters at once. It is indexed by the two
// characters as a little-endian uint16 (first character in the low byte);
// for a pair of characters of the standard alphabet the entry is
// pairValid | v0<<6 | v1, with v0 and v1 their 6-bit values; any other pair
// reads 0. Zero meaning "invalid" keeps the table in zeroed memory: only the
// 64x64 entries of valid pairs are written (about 10 KiB of the 128 KiB are
// ever touched, 160 bytes in each of 64 rows).
var b64pair [1 << 16]uint16

// pairValid is set in every valid b64pair entry. Shifting a valid entry into
// place and XOR-ing with the same shift of pairValid leaves the 12 value
// bits; AND-ing entries keeps pairValid only if every pair was valid.
const pairValid = 0xf000

func init() {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for v0 := range len(alphabet) {
		for v1 := range len(alphabet) {
			b64pair[uint16(alphabet[v0])|uint16(alphabet[v1])<<8] = pairValid | uint16(v0)<<6 | uint16(v1)
		}
	}
}

// Constants that cancel the pairValid bits of valid entries combined into
// one quantum (two entries, 24 bits) or two quanta (four entries, 48 bits).
const (
	flags24 = pairValid<<12 ^ pairValid
	flags48 = pairValid<<36 ^ pairValid<<24 ^ pairValid<<12 ^ pairValid
)

// pair returns the b64pair entry of the two characters at s[0:2].
func pair(s []byte) uint64 {
	return uint64(b64pair[binary.LittleEndian.Uint16(s)])
}

// decodeBase64 decodes standard, padded base64 into dst, which must have room
// for len(src)/4*3 bytes, and returns the length written. It handles the
// common case (no line breaks, no bad characters) two characters per table
// lookup; anything else goes to encoding/base64 for its exact semantics and
// error.
func decodeBase64(dst, src []byte) (int, error) {
	n := len(src)
	if n == 0 {
		return 0, nil
	}
	if n%4 != 0 || len(dst) < n/4*3 {
		return base64.StdEncoding.Decode(dst, src)
	}
	body := src[:n-4] // the last quantum may hold padding
	ok := uint64(pairValid)
	di := 0
	for si := 0; si+16 <= len(body); si += 16 {
		q := body[si : si+16 : si+16]
		d := dst[di : di+12 : di+12]
		e0, e1, e2, e3 := pair(q), pair(q[2:]), pair(q[4:]), pair(q[6:])
		e4, e5, e6, e7 := pair(q[8:]), pair(q[10:]), pair(q[12:]), pair(q[14:])
		ok &= e0 & e1 & e2 & e3 & e4 & e5 & e6 & e7
		w0 := e0<<36 ^ e1<<24 ^ e2<<12 ^ e3 ^ flags48
		w1 := e4<<36 ^ e5<<24 ^ e6<<12 ^ e7 ^ flags48
		// 12 bytes in two stores; garbage from bad characters is
		// overwritten by the fallback below.
		binary.BigEndian.PutUint64(d, w0<<16|w1>>32)
		binary.BigEndian.PutUint32(d[8:], uint32(w1))
		di += 12
	}
	for si := len(body) / 16 * 16; si < len(body); si += 4 {
		q := body[si : si+4 : si+4]
		e0, e1 := pair(q), pair(q[2:])
		ok &= e0 & e1
		x := e0<<12 ^ e1 ^ flags24
		d := dst[di : di+3 : di+3]
		d[0], d[1], d[2] = byte(x>>16), byte(x>>8), byte(x)
		di += 3
	}
	if ok&pairValid != pairValid {
		return base64.StdEncoding.Decode(dst, src)
	}
	// The last quantum: "xxxx", "xxx=" or "xx==". The bits padding leaves
	// over are ignored, as encoding/base64 does outside strict mode.
	q := src[n-4 : n : n]
	d := dst[di : di+3 : di+3]
	e0 := pair(q)
	switch {
	case q[3] != '=':
		if e1 := pair(q[2:]); e0&e1&pairValid == pairValid {
			x := e0<<12 ^ e1 ^ flags24
			d[0], d[1], d[2] = byte(x>>16), byte(x>>8), byte(x)
			return di + 3, nil
		}
	case q[2] != '=':
		// q[2] paired with 'A' (value 0): its value in the high 6 bits.
		if e1 := uint64(b64pair[uint16(q[2])|'A'<<8]); e0&e1&pairValid == pairValid {
			x := e0<<12 ^ e1 ^ flags24
			d[0], d[1] = byte(x>>16), byte(x>>8)
			return di + 2, nil
		}
	default:
		if e0&pairValid == pairValid {
			x := e0 ^ pairValid
			d[0] = byte(x >> 4)
			return di + 1, nil
		}
	}
	// A bad character: encoding/base64 reports where.
	return base64.StdEncoding.Decode(dst, src)
}
