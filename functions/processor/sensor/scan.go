package sensor

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner walks a JSON document. It is deliberately small: strings, numbers,
// literals, and skipping any value, with exact RFC 8259 grammar checks.
type scanner struct {
	b       []byte
	i       int
	scratch []byte // unescaped strings
}

const maxDepth = 64

var (
	errEOF       = errors.New("unexpected end of input")
	errCtl       = errors.New("control character in string")
	errEscape    = errors.New("invalid escape in string")
	errNum       = errors.New("invalid number")
	errValue     = errors.New("invalid value")
	errDepth     = errors.New("nested too deeply")
	errExpectStr = errors.New("expected a string")
)

func (s *scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return // the common case: compact JSON
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) lit(l string) bool {
	if hasAt(s.b, s.i, l) {
		s.i += len(l)
		return true
	}
	return false
}

// hasAt reports whether b holds lit at i.
func hasAt(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// str reads a string at s.i. The result aliases the input when the string has
// no escapes; otherwise it is unescaped into the scanner's scratch buffer
// (esc is true) and valid until the next str call.
func (s *scanner) str() (v []byte, esc bool, err error) {
	if !s.consume('"') {
		return nil, false, errExpectStr
	}
	start := s.i
	// Eight bytes at a time until one is a quote, a backslash or a control
	// character.
	for s.i+8 <= len(s.b) {
		if m := specialMask(binary.LittleEndian.Uint64(s.b[s.i:])); m != 0 {
			s.i += bits.TrailingZeros64(m) / 8
			break
		}
		s.i += 8
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v = s.b[start:s.i]
			s.i++
			return v, false, nil
		case c == '\\':
			return s.strSlow(start)
		case c < 0x20:
			return nil, false, errCtl
		}
		s.i++
	}
	return nil, false, errEOF
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialMask flags, in its byte's top bit, each byte of v (eight input bytes,
// little endian) that is '"', '\\' or below 0x20. A borrow can only flag a
// byte above a truly special one, so the lowest flag is exact.
func specialMask(v uint64) uint64 {
	q := v ^ (lsb * '"')
	bs := v ^ (lsb * '\\')
	// '"' and '\\' have a clear top bit, so q and bs have v's top bits and
	// one &^v serves all three tests.
	return ((q - lsb) | (bs - lsb) | (v - lsb*0x20)) &^ v & msb
}

// plainEnd returns the index of the quote that ends the string whose
// contents start at b[i], or -1 if the string has an escape or a control
// character or does not end.
func plainEnd(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := specialMask(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			i += bits.TrailingZeros64(m) / 8
			break
		}
	}
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i
		case c == '\\' || c < 0x20:
			return -1
		}
	}
	return -1
}

func (s *scanner) strSlow(start int) ([]byte, bool, error) {
	out := append(s.scratch[:0], s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			s.scratch = out
			return out, true, nil
		case c < 0x20:
			return nil, false, errCtl
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return nil, false, errEOF
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, false, errEscape
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate must pair with a following \uDC00-\uDFFF;
				// a lone one becomes U+FFFD, as encoding/json does.
				r2 := utf8.RuneError
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					if lo, ok := s.hex4(); ok {
						if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
							r2 = d
						} else {
							s.i = save
						}
					} else {
						return nil, false, errEscape
					}
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, false, errEscape
		}
	}
	return nil, false, errEOF
}

func (s *scanner) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r, true
}

// num reads a JSON number and returns its text.
func (s *scanner) num() ([]byte, error) {
	start := s.i
	s.consume('-')
	switch {
	case s.consume('0'):
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return nil, errNum
	}
	if s.consume('.') {
		if s.digits() == 0 {
			return nil, errNum
		}
	}
	if s.consume('e') || s.consume('E') {
		if !s.consume('+') {
			s.consume('-')
		}
		if s.digits() == 0 {
			return nil, errNum
		}
	}
	return s.b[start:s.i], nil
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// skip passes over any JSON value, checking its syntax.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	switch c := s.peek(); {
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := s.num()
		return err
	case c == 't':
		if s.lit("true") {
			return nil
		}
	case c == 'f':
		if s.lit("false") {
			return nil
		}
	case c == 'n':
		if s.lit("null") {
			return nil
		}
	case c == '{':
		s.i++
		s.ws()
		if s.consume('}') {
			return nil
		}
		for {
			s.ws()
			if _, _, err := s.str(); err != nil {
				return err
			}
			s.ws()
			if !s.consume(':') {
				return errValue
			}
			s.ws()
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.consume(',') {
				continue
			}
			if s.consume('}') {
				return nil
			}
			return errValue
		}
	case c == '[':
		s.i++
		s.ws()
		if s.consume(']') {
			return nil
		}
		for {
			s.ws()
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.consume(',') {
				continue
			}
			if s.consume(']') {
				return nil
			}
			return errValue
		}
	case c == 0 && s.i >= len(s.b):
		return errEOF
	}
	return errValue
}
