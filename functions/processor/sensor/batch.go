package sensor

import (
	"slices"
	"unsafe"
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
	w     Windows
	index map[Key]int32
	// fast maps (sensor id string data, length, window start) to the group,
	// in front of index: sensor ids come interned from the Decoder, so the
	// same id is the same pointer and needs no string hashing. A miss (a new
	// key, or an equal id at another address) goes to index.
	fast     []fastSlot
	fastUsed int
	keys     []Key
	points   []Point
	gidx     []int32 // group of points[i]
	sorted   []Point
	counts   []int
	groups   []Group
}

type fastSlot struct {
	p     unsafe.Pointer // nil: empty
	n     int32          // len of the id
	group int32
	ws    int64
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
	if b.fastUsed > 0 {
		clear(b.fast) // also lets the ids go
		b.fastUsed = 0
	}
	b.keys = b.keys[:0]
	b.points = b.points[:0]
	b.gidx = b.gidx[:0]
	b.groups = b.groups[:0]
}

// Add files r under its (sensor, window) with the caller's reference ref.
func (b *Batcher) Add(r Reading, ref int32) {
	ws := b.w.Start(r.EventTime)
	g := b.group(r.SensorID, ws)
	b.points = append(b.points, Point{IDHash: r.EventIDHash, Time: r.EventTime, Temp: r.Temperature, Ref: ref})
	b.gidx = append(b.gidx, g)
}

// group returns the group of (id, ws), creating it if new.
func (b *Batcher) group(id string, ws int64) int32 {
	p := unsafe.Pointer(unsafe.StringData(id))
	if p == nil || len(id) > 1<<30 {
		return b.slowGroup(id, ws)
	}
	if len(b.fast) == 0 {
		b.fast = make([]fastSlot, 1024)
	}
	mask := uint64(len(b.fast) - 1)
	h := (uint64(uintptr(p)) ^ uint64(ws)*0x9E3779B97F4A7C15) * 0xBF58476D1CE4E5B9
	for i := h >> 32 & mask; ; i = (i + 1) & mask {
		e := &b.fast[i]
		if e.p == nil {
			g := b.slowGroup(id, ws)
			*e = fastSlot{p: p, n: int32(len(id)), group: g, ws: ws}
			b.fastUsed++
			if b.fastUsed*2 > len(b.fast) {
				b.growFast()
			}
			return g
		}
		if e.p == p && e.ws == ws && int(e.n) == len(id) {
			return e.group
		}
	}
}

func (b *Batcher) growFast() {
	old := b.fast
	b.fast = make([]fastSlot, 2*len(old))
	mask := uint64(len(b.fast) - 1)
	for _, e := range old {
		if e.p == nil {
			continue
		}
		h := (uint64(uintptr(e.p)) ^ uint64(e.ws)*0x9E3779B97F4A7C15) * 0xBF58476D1CE4E5B9
		i := h >> 32 & mask
		for b.fast[i].p != nil {
			i = (i + 1) & mask
		}
		b.fast[i] = e
	}
}

func (b *Batcher) slowGroup(id string, ws int64) int32 {
	k := Key{SensorID: id, WindowStart: ws}
	g, ok := b.index[k]
	if !ok {
		g = int32(len(b.keys))
		b.index[k] = g
		b.keys = append(b.keys, k)
	}
	return g
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
	if len(p) <= 64 {
		// Typical groups (tens of points): insertion sort on (IDHash, Ref),
		// the order the general sort below gives, without its per-compare
		// calls.
		for i := 1; i < len(p); i++ {
			x := p[i]
			j := i
			for ; j > 0 && (x.IDHash < p[j-1].IDHash || x.IDHash == p[j-1].IDHash && x.Ref < p[j-1].Ref); j-- {
				p[j] = p[j-1]
			}
			p[j] = x
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
