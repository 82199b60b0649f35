package eventtime

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// FireStats counts what Fire did.
type FireStats struct {
	// Skipped: another firing held the lease, so this one did nothing (that
	// one fires what is due, and another round if the watermark crossed a
	// boundary meanwhile, even after a failed round).
	Skipped bool
	// Rounds is the number of times the due windows were fired: more than
	// one when the watermark crossed another boundary during a round.
	Rounds int
	// Watermark is the stream watermark fired at (in the last round).
	Watermark int64
	// Due is the number of due windows looked at; Published the results
	// delivered (revision 0 and corrections, a redelivery of a pending one
	// included); Closed the windows closed. Summed over the rounds.
	Due, Published, Corrections, Closed int
}

// maxFireRounds bounds the rounds of one Fire call: a watermark that keeps
// crossing boundaries is left to the next firing.
const maxFireRounds = 4

// Fire computes the stream watermark at the current processing time, stores
// it, and publishes the results of every due window: the final result when
// the watermark passed the window's end, a correction when records changed it
// since, and closes it when the watermark passed End + AllowedLateness. Call
// it on a schedule so that windows close when no records arrive and
// corrections are published; Process calls it when its shard's watermark
// crossed a firing boundary.
//
// Fire runs under the stream's firing lease (Store.TakeFireLease, for
// Config.PendingTimeout): when another firing holds it, Fire returns at once
// with Skipped set. Otherwise it fires a round, releases the lease, reads the
// watermarks again and, if the stream watermark crossed another firing
// boundary meanwhile (a batch that found the lease taken), takes the lease
// for another round (at most four). A holder that ended without releasing
// leaves the lease to expire. The lease only keeps firings from piling up;
// results stay exactly as described below without it.
//
// A round works in three steps: every due window reserves its next result
// (its revision and content stored with the window as Pending, in the
// conditional write that may also close it); the reserved results are
// published together (the sinks batch them: 500 per PutRecords, 10 per
// PutEvents); each window then confirms what was published. A retry at any
// point publishes the same revision with the same content, so each revision
// has one content. A reserved result belongs to the firing that reserved it
// for Config.PendingTimeout: other firings leave it alone, later ones take
// it over and publish it again.
func (e *Engine[K, V, A]) Fire(ctx context.Context) (FireStats, error) {
	var (
		fs   FireStats
		wms  *Watermarks // read after the previous round
		errs []error
	)
	for fs.Rounds < maxFireRounds {
		now := e.cfg.Now().UnixMilli()
		until := now + e.cfg.PendingTimeout.Milliseconds()
		ok, err := e.cfg.Store.TakeFireLease(ctx, now, until)
		if err != nil {
			return fs, errors.Join(append(errs, fmt.Errorf("eventtime: taking the firing lease: %w", err))...)
		}
		if !ok {
			fs.Skipped = fs.Rounds == 0
			break
		}
		fs.Rounds++
		w, err := e.leasedRound(ctx, &fs, wms, until)
		if err != nil {
			// What failed is due again at the next firing; go on: a batch
			// that found the lease taken meanwhile left its boundary to
			// this firing.
			errs = append(errs, err)
		}
		if fs.Rounds == maxFireRounds {
			break
		}
		// Read after the release: a batch whose firing found the lease
		// taken stored its watermark before, so it is seen here.
		next, err := e.cfg.Store.GetWatermarks(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("eventtime: reading watermarks: %w", err))
			break
		}
		if !e.crossed(w, e.watermark(next, e.cfg.Now().UnixMilli())) {
			break
		}
		wms = &next
	}
	return fs, errors.Join(errs...)
}

// leaseRelease bounds the release of the firing lease, which runs even when
// the invocation's context has ended.
const leaseRelease = 5 * time.Second

// leasedRound fires one round under the lease taken until until, and
// releases it however the round ends (an error, a panic in user code, the
// invocation's deadline): a lease left behind would stop every firing for
// PendingTimeout.
func (e *Engine[K, V, A]) leasedRound(ctx context.Context, fs *FireStats, wms *Watermarks, until int64) (w int64, err error) {
	defer func() {
		if v := recover(); v != nil {
			w, err = fs.Watermark, fmt.Errorf("eventtime: panic firing: %v", v)
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseRelease)
		defer cancel()
		if rerr := e.cfg.Store.ReleaseFireLease(rctx, until); rerr != nil {
			// It expires after PendingTimeout.
			err = errors.Join(err, fmt.Errorf("eventtime: releasing the firing lease: %w", rerr))
		}
	}()
	return e.fireRound(ctx, fs, wms)
}

