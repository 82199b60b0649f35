package sim

import (
	"fmt"
	"strings"

	"github.com/streamproc/streamproc/internal/plan"
)

// Row is one rate of a sweep: the planner's design and prediction, and what
// the simulation of that design measured.
type Row struct {
	Plan plan.Result `json:"plan"`
	Sim  Result      `json:"sim"`
}

// DefaultRates is the sweep from 1,000 to 1,000,000 records/s.
var DefaultRates = []float64{1_000, 10_000, 100_000, 1_000_000}

// Sweep plans in at each rate (peak scaled with the average) and simulates
// each plan with base's settings. A base TableWCU of 0 simulates the table
// throughput the plan asks for: its partitions x 1,000 WCU/s, at least the
// 40,000 default quota.
func Sweep(in plan.Input, rates []float64, base Config) ([]Row, error) {
	var rows []Row
	for _, rate := range rates {
		x := in
		ratio := 1.0
		if in.PeakRecordsPerSecond > 0 && in.RecordsPerSecond > 0 {
			ratio = in.PeakRecordsPerSecond / in.RecordsPerSecond
		}
		x.RecordsPerSecond, x.PeakRecordsPerSecond = rate, rate*ratio
		p, err := plan.Compute(x)
		if err != nil {
			return nil, err
		}
		cfg := base
		cfg.Input, cfg.Design = x, p.Design
		if cfg.TableWCU == 0 {
			cfg.TableWCU = max(40_000, float64(p.Partitions)*1000)
		}
		rows = append(rows, Row{Plan: p, Sim: Run(cfg)})
	}
	return rows, nil
}

// Table renders a sweep: planner prediction / simulated figure per column.
func Table(rows []Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%10s %6s %3s %15s %13s %15s %13s %15s %21s %10s %17s\n",
		"records/s", "shards", "pf", "iter age s p/s", "conc max p/s", "conc avg p/s", "invokes/s p/s", "writes/rec p/s", "$/month p/s", "throttles", "boundaries/firings")
	for _, r := range rows {
		p, s := r.Plan, r.Sim
		age := fmt.Sprintf("%.1f/%.1f", p.IteratorAgeSeconds, s.IteratorAgeMax)
		if !s.KeepsUp {
			age = fmt.Sprintf("%.1f/behind", p.IteratorAgeSeconds)
		}
		fmt.Fprintf(&b, "%10.0f %6d %3d %15s %13s %15s %13s %15s %21s %10s %17s\n",
			p.Input.PeakRecordsPerSecond, p.Shards, p.ParallelizationFactor, age,
			fmt.Sprintf("%d/%.0f", p.Concurrency, s.ConcurrencyMax),
			fmt.Sprintf("%.1f/%.1f", p.AverageConcurrency, s.ConcurrencyAvg),
			fmt.Sprintf("%.0f/%.0f", p.InvocationsPerSecond, s.InvocationsPerSecond),
			fmt.Sprintf("%.3f/%.3f", p.WritesPerRecord, s.WritesPerRecord),
			fmt.Sprintf("%.0f/%.0f", p.MonthlyCostUSD, s.MonthlyCostUSD),
			fmt.Sprintf("%d+%d", s.ConcurrencyThrottles, s.ThrottledWrites),
			fmt.Sprintf("%d/%d", s.BoundariesFired, s.BoundaryFirings))
	}
	return b.String()
}
