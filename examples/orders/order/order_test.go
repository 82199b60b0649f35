package order_test

import (
	"strings"
	"testing"
	"time"

	"example.com/orders/order"
)

func TestParse(t *testing.T) {
	ok, err := order.Parse([]byte(`{"order_id":"o-1","customer_id":"c-7","amount_cents":1999,"placed_at":"2026-01-15T11:04:05.5+01:00","note":"ignored"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := order.Order{OrderID: "o-1", CustomerID: "c-7", AmountCents: 1999, PlacedAt: time.Date(2026, 1, 15, 10, 4, 5, 5e8, time.UTC)}
	if ok.OrderID != want.OrderID || ok.CustomerID != want.CustomerID || ok.AmountCents != want.AmountCents || !ok.PlacedAt.Equal(want.PlacedAt) {
		t.Fatalf("Parse = %+v, want %+v", ok, want)
	}

	long := strings.Repeat("x", order.MaxIDBytes+1)
	for _, tc := range []struct{ in, wantErr string }{
		{`not json`, "not an order"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":1} {}`, "more than one JSON value"},
		{`{"customer_id":"c-1","amount_cents":1,"placed_at":"2026-01-15T10:00:00Z"}`, "order_id is missing"},
		{`{"order_id":"o-1","amount_cents":1,"placed_at":"2026-01-15T10:00:00Z"}`, "customer_id is missing"},
		{`{"order_id":"` + long + `","customer_id":"c-1","amount_cents":1,"placed_at":"2026-01-15T10:00:00Z"}`, "order_id is 129 bytes long"},
		{`{"order_id":"o 1","customer_id":"c-1","amount_cents":1,"placed_at":"2026-01-15T10:00:00Z"}`, "byte 0x20 at 1"},
		{`{"order_id":"o-1","customer_id":"c-\u00e9","amount_cents":1,"placed_at":"2026-01-15T10:00:00Z"}`, "byte 0xc3"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":0}`, "amount_cents 0 is out of range"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":-5}`, "amount_cents -5"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":100000001}`, "out of range"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":12.5}`, "not an order"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":"12"}`, "not an order"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":1}`, "placed_at is missing or empty"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":1,"placed_at":"2026-01-15 10:00:00"}`, `placed_at "2026-01-15 10:00:00" is not an RFC 3339 time with a zone`},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":1,"placed_at":"2026-01-15T10:00:00"}`, "e.g. 2026-01-15T10:04:05Z"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":1,"placed_at":"1970-01-01T00:00:00Z"}`, `placed_at "1970-01-01T00:00:00Z" is out of range`},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":1,"placed_at":1736935200}`, "not an order"},
	} {
		_, err := order.Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestFormatRoundTrips(t *testing.T) {
	o := order.Order{OrderID: "o-9", CustomerID: "c-3", AmountCents: 42, PlacedAt: time.Date(2026, 1, 15, 11, 0, 0, 0, time.FixedZone("CET", 3600))}
	got, err := order.Parse(order.Format(o))
	if err != nil || got.OrderID != o.OrderID || got.CustomerID != o.CustomerID || got.AmountCents != o.AmountCents || !got.PlacedAt.Equal(o.PlacedAt) {
		t.Fatalf("Parse(Format(%+v)) = %+v, %v", o, got, err)
	}
}
