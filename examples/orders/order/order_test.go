package order_test

import (
	"strings"
	"testing"

	"example.com/orders/order"
)

func TestParse(t *testing.T) {
	ok, err := order.Parse([]byte(`{"order_id":"o-1","customer_id":"c-7","amount_cents":1999,"note":"ignored"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (order.Order{OrderID: "o-1", CustomerID: "c-7", AmountCents: 1999}); ok != want {
		t.Fatalf("Parse = %+v, want %+v", ok, want)
	}

	long := strings.Repeat("x", order.MaxIDBytes+1)
	for _, tc := range []struct{ in, wantErr string }{
		{`not json`, "not an order"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":1} {}`, "more than one JSON value"},
		{`{"customer_id":"c-1","amount_cents":1}`, "order_id is missing"},
		{`{"order_id":"o-1","amount_cents":1}`, "customer_id is missing"},
		{`{"order_id":"` + long + `","customer_id":"c-1","amount_cents":1}`, "order_id is 129 bytes long"},
		{`{"order_id":"o 1","customer_id":"c-1","amount_cents":1}`, "byte 0x20 at 1"},
		{`{"order_id":"o-1","customer_id":"c-\u00e9","amount_cents":1}`, "byte 0xc3"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":0}`, "amount_cents 0 is out of range"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":-5}`, "amount_cents -5"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":100000001}`, "out of range"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":12.5}`, "not an order"},
		{`{"order_id":"o-1","customer_id":"c-1","amount_cents":"12"}`, "not an order"},
	} {
		_, err := order.Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", tc.in, err, tc.wantErr)
		}
	}
}
