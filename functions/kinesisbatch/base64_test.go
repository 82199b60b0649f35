package kinesisbatch

import (
	"bytes"
	"encoding/base64"
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
