package ordersdata_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/orders/internal/ordersdata"
	"example.com/orders/order"
)

var update = flag.Bool("update", false, "rewrite testdata/orders.ndjson")

var file = filepath.Join("..", "..", "testdata", "orders.ndjson")

func TestTestdataIsGenerated(t *testing.T) {
	want := ordersdata.Generate()
	if *update {
		if err := os.WriteFile(file, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what Generate returns: run `go generate ./internal/ordersdata`", file)
	}
}

// The file holds what the package says, as the app's own parser reads it.
func TestTheFileHoldsWhatItSays(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(string(ordersdata.Generate()), "\n"), "\n")
	if len(lines) != ordersdata.Lines {
		t.Fatalf("%d lines, want %d", len(lines), ordersdata.Lines)
	}
	count := map[ordersdata.Kind]int{}
	seen, customers := map[string]bool{}, map[string]bool{}
	first, last := time.Time{}, time.Time{}
	for i, l := range lines {
		k := ordersdata.KindOf(i)
		count[k]++
		o, err := order.Parse([]byte(l))
		switch {
		case k == ordersdata.Invalid:
			if err == nil {
				t.Errorf("line %d is valid, want invalid: %s", i, l)
			}
			continue
		case err != nil:
			t.Fatalf("line %d: %v", i, err)
		case k == ordersdata.Resend:
			if !seen[o.OrderID] {
				t.Errorf("line %d resends %s, which came nowhere before", i, o.OrderID)
			}
			continue
		case seen[o.OrderID]:
			t.Errorf("line %d: %s again", i, o.OrderID)
		}
		seen[o.OrderID], customers[o.CustomerID] = true, true
		if k == ordersdata.Late {
			if d := ordersdata.Start.Sub(o.PlacedAt); d < 2*time.Hour || d > 3*time.Hour {
				t.Errorf("late line %d placed %s before Start", i, d)
			}
			continue
		}
		if first.IsZero() {
			first = o.PlacedAt
		}
		if o.PlacedAt.Before(last.Add(-10 * time.Second)) {
			t.Errorf("line %d placed at %s, more than 10s before the latest so far %s", i, o.PlacedAt, last)
		}
		if o.PlacedAt.After(last) {
			last = o.PlacedAt
		}
	}
	if count[ordersdata.OnTime] != 950 || count[ordersdata.Late] != 10 || count[ordersdata.Resend] != 20 || count[ordersdata.Invalid] != 20 {
		t.Errorf("kinds %v, want 950 on time, 10 late, 20 resends, 20 invalid", count)
	}
	if len(seen) != 960 || len(customers) != 40 {
		t.Errorf("%d unique orders of %d customers, want 960 of 40", len(seen), len(customers))
	}
	if span := last.Sub(first); span < 19*time.Minute || span > 21*time.Minute {
		t.Errorf("on-time orders span %s, want about 20 minutes", span)
	}
}
