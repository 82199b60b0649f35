// Package revenue is the orders app's aggregate for the event-time engine:
// a customer's orders in one window, counted and summed in whole cents.
package revenue

import "github.com/streamproc/streamproc/functions/eventtime"

// Revenue is the orders of one (customer, window). Its zero value is the
// empty window. Every field is an exact integer, so the result does not
// depend on batch boundaries, delivery order or retries.
type Revenue struct {
	// Orders is how many orders the window holds.
	Orders int64 `json:"orders"`
	// Cents is their total amount.
	Cents int64 `json:"cents"`
	// LargestCents is the largest single order.
	LargestCents int64 `json:"largest_cents"`
}

// The engine's contract for an aggregate of int64 amounts.
var _ eventtime.Aggregate[Revenue, int64] = Revenue{}

// Add returns r with one more order of cents (its event time does not
// matter to the sum).
func (r Revenue) Add(_ int64, cents int64) Revenue {
	return r.Merge(Revenue{Orders: 1, Cents: cents, LargestCents: cents})
}

// Merge returns the revenue of both operands' orders. It is associative and
// commutative, and the zero Revenue is its identity.
func (r Revenue) Merge(o Revenue) Revenue {
	return Revenue{Orders: r.Orders + o.Orders, Cents: r.Cents + o.Cents, LargestCents: max(r.LargestCents, o.LargestCents)}
}
