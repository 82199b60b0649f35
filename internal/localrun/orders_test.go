package localrun

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/producer"
)

// TestOrdersApp runs the second application (examples/orders, its own Go
// module: revenue per customer in hopping event-time windows on the engine)
// through the local pipeline from its synthesized template: its function is
// built in its module, its payloads come from its NDJSON file. The results
// stream must carry one final result per (customer, window) that the
// watermark closed, with the revenue computed here from the file; the late
// orders must be in the late output, the invalid ones quarantined, and every
// record accounted for. It needs the example's template: `make e2e`
// synthesizes it and sets STREAMPROC_ORDERS_TEMPLATE.
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
	st, err := LoadStack(tmpl, "")
	if err != nil {
		t.Fatal(err)
	}
	envDuration := func(name string) time.Duration {
		v, _ := st.Func.Env[name].(string)
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("the template's %s = %v: %v", name, st.Func.Env[name], err)
		}
		return d
	}
	size, slide := envDuration("WINDOW_SIZE"), envDuration("WINDOW_SLIDE")
	ooo := envDuration(contract.EnvEventTimeOutOfOrderness)
	if st.Stream.ShardCount != 1 {
		t.Fatalf("the orders stream has %d shards: this test computes the final watermark of one", st.Stream.ShardCount)
	}
	want := readOrders(t, data, size, slide, ooo)

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
	start := time.Now()
	// In file order, as `streamctl local --from` sends it: one call at a time.
	rep, err := producer.New(p.Kinesis, producer.Config{Stream: p.StreamName, Concurrency: 1}).Run(ctx, producer.NDJSONSource(in))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitIdle(ctx, 2*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.FunctionLogTail())
	}
	s, err := p.Summarize(ctx, rep.Sent, time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	s.Print(os.Stdout)
	if !s.EventTime || s.Aggregates {
		t.Fatalf("EventTime %v, Aggregates %v: want the engine's state table with the app's own aggregate", s.EventTime, s.Aggregates)
	}
	if s.Produced != int64(want.lines) || !s.Accounted() {
		t.Errorf("produced %d of %d lines; accounted %v (succeeded %d, quarantined %d, DLQ %d)", s.Produced, want.lines, s.Accounted(), s.Succeeded, s.Quarantined, s.DLQBatchRecords)
	}
	if s.Quarantined != want.invalid || s.Late != int64(want.late) {
		t.Errorf("quarantined %d, late %d; want %d invalid and %d late orders", s.Quarantined, s.Late, want.invalid, want.late)
	}
	if got := s.AppMetrics["OrdersApplied"]; got != float64(want.onTime) {
		t.Errorf("OrdersApplied %g, want %d unique valid orders on time", got, want.onTime)
	}
	if got := s.AppMetrics["DuplicateOrders"]; got != float64(want.resends) {
		t.Errorf("DuplicateOrders %g, want %d resends", got, want.resends)
	}

	// The results stream: per (customer, window) one final result, for
	// exactly the windows the final watermark passed, and the latest
	// revision's revenue as computed from the file.
	msgs, err := p.ResultMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		customer string
		start    int64
	}
	finals, latest := map[key]int{}, map[key]revenueValue{}
	revs := map[key]int64{}
	ids := map[string]bool{}
	for _, m := range msgs {
		if ids[m.ID] {
			continue // a redelivery of the same result (the sinks are at least once)
		}
		ids[m.ID] = true
		k := key{m.Key, m.WindowStart.UnixMilli()}
		if m.WindowEnd.Sub(m.WindowStart) != size {
			t.Errorf("result %s: window %s to %s is not %s long", m.ID, m.WindowStart, m.WindowEnd, size)
		}
		var v revenueValue
		if err := json.Unmarshal(m.Value, &v); err != nil {
			t.Fatalf("result %s: value %s: %v", m.ID, m.Value, err)
		}
		if m.Revision == 0 {
			finals[k]++
		}
		if r, ok := revs[k]; !ok || m.Revision > r {
			revs[k], latest[k] = m.Revision, v
		}
	}
	if len(msgs) > 0 {
		b, _ := json.Marshal(msgs[len(msgs)/2])
		t.Logf("a result on the results stream: %s", b)
	}
	wrong := 0
	for c, byStart := range want.windows {
		for ws, v := range byStart {
			k := key{c, ws}
			if finals[k] != 1 || latest[k] != v {
				if wrong++; wrong <= 5 {
					t.Errorf("%s window %s: %d final results, latest %+v; want 1, %+v", c, time.UnixMilli(ws).UTC().Format(time.RFC3339), finals[k], latest[k], v)
				}
			}
			delete(finals, k)
		}
	}
	if len(finals) != 0 {
		t.Errorf("%d (customer, window) results for windows the watermark did not pass or that hold no order", len(finals))
	}
	t.Logf("%d lines: %d unique orders on time, %d late, %d resends, %d invalid; %d (customer, window) final results expected up to the watermark %s, %d published (%d messages)",
		want.lines, want.onTime, want.late, want.resends, want.invalid, want.count(), time.UnixMilli(want.watermark).UTC().Format(time.RFC3339Nano), s.FinalResults, s.ResultMessages)
	if wrong > 0 {
		t.Errorf("%d of %d windows wrong", wrong, want.count())
	}
}

