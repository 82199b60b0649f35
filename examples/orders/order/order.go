// Package order is the input format of the orders app: one JSON order per
// Kinesis record, decoded and validated.
package order

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Limits of a valid order.
const (
	MaxIDBytes     = 128
	MaxAmountCents = 100_000_000 // one million in the currency's main unit
)

// Event times outside [MinPlacedAt, MaxPlacedAt) are refused: they come from
// a broken clock or a wrong field, and each would open windows of its own.
var (
	MinPlacedAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxPlacedAt = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Order is one order.
type Order struct {
	// OrderID identifies the order; an order is counted once however often
	// it is delivered.
	OrderID string
	// CustomerID is whose revenue the order adds to.
	CustomerID string
	// AmountCents is the order's amount in the smallest currency unit, a
	// whole number so that sums are exact.
	AmountCents int64
	// PlacedAt is when the order was placed: its event time, which decides
	// its windows.
	PlacedAt time.Time
}

// wire is the JSON form of an Order.
type wire struct {
	OrderID     string `json:"order_id"`
	CustomerID  string `json:"customer_id"`
	AmountCents int64  `json:"amount_cents"`
	PlacedAt    string `json:"placed_at"` // RFC 3339 with a zone
}

// Parse decodes and validates one record's payload. Unknown fields are
// ignored; every error names the bad value and is worth quarantining, never
// retrying.
func Parse(data []byte) (Order, error) {
	var w wire
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		return Order{}, fmt.Errorf("not an order: %w", err)
	}
	if dec.More() {
		return Order{}, errors.New("not an order: more than one JSON value in the record")
	}
	if err := checkID("order_id", w.OrderID); err != nil {
		return Order{}, err
	}
	if err := checkID("customer_id", w.CustomerID); err != nil {
		return Order{}, err
	}
	if w.AmountCents < 1 || w.AmountCents > MaxAmountCents {
		return Order{}, fmt.Errorf("amount_cents %d is out of range: give a whole number of cents from 1 to %d", w.AmountCents, MaxAmountCents)
	}
	at, err := parsePlacedAt(w.PlacedAt)
	if err != nil {
		return Order{}, err
	}
	return Order{OrderID: w.OrderID, CustomerID: w.CustomerID, AmountCents: w.AmountCents, PlacedAt: at}, nil
}

// Format is the JSON payload of o, as Parse reads it (placed_at in UTC).
func Format(o Order) []byte {
	b, _ := json.Marshal(wire{OrderID: o.OrderID, CustomerID: o.CustomerID, AmountCents: o.AmountCents,
		PlacedAt: o.PlacedAt.UTC().Format(time.RFC3339Nano)})
	return b
}

// parsePlacedAt accepts RFC 3339 with a zone (Z or ±hh:mm), optionally with
// fractional seconds. A time without a zone is refused rather than guessed:
// the zone moves the order by hours, into other windows.
func parsePlacedAt(v string) (time.Time, error) {
	const fix = "give the time the order was placed in RFC 3339 with a zone, e.g. 2026-01-15T10:04:05Z or 2026-01-15T11:04:05+01:00"
	if v == "" {
		return time.Time{}, errors.New("placed_at is missing or empty: " + fix)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("placed_at %q is not an RFC 3339 time with a zone: %s", v, fix)
	}
	if t.Before(MinPlacedAt) || !t.Before(MaxPlacedAt) {
		return time.Time{}, fmt.Errorf("placed_at %q is out of range: give a time from %d to %d", v, MinPlacedAt.Year(), MaxPlacedAt.Year()-1)
	}
	return t, nil
}

// checkID accepts 1 to MaxIDBytes printable ASCII characters: ids end up in
// keys and logs, where control characters only hurt.
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
