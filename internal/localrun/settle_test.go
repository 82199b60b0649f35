package localrun

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestWatchProgress: while the snapshot moves the wait goes on; once it
// stops moving for the stall time the context ends with errStalled. Only
// ordering is asserted (moving keeps it alive longer than frozen), so a
// loaded machine cannot change the verdict.
func TestWatchProgress(t *testing.T) {
	var n atomic.Int64
	moving, stop := context.WithCancel(context.Background())
	ctx, cancel := watchProgress(context.Background(), 10*time.Millisecond, time.Second, func() any { return n.Load() })
	defer cancel()
	go func() {
		for moving.Err() == nil {
			n.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()
	// Moving for several stall periods: not cancelled.
	select {
	case <-ctx.Done():
		t.Fatalf("cancelled while the counts moved: %v", context.Cause(ctx))
	case <-time.After(3 * time.Second):
	}
	stop()
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("not cancelled after the counts stopped moving")
	}
	if err := context.Cause(ctx); !errors.Is(err, errStalled) {
		t.Errorf("cause %v, want errStalled", err)
	}
}
