package kinesisbatch

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/contract"
)

func TestMetricsDefaultsFromEnvironment(t *testing.T) {
	t.Setenv(contract.EnvMetricsNamespace, "Orders")
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-fn")
	var out bytes.Buffer
	p := New(RecordFunc(func(ctx context.Context, r *Record) error { return nil }),
		Config{Logger: slog.New(slog.DiscardHandler), MetricsOutput: &out})
	p.Process(context.Background(), testRecords(1))
	var doc struct {
		AWS struct {
			CloudWatchMetrics []struct{ Namespace string }
		} `json:"_aws"`
		FunctionName string
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.AWS.CloudWatchMetrics[0].Namespace != "Orders" || doc.FunctionName != "orders-fn" {
		t.Fatalf("%s", out.String())
	}

	t.Setenv(contract.EnvMetricsNamespace, "")
	out.Reset()
	New(RecordFunc(func(ctx context.Context, r *Record) error { return nil }),
		Config{Logger: slog.New(slog.DiscardHandler), MetricsOutput: &out}).Process(context.Background(), testRecords(1))
	if !strings.Contains(out.String(), `"Namespace":"`+contract.DefaultMetricsNamespace+`"`) {
		t.Fatalf("%s", out.String())
	}
}

func TestMetricsLimitsAndNil(t *testing.T) {
	var m *Metrics // outside a Processor
	m.Add("X", UnitCount, 1)
	m.Observe("Y", UnitCount, 1)
	m.SetProperty("k", "v")
	if err := m.WriteEMF(io.Discard, "n", "f", time.Now()); err != nil {
		t.Fatal(err)
	}
	if MetricsFromContext(context.Background()) != nil {
		t.Fatal("metrics outside a Processor")
	}
	m = NewMetrics()
	for i := range 150 {
		m.Observe("Lag", UnitMilliseconds, float64(i))
	}
	m.Add("Count", UnitCount, 2)
	m.Add("Count", UnitCount, 3)
	var out bytes.Buffer
	_ = m.WriteEMF(&out, "n", "f", time.UnixMilli(1))
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if n := len(doc["Lag"].([]any)); n != 100 {
		t.Fatalf("%d values, EMF allows 100", n)
	}
	if doc["Count"] != 5.0 {
		t.Fatalf("Count %v", doc["Count"])
	}
}

func TestConfigFromEnvWithoutQueue(t *testing.T) {
	t.Setenv(contract.EnvQuarantineQueueURL, "")
	cfg, err := ConfigFromEnv(context.Background())
	if err != nil || cfg.Quarantine != nil {
		t.Fatalf("%+v %v", cfg, err)
	}
}

func TestLoggerShape(t *testing.T) {
	var out bytes.Buffer
	NewLogger(&out).Info("hello", "n", 1)
	var rec map[string]any
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("not JSON: %s", out.String())
	}
	if rec["message"] != "hello" || rec["level"] != "INFO" || rec["timestamp"] == nil || rec["n"] != 1.0 {
		t.Fatalf("%v", rec)
	}
}
