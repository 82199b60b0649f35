// Package order is the input format of the orders app: one JSON order per
// Kinesis record, decoded and validated.
package order

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Limits of a valid order.
const (
	MaxIDBytes     = 128
	MaxAmountCents = 100_000_000 // one million in the currency's main unit
)

// Order is one order.
type Order struct {
	// OrderID identifies the order; an order is counted once however often
	// it is delivered.
	OrderID string `json:"order_id"`
	// CustomerID is whose totals the order adds to.
	CustomerID string `json:"customer_id"`
	// AmountCents is the order's amount in the smallest currency unit, a
	// whole number so that totals are exact.
	AmountCents int64 `json:"amount_cents"`
}

// Parse decodes and validates one record's payload. Unknown fields are
// ignored; every error names the bad value and is worth quarantining, never
// retrying.
func Parse(data []byte) (Order, error) {
	var o Order
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&o); err != nil {
		return Order{}, fmt.Errorf("not an order: %w", err)
	}
	if dec.More() {
		return Order{}, errors.New("not an order: more than one JSON value in the record")
	}
	if err := checkID("order_id", o.OrderID); err != nil {
		return Order{}, err
	}
	if err := checkID("customer_id", o.CustomerID); err != nil {
		return Order{}, err
	}
	if o.AmountCents < 1 || o.AmountCents > MaxAmountCents {
		return Order{}, fmt.Errorf("amount_cents %d is out of range: give a whole number of cents from 1 to %d", o.AmountCents, MaxAmountCents)
	}
	return o, nil
}

// checkID accepts 1 to MaxIDBytes printable ASCII characters: ids end up in
// DynamoDB keys and sets and in logs, where control characters only hurt.
func checkID(field, v string) error {
	if v == "" {
		return fmt.Errorf("%s is missing or empty: every order needs one", field)
	}
	if len(v) > MaxIDBytes {
		return fmt.Errorf("%s is %d bytes long: at most %d are allowed", field, len(v), MaxIDBytes)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("%s %q has byte 0x%02x at %d: use printable ASCII without spaces", field, v, c, i)
		}
	}
	return nil
}
