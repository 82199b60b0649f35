package kinesisbatch

import (
	"encoding/base64"
	"encoding/binary"
)

// Base64 decoding tables: b64[k][c] is the 6-bit value of character c
// shifted into place for position k of a 4-character quantum, or badQuantum
// for a character outside the standard alphabet. OR-ing four lookups yields
// the 3 decoded bytes; any bad character sets the high byte.
var b64 [4][256]uint32

const badQuantum = 0xff000000

func init() {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for k := range b64 {
		for c := range b64[k] {
			b64[k][c] = badQuantum
		}
	}
	for v := range len(alphabet) {
		c := alphabet[v]
		b64[0][c] = uint32(v) << 18
		b64[1][c] = uint32(v) << 12
		b64[2][c] = uint32(v) << 6
		b64[3][c] = uint32(v)
	}
}

// decodeBase64 decodes standard, padded base64 into dst, which must have room
// for len(src)/4*3 bytes, and returns the length written. It handles the
// common case (no line breaks, no bad characters) four characters at a time;
// anything else goes to encoding/base64 for its exact semantics and error.
func decodeBase64(dst, src []byte) (int, error) {
	n := len(src)
	if n == 0 {
		return 0, nil
	}
	if n%4 != 0 || len(dst) < n/4*3 {
		return base64.StdEncoding.Decode(dst, src)
	}
	body := src[:n-4] // the last quantum may hold padding
	var bad uint32
	di := 0
	for si := 0; si+16 <= len(body); si += 16 {
		q := body[si : si+16 : si+16]
		d := dst[di : di+12 : di+12]
		x0 := b64[0][q[0]] | b64[1][q[1]] | b64[2][q[2]] | b64[3][q[3]]
		x1 := b64[0][q[4]] | b64[1][q[5]] | b64[2][q[6]] | b64[3][q[7]]
		x2 := b64[0][q[8]] | b64[1][q[9]] | b64[2][q[10]] | b64[3][q[11]]
		x3 := b64[0][q[12]] | b64[1][q[13]] | b64[2][q[14]] | b64[3][q[15]]
		bad |= x0 | x1 | x2 | x3
		// 12 bytes in two stores; garbage from bad characters is
		// overwritten by the fallback below.
		binary.BigEndian.PutUint64(d, uint64(x0&0xffffff)<<40|uint64(x1&0xffffff)<<16|uint64(x2&0xffffff)>>8)
		binary.BigEndian.PutUint32(d[8:], x2<<24|x3&0xffffff)
		di += 12
	}
	for si := len(body) / 16 * 16; si < len(body); si += 4 {
		q := body[si : si+4 : si+4]
		x := b64[0][q[0]] | b64[1][q[1]] | b64[2][q[2]] | b64[3][q[3]]
		bad |= x
		d := dst[di : di+3 : di+3]
		d[0], d[1], d[2] = byte(x>>16), byte(x>>8), byte(x)
		di += 3
	}
	if bad&badQuantum != 0 {
		return base64.StdEncoding.Decode(dst, src)
	}
	// The last quantum: "xxxx", "xxx=" or "xx==". The bits padding leaves
	// over are ignored, as encoding/base64 does outside strict mode.
	q := src[n-4 : n : n]
	d := dst[di : di+3 : di+3]
	switch {
	case q[3] != '=':
		if x := b64[0][q[0]] | b64[1][q[1]] | b64[2][q[2]] | b64[3][q[3]]; x&badQuantum == 0 {
			d[0], d[1], d[2] = byte(x>>16), byte(x>>8), byte(x)
			return di + 3, nil
		}
	case q[2] != '=':
		if x := b64[0][q[0]] | b64[1][q[1]] | b64[2][q[2]]; x&badQuantum == 0 {
			d[0], d[1] = byte(x>>16), byte(x>>8)
			return di + 2, nil
		}
	default:
		if x := b64[0][q[0]] | b64[1][q[1]]; x&badQuantum == 0 {
			d[0] = byte(x >> 16)
			return di + 1, nil
		}
	}
	// A bad character: encoding/base64 reports where.
	return base64.StdEncoding.Decode(dst, src)
}
