package kinesisbatch

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestDecodeBase64MatchesStdlib(t *testing.T) {
	var inputs []string
	for n := range 70 {
		b := make([]byte, n)
		randomBytes(b, uint64(n))
		inputs = append(inputs, base64.StdEncoding.EncodeToString(b))
	}
	inputs = append(inputs, "", "=", "====", "aGk", "aGk==", "aGk=aGk=", "a\nGk=", "aGk\r\n", "aG!=", "aGVsbG8gd29ybGQh!!!!aGVs",
		"aGVsbG8gd29ybGQhaGVsbG8gd29ybGQh=", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=")
	for _, in := range inputs {
		want := make([]byte, len(in))
		wn, werr := base64.StdEncoding.Decode(want, []byte(in))
		got := make([]byte, len(in))
		gn, gerr := decodeBase64(got, []byte(in))
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Errorf("%q: error %v, want %v", in, gerr, werr)
			continue
		}
		if werr == nil && !bytes.Equal(got[:gn], want[:wn]) {
			t.Errorf("%q: %x, want %x", in, got[:gn], want[:wn])
		}
	}
}

func FuzzDecodeBase64(f *testing.F) {
	f.Add([]byte("aGVsbG8gd29ybGQh"))
	f.Add([]byte("aGk="))
	f.Fuzz(func(t *testing.T, in []byte) {
		want := make([]byte, len(in))
		wn, werr := base64.StdEncoding.Decode(want, in)
		got := make([]byte, len(in))
		gn, gerr := decodeBase64(got, in)
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Fatalf("%q: error %v, want %v", in, gerr, werr)
		}
		if werr == nil && !bytes.Equal(got[:gn], want[:wn]) {
			t.Fatalf("%q: %x, want %x", in, got[:gn], want[:wn])
		}
	})
}

func BenchmarkBase64(b *testing.B) {
	src := make([]byte, 200)
	randomBytes(src, 9)
	enc := []byte(base64.StdEncoding.EncodeToString(src))
	dst := make([]byte, len(enc))
	b.Run("encoding-base64", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			base64.StdEncoding.Decode(dst, enc)
		}
	})
	b.Run("kinesisbatch", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			decodeBase64(dst, enc)
		}
	})
}

// checkBase64 compares decodeBase64 with encoding/base64 on in, with dst
// exactly as large as the Decoder gives it (len(in)/4*3) when that is
// enough, as well as with spare room.
func checkBase64(t *testing.T, in []byte) {
	t.Helper()
	want := make([]byte, len(in))
	wn, werr := base64.StdEncoding.Decode(want, in)
	for _, size := range []int{len(in) / 4 * 3, len(in) + 8} {
		if size < base64.StdEncoding.DecodedLen(len(in)) {
			continue
		}
		got := make([]byte, size)
		gn, gerr := decodeBase64(got, in)
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Fatalf("%q (dst %d): error %v, want %v", in, size, gerr, werr)
		}
		if gn != wn || !bytes.Equal(got[:gn], want[:wn]) {
			t.Fatalf("%q (dst %d): %d %x, want %d %x", in, size, gn, got[:gn], wn, want[:wn])
		}
	}
}

// TestDecodeBase64EveryBadByte puts every byte value at every position of
// valid encodings of 0 to 40 bytes (all three padding forms, every position
// of the 16-character loop, the 4-character loop and the last quantum) and
// compares with encoding/base64.
func TestDecodeBase64EveryBadByte(t *testing.T) {
	for n := range 41 {
		src := make([]byte, n)
		randomBytes(src, uint64(n)+100)
		enc := []byte(base64.StdEncoding.EncodeToString(src))
		checkBase64(t, enc)
		in := make([]byte, len(enc))
		for pos := range enc {
			for c := range 256 {
				copy(in, enc)
				in[pos] = byte(c)
				checkBase64(t, in)
			}
		}
	}
}

// TestDecodeBase64PairTable checks every entry of the two-character table
// against the alphabet.
func TestDecodeBase64PairTable(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range 1 << 16 {
		v0 := strings.IndexByte(alphabet, byte(i))
		v1 := strings.IndexByte(alphabet, byte(i>>8))
		want := uint16(0)
		if v0 >= 0 && v1 >= 0 {
			want = pairValid | uint16(v0)<<6 | uint16(v1)
		}
		if b64pair[i] != want {
			t.Fatalf("b64pair[%#04x] = %#04x, want %#04x", i, b64pair[i], want)
		}
	}
}

// FuzzDecodeBase64Corrupt fuzzes valid encodings with up to two bytes
// replaced, the inputs a plain byte fuzzer rarely reaches.
func FuzzDecodeBase64Corrupt(f *testing.F) {
	f.Add([]byte("hello, world"), uint16(3), byte('!'), uint16(0), byte('A'))
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), uint16(40), byte('='), uint16(17), byte('\n'))
	f.Fuzz(func(t *testing.T, src []byte, p1 uint16, c1 byte, p2 uint16, c2 byte) {
		in := []byte(base64.StdEncoding.EncodeToString(src))
		if len(in) > 0 {
			in[int(p1)%len(in)] = c1
			in[int(p2)%len(in)] = c2
		}
		checkBase64(t, in)
	})
}
