package contract

import "testing"

func TestCompareSequenceNumbers(t *testing.T) {
	const (
		lo = "49601189658422359378836298521827638475320189012309704722"
		hi = "49601189658422359378836298522902373528957594348623495186"
	)
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"9", "10", -1}, // numeric, not lexical
		{"10", "9", 1},  // numeric, not lexical
		{"123", "123", 0},
		{lo, hi, -1},
		{hi, lo, 1},
		{hi, hi, 0},
		{"9", lo, -1},
		{"340282366920938463463374607431768211455", "340282366920938463463374607431768211454", 1}, // 2^128-1
	} {
		if got := CompareSequenceNumbers(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareSequenceNumbers(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
