// Package ctxsleep waits for a duration or until a context ends, whichever is
// first: the backoff wait of every retry loop in this module.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits for d and returns nil, or returns ctx.Err() as soon as ctx ends.
// A d of zero or less returns at once (ctx.Err(), nil while ctx is live).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
