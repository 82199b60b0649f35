package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPlanCLI runs the real binary: a plan for 1M records/s as
// JSON, the table, and a bad flag refused with status 2.
func TestPlanCLI(t *testing.T) {
	bin := buildCLI(t)
	stdout, stderr, code := runCLI(t, bin, nil, "", "plan", "--records-per-second", "1000000", "--record-bytes", "200",
		"--keys", "100000", "--stream-mode", "provisioned", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		Shards, Concurrency int
		MonthlyCostUSD      float64            `json:"monthly_cost_usd"`
		Breakdown           map[string]float64 `json:"breakdown_usd_per_month"`
		SeedStyle           struct {
			MonthlyCostUSD float64 `json:"monthly_cost_usd"`
		} `json:"seed_style"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if r.Shards < 1000 || r.Concurrency < r.Shards || r.MonthlyCostUSD <= 0 || len(r.Breakdown) != 5 || r.SeedStyle.MonthlyCostUSD <= 0 {
		t.Errorf("plan for 1M/s: %+v", r)
	}
	stdout, _, code = runCLI(t, bin, nil, "", "plan", "--records-per-second", "5000", "--keys", "500")
	if code != 0 || !strings.Contains(stdout, "saturates first") || !strings.Contains(stdout, "seed-style") {
		t.Errorf("table: exit %d\n%s", code, stdout)
	}
	_, stderr, code = runCLI(t, bin, nil, "", "plan", "--records-per-second", "10", "--stream-mode", "fast")
	if code != 2 || !strings.Contains(stderr, `stream mode "fast" is not valid`) {
		t.Errorf("bad mode: exit %d\n%s", code, stderr)
	}
}
