package totals_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"

	"example.com/orders/config"
	"example.com/orders/internal/dynalitetest"
	"example.com/orders/order"
	"example.com/orders/totals"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dynalitetest.Stop()
	os.Exit(code)
}

// table creates a fresh table named after the test in the package's dynalite.
func table(t *testing.T) (*awsjson.Client, string) {
	t.Helper()
	c := dynalitetest.Client(t)
	name := regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := totals.CreateTable(ctx, c, name); err != nil {
		t.Fatal(err)
	}
	return c, name
}

type customer struct {
	Count, Total int64
	IDs          []string
}

// get reads a customer's item with a plain GetItem, decoded here rather than
// through the store.
func get(t *testing.T, c *awsjson.Client, tbl, id string) (customer, bool) {
	t.Helper()
	var out struct {
		Item map[string]struct {
			N  string   `json:"N"`
			SS []string `json:"SS"`
		}
	}
	err := c.Call(context.Background(), "GetItem", map[string]any{
		"TableName": tbl, "ConsistentRead": true,
		"Key": map[string]any{config.TablePartitionKey: map[string]string{"S": id}},
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.Item == nil {
		return customer{}, false
	}
	var cu customer
	if err := json.Unmarshal([]byte(out.Item[totals.AttrOrderCount].N), &cu.Count); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out.Item[totals.AttrTotalCents].N), &cu.Total); err != nil {
		t.Fatal(err)
	}
	cu.IDs = out.Item[totals.AttrOrderIDs].SS
	return cu, true
}

func TestAddCountsEachOrderOnce(t *testing.T) {
	c, tbl := table(t)
	st, err := totals.New(c, tbl, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	orders := []order.Order{
		{OrderID: "o-1", CustomerID: "c-1", AmountCents: 1000},
		{OrderID: "o-2", CustomerID: "c-1", AmountCents: 250},
		{OrderID: "o-1", CustomerID: "c-1", AmountCents: 1000}, // resent
		{OrderID: "o-3", CustomerID: "c-2", AmountCents: 7},
		{OrderID: "o-2", CustomerID: "c-1", AmountCents: 250}, // redelivered
	}
	want := []totals.Outcome{totals.Applied, totals.Applied, totals.Duplicate, totals.Applied, totals.Duplicate}
	for i, o := range orders {
		got, err := st.Add(ctx, o)
		if err != nil || got != want[i] {
			t.Fatalf("Add(%+v) = %v, %v; want %v", o, got, err, want[i])
		}
	}
	if cu, _ := get(t, c, tbl, "c-1"); cu.Count != 2 || cu.Total != 1250 || len(cu.IDs) != 2 {
		t.Errorf("c-1 = %+v, want 2 orders, 1250 cents", cu)
	}
	if cu, _ := get(t, c, tbl, "c-2"); cu.Count != 1 || cu.Total != 7 {
		t.Errorf("c-2 = %+v, want 1 order, 7 cents", cu)
	}
}

func TestAddRefusesAFullCustomer(t *testing.T) {
	c, tbl := table(t)
	st, err := totals.New(c, tbl, nil)
	if err != nil {
		t.Fatal(err)
	}
	totals.SetMaxOrders(st, 3)
	ctx := context.Background()
	for _, id := range []string{"o-1", "o-2", "o-3"} {
		if _, err := st.Add(ctx, order.Order{OrderID: id, CustomerID: "c-1", AmountCents: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// A known order is still a duplicate, not an error.
	if got, err := st.Add(ctx, order.Order{OrderID: "o-2", CustomerID: "c-1", AmountCents: 1}); err != nil || got != totals.Duplicate {
		t.Fatalf("resend to a full customer = %v, %v; want Duplicate", got, err)
	}
	_, err = st.Add(ctx, order.Order{OrderID: "o-4", CustomerID: "c-1", AmountCents: 1})
	if !errors.Is(err, totals.ErrCustomerFull) || !strings.Contains(err.Error(), "o-4") {
		t.Fatalf("fourth order = %v, want ErrCustomerFull naming o-4", err)
	}
	if cu, _ := get(t, c, tbl, "c-1"); cu.Count != 3 || cu.Total != 3 {
		t.Errorf("c-1 = %+v, want 3 orders, 3 cents", cu)
	}
}

// failing answers every call with err.
type failing struct{ err error }

func (f failing) Do(context.Context, string, []byte) ([]byte, error) { return nil, f.err }

func TestAddPassesOtherErrorsOn(t *testing.T) {
	throttled := &awsjson.APIError{Service: "DynamoDB", Operation: "UpdateItem", StatusCode: 400, Code: "ProvisionedThroughputExceededException"}
	st, err := totals.New(failing{throttled}, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Add(context.Background(), order.Order{OrderID: "o", CustomerID: "c", AmountCents: 1}); !errors.Is(err, throttled) {
		t.Fatalf("Add = %v, want the throttling error", err)
	}
}

func TestNewChecksItsArguments(t *testing.T) {
	if _, err := totals.New(nil, "t", nil); err == nil {
		t.Error("New(nil client) succeeded")
	}
	if _, err := totals.New(failing{}, "", nil); err == nil || !strings.Contains(err.Error(), config.EnvTableName) {
		t.Errorf("New(empty table) = %v, want an error naming %s", err, config.EnvTableName)
	}
}
