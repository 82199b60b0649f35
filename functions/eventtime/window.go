package eventtime

import (
	"fmt"
	"time"
)

// Window is an event-time window [Start, End), both in Unix milliseconds
// UTC.
type Window struct {
	Start, End int64
}

// StartTime and EndTime return the bounds as UTC times.
func (w Window) StartTime() time.Time { return time.UnixMilli(w.Start).UTC() }

// EndTime returns the exclusive end as a UTC time.
func (w Window) EndTime() time.Time { return time.UnixMilli(w.End).UTC() }

func (w Window) String() string {
	return w.StartTime().Format(time.RFC3339Nano) + "/" + w.EndTime().Format(time.RFC3339Nano)
}

// Assigner maps an event time to the windows that hold it. Windows are
// aligned to the Unix epoch, so 1-minute windows start on the minute (UTC).
type Assigner struct {
	size, slide int64 // ms; slide == size for tumbling windows
}

// Tumbling returns windows of length size that do not overlap: every event
// time is in exactly one. size must be a whole number of milliseconds, at
// least 1 ms.
func Tumbling(size time.Duration) (Assigner, error) { return Hopping(size, size) }

// Hopping returns windows of length size starting every slide: every event
// time is in size/slide windows. slide must divide size.
func Hopping(size, slide time.Duration) (Assigner, error) {
	switch {
	case size < time.Millisecond || size%time.Millisecond != 0:
		return Assigner{}, fmt.Errorf("eventtime: window size %s is not a positive whole number of milliseconds: use e.g. 1m", size)
	case slide < time.Millisecond || slide%time.Millisecond != 0:
		return Assigner{}, fmt.Errorf("eventtime: window slide %s is not a positive whole number of milliseconds: use e.g. 10s", slide)
	case slide > size || size%slide != 0:
		return Assigner{}, fmt.Errorf("eventtime: window slide %s does not divide window size %s: pick a slide that does (size/2, size/4, ...)", slide, size)
	case size/slide > 64:
		return Assigner{}, fmt.Errorf("eventtime: window size %s over slide %s puts each record in %d windows: use at most 64 (a larger slide)", size, slide, size/slide)
	}
	return Assigner{size: size.Milliseconds(), slide: slide.Milliseconds()}, nil
}

// Size is the window length.
func (a Assigner) Size() time.Duration { return time.Duration(a.size) * time.Millisecond }

// Slide is the distance between window starts (Size for tumbling windows).
func (a Assigner) Slide() time.Duration { return time.Duration(a.slide) * time.Millisecond }

// Assign appends the windows holding event time t (Unix ms) to dst, in
// ascending start order.
func (a Assigner) Assign(t int64, dst []Window) []Window {
	last := floorDiv(t, a.slide) * a.slide // latest window start <= t
	for s := last - a.size + a.slide; s <= last; s += a.slide {
		dst = append(dst, Window{Start: s, End: s + a.size})
	}
	return dst
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
