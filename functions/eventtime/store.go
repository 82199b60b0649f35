package eventtime

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"sync"
)

// WindowKey names one window of one key.
type WindowKey struct {
	Key    string
	Window Window
}

// WindowState is the stored state of one (key, window). The engine changes
// it only through Store.PutWindow conditioned on Version, so every change
// includes the record ids it applied: that is what makes applying and
// publishing exactly once.
type WindowState struct {
	// Version is the store's optimistic-concurrency token: 0 for a window
	// that is not stored, incremented by every PutWindow.
	Version int64
	// Agg is the encoded aggregate (Codec) of the applied records.
	Agg []byte
	// Applied and Late are the sorted, unique HashID values of the records
	// applied to the window and of those sent to the late output for it.
	Applied, Late []uint64
	// Closed: the watermark passed End + allowed lateness. A closed window
	// takes no more records: they are late.
	Closed bool
	// DataVersion counts changes of Agg; PublishedData is the DataVersion
	// of the last result published; Revisions is the number of results
	// published (the next result's revision).
	DataVersion, PublishedData, Revisions int64
	// Pending is a result whose content and revision are decided but whose
	// publication is not confirmed yet. It is published (again) before
	// anything else happens to the window's results.
	Pending *PendingResult
}

// Done reports whether the window needs nothing more: closed, with every
// change published. A stored window that is not done is due once the
// watermark passes its end.
func (s *WindowState) Done() bool {
	return s.Closed && s.Pending == nil && s.PublishedData == s.DataVersion
}

// PendingResult is a reserved result: revision Revision of the window with
// the aggregate Agg as of DataVersion.
type PendingResult struct {
	Revision    int64
	DataVersion int64
	Agg         []byte
	// Closed: the window was closed when the result was reserved, so this
	// is its last revision.
	Closed bool
	// ReservedAt is the processing time of the reservation (Unix ms).
	ReservedAt int64
}

// ShardState is the stored watermark state of one shard.
type ShardState struct {
	Shard string
	// MaxEventTime is the highest event time seen on the shard (Unix ms).
	MaxEventTime int64
	// LastActive is the processing time (Unix ms) of the shard's latest
	// batch.
	LastActive int64
	// Closed: the shard ended (split or merge) and was read to its end.
	Closed bool
	// Fired is the shard's watermark at the latest batch of it that fired
	// (math.MinInt64 if none): the next batch fires when its watermark
	// crossed a firing boundary since.
	Fired int64
	// Version is the store's token of the state as read (GetShard); 0 for
	// a shard not read or not stored. PutShard writes once when it is
	// still the stored one.
	Version int64
}

// Watermarks is the stored watermark state of a stream.
type Watermarks struct {
	// Stream is the stream's watermark as last stored (only moves forward);
	// math.MinInt64 if none.
	Stream int64
	Shards []ShardState
}

// ErrConflict is returned (wrapped) by Store.PutWindow when the stored
// version is not the expected one.
var ErrConflict = errors.New("eventtime: window changed since it was read")

// Store keeps window state and watermarks. Implementations: MemoryStore (in
// memory, for tests and single-process use) and DynamoStore.
type Store interface {
	// GetWindows reads the current state of each key (strongly consistent);
	// a window not stored reads as the zero WindowState. keys is only valid
	// during the call: the engine reuses its array.
	GetWindows(ctx context.Context, keys []WindowKey) ([]WindowState, error)
	// PutWindow stores s for k if the stored version is s.Version (0: not
	// stored) and returns the new version; otherwise it returns an error
	// wrapping ErrConflict. A stored window is due (listed by DueWindows)
	// until a PutWindow stores it Done.
	PutWindow(ctx context.Context, k WindowKey, s WindowState) (int64, error)
	// DueWindows lists the windows that are due at watermark w: stored,
	// not done, and End <= w.
	DueWindows(ctx context.Context, w int64) ([]WindowKey, error)
	// GetWatermarks reads the stream and every shard's watermark state
	// (Fire's view of the stream).
	GetWatermarks(ctx context.Context) (Watermarks, error)
	// GetShard reads the stream watermark (math.MinInt64 if none) and the
	// state of one shard, found false if it is not stored (strongly
	// consistent): what a batch needs.
	GetShard(ctx context.Context, shard string) (stream int64, s ShardState, found bool, err error)
	// PutShard stores s, keeping the larger MaxEventTime, LastActive and
	// Fired of s and the stored state, and Closed once set.
	PutShard(ctx context.Context, s ShardState) error
	// AdvanceStream stores w as the stream watermark if it is larger than
	// the stored one.
	AdvanceStream(ctx context.Context, w int64) error
	// TakeFireLease takes the stream's firing lease until processing time
	// until (Unix ms) unless another holder's lease lasts past now; false
	// (and no error) when it is held.
	TakeFireLease(ctx context.Context, now, until int64) (bool, error)
	// ReleaseFireLease gives up the lease taken with until; nothing
	// happens if another firing took it over since.
	ReleaseFireLease(ctx context.Context, until int64) error
}