// fireRound fires what is due at the stream watermark computed from wms
// (read now if nil), adds its counts to fs, and returns that watermark.
func (e *Engine[K, V, A]) fireRound(ctx context.Context, fs *FireStats, wms *Watermarks) (int64, error) {
	if wms == nil {
		read, err := e.cfg.Store.GetWatermarks(ctx)
		if err != nil {
			return minTime, fmt.Errorf("eventtime: reading watermarks: %w", err)
		}
		wms = &read
	}
	w := e.watermark(*wms, e.cfg.Now().UnixMilli())
	fs.Watermark = w
	if w > wms.Stream {
		if err := e.cfg.Store.AdvanceStream(ctx, w); err != nil {
			return w, fmt.Errorf("eventtime: storing the stream watermark: %w", err)
		}
	}
	if w == minTime {
		return w, nil
	}
	due, err := e.cfg.Store.DueWindows(ctx, w)
	if err != nil {
		return w, fmt.Errorf("eventtime: listing due windows: %w", err)
	}
	fs.Due += len(due)
	if len(due) == 0 {
		return w, nil
	}
	states, err := e.cfg.Store.GetWindows(ctx, due)
	if err != nil {
		return w, fmt.Errorf("eventtime: reading %d due windows: %w", len(due), err)
	}

	// 1. Reserve.
	now := e.cfg.Now().UnixMilli()
	closed := make([]bool, len(due))
	mine := make([]bool, len(due))
	errs := make([]error, len(due))
	e.parallel(len(due), func(i int) { states[i], closed[i], mine[i], errs[i] = e.reserve(ctx, due[i], states[i], w, now) })
	var (
		results []Result[K, A]
		owners  []int
	)
	for i := range due {
		if closed[i] {
			fs.Closed++
		}
		p := states[i].Pending
		if errs[i] != nil || p == nil || !mine[i] {
			continue
		}
		agg, derr := e.cfg.Codec.Decode(p.Agg)
		if derr != nil {
			errs[i] = fmt.Errorf("eventtime: pending result of %s %s does not decode: %w", due[i].Key, due[i].Window, derr)
			continue
		}
		k := due[i]
		results = append(results, Result[K, A]{ID: ResultID(k.Key, k.Window, p.Revision), Key: K(k.Key), Window: k.Window, Revision: p.Revision, Last: p.Closed, Value: agg})
		owners = append(owners, i)
	}
	if len(results) == 0 {
		return w, errors.Join(errs...)
	}

	// 2. Publish.
	perrs := e.publish(ctx, results)
	var confirm []int
	for j, i := range owners {
		if perrs[j] != nil {
			errs[i] = fmt.Errorf("eventtime: publishing %s: %w", results[j].ID, perrs[j])
			continue
		}
		fs.Published++
		if results[j].Revision > 0 {
			fs.Corrections++
		}
		confirm = append(confirm, i)
	}

	// 3. Confirm.
	e.parallel(len(confirm), func(j int) {
		i := confirm[j]
		errs[i] = e.confirm(ctx, due[i], states[i])
	})
	return w, errors.Join(errs...)
}

