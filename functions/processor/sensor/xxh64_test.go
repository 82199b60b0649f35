package sensor

import "testing"

// Vectors from the reference implementation (xxhsum -H64) with seed 0.
func TestHashEventIDVectors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{
		{"", 0xEF46DB3751D8E999},
		{"a", 0xD24EC4F1A98C6E5B},
		{"abc", 0x44BC2CF5AD770999},
		{"message digest", 0x066ED728FCEEB3BE},
		{"abcdefghijklmnopqrstuvwxyz", 0xCFE1F278FA89835C},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 0xAAA46907D3047814},
		{"12345678901234567890123456789012345678901234567890123456789012345678901234567890", 0xE04A477F19EE145D},
	} {
		if got := HashEventID([]byte(tc.in)); got != tc.want {
			t.Errorf("HashEventID(%q) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}
