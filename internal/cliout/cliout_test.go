package cliout

import (
	"testing"
	"time"
)

func TestFormats(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{12: "12 B", 1500: "1.5 kB", 2_500_000: "2.50 MB", 3_000_000_000: "3.00 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := Duration(1234567 * time.Microsecond); got != "1.23s" {
		t.Errorf("Duration = %q", got)
	}
	if got := Bar(0.5, 4); got != "[██░░]" {
		t.Errorf("Bar = %q", got)
	}
	if got := Bar(2, 2); got != "[██]" {
		t.Errorf("Bar over 1 = %q", got)
	}
}
