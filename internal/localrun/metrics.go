package localrun

import (
	"bytes"
	"encoding/json"
	"sync"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// emfSink reads the function's output line by line and adds up the values of
// CloudWatch Embedded Metric Format documents, as CloudWatch would; it keeps
// the last lines for diagnostics.
type emfSink struct {
	mu      sync.Mutex
	partial []byte
	sums    map[string]float64
	tail    [][]byte
}

func newEMFSink() *emfSink { return &emfSink{sums: map[string]float64{}} }

func (s *emfSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		line := s.partial[:i]
		s.take(line)
		s.partial = s.partial[i+1:]
	}
	if len(s.partial) > 1<<20 { // a line that never ends: drop it
		s.partial = nil
	}
	return len(p), nil
}

func (s *emfSink) take(line []byte) {
	if len(s.tail) >= 200 {
		s.tail = s.tail[1:]
	}
	s.tail = append(s.tail, append([]byte(nil), line...))
	if !bytes.Contains(line, []byte(`"_aws"`)) {
		return
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(line, &doc) != nil {
		return
	}
	var meta struct {
		CloudWatchMetrics []struct {
			Metrics []struct {
				Name string `json:"Name"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	if json.Unmarshal(doc["_aws"], &meta) != nil {
		return
	}
	for _, d := range meta.CloudWatchMetrics {
		for _, m := range d.Metrics {
			var v float64
			if json.Unmarshal(doc[m.Name], &v) == nil {
				s.sums[m.Name] += v
				continue
			}
			var vs []float64
			if json.Unmarshal(doc[m.Name], &vs) == nil {
				for _, x := range vs {
					s.sums[m.Name] += x
				}
			}
		}
	}
}

// Sums returns the metric totals so far.
func (s *emfSink) Sums() map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]float64, len(s.sums))
	for k, v := range s.sums {
		out[k] = v
	}
	return out
}

// Tail returns the function's last output lines.
func (s *emfSink) Tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(bytes.Join(s.tail, []byte("\n")))
}
