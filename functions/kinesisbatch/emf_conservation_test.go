package kinesisbatch

import (
	"context"
	"errors"
	"testing"

	"github.com/streamproc/streamproc/functions/contract"
)

// Every invocation's EMF document carries the four counts of the
// conservation equation the construct's RecordConservation alarm watches —
// zeros included — and they add up: received = succeeded + quarantined +
// failed.
func TestEMFCarriesTheFourCounts(t *testing.T) {
	four := []string{contract.MetricRecordsReceived, contract.MetricRecordsSucceeded, contract.MetricRecordsQuarantined, contract.MetricRecordsFailed}
	for _, tc := range []struct {
		name                       string
		outcome                    func(r *Record) error
		received, ok, quar, failed float64
	}{
		{"all succeed", func(*Record) error { return nil }, 4, 4, 0, 0},
		{"one quarantined, one failing", func(r *Record) error {
			switch string(r.Data) {
			case "r1":
				return Permanent(errors.New("invalid"))
			case "r2":
				return errors.New("sink down")
			}
			return nil
		}, 4, 2, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, env := newTestProcessor(t, RecordFunc(func(_ context.Context, r *Record) error { return tc.outcome(r) }), Config{})
			p.Process(context.Background(), testRecords(4))
			doc := env.emf(t)
			var names []string
			for _, m := range doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Metrics"].([]any) {
				names = append(names, m.(map[string]any)["Name"].(string))
			}
			for _, n := range four {
				found := false
				for _, x := range names {
					found = found || x == n
				}
				if !found {
					t.Errorf("metric %s is not declared in the EMF directive %v", n, names)
				}
				if _, ok := doc[n].(float64); !ok {
					t.Errorf("metric %s has no value: %v", n, doc[n])
				}
			}
			got := [4]any{doc[four[0]], doc[four[1]], doc[four[2]], doc[four[3]]}
			if got != [4]any{tc.received, tc.ok, tc.quar, tc.failed} {
				t.Fatalf("received, succeeded, quarantined, failed = %v, want %v", got, [4]float64{tc.received, tc.ok, tc.quar, tc.failed})
			}
		})
	}
}