// publish calls the result sink, turning a panic or a short answer into
// errors.
func (e *Engine[K, V, A]) publish(ctx context.Context, results []Result[K, A]) (errs []error) {
	defer func() {
		if v := recover(); v != nil {
			err := fmt.Errorf("eventtime: panic in the result sink: %v", v)
			errs = make([]error, len(results))
			for i := range errs {
				errs[i] = err
			}
		}
	}()
	errs = e.cfg.Results.Publish(ctx, results)
	if len(errs) != len(results) {
		err := fmt.Errorf("eventtime: the result sink answered %d errors for %d results", len(errs), len(results))
		errs = make([]error, len(results))
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// reserve brings k's state st (as read) to the point where its next result,
// if any, is Pending, and returns that state; closed reports that this call
// closed the window, mine that this firing is to publish the pending
// result: it reserved it at processing time now, or the reservation is
// older than PendingTimeout.
func (e *Engine[K, V, A]) reserve(ctx context.Context, k WindowKey, st WindowState, w, now int64) (out WindowState, closed, mine bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("eventtime: panic firing %s %s: %v", k.Key, k.Window, v)
		}
	}()
	for conflicts := 0; ; {
		next := st
		switch {
		case st.Version == 0:
			// Listed, but never stored: its creation failed after its due
			// entry was written. Once the window is closed by the
			// watermark, store it closed, so that the listing ends and a
			// late redelivery of its records is late here too. Before that
			// a writer may still be creating it: leave it.
			if !e.closedAt(k.Window, w) {
				return st, false, false, nil
			}
			next = WindowState{Closed: true}
		case st.Done():
			// Listed although done: the store's index entry outlived the
			// window's last write. Write the state again to drop it.
		case st.Pending != nil:
			// Reserved earlier, not confirmed: the reserving firing is
			// publishing it, or failed to. Past PendingTimeout this firing
			// takes it over (one firing of those that find it stale).
			if now-st.Pending.ReservedAt < e.cfg.PendingTimeout.Milliseconds() {
				return st, false, false, nil
			}
			p := *st.Pending
			p.ReservedAt = now
			next.Pending = &p
		default:
			publish := st.DataVersion > st.PublishedData && k.Window.End <= w
			closing := !st.Closed && e.closedAt(k.Window, w)
			if !publish && !closing {
				return st, false, false, nil
			}
			next.Closed = st.Closed || closing
			if publish {
				next.Pending = &PendingResult{Revision: st.Revisions, DataVersion: st.DataVersion, Agg: st.Agg, Closed: next.Closed, ReservedAt: now}
			}
		}
		v, perr := e.cfg.Store.PutWindow(ctx, k, next)
		if perr == nil {
			next.Version = v
			return next, next.Closed && !st.Closed, next.Pending != nil, nil
		}
		if !errors.Is(perr, ErrConflict) {
			return st, false, false, fmt.Errorf("eventtime: storing %s %s: %w", k.Key, k.Window, perr)
		}
		if conflicts++; conflicts > e.cfg.MaxConflictRetries {
			return st, false, false, fmt.Errorf("eventtime: firing %s %s: still conflicting after %d re-reads: %w", k.Key, k.Window, conflicts-1, perr)
		}
		cur, gerr := e.cfg.Store.GetWindows(ctx, []WindowKey{k})
		if gerr != nil {
			return st, false, false, fmt.Errorf("eventtime: re-reading %s %s: %w", k.Key, k.Window, gerr)
		}
		st = cur[0]
	}
}

// confirm clears k's Pending result, published, from st: its revision is
// then counted and its data version marked published. If another firing
// confirmed it first, there is nothing left to do.
func (e *Engine[K, V, A]) confirm(ctx context.Context, k WindowKey, st WindowState) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("eventtime: panic confirming %s %s: %v", k.Key, k.Window, v)
		}
	}()
	p := *st.Pending
	for conflicts := 0; ; {
		if st.Pending == nil || st.Pending.Revision != p.Revision {
			return nil
		}
		next := st
		next.Pending = nil
		next.Revisions = p.Revision + 1
		next.PublishedData = p.DataVersion
		_, perr := e.cfg.Store.PutWindow(ctx, k, next)
		if perr == nil {
			return nil
		}
		if !errors.Is(perr, ErrConflict) {
			return fmt.Errorf("eventtime: confirming %s of %s %s: %w", ResultID(k.Key, k.Window, p.Revision), k.Key, k.Window, perr)
		}
		if conflicts++; conflicts > e.cfg.MaxConflictRetries {
			return fmt.Errorf("eventtime: confirming %s %s: still conflicting after %d re-reads: %w", k.Key, k.Window, conflicts-1, perr)
		}
		cur, gerr := e.cfg.Store.GetWindows(ctx, []WindowKey{k})
		if gerr != nil {
			return fmt.Errorf("eventtime: re-reading %s %s: %w", k.Key, k.Window, gerr)
		}
		st = cur[0]
	}
}
