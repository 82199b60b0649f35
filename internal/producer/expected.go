package producer

import "time"

// WindowKey names one aggregate: a sensor and the start of an event-time window.
type WindowKey struct {
	SensorID string
	Start    time.Time // UTC, a multiple of the window size since the Unix epoch
}

// Window is the aggregate a correct pipeline stores for one WindowKey, in
// exact integers: temperatures in hundredths of a degree.
type Window struct {
	Count                     int64
	SumCenti                  int64
	MinCenti, MaxCenti        int64
	FirstEventMs, LastEventMs int64 // smallest and largest event time, Unix ms
}

// Avg is the mean temperature in °C.
func (w Window) Avg() float64 { return float64(w.SumCenti) / float64(w.Count) / 100 }

// ExpectedWindows folds the readings that must be applied — each Valid
// record once; Duplicate and Invalid records never — into per-(sensor,
// window) aggregates. It is an oracle for end-to-end tests, written apart
// from the processor's own code: compare what the pipeline stored with it.
func ExpectedWindows(recs []Record, size time.Duration) map[WindowKey]Window {
	ms := size.Milliseconds()
	out := map[WindowKey]Window{}
	applied := map[string]bool{}
	for _, r := range recs {
		if r.Kind != Valid || applied[r.Reading.EventID] {
			continue
		}
		applied[r.Reading.EventID] = true
		rd := r.Reading
		start := rd.TS - ((rd.TS%ms)+ms)%ms
		k := WindowKey{SensorID: rd.SensorID, Start: time.UnixMilli(start).UTC()}
		w, ok := out[k]
		if !ok {
			w = Window{MinCenti: rd.TempCenti, MaxCenti: rd.TempCenti, FirstEventMs: rd.TS, LastEventMs: rd.TS}
		}
		w.Count++
		w.SumCenti += rd.TempCenti
		w.MinCenti = min(w.MinCenti, rd.TempCenti)
		w.MaxCenti = max(w.MaxCenti, rd.TempCenti)
		w.FirstEventMs = min(w.FirstEventMs, rd.TS)
		w.LastEventMs = max(w.LastEventMs, rd.TS)
		out[k] = w
	}
	return out
}
