package sensor

import (
	"slices"
)

// Point is one reading reduced to what an aggregate needs, plus the caller's
// reference to the record it came from (an index into the Kinesis batch).
type Point struct {
	IDHash uint64
	Time   int64 // event time, Unix ms
	Temp   Micro
	Ref    int32
}

// Key names one aggregate: a sensor and the start of an event-time window.
type Key struct {
	SensorID    string
	WindowStart int64 // Unix ms
}

// Group is the batch's readings for one Key, sorted by IDHash and then by
// Ref (duplicates inside the batch are adjacent, in record order, and still
// present).
type Group struct {
	Key
	Points []Point
}

// Batcher groups a batch of readings by (sensor, window). Reuse one across
// invocations: its buffers are kept, so a warm Batcher does not allocate per
// reading. Not safe for concurrent use.
type Batcher struct {
	w      Windows
	index  map[Key]int32
	keys   []Key
	points []Point
	gidx   []int32 // group of points[i]
	sorted []Point
	counts []int
	groups []Group
}

// NewBatcher returns a Batcher for the given windows.
func NewBatcher(w Windows) *Batcher {
	return &Batcher{w: w, index: make(map[Key]int32, 512)}
}

// Windows returns the batcher's windowing.
func (b *Batcher) Windows() Windows { return b.w }

// Reset empties the batcher, keeping its buffers.
func (b *Batcher) Reset() {
	clear(b.index)
	b.keys = b.keys[:0]
	b.points = b.points[:0]
	b.gidx = b.gidx[:0]
	b.groups = b.groups[:0]
}

// Add files r under its (sensor, window) with the caller's reference ref.
func (b *Batcher) Add(r Reading, ref int32) {
	k := Key{SensorID: r.SensorID, WindowStart: b.w.Start(r.EventTime)}
	g, ok := b.index[k]
	if !ok {
		g = int32(len(b.keys))
		b.index[k] = g
		b.keys = append(b.keys, k)
	}
	b.points = append(b.points, Point{IDHash: r.EventIDHash, Time: r.EventTime, Temp: r.Temperature, Ref: ref})
	b.gidx = append(b.gidx, g)
}

// Len is the number of readings added.
func (b *Batcher) Len() int { return len(b.points) }

// Groups returns the groups in first-seen order, each with its points sorted
// by IDHash. The slices alias the batcher's buffers: valid until Reset.
func (b *Batcher) Groups() []Group {
	n := len(b.keys)
	b.counts = slices.Grow(b.counts[:0], n+1)[:n+1]
	clear(b.counts)
	for _, g := range b.gidx {
		b.counts[g+1]++
	}
	for i := 1; i <= n; i++ {
		b.counts[i] += b.counts[i-1]
	}
	b.sorted = slices.Grow(b.sorted[:0], len(b.points))[:len(b.points)]
	next := b.counts[:n] // reuse as the fill cursor; counts[g] is the start of g
	for i, p := range b.points {
		g := b.gidx[i]
		b.sorted[next[g]] = p
		next[g]++
	}
	// next[g] is now the end of g; the start is the previous group's end.
	b.groups = slices.Grow(b.groups[:0], n)[:n]
	start := 0
	for g := 0; g < n; g++ {
		end := next[g]
		pts := b.sorted[start:end:end]
		sortByHash(pts)
		b.groups[g] = Group{Key: b.keys[g], Points: pts}
		start = end
	}
	return b.groups
}

func sortByHash(p []Point) {
	if len(p) <= 12 {
		for i := 1; i < len(p); i++ {
			for j := i; j > 0 && p[j].IDHash < p[j-1].IDHash; j-- {
				p[j], p[j-1] = p[j-1], p[j]
			}
		}
		return
	}
	slices.SortFunc(p, func(a, b Point) int {
		switch {
		case a.IDHash < b.IDHash:
			return -1
		case a.IDHash > b.IDHash:
			return 1
		}
		return int(a.Ref - b.Ref) // duplicates keep record order: the first one wins
	})
}
