package eventtime_test

import (
	"testing"

	"github.com/streamproc/streamproc/functions/eventtime"
)

func TestParseFixed(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want eventtime.Fixed
	}{
		{"0", 0}, {"21.374", 21_374_000}, {"-0.5", -500_000}, {"3", 3_000_000},
		{"0.0000004", 0}, {"0.0000005", 1}, {"-0.0000005", -1}, {"0.00000049999", 0}, // the seventh decimal rounds
		{"999999999999.999999", 999_999_999_999_999_999}, // 12 integer digits, exact
		{"1e2", 100_000_000}, {"-2.5E-1", -250_000},
	} {
		got, err := eventtime.ParseFixed(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseFixed(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if err == nil {
			back, err := eventtime.ParseFixed(tc.want.String())
			if err != nil || back != tc.want {
				t.Errorf("ParseFixed(%q) = %d, %v: String does not round-trip", tc.want.String(), back, err)
			}
		}
	}
	for _, bad := range []string{"", "-", "1..2", "abc", "1,5", "1e300", "9007199254740993"} {
		if v, err := eventtime.ParseFixed(bad); err == nil {
			t.Errorf("ParseFixed(%q) = %d, want an error", bad, v)
		}
	}
}