// revenueValue is the app's aggregate as it publishes it, decoded here
// without the app's code.
type revenueValue struct {
	Orders       int64 `json:"orders"`
	Cents        int64 `json:"cents"`
	LargestCents int64 `json:"largest_cents"`
}

type ordersFile struct {
	lines, invalid, resends, late, onTime int
	watermark                             int64                             // the stream watermark after the last batch
	windows                               map[string]map[int64]revenueValue // customer -> window start (ms) -> revenue, windows that end by the watermark
}

func (f ordersFile) count() int {
	n := 0
	for _, ws := range f.windows {
		n += len(ws)
	}
	return n
}

// readOrders reads the file with its own rules, not the app's code: an order
// needs order_id, customer_id, an amount from 1 to 100,000,000 cents and an
// RFC 3339 placed_at with a zone; a repeated order_id is a resend; an order
// placed more than an hour before the file's first one is late (its windows
// closed as soon as a first batch moved the watermark; the file puts those
// far behind line 500, past the first batch). Windows: every start s (a
// multiple of slide) with s <= placed_at < s+size.
func readOrders(t *testing.T, path string, size, slide, ooo time.Duration) ordersFile {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := ordersFile{windows: map[string]map[int64]revenueValue{}}
	seen := map[string]bool{}
	var first, maxAt int64
	type placed struct {
		customer  string
		at, cents int64
	}
	var onTime []placed
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out.lines++
		var o struct {
			OrderID     string `json:"order_id"`
			CustomerID  string `json:"customer_id"`
			AmountCents int64  `json:"amount_cents"`
			PlacedAt    string `json:"placed_at"`
		}
		err := json.Unmarshal(sc.Bytes(), &o)
		at, terr := time.Parse(time.RFC3339, o.PlacedAt)
		switch {
		case err != nil || terr != nil || o.OrderID == "" || o.CustomerID == "" || o.AmountCents < 1 || o.AmountCents > 100_000_000:
			out.invalid++
			continue
		case seen[o.OrderID]:
			out.resends++
			continue
		}
		seen[o.OrderID] = true
		ms := at.UnixMilli()
		if first == 0 {
			first = ms
		}
		maxAt = max(maxAt, ms)
		if ms < first-time.Hour.Milliseconds() {
			out.late++
			continue
		}
		out.onTime++
		onTime = append(onTime, placed{o.CustomerID, ms, o.AmountCents})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	out.watermark = maxAt - ooo.Milliseconds()
	sz, sl := size.Milliseconds(), slide.Milliseconds()
	for _, o := range onTime {
		last := o.at - ((o.at%sl)+sl)%sl // the latest start <= at
		for s := last - sz + sl; s <= last; s += sl {
			if s+sz > out.watermark {
				continue // not final yet
			}
			ws := out.windows[o.customer]
			if ws == nil {
				ws = map[int64]revenueValue{}
				out.windows[o.customer] = ws
			}
			v := ws[s]
			v.Orders, v.Cents, v.LargestCents = v.Orders+1, v.Cents+o.cents, max(v.LargestCents, o.cents)
			ws[s] = v
		}
	}
	if out.count() == 0 {
		t.Fatalf("%s holds no window that closes", path)
	}
	return out
}
