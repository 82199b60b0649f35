package sensor

import (
	"errors"
	"math"
	"strconv"
)

// Micro is a quantity in millionths of its unit (micro-degrees Celsius for
// temperatures). Readings are converted to fixed point on decode so that
// aggregate sums are exact integers: the stored totals then do not depend on
// the order or the batch boundaries in which readings were applied, which is
// what lets the tests compare a redelivered pipeline's output for equality
// with an independent computation. Values with more than six decimals are
// rounded half away from zero to six.
type Micro int64

// Scale is the number of Micro in one unit.
const Scale = 1_000_000

// MicroFromFloat converts f to Micro, rounding half away from zero. It reports
// false for NaN, infinities and values outside the int64 range.
func MicroFromFloat(f float64) (Micro, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	v := math.Round(f * Scale)
	if v >= math.MaxInt64 || v <= math.MinInt64 {
		return 0, false
	}
	return Micro(v), true
}

// Float returns m in units.
func (m Micro) Float() float64 { return float64(m) / Scale }

// String formats m as a plain decimal with no exponent and no trailing
// zeros: "21.374", "-0.5", "3". It is the text stored in DynamoDB numbers.
func (m Micro) String() string { return string(m.AppendDecimal(nil)) }

// AppendDecimal appends the String form of m to b.
func (m Micro) AppendDecimal(b []byte) []byte {
	u := uint64(m)
	if m < 0 {
		b = append(b, '-')
		u = -u
	}
	b = strconv.AppendUint(b, u/Scale, 10)
	frac := u % Scale
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

// DivRound returns sum/n rounded half away from zero: the average of n
// readings, exact to the Micro.
func DivRound(sum Micro, n int64) Micro {
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
	return Micro(q)
}

var errNumber = errors.New("not a number")

// ParseMicro parses a decimal number (as String writes it, or any JSON
// number) into Micro.
func ParseMicro(s string) (Micro, error) {
	if m, ok := parseFixed([]byte(s)); ok {
		return m, nil
	}
	return 0, errNumber
}

// parseFixed converts the text of a JSON number to Micro. The common case (no
// exponent, at most 18 significant integer digits) is exact integer
// arithmetic; anything else goes through strconv.ParseFloat.
func parseFixed(num []byte) (Micro, bool) {
	i := 0
	neg := false
	if i < len(num) && num[i] == '-' {
		neg = true
		i++
	}
	start := i
	var mant uint64
	for i < len(num) && num[i] >= '0' && num[i] <= '9' {
		mant = mant*10 + uint64(num[i]-'0')
		i++
	}
	intDigits := i - start
	if intDigits == 0 || intDigits > 12 { // 12 digits * 1e6 stays far inside int64
		return parseFixedSlow(num)
	}
	mant *= Scale
	if i < len(num) && num[i] == '.' {
		i++
		fstart := i
		var frac uint64
		scale := uint64(Scale)
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
		return parseFixedSlow(num) // exponent
	}
	if neg {
		return Micro(-int64(mant)), true
	}
	return Micro(mant), true
}

func parseFixedSlow(num []byte) (Micro, bool) {
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		return 0, false
	}
	return MicroFromFloat(f)
}
