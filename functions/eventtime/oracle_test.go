package eventtime_test

// The oracle: a reference model of event-time semantics, written for
// clarity and independently of the engine's storage (no versions, no
// encoding, no hashing, no retries): every record is processed once, at its
// first delivery, in delivery order.
//
//   - a shard's watermark is its highest event time seen minus the
//     out-of-orderness bound; the stream's is the lowest of the active open
//     shards' (the highest idle one's if none is active), never moving back;
//   - a delivery is judged against the stream watermark of the latest
//     firing; a record is late for a window whose End + lateness <= that
//     watermark, or that an earlier late record closed;
//   - a delivery fires when it is its shard's first, or when it moved its
//     shard's watermark across a window end or a window end + lateness
//     since the shard's latest firing; the schedule fires too;
//   - a firing recomputes the watermark, and every window with
//     End <= watermark publishes its value if it changed since its last
//     result (revision 0, then corrections 1, 2, ...); a window with
//     End + lateness <= watermark closes.

import (
	"math"
	"slices"
	"sort"

	"github.com/streamproc/streamproc/functions/eventtime"
)

type oShard struct {
	maxEvent, lastActive int64
	closed               bool
	fired                int64 // the shard's watermark at its latest firing
}

type oWindow struct {
	agg       eventtime.Stats
	applied   []string
	changed   bool // since the last result
	revisions int64
	closed    bool
	late      []string
}

type oResult struct {
	id    string
	key   string
	win   eventtime.Window
	rev   int64
	last  bool
	value eventtime.Stats
}

type oLate struct {
	id, key string
	win     eventtime.Window
}

type oracle struct {
	windows eventtime.Assigner
	ooo, l  int64
	idle    int64
	stream  int64
	shards  map[string]*oShard
	wins    map[eventtime.WindowKey]*oWindow
	seen    map[string]bool
	results []oResult
	late    []oLate
}

func newOracle(a eventtime.Assigner, ooo, lateness, idle int64) *oracle {
	return &oracle{windows: a, ooo: ooo, l: lateness, idle: idle, stream: math.MinInt64,
		shards: map[string]*oShard{}, wins: map[eventtime.WindowKey]*oWindow{}, seen: map[string]bool{}}
}

func (o *oracle) watermark(now int64) int64 {
	var active, idle []int64
	for _, s := range o.shards {
		if s.closed {
			continue
		}
		wm := int64(math.MinInt64)
		if s.maxEvent != math.MinInt64 {
			wm = s.maxEvent - o.ooo
		}
		if o.idle > 0 && now-s.lastActive >= o.idle {
			idle = append(idle, wm)
		} else {
			active = append(active, wm)
		}
	}
	w := int64(math.MinInt64)
	switch {
	case len(active) > 0:
		w = slices.Min(active)
	case len(idle) > 0:
		w = slices.Max(idle)
	}
	return max(w, o.stream)
}

func (o *oracle) closeParents(parents []string) {
	for _, p := range parents {
		s := o.shards[p]
		if s == nil {
			s = &oShard{maxEvent: math.MinInt64, lastActive: math.MinInt64}
			o.shards[p] = s
		}
		s.closed = true
	}
}

// deliver processes a delivery at processing time now and reports
// whether it fired.
func (o *oracle) deliver(shard string, recs []rec, now int64, parents []string) bool {
	if _, ok := o.shards[shard]; !ok {
		o.closeParents(parents)
	}
	w := o.stream
	for _, r := range recs {
		if o.seen[r.id] {
			continue
		}
		o.seen[r.id] = true
		for _, win := range o.windows.Assign(r.t, nil) {
			k := eventtime.WindowKey{Key: r.key, Window: win}
			ow := o.wins[k]
			if ow == nil {
				ow = &oWindow{}
				o.wins[k] = ow
			}
			if ow.closed || win.End+o.l <= w {
				ow.closed = true
				ow.late = append(ow.late, r.id)
				o.late = append(o.late, oLate{r.id, r.key, win})
				continue
			}
			ow.agg = ow.agg.Add(r.t, r.v)
			ow.applied = append(ow.applied, r.id)
			ow.changed = true
		}
	}
	s := o.shards[shard]
	isNew := s == nil
	if isNew {
		s = &oShard{maxEvent: math.MinInt64, fired: math.MinInt64}
		o.shards[shard] = s
	}
	for _, r := range recs {
		s.maxEvent = max(s.maxEvent, r.t)
	}
	s.lastActive = now
	wm := s.maxEvent - o.ooo
	if !isNew && !o.crossed(s.fired, wm) {
		return false
	}
	s.fired = max(s.fired, wm)
	o.fire(now)
	return true
}

// crossed reports whether a window of the assigner ends, or ends plus the
// lateness, in (from, to]. The earliest window holding an instant ends at
// the first end after it.
func (o *oracle) crossed(from, to int64) bool {
	if to <= from {
		return false
	}
	if from == math.MinInt64 {
		return true
	}
	nextEnd := func(t int64) int64 {
		ends := math.MaxInt64
		for _, w := range o.windows.Assign(t, nil) {
			ends = min(ends, int(w.End))
		}
		return int64(ends)
	}
	return nextEnd(from) <= to || nextEnd(from-o.l)+o.l <= to
}

func (o *oracle) fire(now int64) {
	o.stream = o.watermark(now)
	if o.stream == math.MinInt64 {
		return
	}
	var keys []eventtime.WindowKey
	for k := range o.wins {
		if k.Window.End <= o.stream {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Window != keys[j].Window {
			return keys[i].Window.Start < keys[j].Window.Start || (keys[i].Window.Start == keys[j].Window.Start && keys[i].Window.End < keys[j].Window.End)
		}
		return keys[i].Key < keys[j].Key
	})
	for _, k := range keys {
		ow := o.wins[k]
		if k.Window.End+o.l <= o.stream {
			ow.closed = true
		}
		if ow.changed {
			o.results = append(o.results, oResult{id: eventtime.ResultID(k.Key, k.Window, ow.revisions), key: k.Key, win: k.Window, rev: ow.revisions, last: ow.closed, value: ow.agg})
			ow.revisions++
			ow.changed = false
		}
	}
}
