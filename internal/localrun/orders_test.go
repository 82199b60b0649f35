package localrun

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/producer"
)

// TestOrdersApp runs the second application (examples/orders, its own Go
// module) through the local pipeline from its synthesized template: its
// function is built in its module, its payloads come from its NDJSON file,
// and every record must be accounted for by the toolkit's metrics, the
// app's own metrics, the table and the DLQ. It needs the example's template:
// `make e2e` synthesizes it and sets STREAMPROC_ORDERS_TEMPLATE.
func TestOrdersApp(t *testing.T) {
	tmpl := os.Getenv("STREAMPROC_ORDERS_TEMPLATE")
	if tmpl == "" {
		t.Skip("STREAMPROC_ORDERS_TEMPLATE is not set: `make e2e` synthesizes examples/orders and runs this test")
	}
	root, err := emulator.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(root, "examples/orders/testdata/orders.ndjson")

	// What the file holds, read here without the app's code: orders without
	// a customer are invalid, a repeated order_id is a resend.
	f, err := os.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	var lines, invalid, resends int
	seen, customers := map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var o struct {
			OrderID    string `json:"order_id"`
			CustomerID string `json:"customer_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatal(err)
		}
		lines++
		switch {
		case o.CustomerID == "":
			invalid++
		case seen[o.OrderID]:
			resends++
		default:
			seen[o.OrderID], customers[o.CustomerID] = true, true
		}
	}
	f.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := Start(ctx, Options{Root: root, Template: tmpl, Package: "./examples/orders/functions/orders"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	in, err := os.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rep, err := producer.New(p.Kinesis, producer.Config{Stream: p.StreamName}).Run(ctx, producer.NDJSONSource(in))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitIdle(ctx, 2*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.FunctionLogTail())
	}
	s, err := p.Summarize(ctx, rep.Sent, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s.Aggregates {
		t.Fatal("the orders table was taken for the example's aggregate table")
	}
	if s.Produced != int64(lines) || !s.Accounted() {
		t.Errorf("produced %d of %d lines; accounted %v (succeeded %d, quarantined %d, DLQ %d)", s.Produced, lines, s.Accounted(), s.Succeeded, s.Quarantined, s.DLQBatchRecords)
	}
	if s.Quarantined != invalid || s.TableItems != len(customers) {
		t.Errorf("quarantined %d, customers in the table %d; want %d and %d", s.Quarantined, s.TableItems, invalid, len(customers))
	}
	if got := s.AppMetrics["OrdersApplied"]; got != float64(len(seen)) {
		t.Errorf("OrdersApplied %g, want %d unique valid orders", got, len(seen))
	}
	if got := s.AppMetrics["DuplicateOrders"]; got != float64(resends) {
		t.Errorf("DuplicateOrders %g, want %d resends", got, resends)
	}
}
