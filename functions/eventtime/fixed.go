package eventtime

import (
	"fmt"
	"math"
	"strconv"
)

// Fixed is a quantity in millionths of its unit. Sums of Fixed values are
// exact integers, so an aggregate does not depend on the order or the batch
// boundaries in which its records were applied: that is what lets a
// redelivered stream produce exactly the same results as a clean one.
type Fixed int64

// FixedScale is the number of Fixed in one unit.
const FixedScale = 1_000_000

// FixedFromFloat converts f, rounding half away from zero to six decimals. It
// reports false for NaN, infinities and values outside the int64 range.
func FixedFromFloat(f float64) (Fixed, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	v := math.Round(f * FixedScale)
	if v >= math.MaxInt64 || v <= math.MinInt64 {
		return 0, false
	}
	return Fixed(v), true
}

// ParseFixed reads a decimal number ("21.374", "-3", "1e2"); more than six
// decimals round half away from zero. Numbers without an exponent and with
// at most 12 integer digits are read exactly, in integer arithmetic; others
// go through a float64, exact for up to ~15 significant digits.
func ParseFixed(s string) (Fixed, error) {
	if v, ok := parseDecimal(s); ok {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("eventtime: %q is not a decimal number", s)
	}
	if v, ok := FixedFromFloat(f); ok {
		return v, nil
	}
	return 0, fmt.Errorf("eventtime: %q is out of range for a six-decimal fixed-point value", s)
}

// parseDecimal is ParseFixed's exact path: an optional '-', 1 to 12 integer
// digits, optionally '.' and at least one digit; the seventh decimal rounds
// half away from zero. It reports false for anything else.
func parseDecimal(num string) (Fixed, bool) {
	i := 0
	neg := i < len(num) && num[i] == '-'
	if neg {
		i++
	}
	start := i
	var mant uint64
	for i < len(num) && num[i] >= '0' && num[i] <= '9' {
		mant = mant*10 + uint64(num[i]-'0')
		i++
	}
	if n := i - start; n == 0 || n > 12 { // 12 digits * 1e6 stays far inside int64
		return 0, false
	}
	mant *= FixedScale
	if i < len(num) && num[i] == '.' {
		i++
		fstart := i
		var frac uint64
		scale := uint64(FixedScale)
		for i < len(num) && num[i] >= '0' && num[i] <= '9' {
			if scale > 1 {
				scale /= 10
				frac += uint64(num[i]-'0') * scale
			} else if i-fstart == 6 && num[i] >= '5' {
				frac++ // the seventh decimal rounds half away from zero
			}
			i++
		}
		if i == fstart {
			return 0, false
		}
		mant += frac
	}
	if i != len(num) {
		return 0, false
	}
	if neg {
		return Fixed(-int64(mant)), true
	}
	return Fixed(mant), true
}

// Float returns f in units.
func (f Fixed) Float() float64 { return float64(f) / FixedScale }

// String formats f as a plain decimal without trailing zeros: "21.374", "-0.5", "3".
func (f Fixed) String() string { return string(f.AppendDecimal(nil)) }

// AppendDecimal appends the String form of f to b.
func (f Fixed) AppendDecimal(b []byte) []byte {
	u := uint64(f)
	if f < 0 {
		b = append(b, '-')
		u = -u
	}
	b = strconv.AppendUint(b, u/FixedScale, 10)
	frac := u % FixedScale
	if frac == 0 {
		return b
	}
	var d [6]byte
	for i := 5; i >= 0; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 6
	for d[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, d[:n]...)
}

// MarshalJSON writes f as a JSON number with up to six decimals.
func (f Fixed) MarshalJSON() ([]byte, error) { return f.AppendDecimal(nil), nil }

// UnmarshalJSON reads a JSON number.
func (f *Fixed) UnmarshalJSON(b []byte) error {
	v, err := ParseFixed(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// DivRound returns sum/n rounded half away from zero (0 when n <= 0).
func DivRound(sum Fixed, n int64) Fixed {
	if n <= 0 {
		return 0
	}
	q, r := int64(sum)/n, int64(sum)%n
	if r < 0 {
		r = -r
	}
	if 2*r >= n {
		if sum < 0 {
			q--
		} else {
			q++
		}
	}
	return Fixed(q)
}
