// Package ordersdata generates testdata/orders.ndjson, the 1,000 records the
// local pipeline sends through the app (`streamctl local --from`, `make
// e2e`): deterministic, so the file in the repository is exactly what
// Generate returns (a test checks it; `go generate ./internal/ordersdata`
// rewrites it).
//
// What the file holds, in this order of lines:
//   - 960 orders of 40 customers (ids o-<line>); 950 of them placed over 20
//     minutes from Start, in file order give or take 10 seconds (less than
//     the stack's out-of-orderness: none of them is late, none corrects a
//     window);
//   - the other 10, at lines 612, 652, ..., 972, placed 2 to 3 hours before
//     Start: by then the windows they belong to are closed (any earlier
//     batch moved the watermark past them), so they go to the late output;
//   - 20 resends (line 24, 74, ...: an earlier order again, byte for byte);
//   - 20 invalid records (line 49, 99, ...): no customer_id, no placed_at, a
//     placed_at without a zone, an amount of 0, in turn.
//
// Some placed_at carry a zone other than UTC, to show that the zone is read.
package ordersdata

//go:generate go test -run TestTestdataIsGenerated -update .

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"time"
)

// Start is when the first on-time order was placed.
var Start = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

// Lines is the number of records generated.
const Lines = 1000

// Kind of a generated line.
type Kind int

// The kinds of line.
const (
	OnTime Kind = iota
	Late
	Resend
	Invalid
)

// KindOf is the kind of line i.
func KindOf(i int) Kind {
	switch {
	case i%50 == 49:
		return Invalid
	case i%50 == 24:
		return Resend
	case i >= 600 && i%40 == 12:
		return Late
	}
	return OnTime
}

var zones = []*time.Location{time.FixedZone("", 3600), time.FixedZone("", -5*3600)}

// Generate returns the file's content.
func Generate() []byte {
	rng := rand.New(rand.NewPCG(2026, 115))
	var b bytes.Buffer
	var lines []string
	for i := range Lines {
		var line string
		switch KindOf(i) {
		case Invalid:
			line = invalid(i / 50)
		case Resend:
			// An earlier order (on time or late) among the last 100 lines.
			for line == "" || isInvalid(line) {
				line = lines[max(0, i-100)+rng.IntN(min(i, 100))]
			}
		default:
			at := Start.Add(time.Duration(i)*1200*time.Millisecond + time.Duration(rng.IntN(10_000))*time.Millisecond)
			if KindOf(i) == Late {
				at = Start.Add(-3*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
			}
			if i%7 == 3 {
				at = at.In(zones[i%2])
			}
			line = fmt.Sprintf(`{"order_id":"o-%05d","customer_id":"c-%03d","amount_cents":%d,"placed_at":%q}`,
				i, rng.IntN(40), 1+rng.IntN(50_000), at.Format(time.RFC3339Nano))
		}
		lines = append(lines, line)
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func isInvalid(line string) bool { return bytes.Contains([]byte(line), []byte(`"invalid-`)) }

// invalid is the n-th invalid record (all with order ids "invalid-<n>").
func invalid(n int) string {
	at := Start.Add(time.Duration(n) * time.Minute).Format(time.RFC3339)
	switch n % 4 {
	case 0:
		return fmt.Sprintf(`{"order_id":"invalid-%d","amount_cents":100,"placed_at":%q}`, n, at)
	case 1:
		return fmt.Sprintf(`{"order_id":"invalid-%d","customer_id":"c-001","amount_cents":100}`, n)
	case 2:
		return fmt.Sprintf(`{"order_id":"invalid-%d","customer_id":"c-001","amount_cents":100,"placed_at":%q}`, n, at[:len(at)-1]) // no zone
	default:
		return fmt.Sprintf(`{"order_id":"invalid-%d","customer_id":"c-001","amount_cents":0,"placed_at":%q}`, n, at)
	}
}
