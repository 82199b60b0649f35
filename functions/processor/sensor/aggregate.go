package sensor

// Aggregate is the state of one (sensor, window): the statistics of the
// readings applied so far and the set of their event-id hashes. The set is
// what makes applying a reading idempotent: a reading whose hash is already in
// IDs is a redelivery and changes nothing.
type Aggregate struct {
	Count       int64
	Sum         Micro
	Min, Max    Micro
	First, Last int64    // earliest and latest event time applied, Unix ms
	IDs         []uint64 // applied event-id hashes, sorted ascending, unique
}

// Avg is Sum/Count rounded to the Micro.
func (a *Aggregate) Avg() Micro { return DivRound(a.Sum, a.Count) }

// MergeResult describes what Merge did with a group's points.
type MergeResult struct {
	Applied    int // readings new to the aggregate
	Duplicates int // readings already applied, or repeated inside the batch
}

// Merge applies the points (sorted by IDHash, as Batcher.Groups returns them)
// that a does not already hold and returns the new aggregate. a is not
// modified; the new IDs slice is built in dst[:0] (pass nil to allocate).
// When nothing is new, the result is a itself and Applied is 0.
func (a *Aggregate) Merge(points []Point, dst []uint64) (Aggregate, MergeResult) {
	var res MergeResult
	out := *a
	ids := a.IDs
	merged := dst[:0]
	if cap(merged) < len(ids)+len(points) {
		merged = make([]uint64, 0, len(ids)+len(points))
	}
	i := 0
	var last uint64
	haveLast := false
	for _, p := range points {
		if haveLast && p.IDHash == last {
			res.Duplicates++ // repeated inside this batch
			continue
		}
		for i < len(ids) && ids[i] < p.IDHash {
			merged = append(merged, ids[i])
			i++
		}
		last, haveLast = p.IDHash, true
		if i < len(ids) && ids[i] == p.IDHash {
			res.Duplicates++ // applied by an earlier delivery
			continue
		}
		merged = append(merged, p.IDHash)
		res.Applied++
		if out.Count == 0 {
			out.Min, out.Max, out.First, out.Last = p.Temp, p.Temp, p.Time, p.Time
		} else {
			out.Min = min(out.Min, p.Temp)
			out.Max = max(out.Max, p.Temp)
			out.First = min(out.First, p.Time)
			out.Last = max(out.Last, p.Time)
		}
		out.Count++
		out.Sum += p.Temp
	}
	if res.Applied == 0 {
		return *a, res
	}
	merged = append(merged, ids[i:]...)
	out.IDs = merged
	return out, res
}
