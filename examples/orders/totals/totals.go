// Package totals keeps each customer's order count and total in DynamoDB,
// counting every order exactly once however often it is delivered.
//
// One item per customer holds the totals and the set of order ids already
// added. An order is added with one conditional UpdateItem that increments
// the totals and adds the id only if the set does not hold it yet, so a
// redelivered batch, a bisected retry or a producer resend of the same
// order_id changes nothing. DynamoDB evaluates the condition and the update
// atomically on the one item; no transaction is needed.
//
// The set bounds a customer's item: past MaxOrdersPerCustomer ids an order
// fails with ErrCustomerFull (a permanent error: the record is quarantined,
// not lost). An application with more orders per customer would key the
// totals by customer and period instead.
package totals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"

	"example.com/orders/config"
	"example.com/orders/order"
)

// MaxOrdersPerCustomer caps the ids kept in a customer's item: 2,500 ids of
// at most order.MaxIDBytes stay well under DynamoDB's 400 KB item limit.
const MaxOrdersPerCustomer = 2500

// Attribute names of a customer's item (besides config.TablePartitionKey).
const (
	AttrOrderCount = "order_count"
	AttrTotalCents = "total_cents"
	AttrOrderIDs   = "order_ids"
	AttrUpdatedAt  = "updated_at"
)

// ErrCustomerFull is returned for an order of a customer whose item holds
// MaxOrdersPerCustomer ids already.
var ErrCustomerFull = errors.New("totals: the customer's item holds the most order ids it may")

// API is the DynamoDB JSON protocol. *awsjson.Client implements it.
type API interface {
	Do(ctx context.Context, op string, body []byte) ([]byte, error)
}

// Outcome is what Add did with an order.
type Outcome int

const (
	// Applied: the order was added to the customer's totals.
	Applied Outcome = iota
	// Duplicate: the totals held the order already; nothing changed.
	Duplicate
)

// Store adds orders to the totals table.
type Store struct {
	db        API
	table     string
	now       func() time.Time
	maxOrders int64 // MaxOrdersPerCustomer; tests lower it (export_test.go)
}

// New returns a Store on table. now is the clock of updated_at (nil:
// time.Now).
func New(db API, table string, now func() time.Time) (*Store, error) {
	if db == nil {
		return nil, errors.New("totals: nil DynamoDB client: pass awsjson.NewFromEnv(awsjson.DynamoDB)")
	}
	if table == "" {
		return nil, errors.New("totals: empty table name: set " + config.EnvTableName)
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, table: table, now: now, maxOrders: MaxOrdersPerCustomer}, nil
}

type attr map[string]any

func s(v string) attr { return attr{"S": v} }
func n(v int64) attr  { return attr{"N": strconv.FormatInt(v, 10)} }

// Add adds o to its customer's totals unless they hold it already.
func (st *Store) Add(ctx context.Context, o order.Order) (Outcome, error) {
	in := map[string]any{
		"TableName":           st.table,
		"Key":                 map[string]attr{config.TablePartitionKey: s(o.CustomerID)},
		"UpdateExpression":    "SET #u = :now ADD #c :one, #t :amt, #ids :ids",
		"ConditionExpression": "attribute_not_exists(#ids) OR (NOT contains(#ids, :oid) AND size(#ids) < :cap)",
		"ExpressionAttributeNames": map[string]string{
			"#u": AttrUpdatedAt, "#c": AttrOrderCount, "#t": AttrTotalCents, "#ids": AttrOrderIDs,
		},
		"ExpressionAttributeValues": map[string]attr{
			":now": s(st.now().UTC().Format(time.RFC3339Nano)),
			":one": n(1),
			":amt": n(o.AmountCents),
			":ids": {"SS": []string{o.OrderID}},
			":oid": s(o.OrderID),
			":cap": n(st.maxOrders),
		},
	}
	body, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	_, err = st.db.Do(ctx, "UpdateItem", body)
	if err == nil {
		return Applied, nil
	}
	var ae *awsjson.APIError
	if !errors.As(err, &ae) || ae.Code != "ConditionalCheckFailedException" {
		return 0, err
	}
	// The condition failed: the order is in the set already, or the set is
	// full. Read the set to tell which.
	ids, err := st.orderIDs(ctx, o.CustomerID)
	if err != nil {
		return 0, err
	}
	switch {
	case slices.Contains(ids, o.OrderID):
		return Duplicate, nil
	case int64(len(ids)) >= st.maxOrders:
		return 0, fmt.Errorf("%w (%d): order %s of customer %s cannot be counted", ErrCustomerFull, len(ids), o.OrderID, o.CustomerID)
	}
	// Neither: the item changed between the two calls. Retrying decides.
	return 0, fmt.Errorf("totals: order %s of customer %s: the condition failed but the item neither holds it nor is full; retry", o.OrderID, o.CustomerID)
}

// orderIDs reads the customer's set of applied order ids (consistently).
func (st *Store) orderIDs(ctx context.Context, customer string) ([]string, error) {
	body, err := json.Marshal(map[string]any{
		"TableName":                st.table,
		"Key":                      map[string]attr{config.TablePartitionKey: s(customer)},
		"ConsistentRead":           true,
		"ProjectionExpression":     "#ids",
		"ExpressionAttributeNames": map[string]string{"#ids": AttrOrderIDs},
	})
	if err != nil {
		return nil, err
	}
	out, err := st.db.Do(ctx, "GetItem", body)
	if err != nil {
		return nil, err
	}
	var res struct {
		Item map[string]struct {
			SS []string `json:"SS"`
		} `json:"Item"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("totals: GetItem answer: %w", err)
	}
	return res.Item[AttrOrderIDs].SS, nil
}

// CreateTable creates the totals table as the app's stack defines it
// (on-demand, key config.TablePartitionKey) and waits until it is ACTIVE.
// The stack owns the table in AWS; this is for emulators.
func CreateTable(ctx context.Context, db API, table string) error {
	body, _ := json.Marshal(map[string]any{
		"TableName":            table,
		"BillingMode":          "PAY_PER_REQUEST",
		"KeySchema":            []map[string]string{{"AttributeName": config.TablePartitionKey, "KeyType": "HASH"}},
		"AttributeDefinitions": []map[string]string{{"AttributeName": config.TablePartitionKey, "AttributeType": "S"}},
	})
	if _, err := db.Do(ctx, "CreateTable", body); err != nil {
		return fmt.Errorf("totals: create table %s: %w", table, err)
	}
	desc, _ := json.Marshal(map[string]string{"TableName": table})
	for {
		out, err := db.Do(ctx, "DescribeTable", desc)
		if err != nil {
			return fmt.Errorf("totals: describe table %s: %w", table, err)
		}
		var d struct{ Table struct{ TableStatus string } }
		if err := json.Unmarshal(out, &d); err != nil {
			return err
		}
		if d.Table.TableStatus == "ACTIVE" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("totals: table %s is not ACTIVE yet: %w", table, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