// MemoryStore is a Store in memory, safe for concurrent use. It is what the
// engine's tests run on, and fits a single process that keeps its state
// for as long as it runs.
type MemoryStore struct {
	mu      sync.Mutex
	windows map[WindowKey]WindowState
	due     map[WindowKey]bool
	stream  int64
	shards  map[string]ShardState
	lease   int64 // firing lease held until (Unix ms); 0: none
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{windows: map[WindowKey]WindowState{}, due: map[WindowKey]bool{}, stream: minTime, shards: map[string]ShardState{}}
}

func cloneState(s WindowState) WindowState {
	s.Agg = slices.Clone(s.Agg)
	s.Applied = slices.Clone(s.Applied)
	s.Late = slices.Clone(s.Late)
	if s.Pending != nil {
		p := *s.Pending
		p.Agg = slices.Clone(p.Agg)
		s.Pending = &p
	}
	return s
}

// GetWindows implements Store.
func (m *MemoryStore) GetWindows(_ context.Context, keys []WindowKey) ([]WindowState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]WindowState, len(keys))
	for i, k := range keys {
		out[i] = cloneState(m.windows[k])
	}
	return out, nil
}

// PutWindow implements Store.
func (m *MemoryStore) PutWindow(_ context.Context, k WindowKey, s WindowState) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.windows[k].Version != s.Version {
		return 0, ErrConflict
	}
	s = cloneState(s)
	s.Version++
	m.windows[k] = s
	if s.Done() {
		delete(m.due, k)
	} else {
		m.due[k] = true
	}
	return s.Version, nil
}

// DueWindows implements Store.
func (m *MemoryStore) DueWindows(_ context.Context, w int64) ([]WindowKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []WindowKey
	for k := range m.due {
		if k.Window.End <= w {
			out = append(out, k)
		}
	}
	sortKeys(out)
	return out, nil
}

// GetWatermarks implements Store.
func (m *MemoryStore) GetWatermarks(context.Context) (Watermarks, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	wm := Watermarks{Stream: m.stream}
	for _, id := range slices.Sorted(maps.Keys(m.shards)) {
		wm.Shards = append(wm.Shards, m.shards[id])
	}
	return wm, nil
}

// GetShard implements Store.
func (m *MemoryStore) GetShard(_ context.Context, shard string) (int64, ShardState, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.shards[shard]
	return m.stream, s, ok, nil
}

// PutShard implements Store.
func (m *MemoryStore) PutShard(_ context.Context, s ShardState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.Version = 0
	if old, ok := m.shards[s.Shard]; ok {
		s.MaxEventTime = max(s.MaxEventTime, old.MaxEventTime)
		s.LastActive = max(s.LastActive, old.LastActive)
		s.Fired = max(s.Fired, old.Fired)
		s.Closed = s.Closed || old.Closed
		s.Version = old.Version
	}
	s.Version++
	m.shards[s.Shard] = s
	return nil
}

// TakeFireLease implements Store.
func (m *MemoryStore) TakeFireLease(_ context.Context, now, until int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lease != 0 && m.lease >= now {
		return false, nil
	}
	m.lease = until
	return true, nil
}

// ReleaseFireLease implements Store.
func (m *MemoryStore) ReleaseFireLease(_ context.Context, until int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lease == until {
		m.lease = 0
	}
	return nil
}

// AdvanceStream implements Store.
func (m *MemoryStore) AdvanceStream(_ context.Context, w int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stream = max(m.stream, w)
	return nil
}

// Windows returns every stored window, by key (for tests and inspection).
func (m *MemoryStore) Windows() map[WindowKey]WindowState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[WindowKey]WindowState, len(m.windows))
	for k, s := range m.windows {
		out[k] = cloneState(s)
	}
	return out
}

// sortKeys orders keys by window end, then key, then start: firing order.
func sortKeys(ks []WindowKey) {
	sort.Slice(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.Window.End != b.Window.End {
			return a.Window.End < b.Window.End
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Window.Start < b.Window.Start
	})
}
