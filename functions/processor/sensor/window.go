package sensor

import (
	"fmt"
	"time"
)

// Windows assigns event times to tumbling event-time windows aligned to the
// Unix epoch (so 1-minute windows start on the minute).
type Windows struct {
	size int64 // milliseconds
}

// NewWindows validates size: whole seconds, between 1 s and 24 h, and a
// divisor of 24 h so that windows line up with wall-clock days.
func NewWindows(size time.Duration) (Windows, error) {
	switch {
	case size < time.Second || size > 24*time.Hour:
		return Windows{}, fmt.Errorf("window size %s is out of range: use a duration between 1s and 24h, e.g. 1m", size)
	case size%time.Second != 0:
		return Windows{}, fmt.Errorf("window size %s is not a whole number of seconds: window_start is stored with second precision", size)
	case (24*time.Hour)%size != 0:
		return Windows{}, fmt.Errorf("window size %s does not divide 24h: pick one that does (1m, 5m, 15m, 1h, ...)", size)
	}
	return Windows{size: size.Milliseconds()}, nil
}

// ParseWindowSize reads a WINDOW_SIZE value ("1m", "5m", "30s"); empty means
// def.
func ParseWindowSize(v string, def time.Duration) (Windows, error) {
	if v == "" {
		return NewWindows(def)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return Windows{}, fmt.Errorf("window size %q is not a Go duration: use e.g. 1m or 30s", v)
	}
	return NewWindows(d)
}

// Size returns the window length.
func (w Windows) Size() time.Duration { return time.Duration(w.size) * time.Millisecond }

// Start returns the start (Unix ms) of the window holding event time ms.
func (w Windows) Start(ms int64) int64 {
	s := ms - ms%w.size
	if ms < 0 && ms%w.size != 0 {
		s -= w.size
	}
	return s
}

// End returns the (exclusive) end of the window that starts at start.
func (w Windows) End(start int64) int64 { return start + w.size }

// TimeLayout is RFC 3339 UTC with fixed millisecond precision, so stored
// event times sort as strings: "2026-11-25T10:07:03.120Z".
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// FormatTime formats Unix ms in TimeLayout.
func FormatTime(ms int64) string {
	var b [32]byte
	return string(AppendTime(b[:0], ms))
}

// FormatWindowStart formats a window start as the table's sort key.
func FormatWindowStart(ms int64) string {
	var b [32]byte
	return string(AppendWindowStart(b[:0], ms))
}
